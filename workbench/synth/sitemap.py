"""The sites the synthetic clients visit: hosts, pages, the assets each page pulls, API routes.

The site map is fixed (built from a constant seed), so the same path always names the same
page, the same asset always has the same size, and every dataset shares one site layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from urllib.parse import quote_plus

import numpy as np
import pyarrow as pa

# Request kinds: what a request fetches (drives headers, content type and sizes).
PAGE, CSS, JS, IMAGE, FONT, XHR, FORM, JSON, OTHER = range(9)
KIND_NAMES = ("page", "css", "js", "image", "font", "xhr", "form", "json", "other")
ASSET_KINDS = (CSS, JS, IMAGE, FONT, XHR)
CONTENT_TYPES = (
    "text/html; charset=utf-8", "text/css", "application/javascript", "image/png", "font/woff2",
    "application/json", "text/html; charset=utf-8", "application/json", "text/plain",
)  # fmt: skip
#: Median response size (bytes) and log-spread for each kind.
KIND_BYTES = ((48_000, 0.5), (28_000, 0.7), (110_000, 0.9), (38_000, 1.0), (34_000, 0.2),
              (2_800, 0.9), (3_200, 0.3), (6_500, 1.0), (900, 0.6))  # fmt: skip

WWW, SHOP, API = 0, 1, 2
HOSTS = ("www.example.com", "shop.example.com", "api.example.com")
# Page groups.
HOME, INFO, BLOG, DOCS, CATEGORY, PRODUCT, SEARCH, CART, LOGIN, ACCOUNT, APIROUTE = range(11)
# Query styles.
Q_NONE, Q_CATEGORY, Q_SEARCH, Q_PRODUCT, Q_BLOG = range(5)
QUERY_POOLS: dict[int, tuple[tuple[str, ...], tuple[float, ...]]] = {
    Q_NONE: (("",), (1.0,)),
    Q_CATEGORY: (("", "page=2", "page=3", "page=4", "sort=price_asc", "sort=price_desc",
                  "sort=newest&page=2", "color=black", "size=m&color=blue", "brand=acme"),
                 (8, 2, 1, 0.5, 1, 1, 0.5, 0.7, 0.4, 0.4)),
    Q_PRODUCT: (("", "variant=2", "color=red", "size=l",
                 "utm_source=google&utm_medium=cpc&utm_campaign=fall_sale", "ref=homepage"),
                (12, 1, 1, 1, 1.5, 1)),
    Q_BLOG: (("", "utm_source=newsletter&utm_medium=email", "utm_source=twitter", "ref=hn"),
             (10, 1.5, 1, 0.5)),
}  # fmt: skip

EXTERNAL_REFERERS = (
    "", "https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
    "https://t.co/", "https://www.facebook.com/", "https://www.reddit.com/",
    "https://news.ycombinator.com/", "android-app://com.google.android.gm/",
)  # fmt: skip
EXTERNAL_REFERER_WEIGHTS = (30, 38, 6, 4, 4, 6, 5, 2, 3)

_ADJ = (
    "red",
    "black",
    "wool",
    "leather",
    "vintage",
    "organic",
    "slim",
    "waterproof",
    "kids",
    "summer",
    "winter",
    "running",
    "linen",
    "denim",
    "classic",
    "travel",
    "mini",
    "smart",
)
_NOUN = (
    "jacket",
    "boots",
    "socks",
    "backpack",
    "mug",
    "lamp",
    "hoodie",
    "dress",
    "sneakers",
    "wallet",
    "scarf",
    "watch",
    "tent",
    "bottle",
    "blanket",
    "headphones",
    "poster",
    "shirt",
)
# Real shoppers type quotes, ampersands and SQL-ish words too: hard negatives for detectors.
_TRICKY = ("men's boots", "o'neill hoodie", "50% off", 't-shirt "vintage"', "<3 mug",
           "rock & roll poster", "c++ book", "select wool socks", "union jack flag",
           "drop shoulder sweater", "script font poster", "alert whistle", "1=1 puzzle",
           "kids' tent", "ben & jerry's mug", "../ sticker")  # fmt: skip
PROBE_PATHS = (
    "/.env", "/.git/config", "/.git/HEAD", "/wp-login.php", "/wp-admin/", "/xmlrpc.php",
    "/phpmyadmin/", "/pma/", "/admin", "/admin/login", "/administrator/", "/server-status",
    "/actuator/health", "/actuator/env", "/config.php.bak", "/backup.zip", "/db.sql",
    "/.aws/credentials", "/.DS_Store", "/cgi-bin/test.cgi", "/cgi-bin/luci", "/HNAP1/",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/boaform/admin/formLogin",
    "/solr/admin/info/system", "/api/swagger.json", "/swagger-ui.html", "/v2/api-docs",
    "/console/", "/manager/html", "/jenkins/login", "/owa/auth/logon.aspx", "/remote/login",
    "/.well-known/security.txt", "/robots.txt", "/sitemap.xml", "/info.php", "/phpinfo.php",
    "/test.php", "/shell.php", "/wp-content/plugins/revslider/", "/webdav/", "/debug/pprof/",
    "/_ignition/execute-solution", "/telescope/requests", "/.svn/entries", "/web.config",
    "/app/etc/local.xml", "/config.json", "/storage/logs/laravel.log", "/graphql",
)  # fmt: skip


@dataclass(frozen=True)
class SiteMap:
    """Pages, assets and routes of the synthetic sites (see :func:`site_map`).

    Attributes
    ----------
    hosts : pyarrow.StringArray
        Host names by site index.
    page_path : pyarrow.StringArray
        Path of each page or route.
    page_site, page_group, page_query, page_kind : numpy.ndarray
        Site, group, query style and request kind of each page.
    page_weight : numpy.ndarray
        Popularity with people (sums to 1 within a site's browsable pages).
    page_bytes : numpy.ndarray
        Typical size of the page's HTML.
    page_product : numpy.ndarray
        Product id shown by a product page (-1 otherwise).
    asset_path, asset_query : pyarrow.StringArray
        Path and query of each asset (an XHR asset may have a query).
    asset_kind, asset_bytes : numpy.ndarray
        Kind and fixed size of each asset.
    own_offsets, own_assets : numpy.ndarray
        CSR list of the assets specific to each page.
    shared_offsets, shared_assets : numpy.ndarray
        CSR list of the assets every page of a site loads (cached after the first view).
    products : numpy.ndarray
        Product ids.
    search_terms : pyarrow.StringArray
        Search terms already encoded for a query string.
    index : dict
        ``(site, path)`` to page index.
    """

    hosts: pa.Array
    page_path: pa.Array
    page_site: np.ndarray
    page_group: np.ndarray
    page_query: np.ndarray
    page_kind: np.ndarray
    page_weight: np.ndarray
    page_bytes: np.ndarray
    page_product: np.ndarray
    asset_path: pa.Array
    asset_query: pa.Array
    asset_kind: np.ndarray
    asset_bytes: np.ndarray
    own_offsets: np.ndarray
    own_assets: np.ndarray
    shared_offsets: np.ndarray
    shared_assets: np.ndarray
    products: np.ndarray
    search_terms: pa.Array
    index: dict

    def pages_in(self, site: int, *groups: int) -> np.ndarray:
        """Return the pages of ``site`` in the given groups (all groups if none)."""
        mask = self.page_site == site
        if groups:
            mask &= np.isin(self.page_group, groups)
        return np.flatnonzero(mask)

    def page(self, site: int, path: str) -> int:
        """Return the index of the page at ``path`` on ``site``."""
        return self.index[(site, path)]


@cache
def site_map() -> SiteMap:
    """Build the site map (once per process; always the same).

    Returns
    -------
    SiteMap
        The sites.
    """
    rng = np.random.default_rng(20261101)
    pages: list[tuple[int, str, int, int, float, int]] = []  # site, path, group, query, w, pid
    assets: list[tuple[str, str, int]] = []
    own: list[list[int]] = []

    def asset(path: str, kind: int, query: str = "") -> int:
        assets.append((path, query, kind))
        return len(assets) - 1

    def page(site, path, group, query=Q_NONE, weight=1.0, pid=-1, own_assets=()):
        pages.append((site, path, group, query, weight, pid))
        own.append(list(own_assets))

    shared = []
    for name in ("www", "shop"):
        h = [f"{x:08x}" for x in rng.integers(0, 2**32, 4)]
        shared.append([
            asset(f"/static/css/{name}.{h[0]}.css", CSS),
            asset(f"/static/js/runtime.{h[1]}.js", JS),
            asset(f"/static/js/vendor.{h[2]}.js", JS),
            asset(f"/static/js/{name}.{h[3]}.js", JS),
            asset("/fonts/inter-var.woff2", FONT),
            asset(f"/img/{name}-logo.png", IMAGE),
        ])  # fmt: skip
    shared.append([])

    page(
        WWW, "/", HOME, weight=30, own_assets=[asset(f"/img/hero/{k}.png", IMAGE) for k in range(3)]
    )
    for p in ("/about", "/pricing", "/contact", "/careers", "/security", "/status"):
        page(WWW, p, INFO, weight=3)
    page(WWW, "/blog", BLOG, weight=8)
    for k in range(150):
        slug = f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}-{k}"
        page(
            WWW,
            f"/blog/{slug}",
            BLOG,
            Q_BLOG,
            60 / (k + 5),
            own_assets=[asset(f"/img/blog/{slug}/hero.png", IMAGE)],
        )
    for s in ("getting-started", "api", "billing", "account", "integrations", "security"):
        for k in range(12):
            page(WWW, f"/docs/{s}/page-{k}", DOCS, weight=0.6)
    page(WWW, "/account/login", LOGIN, weight=4)
    page(WWW, "/search", SEARCH, Q_SEARCH, weight=3)

    products = np.arange(10_000, 11_500)
    cat_of = rng.integers(0, 24, len(products))
    page(
        SHOP,
        "/",
        HOME,
        weight=40,
        own_assets=[asset(f"/img/banners/b{k}.png", IMAGE) for k in range(3)],
    )
    thumbs = {pid: asset(f"/img/products/{pid}/thumb-1.png", IMAGE) for pid in products}
    for c in range(24):
        items = [thumbs[p] for p in products[cat_of == c][:12]]
        page(
            SHOP,
            f"/category/{_NOUN[c % len(_NOUN)]}-{c}",
            CATEGORY,
            Q_CATEGORY,
            6,
            own_assets=items,
        )
    rank_weight = 1.0 / (1 + np.arange(len(products))) ** 0.9
    rng.shuffle(rank_weight)
    for pid, w in zip(products, rank_weight, strict=True):
        slug = f"{_ADJ[pid % len(_ADJ)]}-{_NOUN[(pid // 7) % len(_NOUN)]}"
        page(SHOP, f"/product/{pid}-{slug}", PRODUCT, Q_PRODUCT, 300 * w, int(pid),
             own_assets=[thumbs[pid], asset(f"/img/products/{pid}/main.png", IMAGE),
                         asset(f"/img/products/{pid}/detail.png", IMAGE),
                         asset("/api/v1/recommendations", XHR, f"product={pid}")])  # fmt: skip
    cart_xhr = asset("/api/v1/cart", XHR)
    page(SHOP, "/search", SEARCH, Q_SEARCH, 25)
    page(SHOP, "/cart", CART, weight=8, own_assets=[cart_xhr])
    page(SHOP, "/checkout", CART, weight=2, own_assets=[cart_xhr])
    page(SHOP, "/login", LOGIN, weight=5)
    for p in ("/account", "/account/orders", "/wishlist"):
        page(SHOP, p, ACCOUNT, weight=1.5, own_assets=[cart_xhr])
    for p in ("/help/shipping", "/help/returns", "/help/contact"):
        page(SHOP, p, INFO, weight=1.0)
    for p in (
        "/v1/products",
        "/v1/prices",
        "/v1/search",
        "/v1/auth/login",
        "/v1/cart",
        "/graphql",
        "/v1/stores",
    ):
        page(API, p, APIROUTE, weight=0.0)
    for pid in products:
        page(API, f"/v1/products/{pid}", APIROUTE, weight=0.0, pid=int(pid))
        page(API, f"/v1/inventory/SKU-{pid}", APIROUTE, weight=0.0, pid=int(pid))

    site = np.array([p[0] for p in pages], dtype=np.int8)
    group = np.array([p[2] for p in pages], dtype=np.int8)
    weight = np.array([p[4] for p in pages], dtype=np.float64)
    for s in (WWW, SHOP):
        weight[site == s] /= weight[site == s].sum()
    kind = np.where(group == APIROUTE, XHR, PAGE).astype(np.int8)
    a_kind = np.array([a[2] for a in assets], dtype=np.int8)
    med = np.array([KIND_BYTES[k][0] for k in a_kind], dtype=np.float64)
    spread = np.array([KIND_BYTES[k][1] for k in a_kind])
    a_bytes = (med * np.exp(rng.normal(0, spread))).astype(np.int64) + 200
    terms = [f"{a} {b}" for a in _ADJ for b in _NOUN] + list(_NOUN) + list(_TRICKY) * 3
    return SiteMap(
        hosts=pa.array(HOSTS),
        page_path=pa.array([p[1] for p in pages]),
        page_site=site,
        page_group=group,
        page_query=np.array([p[3] for p in pages], dtype=np.int8),
        page_kind=kind,
        page_weight=weight,
        page_bytes=(KIND_BYTES[PAGE][0] * np.exp(rng.normal(0, 0.5, len(pages)))).astype(np.int64),
        page_product=np.array([p[5] for p in pages], dtype=np.int64),
        asset_path=pa.array([a[0] for a in assets]),
        asset_query=pa.array([a[1] for a in assets]),
        asset_kind=a_kind,
        asset_bytes=a_bytes,
        own_offsets=np.concatenate([[0], np.cumsum([len(o) for o in own])]).astype(np.int64),
        own_assets=np.array([a for o in own for a in o], dtype=np.int64),
        shared_offsets=np.concatenate([[0], np.cumsum([len(s) for s in shared])]).astype(np.int64),
        shared_assets=np.array([a for s in shared for a in s], dtype=np.int64),
        products=products,
        search_terms=pa.array([quote_plus(t) for t in terms]),
        index={(p[0], p[1]): i for i, p in enumerate(pages)},
    )
