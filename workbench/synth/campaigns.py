"""Actor families and their campaigns: who sends the traffic, and how each campaign behaves.

A family is a kind of client (``human``, ``crawler``, ``scraper`` ...). Each bot family is
split into several campaigns with their own parameters (rate, timing regularity, client
software, networks, target paths, status mix), drawn from the seed, so a model can be
trained on some campaigns and tested on campaigns it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.errors import InputError
from workbench.synth.network import HUMAN_COUNTRY_WEIGHTS, PROXY_COUNTRY_WEIGHTS
from workbench.synth.sitemap import API, SHOP, WWW

FAMILIES = (
    "human", "crawler", "scraper", "credential_stuffing", "headless", "api_abuse", "l7_flood",
    "vuln_scanner", "residential_proxy",
)  # fmt: skip
HUMAN, CRAWLER, SCRAPER, STUFFING, HEADLESS, API_ABUSE, FLOOD, SCANNER, PROXY = range(9)
LABELS = ("human", "good_bot") + ("bad_bot",) * 7
#: Default share of requests per family (humans 60 %, good bots 8 %, bad bots 32 %).
DEFAULT_MIX = {
    "human": 0.60, "crawler": 0.08, "scraper": 0.07, "credential_stuffing": 0.04,
    "headless": 0.04, "api_abuse": 0.05, "l7_flood": 0.05, "vuln_scanner": 0.03,
    "residential_proxy": 0.04,
}  # fmt: skip
N_CAMPAIGNS = {
    "human": 1, "crawler": 7, "scraper": 6, "credential_stuffing": 5, "headless": 4,
    "api_abuse": 4, "l7_flood": 4, "vuln_scanner": 6, "residential_proxy": 4,
}  # fmt: skip
# crawler campaigns: (build, network, VerifiedBotCategory, share of crawler traffic)
_CRAWLERS = (
    ("googlebot", "crawler:google", "Search Engine Crawler", 40),
    ("bingbot", "crawler:bing", "Search Engine Crawler", 20),
    ("applebot", "crawler:apple", "Search Engine Crawler", 8),
    ("duckduckbot", "crawler:duckduckgo", "Search Engine Crawler", 5),
    ("gptbot", "crawler:openai", "AI Crawler", 12),
    ("yandexbot", "crawler:yandex", "Search Engine Crawler", 8),
    ("uptimerobot", "crawler:uptime", "Monitoring & Analytics", 7),
)
_SCRIPTS = ["python-requests", "scrapy", "go", "curl", "python-httpx", "aiohttp", "java"]
_SPOOFS = [f"spoof-chrome/{s}" for s in ("python-requests", "go", "node", "curl", "dotnet",
                                         "java", "python-httpx")]  # fmt: skip


@dataclass
class Campaign:
    """One campaign: a group of clients run by one operator with one set of parameters.

    Attributes
    ----------
    id : str
        Campaign id, e.g. ``scraper-03`` (``human`` for people).
    family : int
        Index into :data:`FAMILIES`.
    budget : int
        Requests this campaign sends.
    builds, build_weights : list
        Client builds its actors use (see :mod:`workbench.synth.clients`) and their shares.
    network : str
        Network kind its addresses come from (``residential``, ``hosting``, ``crawler:*``).
    countries : dict or None
        Country weights for residential addresses.
    gap_s : float
        Mean seconds between requests within a session.
    gap_cv : float
        Coefficient of variation of those gaps (small: regular, 1: Poisson, >1: bursty).
    session_median, session_sigma : float
        Log-normal requests per session.
    session_max : int
        Largest session.
    actors : int
        Distinct clients (0: one per session).
    rotate : bool
        A fresh address for every session (proxy pools).
    active : tuple of float
        Fraction of the window in which the campaign runs (start, end).
    site : int
        Target site.
    focus : str
        What it goes after (family-specific, e.g. ``products-seq``).
    assets : float
        Probability that a page view pulls its assets.
    status : dict
        Status code weights for its main requests.
    attack_mix : tuple of float
        Shares of sqli / xss / traversal / cmdi among payload requests (scanners).
    payload_share : float
        Share of requests carrying a payload (scanners).
    category : str
        ``VerifiedBotCategory`` (verified crawlers only).
    block : float
        Share of requests the edge blocks or challenges (``SecurityAction``).
    """

    id: str
    family: int
    budget: int
    builds: list[str]
    build_weights: list[float]
    network: str
    countries: dict | None = None
    gap_s: float = 1.0
    gap_cv: float = 0.5
    session_median: float = 50
    session_sigma: float = 0.8
    session_max: int = 6000
    actors: int = 0
    rotate: bool = False
    active: tuple[float, float] = (0.0, 1.0)
    site: int = SHOP
    focus: str = ""
    assets: float = 0.0
    status: dict = field(default_factory=lambda: {200: 1.0})
    attack_mix: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    payload_share: float = 0.0
    category: str = ""
    block: float = 0.0

    @property
    def label(self) -> str:
        """Ground-truth label of its traffic (``human``, ``good_bot``, ``bad_bot``)."""
        return LABELS[self.family]


def split_budget(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder).

    Parameters
    ----------
    total : int
        Amount to split.
    weights : numpy.ndarray
        Non-negative weights with a positive sum.

    Returns
    -------
    numpy.ndarray
        Integer parts summing exactly to ``total``.
    """
    w = np.asarray(weights, dtype=np.float64)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    if rest:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def check_mix(mix: dict[str, float] | None) -> dict[str, float]:
    """Validate a family mix and fill in missing families with 0 (None means the default).

    Parameters
    ----------
    mix : dict or None
        Family name to share (any positive scale).

    Returns
    -------
    dict
        Share per family, normalized to sum to 1.

    Raises
    ------
    InputError
        On unknown families, negative or non-finite shares, or an all-zero mix.
    """
    if mix is None:
        return dict(DEFAULT_MIX)
    unknown = sorted(set(mix) - set(FAMILIES))
    if unknown:
        raise InputError(f"unknown actor families {unknown}; known: {', '.join(FAMILIES)}")
    values = {f: float(mix.get(f, 0.0)) for f in FAMILIES}
    if any(not np.isfinite(v) or v < 0 for v in values.values()):
        raise InputError(f"family shares must be finite and >= 0, got {mix}")
    total = sum(values.values())
    if total <= 0:
        raise InputError("family mix must give some family a positive share")
    return {f: v / total for f, v in values.items()}


