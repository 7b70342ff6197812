"""Synthetic HTTP traffic: determinism, schema, and actors that differ the way they should."""

from __future__ import annotations

import html
import ipaddress
import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from workbench.errors import InputError
from workbench.synth import (
    ATTACK_CLASSES,
    DEFAULT_MIX,
    FAMILIES,
    generate_payloads,
    generate_traffic,
    parse_start,
    write_traffic,
)
from workbench.synth.cli import app
from workbench.synth.network import NETWORKS
from workbench.synth.tls import BROWSER_STACKS, stack_of_ja4

START = datetime(2026, 11, 1, tzinfo=UTC)
N = 60_000

PATTERNS = {
    "sqli": re.compile(
        r"(?i)(\bor\b|\band\b|union|select|sleep|benchmark|waitfor|order\s+by|group\s+by|drop|"
        r"insert|update|delete|exec|shutdown|extractvalue|updatexml|convert|cast|\|\||having)"
    ),
    "xss": re.compile(r"(?i)(<\s*/?[a-z!]|java\s*script\s*:|\bon[a-z]+\s*=)"),
    "traversal": re.compile(
        r"(?i)(\.\.[/\\;]|etc/passwd|win\.ini|boot\.ini|/proc/|web\.(xml|config)|php://|file:|"
        r"id_rsa|\.env|access\.log|parameters\.yml|credentials|nginx\.conf|bash_history|etc/)"
    ),
    "cmdi": re.compile(
        r"(?i)(;|\||&|`|\$\(|\n)\s*(\$\{IFS\})?\s*(id|whoami|uname|cat|ls|pwd|env|ps|ping|sleep|"
        r"curl|wget|nslookup|nc|bash|echo|type|powershell|net|ipconfig|ifconfig|expr|timeout)\b"
    ),
}
ASSET = re.compile(r"\.(?:css|js|png|woff2)$")


def decode(text: str) -> str:
    """Undo the encodings scanners use (percent, double percent, %u, \\x, HTML entities)."""
    text = text.replace("%u003c", "<").replace("%u003e", ">")
    for _ in range(3):
        text = unquote(text)
    return html.unescape(text).replace("\\x3c", "<").replace("\\x3e", ">")


def to_frame(table: pa.Table) -> pd.DataFrame:
    df = table.drop_columns(["RequestHeaders"]).to_pandas()
    for col in df.columns:
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            df[col] = df[col].astype(str)
    df["ms"] = (df.EdgeStartTimestamp - pd.Timestamp(START)).dt.total_seconds() * 1000
    return df


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return pa.concat_tables(list(generate_traffic(N, days=2, seed=7, chunk_rows=25_000)))


@pytest.fixture(scope="module")
def df(table: pa.Table) -> pd.DataFrame:
    return to_frame(table).sort_values(["ClientIP", "ms"], kind="stable").reset_index(drop=True)


def headers_of(table: pa.Table, mask: np.ndarray, limit: int = 400) -> list[dict[str, str]]:
    rows = np.flatnonzero(mask)[:limit]
    return [dict(h) for h in table["RequestHeaders"].take(pa.array(rows)).to_pylist()]


# --- determinism and shape -------------------------------------------------------------------


def test_same_seed_same_rows_whatever_the_chunking():
    a = pa.concat_tables(list(generate_traffic(12_000, days=1, seed=3, chunk_rows=5_000)))
    b = pa.concat_tables(list(generate_traffic(12_000, days=1, seed=3, chunk_rows=12_000)))
    c = pa.concat_tables(list(generate_traffic(12_000, days=1, seed=3, chunk_rows=5_000)))
    assert a.num_rows == b.num_rows == 12_000
    assert a.equals(c)
    assert a.combine_chunks().equals(b.combine_chunks())
    # the dictionary-encoded form (what write_traffic inserts) holds the same values
    d = pa.concat_tables(list(generate_traffic(12_000, days=1, seed=3, dictionaries=True)))
    assert pa.types.is_dictionary(d.schema.field("JA4").type)
    assert d.cast(a.schema).combine_chunks().equals(a.combine_chunks())


def test_different_seed_differs():
    a = pa.concat_tables(list(generate_traffic(5_000, seed=1)))
    b = pa.concat_tables(list(generate_traffic(5_000, seed=2)))
    assert a.num_rows == b.num_rows == 5_000
    assert set(a["RayID"].to_pylist()).isdisjoint(b["RayID"].to_pylist())
    assert a["ClientIP"].to_pylist() != b["ClientIP"].to_pylist()


