"""Browsing sessions: people, headless browsers and residential-proxy bots walking the sites.

A session is a sequence of page views. A page view is a navigation followed, within a
second, by the page's assets (style sheets, scripts, images, fonts, XHR calls); the first
view of a session also pulls the site's shared bundle unless the browser has it cached.
People pause between views for heavy-tailed think times; bots pause for short, regular
ones and often skip assets. Navigations carry the previous page as referer, the first one
an external referer. Some people log in; carts and checkouts are posted where the
campaign goes after them.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.synth.arrays import (
    choice,
    digits,
    join,
    scatter,
    seg_arange,
    seg_cumsum,
    take,
    url_encode,
    where,
)
from workbench.synth.campaigns import HUMAN, PROXY
from workbench.synth.clients import variants
from workbench.synth.identities import emails, passwords
from workbench.synth.sessions import GET, POST, Block, Rows, make_rows
from workbench.synth.sitemap import (
    CATEGORY,
    EXTERNAL_REFERER_WEIGHTS,
    EXTERNAL_REFERERS,
    FORM,
    JSON,
    LOGIN,
    PAGE,
    PRODUCT,
    Q_NONE,
    Q_SEARCH,
    QUERY_POOLS,
    SHOP,
    WWW,
    site_map,
)


@cache
def _focus_weights(focus: str, site: int) -> np.ndarray:
    """Return page weights (over all pages) of a navigation focus on one site."""
    sm = site_map()
    w = np.zeros(len(sm.page_weight))
    pages = sm.pages_in(site)
    group = sm.page_group
    if focus == "human" or site != SHOP:
        w[pages] = sm.page_weight[pages]
        w[sm.pages_in(site, LOGIN)] *= 0.2
        return w
    products = sm.pages_in(SHOP, PRODUCT)
    cart, checkout = sm.page(SHOP, "/cart"), sm.page(SHOP, "/checkout")
    if focus == "sneaker":
        hot = products[np.argsort(-sm.page_weight[products])[:8]]
        w[hot], w[cart], w[checkout] = 0.8 / len(hot), 0.1, 0.1
    elif focus == "prices":
        w[products] = 1.0 / len(products)
    elif focus in ("cart", "checkout"):
        share = (0.6, 0.25, 0.15) if focus == "cart" else (0.3, 0.2, 0.5)
        w[products] = share[0] * sm.page_weight[products] / sm.page_weight[products].sum()
        w[cart], w[checkout] = share[1], share[2]
    elif focus == "search":
        w[sm.page(SHOP, "/search")] = 0.7
        w[products] = 0.3 * sm.page_weight[products] / sm.page_weight[products].sum()
    else:  # products
        w[products] = sm.page_weight[products]
        w[np.flatnonzero(group == CATEGORY)] = sm.page_weight[group == CATEGORY] * 0.5
    return w


def page_queries(b: Block, page: np.ndarray) -> pa.Array:
    """Draw the query string of each page view, by the page's query style."""
    sm, rng = b.site_map, b.rng
    style = sm.page_query[page]
    parts = []
    for q, (pool, weights) in QUERY_POOLS.items():
        rows = np.flatnonzero(style == q)
        if len(rows) and q != Q_NONE:
            parts.append((rows, take(pool, choice(rng, weights, len(rows)))))
    rows = np.flatnonzero(style == Q_SEARCH)
    terms = sm.search_terms.take(pa.array(rng.integers(0, len(sm.search_terms), len(rows))))
    parts.append((rows, join("q=", terms)))
    return scatter(len(page), parts)


