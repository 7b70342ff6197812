"""Turn generated request rows into the ``http_requests`` Arrow table.

Everything a request inherits from its client (address, ASN, country, user agent, TLS and
HTTP protocol, JA3/JA4, header set) is looked up from the session's actor and variant; the
edge's own view (bot score, WAF attack score, security action, origin status, latency,
sizes) is filled in here, deliberately noisy: the edge is a weak, imperfect detector.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.synth.arrays import hex64, ipv4, join, lengths, mix64, where
from workbench.synth.campaigns import CRAWLER, FAMILIES, FLOOD, HUMAN, LABELS
from workbench.synth.clients import HEADER_NAMES, N_KINDS, Variants, variants
from workbench.synth.identities import api_keys, session_cookies
from workbench.synth.network import COUNTRY_CODES, NETWORK_ASN
from workbench.synth.payloads import ATTACK_CLASSES
from workbench.synth.plan import LANGUAGES
from workbench.synth.sessions import FETCH_SITES, METHODS, POST, Block, Rows
from workbench.synth.sitemap import (
    CONTENT_TYPES,
    CSS,
    FONT,
    HOSTS,
    IMAGE,
    JS,
    JSON,
    KIND_BYTES,
    XHR,
)

_STR = pa.string()
_DICT = pa.dictionary(pa.int32(), pa.string())
_TS = pa.timestamp("ms", "UTC")
# columns handed out dictionary-encoded (few distinct values per block)
_DICTIONARY = {
    "ClientIP", "ClientCountry", "ClientDeviceType", "ClientRequestMethod",
    "ClientRequestScheme", "ClientRequestHost", "ClientRequestUserAgent",
    "ClientRequestProtocol", "ClientSSLProtocol", "ClientSSLCipher", "JA3Hash", "JA4",
    "EdgeResponseContentType", "BotScoreSrc", "VerifiedBotCategory", "SecurityAction",
    "Source", "label", "actor", "campaign", "attack_class",
}  # fmt: skip
_TYPES = {
    "EdgeStartTimestamp": _TS, "EdgeEndTimestamp": _TS, "ClientASN": pa.uint32(),
    "ClientRequestBytes": pa.uint64(), "EdgeResponseStatus": pa.uint16(),
    "OriginResponseStatus": pa.uint16(), "EdgeResponseBytes": pa.uint64(),
    "BotScore": pa.uint8(), "WAFAttackScore": pa.uint8(), "RequestHeaders": pa.map_(_DICT, _DICT),
}  # fmt: skip
COLUMNS = (
    "RayID", "EdgeStartTimestamp", "EdgeEndTimestamp", "ClientIP", "ClientASN",
    "ClientCountry", "ClientDeviceType", "ClientRequestMethod", "ClientRequestScheme",
    "ClientRequestHost", "ClientRequestPath", "ClientRequestQuery", "ClientRequestURI",
    "ClientRequestUserAgent", "ClientRequestReferer", "ClientRequestProtocol",
    "ClientRequestBytes", "ClientSSLProtocol", "ClientSSLCipher", "JA3Hash", "JA4",
    "EdgeResponseStatus", "OriginResponseStatus", "EdgeResponseBytes",
    "EdgeResponseContentType", "BotScore", "BotScoreSrc", "VerifiedBotCategory",
    "WAFAttackScore", "SecurityAction", "RequestHeaders", "RequestBody", "Source", "label",
    "actor", "campaign", "attack_class",
)  # fmt: skip
#: Arrow schema of generated blocks: the ``http_requests`` columns in DDL order, the
#: low-cardinality strings dictionary-encoded.
SCHEMA = pa.schema([(c, _DICT if c in _DICTIONARY else _TYPES.get(c, _STR)) for c in COLUMNS])
#: The same columns with every string plain (what ``generate_traffic`` hands out).
PLAIN_SCHEMA = pa.schema(
    [(c, pa.map_(_STR, _STR) if c == "RequestHeaders" else _TYPES.get(c, _STR)) for c in COLUMNS]
)
BOT_SCORE_SOURCES = ("Verified Bot", "Heuristics", "Machine Learning", "Behavioral Analysis")
SECURITY_ACTIONS = ("", "block", "managedChallenge")
_ASSETS = np.array([k in (CSS, JS, IMAGE, FONT) for k in range(N_KINDS)])
_KIND_MEDIAN = np.array([k[0] for k in KIND_BYTES], dtype=np.float64)
_KIND_SPREAD = np.array([k[1] for k in KIND_BYTES], dtype=np.float64)
# edge bot-score model per family: Kumaraswamy(a, b) spread over 1..99
_BOT_A = np.array([2.6, 1.0, 1.3, 1.6, 1.5, 1.2, 1.0, 1.0, 2.5])
_BOT_B = np.array([1.1, 1.0, 5.0, 3.0, 4.0, 6.0, 6.0, 8.0, 2.2])
# what the edge does when it steps in, per family (index into SECURITY_ACTIONS)
_ACTION_OF = np.array([2, 0, 2, 1, 2, 1, 1, 1, 2])
_HARD_NEGATIVE = r"(?i)(%27|%22|%3c|%26|select|union|drop|script|alert|\.\.%2f|1%3d1)"
_NAMES = pa.array(HEADER_NAMES)
_NAME_LEN = np.array([len(h) for h in HEADER_NAMES], dtype=np.int64)
_HOST_LEN = np.array([len(h) for h in HOSTS], dtype=np.int64)
_UA_LEN = lengths(variants().ua)


@cache
def _fixed_values() -> tuple[pa.Array, dict[str, np.ndarray]]:
    """Distinct header values known up front, and where each source's values sit among them.

    Sources: the header templates' values, accept-language values, sec-fetch-site values,
    origins of the sites.
    """
    sources = {
        "template": variants().header_values.to_pylist(),
        "lang": list(LANGUAGES),
        "fetch": list(FETCH_SITES),
        "origin": [f"https://{h}" for h in HOSTS],
    }
    distinct = sorted({v for values in sources.values() for v in values})
    where_is = {v: i for i, v in enumerate(distinct)}
    codes = {
        k: np.array([where_is[v] for v in values], dtype=np.int64) for k, values in sources.items()
    }
    return pa.array(distinct, _STR), codes


def header_maps(b: Block, r: Rows, var: Variants) -> tuple[pa.Array, np.ndarray]:
    """Build ``RequestHeaders`` and the header bytes of each request.

    Each request gets its variant's header set for its kind, then the per-client headers
    (``accept-language``, ``sec-fetch-site``, ``origin``, ``cookie``, ``authorization``)
    where they apply. Names and values are gathered by index from pools in one pass.

    Parameters
    ----------
    b : Block
        The block.
    r : Rows
        The requests.
    var : Variants
        The client variant table.

    Returns
    -------
    tuple
        The map array (names and values dictionary-encoded) and the header bytes of each
        request.
    """
    n = len(r)
    v = b.variant[r.sess]
    tmpl = v * N_KINDS + r.kind
    off = var.template_offsets
    c0 = off[tmpl + 1] - off[tmpl]
    browser = var.browser[v]
    lang = b.lang[r.sess]
    fixed, codes = _fixed_values()
    # cookies and keys once per distinct client of the block (dictionary values must be unique)
    clients, client_of = np.unique(b.token, return_inverse=True)
    values_pool = pa.concat_arrays([fixed, session_cookies(clients), api_keys(clients)])
    cookie_base, key_base = len(fixed), len(fixed) + len(clients)
    client = client_of[r.sess]
    dynamic = (  # (header, rows it applies to, index of its value in the value pool)
        ("accept-language", browser & (lang >= 0), codes["lang"][lang]),
        ("sec-fetch-site", browser & (r.fetch_site >= 0), codes["fetch"][r.fetch_site]),
        ("origin", browser & ((r.method == POST) | (r.kind == FONT)), codes["origin"][r.site]),
        ("cookie", r.cookie, cookie_base + client),
        ("authorization", r.auth, key_base + client),
    )
    counts = c0 + sum(mask.astype(np.int64) for _, mask, _ in dynamic)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    # template entries first in each map: entry e of row i sits at offsets[i] + (e - cs0[i])
    cs0 = np.cumsum(c0) - c0
    static = np.arange(int(c0.sum()), dtype=np.int64)
    src = static + np.repeat(off[tmpl] - cs0, c0)
    pos = static + np.repeat(offsets[:-1] - cs0, c0)
    key_idx = np.empty(int(offsets[-1]), dtype=np.int64)
    val_idx = np.empty(int(offsets[-1]), dtype=np.int64)
    key_idx[pos] = var.header_key_ids[src]
    val_idx[pos] = codes["template"][src]
    slot = offsets[:-1] + c0
    for name, mask, value in dynamic:
        rows = np.flatnonzero(mask)
        at = slot[rows]
        key_idx[at] = HEADER_NAMES.index(name)
        val_idx[at] = value[rows]
        slot[rows] += 1
    entry_bytes = np.zeros(len(key_idx) + 1, dtype=np.int64)
    np.cumsum(_NAME_LEN[key_idx] + lengths(values_pool)[val_idx] + 4, out=entry_bytes[1:])
    size = entry_bytes[offsets[1:]] - entry_bytes[offsets[:-1]]
    # names and values stay indices into their pools: no string is copied per request
    mapped = pa.MapArray.from_arrays(
        pa.array(offsets.astype(np.int32)),
        pa.DictionaryArray.from_arrays(pa.array(key_idx.astype(np.int32)), _NAMES),
        pa.DictionaryArray.from_arrays(pa.array(val_idx.astype(np.int32)), values_pool),
    )
    return mapped, size.astype(np.int64)


def _score(
    rng: np.random.Generator, a: np.ndarray | float, b: np.ndarray | float, n: int
) -> np.ndarray:
    """Scores in 1..99 from a Kumaraswamy(a, b) draw (beta-like, cheap to sample)."""
    x = (1.0 - (1.0 - rng.random(n)) ** (1.0 / b)) ** (1.0 / a)
    return np.clip(np.rint(1 + 98 * x), 1, 99).astype(np.uint8)


@lru_cache(maxsize=512)
def _encoding(pool: tuple[str, ...]) -> tuple[np.ndarray, pa.Array]:
    """Codes of each pool entry and the distinct values they point to."""
    distinct, inverse = np.unique(np.array(pool, dtype=object), return_inverse=True)
    return inverse.astype(np.int32), pa.array(distinct.tolist(), _STR)


def _dict(indices: np.ndarray, pool: pa.Array | list[str] | tuple[str, ...]) -> pa.Array:
    """Return ``pool[indices]`` dictionary-encoded (distinct dictionary values, no copying)."""
    codes, distinct = _encoding(tuple(pool.to_pylist() if isinstance(pool, pa.Array) else pool))
    return pa.DictionaryArray.from_arrays(pa.array(codes[np.asarray(indices, np.int64)]), distinct)


def _ips(ip: np.ndarray) -> pa.Array:
    """Dictionary-encoded dotted-quad strings of addresses."""
    distinct, inverse = np.unique(ip, return_inverse=True)
    return pa.DictionaryArray.from_arrays(pa.array(inverse.astype(np.int32)), ipv4(distinct))


def _nonempty(values: pa.Array) -> np.ndarray:
    return lengths(values) > 0


def _edge_view(b: Block, r: Rows, fam: np.ndarray, var: Variants) -> dict[str, np.ndarray]:
    """Compute the edge's own, imperfect verdicts: WAF and bot scores, actions, sizes."""
    rng, n = b.rng, len(r)
    attack = r.attack >= 0
    clean_text = np.flatnonzero(~attack & (_nonempty(r.query) | _nonempty(r.body)))
    hard = np.zeros(n, dtype=bool)
    if len(clean_text):
        idx = pa.array(clean_text)
        text = join(r.query.take(idx), " ", r.body.take(idx))
        hard[clean_text] = pc.match_substring_regex(text, _HARD_NEGATIVE).to_numpy(
            zero_copy_only=False
        )
    missed = rng.random(n) < 0.2
    waf_attack = _score(rng, np.where(missed, 4.0, 1.1), np.where(missed, 2.0, 7.0), n)
    waf_clean = 100 - _score(rng, np.where(hard, 2.0, 1.0), np.where(hard, 5.0, 30.0), n)
    waf = np.where(attack, waf_attack, waf_clean)
    camps = b.plan.campaigns
    block_p = np.array([c.block for c in camps])[b.campaign[r.sess]]
    blocked = (rng.random(n) < np.where(fam == HUMAN, 0.001, block_p)) & (fam != CRAWLER)
    blocked |= (waf < 20) & (rng.random(n) < 0.6)
    action = np.where(blocked, np.where(waf < 20, 1, _ACTION_OF[fam]), 0)
    status = np.where(blocked, 403, r.status).astype(np.int64)
    cached = _ASSETS[r.kind] & np.isin(status, (200, 304)) & (rng.random(n) < 0.85)
    origin = np.where(blocked | cached | (status == 429), 0, status)
    med = _KIND_MEDIAN[r.kind]
    size = np.where(
        r.resp_bytes >= 0, r.resp_bytes, med * np.exp(rng.normal(0, _KIND_SPREAD[r.kind]))
    )
    err = np.select([status == 429, status == 503, status == 403, status >= 400],
                    [rng.uniform(180, 600, n), rng.uniform(800, 2500, n), rng.uniform(1500, 7000, n),
                     rng.uniform(300, 6000, n)], -1.0)  # fmt: skip
    size = np.where(err >= 0, err, size).astype(np.int64)
    mu = np.select(
        [cached, blocked | (status == 429), status >= 500, r.kind == XHR], [2.1, 0.7, 7.3, 4.5], 4.8
    )
    latency = np.rint(np.exp(mu + 0.6 * rng.standard_normal(n))).astype(np.int64)
    ctype = np.where((status >= 400) & ~np.isin(r.kind, (XHR, JSON)), 0, r.kind)
    v = b.variant[r.sess]
    a_param, b_param = _BOT_A[fam], _BOT_B[fam]
    real_browser = var.browser[v] & (fam != HUMAN)
    a_param, b_param = np.where(real_browser, 2.4, a_param), np.where(real_browser, 1.6, b_param)
    heuristic = var.script[v] & (fam != CRAWLER) & (rng.random(n) < 0.9)
    score = np.where(heuristic | (fam == CRAWLER), 1, _score(rng, a_param, b_param, n))
    src = np.select(
        [fam == CRAWLER, heuristic, (fam == FLOOD) & (rng.random(n) < 0.5)], [0, 1, 3], 2
    )
    return {"waf": waf, "action": action, "status": status, "origin": origin, "size": size,
            "latency": latency, "ctype": ctype, "score": score, "src": src}  # fmt: skip


