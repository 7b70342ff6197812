"""Redaction: keyed, stable pseudonyms for IPs, e-mails and accounts, everywhere in a notebook."""

from __future__ import annotations

import ipaddress
import json

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import ConfigError
from workbench.reporting import Redactor, redact_notebook

KEY = "k" * 32


def test_ips_and_emails_get_stable_keyed_pseudonyms():
    r = Redactor(KEY)
    text = "from 203.0.113.7 and 2001:db8:85a3::8a2e:370:7334, mail alice@example.org; 203.0.113.7 again"
    out = r.text(text)
    for original in ("203.0.113.7", "2001:db8:85a3::8a2e:370:7334", "alice@example.org"):
        assert original not in out
    ip = r.pseudonym("203.0.113.7", "ip")
    assert ip.startswith("ip-") and len(ip) == 13
    assert out.count(ip) == 2
    assert r.pseudonym("alice@example.org", "email").endswith("@redacted.invalid")
    assert Redactor(KEY).text(text) == out  # same key: same pseudonyms
    assert Redactor("z" * 32).text(text) != out  # another key: others


def test_equivalent_ip_forms_share_a_pseudonym():
    r = Redactor(KEY)
    assert r.pseudonym("2001:DB8::1", "ip") == r.pseudonym("2001:db8:0:0::1", "ip")
    assert r.pseudonym("::ffff:198.51.100.4", "ip") == r.pseudonym("198.51.100.4", "ip")


def test_accounts_from_lists_and_patterns():
    r = Redactor(KEY, accounts=["svc_backup", "ab"])  # "ab" is too short to replace safely
    assert r.accounts == {"svc_backup"}
    r.learn("sshd: Invalid user oracle from 198.51.100.9 port 22")
    r.learn("Accepted publickey for Deploy-Bot from 10.0.0.5")
    r.learn("GET /login?user=mallory&next=/ HTTP/1.1")
    assert {"oracle", "deploy-bot", "mallory"} <= r.accounts
    out = r.text("oracle, SVC_BACKUP and deploy-bot; the user agent stays; oracles stays")
    assert "oracle," not in out and "SVC_BACKUP" not in out and "deploy-bot" not in out
    assert "the user agent stays" in out and "oracles stays" in out
    assert r.pseudonym("oracle", "account").startswith("user-")


@pytest.mark.parametrize(
    "text",
    ["12:30:45", "2026-11-22T03:38:58.123Z", "00:1a:2b:3c:4d:5e", "x[::2]", "v1.2.3", "1.2.3.4.5",
     "999.1.1.1", "std::vector", "user agent"],
)  # fmt: skip
def test_no_false_positives_on_common_text(text):
    assert Redactor(KEY).text(text) == text


def test_key_is_required_and_long_enough(monkeypatch):
    monkeypatch.delenv("WB_REDACT_KEY", raising=False)
    with pytest.raises(ConfigError, match="WB_REDACT_KEY"):
        Redactor.from_env()
    monkeypatch.setenv("WB_REDACT_KEY", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        Redactor.from_env()
    monkeypatch.setenv("WB_REDACT_KEY", KEY)
    assert Redactor.from_env().text("1.2.3.4").startswith("ip-")


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).filter(lambda a: len([g for g in str(a).split(":") if g]) >= 2).map(str)
filler = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12).map(
    lambda s: s.translate(str.maketrans("", "", "0123456789abcdefABCDEF:."))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(filler, st.one_of(ipv4, ipv6)), min_size=1, max_size=5), filler)
def test_no_ip_survives(pieces, tail):
    text = "".join(f"{pad} {ip} " for pad, ip in pieces) + tail
    out = Redactor(KEY).text(text)
    for _, ip in pieces:
        assert ip not in out
        assert ipaddress.ip_address(ip).compressed not in out


def test_redact_notebook_covers_every_output_kind():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('entity = "203.0.113.7"')
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Invalid user bob from 203.0.113.7\n"),
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": "<td title='bob@example.org'>2001:db8::7</td>",
                "text/plain": "203.0.113.7",
                "application/vnd.plotly.v1+json": {"data": [{"y": ["203.0.113.7", "bob"], "x": [1, 2],
                                                             "z": {"dtype": "i1", "bdata": "/bob/+bob"}}],
                                                   "layout": {"title": {"text": "2001:db8::7"}}},
                "image/png": "iVBORw0KGgo=",
            },
        ),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad ip 203.0.113.7",
                               traceback=["ValueError: bad ip 203.0.113.7"]),
    ]  # fmt: skip
    nb.cells = [cell]
    nb.metadata["papermill"] = {"parameters": {"entity": "203.0.113.7"}}
    redactor = Redactor(KEY)
    redacted, warnings = redact_notebook(nb, redactor)
    text = json.dumps(redacted)
    for secret in (
        "203.0.113.7",
        "2001:db8::7",
        "bob@example.org",
        '"bob"',
        "iVBORw0KGgo",
        "user bob",
    ):
        assert secret not in text
    assert "203.0.113.7" in json.dumps(nb)  # the input is left alone
    pseudo = redactor.pseudonym("203.0.113.7", "ip")
    plotly = redacted.cells[0].outputs[1]["data"]["application/vnd.plotly.v1+json"]
    assert plotly["data"][0]["y"] == [pseudo, redactor.pseudonym("bob", "account")]
    assert plotly["data"][0]["x"] == [1, 2]
    assert plotly["data"][0]["z"]["bdata"] == "/bob/+bob"  # binary numbers are left intact
    assert warnings == ["redaction removed 1 image(s) it cannot inspect"]
    nbformat.validate(nbformat.from_dict(redacted))
