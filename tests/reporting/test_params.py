"""Report parameters: secrets refused, types from the template, time windows."""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.errors import InputError
from workbench.reporting import (
    check_parameters,
    is_secret_name,
    parse_assignments,
    parse_time,
    resolve_window,
)
from workbench.reporting.params import template_parameters
from workbench.timespec import format_time

NOW = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)
DEFAULTS = {"start": "-24h", "end": "now", "limit": 10, "share": 0.5, "redact": False,
            "entity": "", "columns": ["a"], "model": None}  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["password", "api_key", "db_password", "client_secret", "authToken", "token", "key",
     "APIKey", "db_passwd", "aws_secret_access_key", "session_cookie", "sort_key"],
)  # fmt: skip
def test_secret_like_names_are_refused(name):
    assert is_secret_name(name)
    with pytest.raises(InputError, match=f"{name!r} looks like a secret"):
        parse_assignments([f"{name}=hunter2"])
    with pytest.raises(InputError, match="looks like a secret"):
        check_parameters({name: "x"}, {name: ""})


@pytest.mark.parametrize("name", ["keyword", "monkey", "start", "limit", "entity_column", "turkey"])
def test_ordinary_names_pass(name):
    assert not is_secret_name(name)


def test_template_with_a_secret_parameter_is_refused():
    with pytest.raises(InputError, match="'api_token' looks like a secret"):
        template_parameters('start = "-24h"\napi_token = ""', "bad")


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c=", "a=2"]) == {"a": "2", "b": "x=y", "c": ""}
    with pytest.raises(InputError, match="key=value"):
        parse_assignments(["novalue"])
    with pytest.raises(InputError, match="not a plain identifier"):
        parse_assignments(["bad name=1"])


def test_template_parameters_reads_literals_only():
    source = 'start = "-24h"  # comment\nlimit: int = 10\nflags = [1, 2]\n'
    assert template_parameters(source) == {"start": "-24h", "limit": 10, "flags": [1, 2]}
    with pytest.raises(InputError, match="literal default"):
        template_parameters("limit = 5 * 2")
    with pytest.raises(InputError, match="`name = literal`"):
        template_parameters("import os")
    with pytest.raises(InputError, match="not valid Python"):
        template_parameters("limit = ")


def test_check_parameters_converts_to_the_default_types():
    got = check_parameters(
        {"limit": "20", "share": "0.25", "redact": "yes", "entity": "1.2.3.4", "columns": "['x', 'y']",
         "model": "charcnn"}, DEFAULTS)  # fmt: skip
    assert got == {"limit": 20, "share": 0.25, "redact": True, "entity": "1.2.3.4",
                   "columns": ["x", "y"], "model": "charcnn"}  # fmt: skip
    assert check_parameters({"entity": 13335}, DEFAULTS) == {"entity": "13335"}  # YAML number


@pytest.mark.parametrize(
    ("given", "message"),
    [({"limit": "ten"}, "'limit' must be an integer"), ({"redact": "maybe"}, "true or false"),
     ({"share": "half"}, "must be a number"), ({"columns": "x"}, "must be a list"),
     ({"nope": "1"}, "has no parameter 'nope'; it takes: start, end"), ({"limit": True}, "number"),
     ({"limit": 10.5}, "must be an integer")],
)  # fmt: skip
def test_check_parameters_errors_name_the_parameter(given, message):
    with pytest.raises(InputError, match=message):
        check_parameters(given, DEFAULTS, "traffic_overview")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("now", NOW), ("-24h", NOW - dt.timedelta(hours=24)), ("now-90m", NOW - dt.timedelta(minutes=90)),
     ("-7d", NOW - dt.timedelta(days=7)), ("+1w", NOW + dt.timedelta(weeks=1)), ("-1.5h", NOW - dt.timedelta(hours=1.5)),
     ("2026-11-01T00:00:00Z", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
     ("2026-11-01 02:00:00+02:00", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
     ("2026-11-01", dt.datetime(2026, 11, 1, tzinfo=dt.UTC))],
)  # fmt: skip
def test_parse_time(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["24h", "yesterday", "-24x", "", "now-", "2026-13-01"])
def test_parse_time_errors(text):
    with pytest.raises(InputError, match="'start'.* is not a time"):
        parse_time(text, NOW, "start")


def test_resolve_window():
    got = resolve_window({"start": "-24h", "end": "now", "limit": 5, "baseline_start": "-7d",
                          "baseline_end": "-1d"}, NOW)  # fmt: skip
    assert got == {"start": "2026-11-21T06:00:00Z", "end": "2026-11-22T06:00:00Z", "limit": 5,
                   "baseline_start": "2026-11-15T06:00:00Z", "baseline_end": "2026-11-21T06:00:00Z"}  # fmt: skip
    with pytest.raises(InputError, match="start .* must be before end"):
        resolve_window({"start": "now", "end": "-1h"}, NOW)
    assert format_time(dt.datetime(2026, 1, 1, 0, 0, 0, 5000)) == "2026-01-01T00:00:00.005Z"
