"""Vulnerability scanners: wordlist probes and grammar-drawn attack payloads.

A scanner walks its wordlist of well-known sensitive paths in order and, for a
campaign-specific share of requests, injects a payload (SQLi, XSS, traversal or command
injection, by the campaign's mix) into a query parameter, the path, a form body or a JSON
body of a real page. Payloads are percent-encoded the way HTTP clients send them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.synth.arrays import (
    choice,
    join,
    row_choice,
    scatter,
    take,
    tokens,
    url_encode,
    where,
)
from workbench.synth.payloads import ATTACK_CLASSES, GRAMMARS
from workbench.synth.sessions import GET, HEAD, POST, Block, Rows, make_rows
from workbench.synth.sitemap import API, FORM, JSON, OTHER, PAGE, PROBE_PATHS, SHOP, WWW

SQLI, XSS, TRAVERSAL, CMDI = range(len(ATTACK_CLASSES))
# parameters scanners inject into, by attack class
_PARAMS = (
    ("id", "q", "page", "sort", "category", "product", "user", "order", "item"),
    ("q", "search", "name", "redirect", "message", "callback", "title", "comment"),
    ("file", "path", "page", "template", "doc", "download", "include", "lang"),
    ("host", "ip", "cmd", "domain", "ping", "exec", "target", "addr"),
)
# pages whose parameters scanners try, by site
_TARGETS = {
    WWW: ("/search", "/blog", "/docs/api/page-1", "/contact", "/account/login", "/"),
    SHOP: (
        "/search",
        "/category/jacket-1",
        "/product/10042-red-boots",
        "/cart",
        "/api/v1/cart",
        "/",
    ),
    API: ("/v1/products", "/v1/prices", "/v1/stores", "/v1/search", "/graphql"),
}
_PATH_PREFIXES = ("/static/", "/download/", "/images/", "/files/", "/api/v1/export?file=")
_FORMS = {
    WWW: ("/account/login", "/contact"),
    SHOP: ("/login", "/search"),
    API: ("/v1/auth/login",),
}


def _transport(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Encode payloads for a query string: always what would break the URL, often more."""
    safe = url_encode(values, " #\n\t&")
    strict = url_encode(safe, "'\"<>`{}|\\")
    return where(rng.random(len(values)) < 0.5, strict, safe)


def scan(b: Block, sess: np.ndarray) -> Rows:
    """Generate the requests of vulnerability-scanner sessions.

    Parameters
    ----------
    b : Block
        The block.
    sess : numpy.ndarray
        Block-local indices of scanner sessions.

    Returns
    -------
    Rows
        Probes and payload-carrying requests, session after session.
    """
    rng = b.rng
    s_row, k = b.expand(sess)
    pos = np.repeat(np.arange(len(sess)), b.rows[sess])
    n = len(s_row)
    site = b.param("site", sess)[pos]
    share = b.param("payload_share", sess)[pos]
    mix = b.param("attack_mix", sess).reshape(len(sess), len(ATTACK_CLASSES))[pos]
    payload = rng.random(n) < share
    cls = np.where(payload, row_choice(rng, mix + 1e-12), -1)
    # probes: the wordlist in order from a random start
    start = rng.integers(0, len(PROBE_PATHS), len(sess))[pos]
    probe_path = take(PROBE_PATHS, (start + k) % len(PROBE_PATHS))
    # payload placement: query parameter, path (traversal), form body, JSON body
    pools = payload_pools(b)
    raw = scatter(n, [
        (rows, pools[c].take(pa.array(rng.integers(0, len(pools[c]), len(rows)))))
        for c in range(len(pools)) if len(rows := np.flatnonzero(cls == c))
    ])  # fmt: skip
    place = choice(rng, [0.7, 0.0, 0.2, 0.1], n)
    place = np.where((cls == TRAVERSAL) & (rng.random(n) < 0.5), 1, place)
    place = np.where(cls == TRAVERSAL, np.where(place == 1, 1, 0), place)
    place = np.where(site == API, np.where(place == 2, 3, place), place)
    target = _pick(rng, _TARGETS, site)
    param_name = scatter(n, [
        (rows, take(_PARAMS[c], rng.integers(0, len(_PARAMS[c]), len(rows))))
        for c in range(len(_PARAMS)) if len(rows := np.flatnonzero(cls == c))
    ])  # fmt: skip
    encoded = _transport(raw, rng)
    query = where(place == 0, join(param_name, "=", encoded), pa.repeat("", n))
    prefix = take(_PATH_PREFIXES, rng.integers(0, len(_PATH_PREFIXES), n))
    in_path = join(prefix, url_encode(raw, " #\n\t"))
    path = where(place == 1, in_path, where(place >= 2, _pick(rng, _FORMS, site), target))
    path = where(payload, path, probe_path)
    query = where(payload, query, pa.repeat("", n))
    json_value = pc.replace_substring(pc.replace_substring(raw, "\\", "\\\\"), '"', '\\"')
    json_value = pc.replace_substring(pc.replace_substring(json_value, "\n", "\\n"), "\t", "\\t")
    body = where(place == 2, join(param_name, "=", url_encode(raw, "%&=+# \n\t"), "&password=", tokens(rng, n, 8)),
                 join('{"query":"', json_value, '"}'))  # fmt: skip
    body = where(payload & (place >= 2), body, pa.repeat("", n))
    kind = np.where(payload, np.select([place == 2, place == 3], [FORM, JSON], PAGE), OTHER)
    method = np.where(
        payload & (place >= 2), POST, np.where(~payload & (rng.random(n) < 0.05), HEAD, GET)
    )
    status = np.where(payload, choice(rng, [0.45, 0.3, 0.15, 0.1], n), -1)
    status = np.where(
        status >= 0, np.array([200, 404, 400, 500])[np.maximum(status, 0)], b.status(s_row)
    )
    status = np.where((status == 500) & (cls != SQLI) & (rng.random(n) < 0.8), 400, status)
    return make_rows(
        s_row, b.bot_times(sess), site, path, query=query, body=body, kind=kind.astype(np.int8),
        method=method.astype(np.int8), status=status.astype(np.int16), attack=cls.astype(np.int8),
    )  # fmt: skip


def payload_pools(b: Block) -> list[pa.Array]:
    """Draw payloads once per dataset from each class's grammar, sized to what it needs.

    Drawing per block would repeat the grammar's fixed per-draw overhead hundreds of times;
    one pool per class (up to 65,536 grammar draws) keeps scanners diverse and cheap.
    """
    plan = b.plan
    if "payloads" not in plan.cache:
        need = np.zeros(len(ATTACK_CLASSES))
        for c in plan.campaigns:
            need += c.budget * c.payload_share * np.asarray(c.attack_mix)
        rng = np.random.default_rng(np.random.SeedSequence([b.seed, 0xA77AC]))
        sizes = np.clip(np.ceil(need), 256, 65_536).astype(int)
        plan.cache["payloads"] = [
            GRAMMARS[c].draw(rng, int(k)) for c, k in zip(ATTACK_CLASSES, sizes, strict=True)
        ]
    return plan.cache["payloads"]


def _pick(
    rng: np.random.Generator, table: dict[int, tuple[str, ...]], site: np.ndarray
) -> pa.Array:
    """Pick a random entry of ``table[site]`` for each row."""
    parts = []
    for s, options in table.items():
        rows = np.flatnonzero(site == s)
        if len(rows):
            parts.append((rows, take(options, rng.integers(0, len(options), len(rows)))))
    return scatter(len(site), parts)
