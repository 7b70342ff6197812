"""Each parser on hand-written input: fields mapped right, bad records rejected with a reason."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from workbench.errors import InputError, InvalidIdentifier
from workbench.ingest import (
    infer_split,
    parse_access_log,
    parse_auth_log,
    parse_csv,
    parse_http_dump,
    parse_logpush,
    parse_payload_csv,
    plan_columns,
    scan_file,
)
from workbench.ingest.chtypes import schema_columns

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def ms(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- Logpush --------------------------------------------------------------------------------


def test_logpush_fields_types_and_unknown_fields():
    lines = [
        {"RayID": "7f3c2a1b0c0d0e0f", "EdgeStartTimestamp": "2024-05-17T10:05:03.25Z",
         "ClientIP": "2001:db8::1", "ClientASN": 13335, "EdgeResponseStatus": 403,
         "RequestHeaders": {"x-forwarded-for": "1.2.3.4"}, "CacheCacheStatus": "hit"},
        {"EdgeStartTimestamp": 1715940303, "ClientRequestUserAgent": None, "ZoneName": "z"},
        {"EdgeStartTimestamp": 1715940303123456789, "BotScore": 1, "WAFAttackScore": 99},
    ]  # fmt: skip
    unknown = Counter()
    rows, rejects = parse_logpush(
        [(i + 1, json.dumps(r)) for i, r in enumerate(lines)], file_id="f", unknown=unknown
    )
    assert rejects == []
    out = rows.to_pylist()
    assert out[0]["RayID"] == "7f3c2a1b0c0d0e0f"
    assert out[0]["EdgeStartTimestamp"] == ms(2024, 5, 17, 10, 5, 3, 250000)
    assert out[0]["RequestHeaders"] == [("x-forwarded-for", "1.2.3.4")]
    assert out[0]["ClientASN"] == 13335 and out[0]["EdgeResponseStatus"] == 403
    assert out[1]["EdgeStartTimestamp"] == ms(2024, 5, 17, 10, 5, 3)
    assert len(out[1]["RayID"]) == 16 and out[1]["ClientRequestUserAgent"] == ""
    assert out[2]["EdgeStartTimestamp"] == ms(2024, 5, 17, 10, 5, 3, 123000)
    assert out[2]["BotScore"] == 1
    assert unknown == {"CacheCacheStatus": 1, "ZoneName": 1}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"EdgeStartTimestamp": 1, "ClientASN": "13335"}', "field ClientASN: expected an integer"),
        ('{"EdgeStartTimestamp": 1, "BotScore": 300}', "field BotScore: 300 is out of range"),
        ('{"EdgeStartTimestamp": 1, "ClientIP": 1234}', "field ClientIP: expected a string"),
        ('{"EdgeStartTimestamp": "soon"}', "field EdgeStartTimestamp: 'soon' is not"),
        ('{"EdgeStartTimestamp": 1, "RequestHeaders": ["a"]}', "field RequestHeaders: expected"),
        ('{"EdgeStartTimestamp": 1, "RequestHeaders": {"a": 1}}', "field RequestHeaders: key 'a'"),
        ('{"ClientIP": "1.2.3.4"}', "field EdgeStartTimestamp is missing"),
        ('{"EdgeStartTimestamp": 1, "RayID"', "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        ("[" * 100_000, "invalid JSON"),
    ],
)
def test_logpush_rejects_name_the_field(text, reason):
    rows, rejects = parse_logpush([(7, text)])
    assert rows.num_rows == 0
    assert rejects[0].line == 7 and reason in rejects[0].reason and rejects[0].raw == text[:65536]


def test_logpush_follows_the_live_table_columns():
    columns = {**schema_columns("http_requests"), "NewColumn": "UInt8"}
    rows, _ = parse_logpush([(1, '{"EdgeStartTimestamp": 1, "NewColumn": 4}')], columns=columns)
    assert rows.column("NewColumn").to_pylist() == [4]
    assert "Source" not in rows.column_names


# -- access logs ----------------------------------------------------------------------------


def test_access_log_combined_common_and_escapes():
    lines = [
        '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a/b?x=1 HTTP/1.1" 200 512 "http://r/" "UA \\"q\\" \\\\ z"',
        '5.6.7.8 - frank [10/Oct/2000:13:55:36 -0700] "POST http://h.example:81/p HTTP/1.0" 404 -',
        '9.9.9.9 - - [17/May/2015:10:05:03 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"',
        '9.9.9.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-"',
        '9.9.9.9 - - [31/Feb/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1',
        "",
    ]  # fmt: skip
    rows, rejects = parse_access_log(list(enumerate(lines, 1)), file_id="f")
    out = rows.to_pylist()
    assert [r["ClientIP"] for r in out] == ["1.2.3.4", "5.6.7.8", "9.9.9.9"]
    first, second, junk = out
    assert first["ClientRequestPath"] == "/a/b" and first["ClientRequestQuery"] == "x=1"
    assert first["ClientRequestUserAgent"] == 'UA "q" \\ z'
    assert first["EdgeResponseBytes"] == 512 and first["ClientRequestReferer"] == "http://r/"
    assert second["EdgeStartTimestamp"] == ms(2000, 10, 10, 20, 55, 36)
    assert second["ClientRequestHost"] == "h.example:81" and second["ClientRequestURI"] == "/p"
    assert second["EdgeResponseBytes"] == 0 and second["ClientRequestUserAgent"] == ""
    assert junk["ClientRequestMethod"] == "" and junk["ClientRequestURI"] == "\\x16\\x03\\x01"
    assert junk["ClientRequestReferer"] == "" and junk["EdgeResponseStatus"] == 400
    assert [r.line for r in rejects] == [4, 5, 6]
    assert "combined or common" in rejects[0].reason and "invalid time" in rejects[1].reason


# -- raw HTTP dumps (CSIC 2010 style) -------------------------------------------------------


def test_csic_fixture_crlf_and_lf():
    scan = scan_file(FIXTURES / "csic_normal.txt", "http-dump")
    (rows, rejects, count), = list(scan.batches())  # fmt: skip
    assert count == 4 and rejects == [] and scan.tally.blank == 6
    out = rows.to_pylist()
    assert [r["ClientRequestMethod"] for r in out] == ["GET", "GET", "POST", "POST"]
    assert {r["ClientRequestHost"] for r in out} == {"localhost:8080"}
    assert out[1]["ClientRequestQuery"].startswith("id=3&nombre=Vino+Rioja")
    assert (
        out[2]["RequestBody"]
        == "id=3&nombre=Vino+Rioja&precio=100&cantidad=55&B1=A%F1adir+al+carrito"
    )
    assert (
        out[3]["RequestBody"] == "modo=entrar&login=grimshaw&pwd=84m3ri156&remember=off&B1=Entrar"
    )
    headers = dict(out[2]["RequestHeaders"])
    assert headers["content-length"] == "68" and headers["connection"] == "close"
    assert not any("\r" in k or "\r" in v for r in out for k, v in r["RequestHeaders"])
    assert all(
        r["ClientRequestUserAgent"].startswith("Mozilla/5.0 (compatible; Konqueror") for r in out
    )


def test_csic_anomalous_fixture_origin_form_and_folding():
    (rows, rejects, count), = list(scan_file(FIXTURES / "csic_anomalous.txt", "http-dump").batches())  # fmt: skip
    out = rows.to_pylist()
    assert count == 3 and not rejects
    assert "DROP+TABLE" in out[0]["ClientRequestQuery"]
    assert "%3Cscript%3E" in out[1]["RequestBody"]
    assert out[2]["ClientRequestHost"] == "localhost:8080"
    assert out[2]["ClientRequestPath"] == "/tienda1/publico/../../../../etc/passwd"
    assert dict(out[2]["RequestHeaders"])["x-long"] == "first part second part"
    assert out[2]["ClientRequestReferer"] == "http://localhost:8080/tienda1/"


def test_http_dump_stray_text_bad_headers_and_header_injection(tmp_path):
    path = tmp_path / "dump.txt"
    path.write_bytes(
        b"junk before\nmore junk\n\n"
        b"GET /a HTTP/1.1\r\nUser-Agent: x\r\nX-Evil: 1\r\nHost: h\r\n\r\n"
        b"GET /b HTTP/1.1\nno colon here\n\n"
        b"POST /c HTTP/1.1\nContent-Length: 9\n\nline1\n\nline2\n\n\n"
        b"PUT /d HTTP/1.0\nUser-Agent: a\rX-Injected: b\n"
    )
    scan = scan_file(path, "http-dump")
    (rows, rejects, count), = list(scan.batches())  # fmt: skip
    assert count == 5 and rows.num_rows == 3
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (1, "expected an HTTP request line 'METHOD target HTTP/x.y'"),
        (9, "malformed header line 10"),
    ]
    out = rows.to_pylist()
    assert dict(out[0]["RequestHeaders"]) == {"user-agent": "x", "x-evil": "1", "host": "h"}
    assert out[1]["RequestBody"] == "line1\n\nline2"
    assert out[2]["ClientRequestUserAgent"] == "a\rX-Injected: b"
    assert scan.tally.blank == 1 + 1 + 1 + 2  # between records only


# -- payload CSV ----------------------------------------------------------------------------


def test_payload_csv_quotes_commas_newlines_and_rejects():
    records = [
        (2, '"a, \'b\' ""c""","11","sqli","anom"'),
        (3, '"multi\nline","10","xss","anom"'),
        (5, '"","0","norm","norm"'),
        (6, '"x","1","norm"'),
        (7, '"x","one","norm","norm"'),
        (8, '"x","1","","norm"'),
    ]
    rows, rejects = parse_payload_csv(records, split="train", file_id="f")
    assert rows.column("Payload").to_pylist() == ["a, 'b' \"c\"", "multi\nline", ""]
    assert rows.column("AttackType").to_pylist() == ["sqli", "xss", "norm"]
    assert set(rows.column("Split").to_pylist()) == {"train"}
    assert [(r.line, r.reason) for r in rejects] == [
        (6, "expected 4 fields, got 3"),
        (7, "length 'one' is not a whole number"),
        (8, "empty attack_type"),
    ]


