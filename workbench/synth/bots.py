"""Machine-driven sessions: crawlers, scrapers, credential stuffing, API abuse, L7 floods.

None of these fetch page assets. Their timing comes from :meth:`Block.bot_times` (regular,
Poisson-like or bursty by campaign); what they request depends on the campaign's focus:
crawlers walk every page and read ``robots.txt``, scrapers sweep products or result pages
in order, credential stuffers post fresh username/password pairs to a login endpoint a
few times per address, API abusers page through the API with a bearer key, and floods
hammer one URL, often with cache-busting query strings.

Every family is a function ``family(b, sess) -> Rows``: ``b`` is the :class:`Block`, ``sess``
the block-local indices of the sessions to generate, and the result holds their
``b.rows[sess].sum()`` requests, session after session.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

from workbench.synth.arrays import choice, digits, join, scatter, take, tokens, url_encode, where
from workbench.synth.browse import page_queries
from workbench.synth.identities import emails, passwords
from workbench.synth.sessions import GET, HEAD, POST, Block, Rows, make_rows
from workbench.synth.sitemap import (
    API,
    APIROUTE,
    CATEGORY,
    FORM,
    JSON,
    OTHER,
    PAGE,
    PRODUCT,
    SHOP,
    WWW,
    XHR,
)  # fmt: skip

_LOGIN = {SHOP: "/login", WWW: "/account/login", API: "/v1/auth/login"}


class _Requests(NamedTuple):
    """The requests of some sessions of a block, one entry per request (``n`` of them)."""

    s_row: np.ndarray  # block-local session of each request
    k: np.ndarray  # position of each request within its session
    pos: np.ndarray  # position of each request's session in ``sess``
    n: int
    focus: np.ndarray  # the campaign's focus, per request


def _requests(b: Block, sess: np.ndarray) -> _Requests:
    """Return what every family starts from: the requests of ``sess`` and their focus.

    Parameters
    ----------
    b : Block
        The block.
    sess : numpy.ndarray
        Block-local indices of the sessions to generate.

    Returns
    -------
    _Requests
        One entry per request, ``b.rows[sess].sum()`` of them, session after session.
    """
    s_row, k = b.expand(sess)
    pos = np.repeat(np.arange(len(sess)), b.rows[sess])
    return _Requests(s_row, k, pos, len(s_row), b.param("focus", sess)[pos])


def crawl(b: Block, sess: np.ndarray) -> Rows:
    """Generate the requests of verified crawlers and uptime monitors."""
    sm, rng = b.site_map, b.rng
    s_row, k, pos, n, focus = _requests(b, sess)
    site = rng.integers(0, 2, len(sess))[pos]
    page = np.zeros(n, dtype=np.int64)
    for s in (WWW, SHOP):
        pages = sm.pages_in(s)
        pages = pages[sm.page_group[pages] != APIROUTE]
        w = 0.5 / len(pages) + 0.5 * sm.page_weight[pages]
        rows = np.flatnonzero(site == s)
        page[rows] = pages[choice(rng, w, len(rows))]
    uptime = focus == "uptime"
    page = np.where(
        uptime, np.where(site == WWW, sm.page(WWW, "/status"), sm.page(SHOP, "/")), page
    )
    path = sm.page_path.take(pa.array(page))
    query = page_queries(b, page)
    query = where(rng.random(n) < 0.1, query, pa.repeat("", n))
    robots = ~uptime & (k == 0) & (rng.random(n) < 0.6)
    sitemap = ~uptime & (k == 1) & (rng.random(n) < 0.2)
    special = np.where(robots, 0, np.where(sitemap, 1, -1))
    path = where(special >= 0, take(("/robots.txt", "/sitemap.xml"), np.maximum(special, 0)), path)
    query = where(special >= 0, pa.repeat("", n), query)
    status = b.status(s_row)
    status = np.where((special >= 0) | uptime, 200, status)
    size = np.where(
        robots, rng.integers(300, 900, n), np.where(sitemap, rng.integers(20_000, 90_000, n), -1)
    )
    method = np.where(uptime & (b.token[s_row] % 2 == 0), HEAD, GET)
    return make_rows(
        s_row, b.bot_times(sess), site, path, query=query, status=status.astype(np.int16),
        kind=np.where(special >= 0, OTHER, PAGE).astype(np.int8), resp_bytes=size,
        method=method.astype(np.int8),
    )  # fmt: skip


def scrape(b: Block, sess: np.ndarray) -> Rows:
    """Generate scrapers sweeping products, categories, search results or prices in order."""
    sm, rng = b.site_map, b.rng
    s_row, k, pos, n, focus = _requests(b, sess)
    products = sm.pages_in(SHOP, PRODUCT)
    categories = sm.pages_in(SHOP, CATEGORY)
    start = rng.integers(0, 1_000_000, len(sess))[pos]
    seq = start + k
    page = products[seq % len(products)]
    page = np.where(focus == "category-paging", categories[start % len(categories)], page)
    page = np.where(focus == "search", sm.page(SHOP, "/search"), page)
    path = sm.page_path.take(pa.array(page))
    terms = sm.search_terms.take(pa.array(seq % len(sm.search_terms)))
    sort = take(("", "&sort=price_asc", "&sort=newest"), start % 3)
    paging = join("page=", digits(k % 60 + 1), sort)
    query = where(focus == "category-paging", paging, pa.repeat("", n))
    query = where(focus == "search", join("q=", terms), query)
    prices = focus == "prices"
    sku = digits(sm.products[seq % len(sm.products)])
    path = where(prices, pa.repeat("/v1/prices", n), path)
    query = where(prices, join("sku=SKU-", sku), query)
    site = np.where(prices, API, SHOP)
    ref = np.where((rng.random(len(sess)) < 0.3)[pos], 1, 0)
    referer = take(("", "https://shop.example.com/"), ref)
    return make_rows(
        s_row, b.bot_times(sess), site, path, query=query, referer=referer,
        kind=np.where(prices, XHR, PAGE).astype(np.int8), status=b.status(s_row),
    )  # fmt: skip


def stuff_credentials(b: Block, sess: np.ndarray) -> Rows:
    """Generate credential stuffing: a few login posts per residential address."""
    rng = b.rng
    s_row, k, pos, n, focus = _requests(b, sess)
    site = b.param("site", sess)[pos]
    prefetch = (focus == "prefetch") & (k == 0) & (b.rows[s_row] > 1)
    path = take([_LOGIN[s] for s in (WWW, SHOP, API)], site)
    pairs = rng.integers(0, 2**63, n, dtype=np.int64)
    user, pw = emails(pairs), passwords(pairs)
    api = site == API
    form = join("username=", url_encode(user, "@+"), "&password=", url_encode(pw, "%&=+#!@$*"))
    body = where(api, join('{"email":"', user, '","password":"', pw, '"}'), form)
    body = where(prefetch, pa.repeat("", n), body)
    kind = np.where(prefetch, PAGE, np.where(api, JSON, FORM)).astype(np.int8)
    url = join("https://", b.site_map.hosts.take(pa.array(site)), path)
    keep_ref = (focus == "prefetch") | (rng.random(n) < 0.5)
    referer = where(keep_ref & ~prefetch & ~api, url, pa.repeat("", n))
    status = np.where(prefetch, 200, b.status(s_row))
    return make_rows(
        s_row, b.bot_times(sess), site, path, kind=kind, body=body, referer=referer,
        method=np.where(prefetch, GET, POST).astype(np.int8), status=status.astype(np.int16),
        fetch_site=np.where(prefetch, 0, 1).astype(np.int8), cookie=k > 0,
    )  # fmt: skip


def abuse_api(b: Block, sess: np.ndarray) -> Rows:
    """Generate API abuse: paging through catalogue, inventory and search with a key."""
    sm, rng = b.site_map, b.rng
    s_row, k, pos, n, focus = _requests(b, sess)
    start = rng.integers(0, 1_000_000, len(sess))[pos]
    seq = start + k
    pid = digits(sm.products[seq % len(sm.products)])
    rand_pid = digits(sm.products[rng.integers(0, len(sm.products), n)])
    graphql = (focus == "search-post") & (rng.random(n) < 0.5)
    post = focus == "search-post"
    choose = np.select(
        [focus == "products-paging", focus == "product-sweep", focus == "inventory", graphql],
        [0, 1, 2, 4],
        3,
    )
    path = scatter(n, [
        (np.flatnonzero(choose == 0), pa.repeat("/v1/products", int((choose == 0).sum()))),
        (np.flatnonzero(choose == 1), join("/v1/products/", pid.filter(pa.array(choose == 1)))),
        (np.flatnonzero(choose == 2), join("/v1/inventory/SKU-", rand_pid.filter(pa.array(choose == 2)))),
        (np.flatnonzero(choose == 3), pa.repeat("/v1/search", int((choose == 3).sum()))),
        (np.flatnonzero(choose == 4), pa.repeat("/graphql", int((choose == 4).sum()))),
    ])  # fmt: skip
    limit = take(("50", "100", "200"), start % 3)
    query = where(
        choose == 0, join("page=", digits(seq % 400 + 1), "&limit=", limit), pa.repeat("", n)
    )
    terms = sm.search_terms.take(pa.array(rng.integers(0, len(sm.search_terms), n)))
    body = where(choose == 3, join('{"query":"', terms, '","page":', digits(k % 50 + 1), "}"),
                 join('{"query":"{ product(id: \\"', rand_pid, '\\") { price stock } }"}'))  # fmt: skip
    body = where(post, body, pa.repeat("", n))
    return make_rows(
        s_row, b.bot_times(sess), API, path, query=query, body=body,
        kind=np.where(post, JSON, XHR).astype(np.int8), status=b.status(s_row),
        method=np.where(post, POST, GET).astype(np.int8), auth=np.ones(n, dtype=bool),
    )  # fmt: skip


def flood(b: Block, sess: np.ndarray) -> Rows:
    """Generate layer-7 floods: very high request rates from a few addresses."""
    rng = b.rng
    s_row, k, pos, n, focus = _requests(b, sess)
    site = b.param("site", sess)[pos]
    login = focus == "login-post"
    search = focus == "search"
    path = where(login, take([_LOGIN[s] for s in (WWW, SHOP, API)], site),
                 where(search, pa.repeat("/search", n), pa.repeat("/", n)))  # fmt: skip
    bust = join(tokens(rng, n, 5), "=", tokens(rng, n, 10))
    query = scatter(n, [
        (np.flatnonzero(focus == "cache-bust"), bust.filter(pa.array(focus == "cache-bust"))),
        (np.flatnonzero(search), join("q=", tokens(rng, int(search.sum()), 8))),
    ])  # fmt: skip
    pairs = rng.integers(0, 2**63, n, dtype=np.int64)
    body = where(login, join("username=", url_encode(emails(pairs), "@"), "&password=", tokens(rng, n, 8)),
                 pa.repeat("", n))  # fmt: skip
    return make_rows(
        s_row, b.bot_times(sess), site, path, query=query, body=body,
        kind=np.where(login, FORM, PAGE).astype(np.int8), status=b.status(s_row),
        method=np.where(login, POST, GET).astype(np.int8),
    )  # fmt: skip