def test_chunks_have_requested_size(table):
    sizes = [t.num_rows for t in generate_traffic(N, seed=7, chunk_rows=25_000)]
    assert sizes == [25_000, 25_000, 10_000]
    assert list(generate_traffic(0)) == []


def test_window_ids_and_uri(df):
    assert df.EdgeStartTimestamp.min() >= pd.Timestamp(START)
    assert df.EdgeStartTimestamp.max() < pd.Timestamp(START + timedelta(days=2))
    assert (df.EdgeEndTimestamp >= df.EdgeStartTimestamp).all()
    assert df.RayID.str.fullmatch(r"[0-9a-f]{16}").all() and df.RayID.is_unique
    uri = np.where(
        df.ClientRequestQuery != "",
        df.ClientRequestPath + "?" + df.ClientRequestQuery,
        df.ClientRequestPath,
    )
    assert (df.ClientRequestURI == uri).all()
    assert (df.Source == "synth:traffic:seed=7").all()
    assert set(df.ClientRequestProtocol) <= {"HTTP/1.1", "HTTP/2", "HTTP/3"}


def test_family_shares_and_labels(df):
    counts = df.actor.value_counts()
    for family, share in DEFAULT_MIX.items():
        assert abs(counts[family] / N - share) < 0.002, family
    labels = df.groupby("actor").label.unique()
    assert list(labels["human"]) == ["human"] and list(labels["crawler"]) == ["good_bot"]
    for family in FAMILIES[2:]:
        assert list(labels[family]) == ["bad_bot"]
    assert abs((df.label == "bad_bot").mean() - 0.32) < 0.01


def test_every_bot_family_has_several_campaigns(df):
    for family in FAMILIES[1:]:
        ids = df.loc[df.actor == family, "campaign"].unique()
        assert len(ids) >= 3, family
        assert all(re.fullmatch(rf"{family}-\d\d", i) for i in ids)
    assert set(df.loc[df.actor == "human", "campaign"]) == {"human"}


def test_addresses_belong_to_their_asn(df):
    nets = [(ipaddress.ip_network(n.cidr), n.asn, n.kind) for n in NETWORKS]
    sample = df.drop_duplicates("ClientIP").groupby("actor").head(60)
    for ip, asn, actor in zip(sample.ClientIP, sample.ClientASN, sample.actor, strict=True):
        kinds = [kind for net, a, kind in nets if ipaddress.ip_address(ip) in net and a == asn]
        assert kinds, (ip, asn)
        if actor in ("human", "credential_stuffing", "residential_proxy"):
            assert kinds[0] in ("residential", "mobile"), (actor, ip)
        elif actor in ("scraper", "vuln_scanner", "api_abuse"):
            assert kinds[0] == "hosting", (actor, ip)
        elif actor == "crawler":
            assert kinds[0].startswith("crawler:"), (actor, ip)


# --- actors differ as they should ------------------------------------------------------------


def test_humans_fetch_assets_within_a_second_with_referers(df):
    human = df[df.actor == "human"]
    assets = human.ClientRequestPath.str.contains(ASSET)
    assert assets.mean() > 0.4
    # an asset follows its page from the same address within a second, with that page as referer
    a = human[assets]
    assert (a.ClientRequestReferer.str.startswith("https://")).all()
    gap = df.ms.diff().where(df.ClientIP.eq(df.ClientIP.shift()))
    assert (gap[a.index] < 1000).mean() > 0.95
    pages = human[~assets & (human.ClientRequestMethod == "GET")]
    assert (pages.ClientRequestReferer != "").mean() > 0.5
    for family in (
        "crawler",
        "scraper",
        "credential_stuffing",
        "api_abuse",
        "l7_flood",
        "residential_proxy",
    ):
        assert df.loc[df.actor == family, "ClientRequestPath"].str.contains(ASSET).mean() == 0, (
            family
        )


def test_human_think_times_are_heavy_tailed_and_diurnal(df):
    human = df[(df.actor == "human") & ~df.ClientRequestPath.str.contains(ASSET)]
    gaps = human.groupby("ClientIP").ms.diff().dropna() / 1000
    gaps = gaps[(gaps > 1) & (gaps < 3600)]
    assert gaps.std() / gaps.mean() > 1.0
    assert gaps.quantile(0.99) > 20 * gaps.median()
    hours = df.loc[(df.actor == "human") & (df.ClientCountry == "de"), "EdgeStartTimestamp"].dt.hour
    night, evening = hours.isin([1, 2, 3, 4]).sum(), hours.isin([17, 18, 19, 20]).sum()
    assert evening > 3 * night