def test_payload_csv_header_and_split_inference():
    with pytest.raises(InputError, match="missing payload"):
        parse_payload_csv([], header=["a", "b"])
    assert infer_split("payload_train.csv") == "train"
    assert infer_split("payload_test.csv.gz") == "test"
    assert infer_split("valid-2024.csv") == "validation"
    assert infer_split("payloads.csv") == "" and infer_split("train_test.csv") == ""


# -- auth logs ------------------------------------------------------------------------------

AUTH = """\
Mar 27 13:08:09 web1 sshd[1361]: Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA SHA256:Kl8k
Mar 27 13:09:37 web1 sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ; COMMAND=/bin/sh -c echo a ; echo b
Mar 27 13:09:38 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/ls
Mar 27 13:09:39 web1 sudo: pam_unix(sudo:session): session opened for user root by ubuntu(uid=0)
Mar 27 13:09:40 web1 sshd[2]: Failed password for invalid user admin from 1.2.3.4 port 4242 ssh2
Mar 27 13:09:41 web1 sshd[2]: Failed password for root from 1.2.3.4 port 4243 ssh2
Mar 27 13:09:42 web1 sshd[2]: Invalid user  from 5.6.7.8
Mar 27 13:09:43 web1 sshd[2]: Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 7.7.7.7 port 22 ssh2
Mar 27 13:09:44 web1 sshd[2]: message repeated 2 times: [ Failed password for root from 1.2.3.4 port 4243 ssh2]
Mar 27 13:09:45 web1 sshd[2]: Received disconnect from 1.2.3.4 port 4243:11: Bye Bye [preauth]
Mar 27 13:09:46 web1 sshd[2]: pam_unix(sshd:session): session closed for user ubuntu
Mar 27 13:09:47 web1 CRON[9]: pam_unix(cron:session): session opened for user root by (uid=0)
Mar 27 13:09:48 web1 systemd-logind[1]: New session 1 of user ubuntu.
Dec 31 23:59:59 web1 kernel: tick
Jan  1 00:00:01 web1 -- MARK --
2024-03-27T13:09:49.5+01:00 web2 sshd[3]: Connection closed by authenticating user root 1.2.3.4 port 9 [preauth]
this is not syslog
Feb 30 00:00:00 web1 sshd[2]: impossible date
"""


