"""Schedules: file checks, due slots, exactly-once claims across processes, crontab lines."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.reporting import crontab_lines, load_schedules
from workbench.reporting.runs import read_ledger
from workbench.reporting.schedule import claim_due, last_claims, latest_slot, next_slot

REPO = Path(__file__).resolve().parents[2]
UTC = dt.UTC
SCHEDULES = """
jobs:
  - name: hourly
    template: traffic_overview
    cron: "5 * * * *"
    parameters: {start: -1h, end: now, limit: 5}
  - name: daily
    template: tiny.ipynb
    cron: "0 6 * * *"
    redact: true
"""


def write(tmp_path, text=SCHEDULES):
    path = tmp_path / "schedules.yaml"
    path.write_text(text)
    return path


def test_load_schedules(tmp_path):
    jobs = load_schedules(write(tmp_path))
    assert [j.name for j in jobs] == ["hourly", "daily"]
    assert jobs[0].parameters == {"start": "-1h", "end": "now", "limit": 5}
    assert jobs[1].redact and jobs[1].template == str(tmp_path / "tiny.ipynb")


def test_the_repository_schedules_file_is_valid():
    jobs = load_schedules(REPO / "schedules.yaml")
    assert jobs and all(j.template for j in jobs)


@pytest.mark.parametrize(
    ("text", "message"),
    [("jobs: 3", "`jobs:` list"), ("jobs: [{name: a, template: t}]", "needs `cron`"),
     ("jobs: [{name: a, template: t, cron: '61 * * * *'}]", "not a 5-field cron"),
     ("jobs: [{name: a, template: t, cron: '* * * * *', when: x}]", "unknown field"),
     ("jobs: [{name: a, template: t, cron: '* * * * *', parameters: {api_key: x}}]", "looks like a secret"),
     ("jobs: [{name: a, template: t, cron: '* * * * *'}, {name: a, template: t, cron: '* * * * *'}]", "twice"),
     ("jobs: [{name: a, template: t, cron: '* * * * *', redact: maybe}]", "true or false"),
     ("jobs: [", "not valid YAML")],
)  # fmt: skip
def test_bad_schedules_are_named(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_schedules(write(tmp_path, text))
    with pytest.raises(InputError, match="does not exist"):
        load_schedules(tmp_path / "missing.yaml")


def test_slots():
    now = dt.datetime(2026, 11, 22, 7, 3, 30, tzinfo=UTC)
    assert latest_slot("5 * * * *", now) == dt.datetime(2026, 11, 22, 6, 5, tzinfo=UTC)
    assert latest_slot("0 6 * * *", now) == dt.datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    on_slot = dt.datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    assert latest_slot("0 6 * * *", on_slot) == on_slot
    assert next_slot("0 6 * * *", on_slot) == dt.datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_claims_run_each_slot_once_and_catch_up_only_the_latest(tmp_path):
    jobs = load_schedules(write(tmp_path))
    reports = tmp_path / "reports"
    t = dt.datetime(2026, 11, 22, 7, 3, tzinfo=UTC)
    first = claim_due(jobs, reports, t)
    assert [(j.name, s.isoformat()) for j, s in first] == [
        ("hourly", "2026-11-22T06:05:00+00:00"), ("daily", "2026-11-22T06:00:00+00:00")]  # fmt: skip
    assert claim_due(jobs, reports, t + dt.timedelta(minutes=1)) == []  # same slots: nothing
    later = claim_due(jobs, reports, t + dt.timedelta(days=3))  # down for three days
    assert [(j.name, s.isoformat()) for j, s in later] == [
        ("hourly", "2026-11-25T06:05:00+00:00"), ("daily", "2026-11-25T06:00:00+00:00")]  # fmt: skip
    assert last_claims(reports)["daily"] == {"slot": "2026-11-25T06:00:00Z", "status": "claimed",
                                             "run_id": None}  # fmt: skip


@pytest.mark.slow
def test_concurrent_due_processes_split_the_slots(tmp_path):
    """Four processes claim at the same instant: every slot is claimed exactly once."""
    names = [f"job{i}" for i in range(8)]
    path = write(tmp_path, "jobs:\n" + "".join(
        f"  - {{name: {n}, template: t, cron: '*/5 * * * *'}}\n" for n in names))  # fmt: skip
    reports = tmp_path / "reports"
    script = textwrap.dedent(f"""
        import datetime as dt, pathlib, sys, time
        from workbench.reporting.schedule import claim_due, load_schedules
        jobs = load_schedules({str(path)!r})
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.001)
        got = claim_due(jobs, pathlib.Path({str(reports)!r}),
                        dt.datetime(2026, 11, 22, 7, 3, tzinfo=dt.UTC))
        print(",".join(j.name for j, _ in got))
    """)
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start)], stdout=subprocess.PIPE,  # noqa: S603
                              text=True) for _ in range(4)]  # fmt: skip
    claimed = [
        name for p in procs for name in p.communicate(timeout=60)[0].strip().split(",") if name
    ]
    assert sorted(claimed) == names
    assert sum(e["event"] == "claimed" for e in read_ledger(reports)) == len(names)


def test_crontab_lines(tmp_path):
    path = write(tmp_path)
    lines = crontab_lines(path, workers=3, workdir=tmp_path,
                          environ={"WB_CLICKHOUSE_URL": "http://ch:8123/db", "WB_CLICKHOUSE_PASSWORD": "pw"})  # fmt: skip
    entry = lines[-1]
    assert entry.startswith("*/5 * * * * cd ")
    assert f"report due --schedules {path}" in entry and "--workers 3" in entry
    assert "WB_CLICKHOUSE_URL=http://ch:8123/db" in entry
    assert "PASSWORD" not in entry and "=pw" not in entry  # secrets never go in a crontab
    assert "#   hourly: 5 * * * * -> traffic_overview" in lines
    with pytest.raises(InputError, match="5-field cron"):
        crontab_lines(path, every="every minute")