def test_scanners_carry_payloads_of_every_class_that_parse_as_attacks(df):
    scan = df[df.actor == "vuln_scanner"]
    assert set(scan.attack_class) - {""} == set(ATTACK_CLASSES)
    assert (df.loc[df.actor != "vuln_scanner", "attack_class"] == "").all()
    attacks = scan[scan.attack_class != ""]
    assert len(attacks) > 0.4 * len(scan)
    text = attacks.ClientRequestPath + "?" + attacks.ClientRequestQuery + " " + attacks.RequestBody
    for cls in ATTACK_CLASSES:
        decoded = text[attacks.attack_class == cls].map(decode)
        hits = decoded.map(lambda s, p=PATTERNS[cls]: bool(p.search(s)))
        assert hits.mean() > 0.97, (cls, decoded[~hits].head(5).tolist())
    assert text.nunique() > 0.8 * len(text)
    assert (scan.EdgeResponseStatus.isin([400, 403, 404])).mean() > 0.5
    assert attacks.WAFAttackScore.median() < df.loc[df.actor == "human", "WAFAttackScore"].median()


@pytest.mark.parametrize("cls", ATTACK_CLASSES)
def test_payload_grammar_is_diverse_and_well_formed(cls):
    payloads = generate_payloads(cls, 3000, np.random.default_rng(11)).to_pylist()
    assert len(set(payloads)) > 0.75 * len(payloads)
    hits = [bool(PATTERNS[cls].search(decode(p))) for p in payloads]
    assert np.mean(hits) > 0.98
    assert (
        generate_payloads(cls, 50, np.random.default_rng(1)).to_pylist()
        == generate_payloads(cls, 50, np.random.default_rng(1)).to_pylist()
    )


def test_payload_grammar_rejects_bad_input():
    with pytest.raises(InputError, match="unknown attack class"):
        generate_payloads("rce", 3, np.random.default_rng(0))
    with pytest.raises(InputError):
        generate_payloads("xss", -1, np.random.default_rng(0))


def test_headless_fingerprints_contradict_their_user_agents(table, df):
    headless = df[df.actor == "headless"]
    assert headless.ClientRequestUserAgent.str.contains(r"Chrome/\d+").all()
    assert not headless.ClientRequestUserAgent.str.contains("Headless").any()
    stacks = {stack_of_ja4(j) for j in headless.JA4.unique()}
    assert None not in stacks and stacks.isdisjoint(BROWSER_STACKS)
    # real Chrome users carry Chrome's fingerprint and client hints
    mask = (table["actor"].to_numpy() == "human") & pc_contains(
        table, "ClientRequestUserAgent", "Chrome/"
    )
    chrome = {stack_of_ja4(j) for j in pa.array(table["JA4"].to_numpy()[mask]).unique().to_pylist()}
    assert chrome <= {"chrome", "chrome-quic"}
    for headers in headers_of(table, mask & ~pc_contains(table, "ClientRequestUserAgent", "Edg/")):
        assert "sec-ch-ua" in headers and "accept-language" in headers
    for headers in headers_of(table, table["actor"].to_numpy() == "headless"):
        assert not any(k.startswith("sec-fetch-") for k in headers)


def pc_contains(table: pa.Table, column: str, text: str) -> np.ndarray:
    import pyarrow.compute as pc

    values = table[column].combine_chunks().cast(pa.string())
    return pc.match_substring(values, text).to_numpy(zero_copy_only=False)


def test_header_sets_follow_the_client(table):
    actor = table["actor"].to_numpy()
    ua = table["ClientRequestUserAgent"].to_numpy()
    requests_lib = np.array([str(u).startswith("python-requests/") for u in ua])
    for headers in headers_of(table, requests_lib):
        assert set(headers) <= {"accept", "accept-encoding", "connection", "content-type"}
    browsers = headers_of(table, actor == "human", limit=2000)
    assert np.mean([len(h) for h in browsers]) > 7
    assert np.mean(["cookie" in h for h in browsers]) > 0.8
    api = headers_of(table, actor == "api_abuse")
    assert all(h["authorization"].startswith("Bearer ") for h in api)