def test_auth_log_event_types_and_fields():
    records = list(enumerate(AUTH.splitlines(), 1))
    rows, rejects = parse_auth_log(records, year=2017, file_id="f")
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (17, "not a syslog line (expected 'Mon dd HH"),
        (18, "invalid syslog date"),
    ]
    out = rows.to_pylist()
    kinds = [r["EventType"] for r in out]
    assert kinds == [
        "login_success", "sudo", "sudo", "session_open", "login_failure", "login_failure",
        "invalid_user", "login_failure", "login_failure", "disconnect", "session_close",
        "session_open", "other", "other", "other", "disconnect",
    ]  # fmt: skip
    accepted, sudo, sudo_failed, sudo_session = out[:4]
    assert accepted["AuthMethod"] == "publickey" and accepted["SourcePort"] == 54259
    assert accepted["Success"] == 1 and accepted["UserValid"] == 1 and accepted["Host"] == "web1"
    assert sudo["Command"] == "/bin/sh -c echo a ; echo b" and sudo["TargetUser"] == "root"
    assert sudo_failed["User"] == "alice" and sudo_failed["Success"] == 0
    assert sudo_session["User"] == "ubuntu" and sudo_session["TargetUser"] == "root"
    assert (out[4]["User"], out[4]["UserValid"], out[4]["SourceIP"]) == ("admin", 0, "1.2.3.4")
    assert (out[5]["User"], out[5]["UserValid"]) == ("root", 1)
    assert (out[6]["User"], out[6]["SourceIP"]) == ("", "5.6.7.8")
    spoof = out[7]
    assert spoof["SourceIP"] == "7.7.7.7" and spoof["User"] == "x from 6.6.6.6 port 1 ssh2"
    assert out[8]["Raw"].endswith("ssh2]") and out[8]["SourceIP"] == "1.2.3.4"
    # the folded line stands for 2 failed passwords, every other line for 1
    assert [r["Repeats"] for r in out] == [1] * 8 + [2] + [1] * 7
    assert rows.schema.field("Repeats").type == pa.uint32()
    assert out[12]["Service"] == "systemd-logind"
    assert out[13]["EventTime"] == ms(2017, 12, 31, 23, 59, 59)
    assert out[14]["EventTime"] == ms(2018, 1, 1, 0, 0, 1)  # the year rolls over
    assert out[15]["EventTime"] == ms(2024, 3, 27, 12, 9, 49, 500000)
    assert out[15]["User"] == "root" and out[15]["Host"] == "web2"
    assert all(r["Raw"] == line for r, (_, line) in zip(out, records, strict=False))