def make_campaigns(
    n_requests: int, rng: np.random.Generator, mix: dict[str, float] | None = None
) -> list[Campaign]:
    """Draw the campaigns of a dataset and split ``n_requests`` among them.

    Parameters
    ----------
    n_requests : int
        Total requests.
    rng : numpy.random.Generator
        Random source (campaign parameters depend only on it).
    mix : dict, optional
        Family shares; :data:`DEFAULT_MIX` when omitted.

    Returns
    -------
    list of Campaign
        Campaigns with a positive budget; budgets sum to ``n_requests``.
    """
    shares = check_mix(mix)
    family_budget = split_budget(n_requests, np.array([shares[f] for f in FAMILIES]))
    out: list[Campaign] = []
    for fam, name in enumerate(FAMILIES):
        k = N_CAMPAIGNS[name]
        if name == "crawler":
            weights = np.array([c[3] for c in _CRAWLERS], dtype=np.float64)
        else:
            weights = rng.dirichlet(np.full(k, 2.0)) if k > 1 else np.ones(1)
        budgets = split_budget(int(family_budget[fam]), weights)
        for i in range(k):
            c = _FACTORIES[fam](f"{name}-{i + 1:02d}" if k > 1 else name, i, rng)
            c.budget = int(budgets[i])
            if c.budget > 0:
                out.append(c)
    return out


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _active(rng: np.random.Generator, min_len: float) -> tuple[float, float]:
    length = _u(rng, min_len, 1.0)
    start = _u(rng, 0.0, 1.0 - length)
    return (start, start + length)