def browse(b: Block, sess: np.ndarray) -> Rows:
    """Generate the requests of browsing sessions (people, headless browsers, proxy bots).

    Parameters
    ----------
    b : Block
        The block.
    sess : numpy.ndarray
        Block-local indices of the sessions to generate (families human, headless,
        residential_proxy).

    Returns
    -------
    Rows
        Exactly ``b.rows[sess].sum()`` requests, session after session.
    """
    sm, rng = b.site_map, b.rng
    n_s, fam, S = b.rows[sess], b.family[sess], len(sess)
    human = fam == HUMAN
    site_s = np.where(human & (rng.random(S) < 0.35), WWW, SHOP)
    focus_s = np.where(human, "human", b.param("focus", sess))
    # candidate page views: one per request is always enough
    pv_s = np.repeat(np.arange(S), n_s)
    pv_k = seg_arange(n_s)
    n_pv = len(pv_s)
    page = np.zeros(n_pv, dtype=np.int64)
    for f, s in sorted(set(zip(focus_s.tolist(), site_s.tolist(), strict=True))):
        rows = np.flatnonzero((focus_s[pv_s] == f) & (site_s[pv_s] == s))
        page[rows] = choice(rng, _focus_weights(f, s), len(rows))
    landing = human[pv_s] & (pv_k == 0) & (rng.random(n_pv) < 0.3)
    page[landing] = np.array([sm.page(WWW, "/"), sm.page(SHOP, "/")])[site_s[pv_s[landing]]]
    kind = np.full(n_pv, PAGE, dtype=np.int8)
    # people who log in: login page, form post, then their account page
    login_s = human & (rng.random(S) < 0.1) & (n_s >= 4)
    login_page = np.array([sm.page(WWW, "/account/login"), sm.page(SHOP, "/login")])[site_s]
    after = np.array([sm.page(WWW, "/"), sm.page(SHOP, "/account")])[site_s]
    lg = login_s[pv_s]
    page = np.where(lg & (pv_k == 1), login_page[pv_s], page)
    page = np.where(lg & (pv_k == 2), login_page[pv_s], page)
    page = np.where(lg & (pv_k == 3), after[pv_s], page)
    kind[lg & (pv_k == 2)] = FORM
    # add-to-cart posts after product views; card-testing posts on checkout
    p_cart = np.select(
        [human, b.param("focus", sess) == "sneaker", fam == PROXY], [0.08, 0.6, 0.2], 0.35
    )
    p_cart = np.where(np.isin(focus_s, ["cart", "sneaker", "checkout", "human"]), p_cart, 0.0)
    prev_product = np.concatenate([[False], sm.page_group[page[:-1]] == PRODUCT]) & (pv_k > 0)
    cart = prev_product & ~(lg & (pv_k <= 3)) & (rng.random(n_pv) < p_cart[pv_s])
    cart_product = np.where(
        cart, sm.page_product[np.maximum(np.concatenate([[0], page[:-1]]), 0)], -1
    )
    kind[cart] = JSON
    checkout_post = (focus_s[pv_s] == "checkout") & (page == sm.page(SHOP, "/checkout"))
    checkout_post &= (kind == PAGE) & (rng.random(n_pv) < 0.7)
    kind[checkout_post] = FORM
    # assets: own assets by probability, the shared bundle on the first view unless cached
    is_nav = kind == PAGE
    assets_p = np.where(human, 1.0, b.param("assets", sess))[pv_s]
    shared_p = np.where(b.first[sess], 1.0, 0.45)[pv_s] * assets_p
    site_pv = np.where(cart, SHOP, sm.page_site[page]).astype(np.int64)
    n_own = np.diff(sm.own_offsets)[page] * (is_nav & (rng.random(n_pv) < assets_p))
    n_sh = np.diff(sm.shared_offsets)[site_pv] * (
        is_nav & (pv_k == 0) & (rng.random(n_pv) < shared_p)
    )
    pv_len = 1 + n_own + n_sh
    start = seg_cumsum(pv_len, n_s) - pv_len
    kept = np.flatnonzero(start < n_s[pv_s])
    row_pv = np.repeat(kept, pv_len[kept])
    j = seg_arange(pv_len[kept])
    ok = start[row_pv] + j < n_s[pv_s[row_pv]]
    row_pv, j = row_pv[ok], j[ok]
    n = len(row_pv)
    is_page = j == 0
    a = j - 1
    asset = np.where(
        a < n_sh[row_pv],
        sm.shared_assets[
            np.minimum(sm.shared_offsets[site_pv[row_pv]] + a, len(sm.shared_assets) - 1)
        ],
        sm.own_assets[
            np.minimum(sm.own_offsets[page[row_pv]] + a - n_sh[row_pv], len(sm.own_assets) - 1)
        ],
    )
    asset = np.where(is_page, -1, asset)
    # timing: think time between views, assets within a second of their page
    think = np.where(
        human[pv_s],
        np.clip(14.0 * np.exp(rng.normal(0, 1.1, n_pv)) + (rng.random(n_pv) < 0.08) * 60 * rng.pareto(1.2, n_pv), 1.5, 1800),
        b.param("gap_s", sess)[pv_s] * np.exp(rng.normal(0, np.where(fam == PROXY, 0.3, 0.15)[pv_s])),
    )  # fmt: skip
    think[pv_k == 0] = 0.0
    pv_t = b.t0[sess][pv_s] + np.rint(seg_cumsum(think, n_s) * 1000).astype(np.int64)
    lead = rng.uniform(60, 350, n_pv)[row_pv]
    offset = np.where(is_page, 0, np.minimum(lead + (j - 1) * rng.uniform(3, 40, n), 950))
    t = b.fit_window(pv_t[row_pv] + offset.astype(np.int64), n_s)
    # strings: paths, queries, referers
    path_pv = where(cart, pa.repeat("/api/v1/cart", n_pv), sm.page_path.take(pa.array(page)))
    query_pv = page_queries(b, np.where(is_nav, page, 0))
    query_pv = where(is_nav, query_pv, pa.repeat("", n_pv))
    uri_pv = where(_nonempty(query_pv), join(path_pv, "?", query_pv), path_pv)
    url_pv = join("https://", sm.hosts.take(pa.array(site_pv)), uri_pv)
    ext = choice(rng, EXTERNAL_REFERER_WEIGHTS, n)
    ext = np.where(human[pv_s[row_pv]], ext, np.where(rng.random(n) < 0.8, 0, 1))
    ref_idx = np.where(is_page, np.where(pv_k[row_pv] > 0, row_pv - 1, -1), row_pv)
    ref_idx = np.where(ref_idx < 0, n_pv + ext, ref_idx)
    referer = pa.concat_arrays([url_pv, pa.array(EXTERNAL_REFERERS)]).take(pa.array(ref_idx))
    fetch_site = np.where(pv_k[row_pv] > 0, 1, np.where(ext == 0, 0, 2)).astype(np.int8)
    path = pa.concat_arrays([path_pv, sm.asset_path]).take(
        pa.array(np.where(is_page, row_pv, n_pv + asset))
    )
    query = pa.concat_arrays([query_pv, sm.asset_query]).take(
        pa.array(np.where(is_page, row_pv, n_pv + asset))
    )
    # bodies of posts
    s_row = sess[pv_s[row_pv]]
    kind_r = np.where(is_page, kind[row_pv], sm.asset_kind[np.maximum(asset, 0)]).astype(np.int8)
    body = _bodies(b, kind_r, s_row, cart_product[row_pv], checkout_post[row_pv])
    # status and sizes
    status = b.status(s_row)
    revalidated = ~b.first[s_row] & (a < n_sh[row_pv]) & ~is_page  # shared bundle, seen before
    status = np.where(is_page, status, np.where(revalidated & (rng.random(n) < 0.6), 304, 200))
    login_post = (kind_r == FORM) & ~checkout_post[row_pv]
    status = np.where(login_post, np.where(rng.random(n) < 0.92, 302, 401), status)
    status = np.where(kind_r == JSON, 200, status)
    status = np.where(checkout_post[row_pv], np.where(rng.random(n) < 0.75, 402, 200), status)
    size = np.where(is_page, (sm.page_bytes[page[row_pv]] * np.exp(rng.normal(0, 0.08, n))).astype(np.int64),
                    sm.asset_bytes[np.maximum(asset, 0)])  # fmt: skip
    size = np.where((status == 304) | (status == 302), rng.integers(180, 420, n), size)
    size = np.where((kind_r == JSON) | (status >= 400), -1, size)
    browser = variants().browser[b.variant[s_row]]
    cookie = browser & ~(b.first[s_row] & (start[row_pv] + j == 0))
    return make_rows(
        s_row, t, site_pv[row_pv], path, kind=kind_r, query=query, referer=referer, body=body,
        method=np.where((kind_r == FORM) | (kind_r == JSON), POST, GET).astype(np.int8),
        status=status.astype(np.int16), resp_bytes=size, cookie=cookie,
        fetch_site=np.where(is_page & (kind_r != JSON), fetch_site, -1).astype(np.int8),
    )  # fmt: skip