def test_auth_log_repeats_are_clamped_to_the_column():
    head = "Mar 27 13:09:44 web1 sshd[2]: "
    failed = "Failed password for root from 1.2.3.4 port 4243 ssh2"
    lines = [
        f"{head}message repeated 22 times: [ {failed}]",
        f"{head}message repeated 0 times: [ {failed}]",
        f"{head}message repeated 0004294967295 times: [ {failed}]",
        f"{head}message repeated 4294967296 times: [ {failed}]",
        f"{head}message repeated {'9' * 5000} times: [ {failed}]",  # int() would refuse it
        "Mar 27 13:09:45 web1 CRON[9]: message repeated 3 times: [ (root) CMD (true)]",
        f"{head}{failed}",
    ]
    rows, rejects = parse_auth_log(enumerate(lines, 1), year=2017, file_id="f")
    assert not rejects
    assert rows.column("Repeats").to_pylist() == [22, 1, 2**32 - 1, 2**32 - 1, 2**32 - 1, 3, 1]
    assert rows.column("EventType").to_pylist()[:5] == ["login_failure"] * 5


# -- CSV with a mapping -----------------------------------------------------------------------


def test_csv_plan_and_conversion():
    columns = schema_columns("auth_events")
    plan = plan_columns(["when", "User", "ip", "extra"], "auth_events", columns,
                        {"when": "EventTime", "ip": "SourceIP"})  # fmt: skip
    assert {dst for dst, _, _ in plan.assign} == {"EventTime", "User", "SourceIP"}
    assert plan.unused == ("extra",) and plan.id_column == "EventID"
    unknown = Counter()
    rows, rejects = parse_csv(
        [(2, "2024-01-01T00:00:00Z,bob,1.2.3.4,z"), (3, "1704067200,amy,,z"), (4, "never,x,y,z"),
         (5, "a,b")],
        plan=plan, width=4, file_id="f", unknown=unknown,
    )  # fmt: skip
    assert rows.column("User").to_pylist() == ["bob", "amy"]
    assert rows.column("EventTime").to_pylist() == [ms(2024, 1, 1)] * 2
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (4, "column EventTime"),
        (5, "expected 4 fields, got 2"),
    ]
    assert unknown == {"extra": 3}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"nope": "User"}, "the file has no column 'nope'"),
        ({"a": "Nope"}, "has no column 'Nope'"),
        ({"a": "User", "b": "User"}, "mapped twice"),
        ({"a": "Source"}, "set by ingest"),
        ({"a": "bad name"}, "not a valid"),
    ],
)
def test_csv_plan_errors(mapping, message):
    with pytest.raises((InputError, InvalidIdentifier), match=message):
        plan_columns(["a", "b"], "auth_events", schema_columns("auth_events"), mapping)


def test_parse_http_dump_directly_headers_dates_and_repeats():
    text = (
        "GET http://h.example/a?b=c HTTP/1.1\r\n"
        "Date: Sun, 17 May 2015 10:05:03 GMT\r\n"
        "Accept : text/html\r\n"
        "Cookie: a=1\r\n"
        "Cookie: b=2\r\n"
        "\r\n"
    ).removesuffix("\r\n")
    rows, rejects = parse_http_dump([(3, text), (9, "GET / HTTP/1.1\n folded first line")])
    (row,) = rows.to_pylist()
    assert row["EdgeStartTimestamp"] == ms(2015, 5, 17, 10, 5, 3)
    assert dict(row["RequestHeaders"]) == {
        "date": "Sun, 17 May 2015 10:05:03 GMT",
        "accept": "text/html",
        "cookie": "a=1, b=2",
    }
    assert row["ClientRequestHost"] == "h.example" and row["ClientRequestScheme"] == "http"
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [(9, "malformed header line 10")]