def _human(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    return Campaign(
        cid, HUMAN, 0, ["chrome", "safari", "edge", "firefox"], [0.62, 0.22, 0.09, 0.07],
        "residential", HUMAN_COUNTRY_WEIGHTS, gap_s=20.0, gap_cv=1.5, session_median=18,
        session_sigma=0.9, session_max=300, assets=1.0,
        status={200: 0.975, 404: 0.012, 304: 0.01, 500: 0.003},
    )  # fmt: skip


def _crawler(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    build, network, category, _ = _CRAWLERS[i]
    uptime = build == "uptimerobot"
    return Campaign(
        cid, CRAWLER, 0, [build], [1.0], network, gap_s=60.0 if uptime else _u(rng, 1.5, 8.0),
        gap_cv=0.02 if uptime else _u(rng, 0.3, 0.9), session_median=2000 if uptime else 40,
        session_sigma=0.1 if uptime else 1.0, session_max=3000, actors=1 if uptime else 0,
        site=int(rng.integers(0, 2)), focus="uptime" if uptime else "crawl", category=category,
        status={200: 0.9, 404: 0.04, 304: 0.05, 301: 0.01},
    )  # fmt: skip


def _scraper(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    honest = i % 2 == 0
    pool = _SCRIPTS if honest else _SPOOFS
    builds = [str(b) for b in rng.choice(pool, size=int(rng.integers(1, 3)), replace=False)]
    limited = _u(rng, 0.01, 0.15)
    return Campaign(
        cid, SCRAPER, 0, builds, [1.0] * len(builds), "hosting", gap_s=_u(rng, 0.3, 4.0),
        gap_cv=_u(rng, 0.05, 0.6), session_median=_u(rng, 80, 400), session_sigma=0.7,
        active=_active(rng, 0.3), focus=("products-seq", "category-paging", "search", "prices")[i % 4],
        site=SHOP, status={200: 0.97 - limited, 429: limited, 404: 0.02, 403: 0.01},
        block=_u(rng, 0.0, 0.05),
    )  # fmt: skip


def _stuffing(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    builds = [["spoof-chrome/dotnet"], ["spoof-chrome/python-requests"], ["chrome"],
              ["spoof-chrome/go", "spoof-chrome/node"], ["python-requests"]][i % 5]  # fmt: skip
    success = _u(rng, 0.003, 0.02)
    blocked = _u(rng, 0.02, 0.12)
    return Campaign(
        cid, STUFFING, 0, builds, [1.0] * len(builds), "residential", PROXY_COUNTRY_WEIGHTS,
        gap_s=_u(rng, 2.0, 30.0), gap_cv=_u(rng, 0.3, 1.0), session_median=_u(rng, 1.5, 3.0),
        session_sigma=0.5, session_max=6, rotate=True, active=_active(rng, 0.25),
        site=(SHOP, WWW, API)[i % 3], focus="prefetch" if rng.random() < 0.4 else "post",
        status={401: 0.97 - success - blocked, 200: success, 403: blocked, 429: 0.03},
        block=blocked,
    )  # fmt: skip


def _headless(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    builds = [str(b) for b in rng.choice(_SPOOFS, size=2, replace=False)]
    return Campaign(
        cid, HEADLESS, 0, builds, [0.7, 0.3], "hosting" if i % 3 != 2 else "residential",
        PROXY_COUNTRY_WEIGHTS, gap_s=_u(rng, 0.8, 5.0), gap_cv=_u(rng, 0.1, 0.4),
        session_median=_u(rng, 20, 80), session_sigma=0.6, active=_active(rng, 0.4),
        focus=("products", "search", "cart", "products")[i % 4], assets=(0.0, 0.7)[i % 2],
        status={200: 0.93, 403: 0.05, 404: 0.02}, block=_u(rng, 0.02, 0.1),
    )  # fmt: skip


def _api(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    builds = [["okhttp"], ["python-httpx", "python-requests"], ["go"], ["axios", "java"]][i % 4]
    limited, invalid = _u(rng, 0.05, 0.3), _u(rng, 0.0, 0.3)
    return Campaign(
        cid, API_ABUSE, 0, builds, [1.0] * len(builds), "hosting", gap_s=_u(rng, 0.05, 1.0),
        gap_cv=_u(rng, 1.5, 3.0), session_median=_u(rng, 150, 600), session_sigma=0.9,
        active=_active(rng, 0.3), site=API,
        focus=("products-paging", "product-sweep", "inventory", "search-post")[i % 4],
        status={200: 1.0 - limited - invalid, 429: limited, 401: invalid},
    )  # fmt: skip


def _flood(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    builds = [["go"], ["spoof-chrome/go", "spoof-chrome/node"], ["python-requests"], ["curl"]][
        i % 4
    ]
    limited, unavailable = _u(rng, 0.3, 0.6), _u(rng, 0.05, 0.3)
    start = _u(rng, 0.0, 0.95)
    return Campaign(
        cid, FLOOD, 0, builds, [1.0] * len(builds), "hosting" if i != 1 else "residential",
        PROXY_COUNTRY_WEIGHTS, gap_s=1.0 / _u(rng, 20, 150), gap_cv=_u(rng, 0.8, 1.2),
        session_median=4000, session_sigma=0.3, session_max=8000,
        active=(start, min(1.0, start + _u(rng, 0.01, 0.04))), site=(WWW, SHOP)[i % 2],
        focus=("home", "cache-bust", "login-post", "search")[i % 4],
        status={429: limited, 503: unavailable, 200: 1.0 - limited - unavailable},
        block=_u(rng, 0.0, 0.1),
    )  # fmt: skip


def _scanner(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    builds = [["sqlmap"], ["nikto"], ["nuclei"], ["wpscan", "ffuf"], ["zgrab", "curl"],
              ["spoof-chrome/python-requests", "go"]][i % 6]  # fmt: skip
    mix = 0.45 * rng.dirichlet(np.ones(4))
    mix[0 if builds == ["sqlmap"] else i % 4] += 0.55
    return Campaign(
        cid, SCANNER, 0, builds, [1.0] * len(builds), "hosting", gap_s=_u(rng, 0.05, 1.0),
        gap_cv=_u(rng, 0.3, 1.2), session_median=_u(rng, 150, 600), session_sigma=0.8,
        active=_active(rng, 0.1), site=(SHOP, WWW, SHOP, API, WWW, SHOP)[i % 6],
        attack_mix=tuple(float(x) for x in mix), payload_share=_u(rng, 0.5, 0.9),
        status={404: 0.75, 403: 0.12, 200: 0.08, 301: 0.05}, block=_u(rng, 0.05, 0.4),
    )  # fmt: skip


def _proxy(cid: str, i: int, rng: np.random.Generator) -> Campaign:
    builds = [["chrome"], ["spoof-chrome/go"], ["spoof-chrome/python-requests", "spoof-chrome/node"],
              ["chrome", "safari"]][i % 4]  # fmt: skip
    return Campaign(
        cid, PROXY, 0, builds, [1.0] * len(builds), "residential", PROXY_COUNTRY_WEIGHTS,
        gap_s=_u(rng, 0.5, 3.0), gap_cv=_u(rng, 0.2, 0.8), session_median=_u(rng, 2, 4),
        session_sigma=0.4, session_max=8, rotate=True, active=_active(rng, 0.3),
        focus=("sneaker", "prices", "checkout", "prices")[i % 4],
        status={200: 0.9, 403: 0.06, 429: 0.04}, block=_u(rng, 0.02, 0.08),
    )  # fmt: skip


_FACTORIES = (_human, _crawler, _scraper, _stuffing, _headless, _api, _flood, _scanner, _proxy)