def test_credential_stuffing_uses_many_addresses_few_posts_each(df):
    cs = df[df.actor == "credential_stuffing"]
    per_ip = cs.groupby("ClientIP").size()
    assert len(per_ip) > 300 and per_ip.max() <= 8 and per_ip.median() <= 3
    posts = cs[cs.ClientRequestMethod == "POST"]
    assert len(posts) > 0.6 * len(cs)
    assert set(posts.ClientRequestPath) <= {"/login", "/account/login", "/v1/auth/login"}
    assert posts.RequestBody.str.contains("password").all()
    assert posts.EdgeResponseStatus.isin([401, 403, 429]).mean() > 0.8


def test_floods_are_fast_from_few_addresses(df):
    def peak_per_second(frame: pd.DataFrame) -> pd.Series:
        sec = (frame.ms // 1000).astype(int)
        return frame.assign(sec=sec).groupby(["ClientIP", "sec"]).size().groupby("ClientIP").max()

    fl = df[df.actor == "l7_flood"]
    assert fl.ClientIP.nunique() <= 20
    assert peak_per_second(fl).median() >= 15
    assert peak_per_second(df[df.actor == "human"]).quantile(0.99) < 25
    assert fl.EdgeResponseStatus.isin([429, 503]).mean() > 0.3


def test_residential_proxies_rotate_addresses(df):
    rp = df[df.actor == "residential_proxy"]
    per_ip = rp.groupby("ClientIP").size()
    assert per_ip.max() <= 16 and per_ip.median() <= 4
    assert set(rp.ClientASN) & {7922, 26599, 55836, 45899}


def test_crawlers_are_verified_and_say_so(df):
    cr = df[df.actor == "crawler"]
    assert (cr.VerifiedBotCategory != "").all() and (cr.BotScoreSrc == "Verified Bot").all()
    assert cr.ClientRequestUserAgent.str.contains(r"(?i)bot|crawl|uptime").all()
    assert (df.loc[df.actor != "crawler", "VerifiedBotCategory"] == "").all()
    assert (cr.ClientRequestPath == "/robots.txt").any()


def test_scrapers_are_regular_and_hosted(df):
    sc = df[df.actor == "scraper"]
    assert not sc.ClientASN.isin([7922, 7018, 701, 3320]).any()
    cv = sc.groupby("campaign").apply(
        lambda f: f.groupby("ClientIP").ms.diff().pipe(lambda g: g.std() / g.mean())
    )
    assert cv.min() < 0.7
    assert sc.EdgeResponseStatus.isin([200, 429]).mean() > 0.9


def test_edge_scores_are_informative_but_imperfect(df):
    human = df.loc[df.label == "human", "BotScore"]
    bad = df.loc[df.label == "bad_bot", "BotScore"]
    assert human.median() > 50 > bad.median()
    assert (human < 30).mean() > 0.01  # false positives exist
    assert (bad >= 30).mean() > 0.05  # and misses


# --- arguments, store, command line ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"n_requests": -1}, {"n_requests": 10, "days": 0}, {"n_requests": 10, "chunk_rows": 0},
     {"n_requests": 10, "start": datetime(2026, 11, 1)}, {"n_requests": 10, "mix": {"martians": 1}},
     {"n_requests": 10, "mix": {"human": -1}}, {"n_requests": 10, "seed": -3}],
)  # fmt: skip
def test_bad_arguments_raise_input_error(kwargs):
    with pytest.raises(InputError):
        generate_traffic(**kwargs)


def test_mix_selects_families():
    t = pa.concat_tables(list(generate_traffic(3_000, seed=1, mix={"human": 1, "vuln_scanner": 1})))
    assert set(t["actor"].to_pylist()) == {"human", "vuln_scanner"}


def test_parse_start():
    assert parse_start("2026-11-01") == START
    assert parse_start("2026-11-01T06:00Z") == START + timedelta(hours=6)
    with pytest.raises(InputError, match="ISO"):
        parse_start("yesterday")