def build_table(b: Block, r: Rows, seed: int) -> pa.Table:
    """Assemble the ``http_requests`` table of one block.

    Low-cardinality string columns come dictionary-encoded (ClickHouse reads them into
    ``String`` and ``LowCardinality(String)`` alike); the others are plain strings.

    Parameters
    ----------
    b : Block
        The block.
    r : Rows
        Its requests.
    seed : int
        Dataset seed (for ``Source`` and ``RayID``).

    Returns
    -------
    pyarrow.Table
        Rows with :data:`SCHEMA`.
    """
    var, n = variants(), len(r)
    sess, v = r.sess, b.variant[r.sess]
    fam = b.family[sess]
    edge = _edge_view(b, r, fam, var)
    headers, header_bytes = header_maps(b, r, var)
    uri = where(_nonempty(r.query), join(r.path, "?", r.query), r.path)
    req_bytes = (lengths(uri) + _UA_LEN[v] + lengths(r.referer) + lengths(r.body)
                 + _HOST_LEN[r.site] + header_bytes + 48)  # fmt: skip
    ids = np.arange(b.row_base, b.row_base + n, dtype=np.uint64)
    ray = hex64(mix64(ids, seed * 0x9E3779B1 + 0x52A1))
    cidx = b.campaign[sess]
    camps = b.plan.campaigns
    columns = {
        "RayID": ray,
        "EdgeStartTimestamp": pa.array(r.t, pa.timestamp("ms", "UTC")),
        "EdgeEndTimestamp": pa.array(r.t + edge["latency"], pa.timestamp("ms", "UTC")),
        "ClientIP": _ips(b.ip[sess]),
        "ClientASN": pa.array(NETWORK_ASN[b.network[sess]], pa.uint32()),
        "ClientCountry": _dict(b.country[sess], COUNTRY_CODES),
        "ClientDeviceType": _dict(v, var.device),
        "ClientRequestMethod": _dict(r.method, METHODS),
        "ClientRequestScheme": _dict(v, var.scheme),
        "ClientRequestHost": _dict(r.site, b.site_map.hosts),
        "ClientRequestPath": r.path,
        "ClientRequestQuery": r.query,
        "ClientRequestURI": uri,
        "ClientRequestUserAgent": _dict(v, var.ua),
        "ClientRequestReferer": r.referer,
        "ClientRequestProtocol": _dict(v, var.protocol),
        "ClientRequestBytes": pa.array(req_bytes.astype(np.uint64)),
        "ClientSSLProtocol": _dict(v, var.ssl_protocol),
        "ClientSSLCipher": _dict(v, var.cipher),
        "JA3Hash": _dict(v, var.ja3),
        "JA4": _dict(v, var.ja4),
        "EdgeResponseStatus": pa.array(edge["status"].astype(np.uint16)),
        "OriginResponseStatus": pa.array(edge["origin"].astype(np.uint16)),
        "EdgeResponseBytes": pa.array(np.maximum(edge["size"], 0).astype(np.uint64)),
        "EdgeResponseContentType": _dict(edge["ctype"], CONTENT_TYPES),
        "BotScore": pa.array(edge["score"].astype(np.uint8)),
        "BotScoreSrc": _dict(edge["src"], BOT_SCORE_SOURCES),
        "VerifiedBotCategory": _dict(cidx, [c.category for c in camps]),
        "WAFAttackScore": pa.array(edge["waf"].astype(np.uint8)),
        "SecurityAction": _dict(edge["action"], SECURITY_ACTIONS),
        "RequestHeaders": headers,
        "RequestBody": r.body,
        "Source": _dict(np.zeros(n, np.int32), [f"synth:traffic:seed={int(seed)}"]),
        "label": _dict(fam, LABELS),
        "actor": _dict(fam, FAMILIES),
        "campaign": _dict(cidx, [c.id for c in camps]),
        "attack_class": _dict(r.attack + 1, ("",) + ATTACK_CLASSES),
    }
    return pa.Table.from_arrays(
        [
            columns[f.name].cast(f.type) if columns[f.name].type != f.type else columns[f.name]
            for f in SCHEMA
        ],
        schema=SCHEMA,
    )