def _nonempty(values: pa.Array) -> np.ndarray:
    return pc.greater(pc.binary_length(values), 0).to_numpy(zero_copy_only=False)


def _bodies(
    b: Block, kind: np.ndarray, sess: np.ndarray, product: np.ndarray, checkout: np.ndarray
) -> pa.Array:
    """Build the bodies of login, add-to-cart and checkout posts ('' elsewhere)."""
    rng, parts = b.rng, []
    login = np.flatnonzero((kind == FORM) & ~checkout)
    if len(login):
        tok = b.token[sess[login]]
        parts.append((login, join("username=", url_encode(emails(tok), "@+"), "&password=",
                                  url_encode(passwords(tok), "%&=+#!@$*"), "&remember=on")))  # fmt: skip
    cart = np.flatnonzero(kind == JSON)
    if len(cart):
        qty = digits(rng.integers(1, 3, len(cart)))
        parts.append(
            (
                cart,
                join(
                    '{"product_id":', digits(np.maximum(product[cart], 0)), ',"quantity":', qty, "}"
                ),
            )
        )
    pay = np.flatnonzero(checkout)
    if len(pay):
        card = join(
            take(("4", "5", "37"), rng.integers(0, 3, len(pay))),
            digits(rng.integers(10_000, 99_999, len(pay))),
            digits(rng.integers(10_000, 99_999, len(pay))),
            digits(rng.integers(1000, 9999, len(pay))),
        )
        parts.append((pay, join("card_number=", card, "&exp_month=", digits(rng.integers(1, 13, len(pay))),
                                "&exp_year=", digits(rng.integers(2026, 2032, len(pay))), "&cvc=",
                                digits(rng.integers(100, 999, len(pay))))))  # fmt: skip
    return scatter(len(kind), parts)