def test_store_round_trip(store):
    rows = write_traffic(store, 4_000, days=1, seed=5, chunk_rows=1_500, progress=False)
    assert rows == 4_000
    expected = pa.concat_tables(list(generate_traffic(4_000, days=1, seed=5)))
    got = store.query_df(
        "SELECT actor, count() AS n, uniqExact(RayID) AS ids, countIf(attack_class != '') AS attacks, "
        "min(EdgeStartTimestamp) AS first, max(EdgeStartTimestamp) AS last "
        "FROM http_requests WHERE Source = {src:String} GROUP BY actor ORDER BY actor",
        {"src": "synth:traffic:seed=5"},
    )
    want = pd.Series(expected["actor"].to_pylist()).value_counts().sort_index()
    assert dict(zip(got.actor, got.n, strict=True)) == want.to_dict()
    assert (got.n == got.ids).all()
    assert got.attacks.sum() == sum(1 for a in expected["attack_class"].to_pylist() if a)
    arrow_of = {
        "String": pa.string(), "LowCardinality(String)": pa.string(), "UInt8": pa.uint8(),
        "UInt16": pa.uint16(), "UInt32": pa.uint32(), "UInt64": pa.uint64(),
        "DateTime64(3, 'UTC')": pa.timestamp("ms", "UTC"), "Map(String, String)": pa.map_(pa.string(), pa.string()),
    }  # fmt: skip
    ddl = store.columns("http_requests")
    assert expected.column_names == [name for name, _ in ddl]
    assert [expected.schema.field(name).type for name, _ in ddl] == [arrow_of[t] for _, t in ddl]
    sample = store.query_df(
        "SELECT RequestHeaders, JA4, ClientRequestUserAgent FROM http_requests "
        "WHERE RayID = {ray:String}",
        {"ray": expected["RayID"][0].as_py()},
    )
    assert len(sample) == 1 and len(sample.RequestHeaders[0]) > 3
    # running again with the same seed replaces the earlier rows instead of adding to them
    assert write_traffic(store, 2_000, days=1, seed=5, progress=False) == 2_000
    again = store.query_df(
        "SELECT count() AS n FROM http_requests WHERE Source = {src:String}",
        {"src": "synth:traffic:seed=5"},
    )
    assert again.n[0] == 2_000


def test_cli_writes_traffic(embedded_store, monkeypatch):
    monkeypatch.setattr("workbench.store.connect", lambda *a, **k: embedded_store)
    result = CliRunner().invoke(
        app, ["traffic", "--requests", "1500", "--seed", "9", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1,500 requests" in result.output
    n = embedded_store.query_df(
        "SELECT count() AS n FROM http_requests WHERE Source = {s:String}",
        {"s": "synth:traffic:seed=9"},
    )["n"][0]
    assert n == 1500
    bad = CliRunner().invoke(app, ["traffic", "--requests", "10", "--start", "soon"])
    assert isinstance(bad.exception, InputError)


# --- vectorized helpers ---------------------------------------------------------------------


def test_array_helpers():
    from workbench.synth.arrays import hex64, ipv4, scatter, seg_arange, seg_cumsum

    assert seg_cumsum(np.array([1, 2, 3, 4, 5]), np.array([2, 0, 3])).tolist() == [1, 3, 3, 7, 12]
    assert seg_arange(np.array([2, 0, 3])).tolist() == [0, 1, 0, 1, 2]
    values = np.array([0, 0xDEADBEEF01234567, 2**64 - 1], dtype=np.uint64)
    assert hex64(values).to_pylist() == [f"{int(v):016x}" for v in values]
    assert ipv4(np.array([3232235777, 16909060], dtype=np.uint32)).to_pylist() == [
        "192.168.1.1",
        "1.2.3.4",
    ]
    assert scatter(4, [(np.array([1, 3]), pa.array(["a", "b"]))], fill="-").to_pylist() == [
        "-",
        "a",
        "-",
        "b",
    ]
    with pytest.raises(ValueError, match="2 rows but 3 values"):
        scatter(4, [(np.array([1, 3]), pa.array(["a", "b", "c"]))])


def test_fingerprints_are_computed_from_the_hello():
    from workbench.synth.tls import HELLOS, fingerprint_table

    table = fingerprint_table()
    assert table["chrome"][1] == "t13d1516h2_8daaf6152771_02713d6af862"  # Chrome's published JA4
    assert len({ja4 for _, ja4 in table.values()}) == len(HELLOS)
    assert all(re.fullmatch(r"[0-9a-f]{32}", ja3) for ja3, _ in table.values())
    assert all(
        re.fullmatch(r"[tq]1[23][di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}", j)
        for _, j in table.values()
    )


def test_write_stops_cleanly_when_an_insert_fails():
    from workbench.errors import StoreError

    class FailingStore:
        inserted = 0

        def mutate(self, *args, **kwargs):
            return None

        def insert_arrow(self, table, data):
            if self.inserted:
                raise StoreError("disk full")
            self.inserted += data.num_rows
            return data.num_rows

    store = FailingStore()
    with pytest.raises(StoreError, match="disk full"):
        write_traffic(store, 20_000, chunk_rows=2_000, progress=False)
    assert store.inserted == 2_000
    assert not [t for t in threading.enumerate() if t.name == "synth-traffic"]
