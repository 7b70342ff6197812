"""Where synthetic clients connect from: address ranges, their ASNs, countries and time zones.

Residential ISPs (where people and residential-proxy bots sit), hosting providers (scrapers,
scanners, floods), and the published ranges of well-known crawlers. Every sampled address lies
in a range that belongs to the ASN reported with it, so ``ClientIP`` and ``ClientASN`` agree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np

from workbench.synth.arrays import choice


@dataclass(frozen=True)
class Country:
    """A country users browse from.

    Attributes
    ----------
    code : str
        ISO 3166 alpha-2 code, as ``ClientCountry`` holds it (lower case in Logpush).
    utc_offsets : tuple of float
        Local time zones (hours from UTC) users there live in.
    languages : tuple of str
        ``accept-language`` values browsers there send.
    """

    code: str
    utc_offsets: tuple[float, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Network:
    """One address block announced by one ASN.

    Attributes
    ----------
    cidr : str
        The block.
    asn : int
        Origin AS number.
    org : str
        Who runs it.
    country : str
        Country code of the block.
    kind : str
        ``residential``, ``mobile``, ``hosting`` or ``crawler:<name>``.
    """

    cidr: str
    asn: int
    org: str
    country: str
    kind: str


COUNTRIES: tuple[Country, ...] = (
    Country("us", (-5.0, -6.0, -8.0), ("en-US,en;q=0.9", "en-US", "en-US,en;q=0.9,es;q=0.8")),
    Country("gb", (0.0,), ("en-GB,en;q=0.9", "en-GB,en-US;q=0.9,en;q=0.8")),
    Country("de", (1.0,), ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de,en-US;q=0.7,en;q=0.3")),
    Country("fr", (1.0,), ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr,fr-FR;q=0.8,en;q=0.5")),
    Country("br", (-3.0,), ("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",)),
    Country("in", (5.5,), ("en-IN,en;q=0.9,hi;q=0.8", "en-GB,en-US;q=0.9,en;q=0.8")),
    Country("jp", (9.0,), ("ja,en-US;q=0.9,en;q=0.8", "ja-JP,ja;q=0.9")),
    Country("ca", (-5.0, -8.0), ("en-CA,en;q=0.9,fr-CA;q=0.8", "fr-CA,fr;q=0.9,en;q=0.8")),
    Country("au", (10.0,), ("en-AU,en;q=0.9",)),
    Country("vn", (7.0,), ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7",)),
    Country("id", (7.0,), ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7",)),
    Country("nl", (1.0,), ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7",)),
    Country("sg", (8.0,), ("en-SG,en;q=0.9,zh-CN;q=0.8",)),
    Country("fi", (2.0,), ("fi-FI,fi;q=0.9,en;q=0.8",)),
    Country("ru", (3.0,), ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7",)),
    Country("cn", (8.0,), ("zh-CN,zh;q=0.9,en;q=0.8",)),
)
#: Share of human users per country.
HUMAN_COUNTRY_WEIGHTS = {
    "us": 0.38, "gb": 0.09, "de": 0.09, "fr": 0.07, "br": 0.07, "in": 0.09,
    "jp": 0.06, "ca": 0.06, "au": 0.04, "nl": 0.03, "sg": 0.02,
}  # fmt: skip
#: Share of residential-proxy exits per country (proxy pools lean on cheap broadband).
PROXY_COUNTRY_WEIGHTS = {
    "us": 0.25, "br": 0.17, "in": 0.15, "vn": 0.12, "id": 0.11, "de": 0.05, "fr": 0.05,
    "gb": 0.05, "jp": 0.03, "ca": 0.02,
}  # fmt: skip

NETWORKS: tuple[Network, ...] = (
    # residential and mobile broadband
    Network("73.0.0.0/10", 7922, "Comcast Cable", "us", "residential"),
    Network("24.0.0.0/12", 7922, "Comcast Cable", "us", "residential"),
    Network("107.192.0.0/11", 7018, "AT&T Internet", "us", "residential"),
    Network("71.160.0.0/11", 701, "Verizon Business", "us", "residential"),
    Network("66.168.0.0/14", 20115, "Charter Communications", "us", "residential"),
    Network("172.56.0.0/14", 21928, "T-Mobile USA", "us", "mobile"),
    Network("86.128.0.0/11", 2856, "British Telecommunications", "gb", "residential"),
    Network("82.0.0.0/14", 5089, "Virgin Media", "gb", "residential"),
    Network("79.192.0.0/11", 3320, "Deutsche Telekom", "de", "residential"),
    Network("88.64.0.0/13", 3209, "Vodafone GmbH", "de", "residential"),
    Network("90.0.0.0/11", 3215, "Orange", "fr", "residential"),
    Network("82.64.0.0/12", 12322, "Free SAS", "fr", "residential"),
    Network("177.0.0.0/13", 26599, "Telefonica Brasil (Vivo)", "br", "residential"),
    Network("179.96.0.0/13", 28573, "Claro NXT", "br", "mobile"),
    Network("49.32.0.0/12", 55836, "Reliance Jio", "in", "mobile"),
    Network("122.160.0.0/13", 24560, "Bharti Airtel", "in", "residential"),
    Network("114.144.0.0/13", 4713, "NTT OCN", "jp", "residential"),
    Network("106.128.0.0/12", 2516, "KDDI", "jp", "mobile"),
    Network("99.224.0.0/12", 812, "Rogers Communications", "ca", "residential"),
    Network("1.120.0.0/14", 1221, "Telstra", "au", "residential"),
    Network("14.160.0.0/12", 45899, "VNPT", "vn", "residential"),
    Network("36.64.0.0/12", 7713, "Telkom Indonesia", "id", "residential"),
    Network("84.24.0.0/14", 33915, "Vodafone Libertel (Ziggo)", "nl", "residential"),
    Network("116.86.0.0/15", 9506, "Singtel Fibre", "sg", "residential"),
    # hosting and cloud
    Network("3.80.0.0/12", 16509, "Amazon AWS", "us", "hosting"),
    Network("18.204.0.0/14", 16509, "Amazon AWS", "us", "hosting"),
    Network("52.0.0.0/11", 16509, "Amazon AWS", "us", "hosting"),
    Network("159.65.0.0/16", 14061, "DigitalOcean", "us", "hosting"),
    Network("167.99.0.0/16", 14061, "DigitalOcean", "nl", "hosting"),
    Network("128.199.0.0/16", 14061, "DigitalOcean", "sg", "hosting"),
    Network("78.46.0.0/15", 24940, "Hetzner Online", "de", "hosting"),
    Network("65.108.0.0/15", 24940, "Hetzner Online", "fi", "hosting"),
    Network("51.68.0.0/16", 16276, "OVH SAS", "fr", "hosting"),
    Network("145.239.0.0/16", 16276, "OVH SAS", "de", "hosting"),
    Network("172.104.0.0/15", 63949, "Akamai Connected Cloud (Linode)", "us", "hosting"),
    Network("34.64.0.0/11", 396982, "Google Cloud", "us", "hosting"),
    Network("20.0.0.0/11", 8075, "Microsoft Azure", "us", "hosting"),
    Network("45.32.0.0/16", 20473, "Vultr (Choopa)", "us", "hosting"),
    Network("185.220.100.0/22", 9009, "M247", "ro", "hosting"),
    Network("47.74.0.0/15", 45102, "Alibaba Cloud", "cn", "hosting"),
    Network("43.128.0.0/14", 132203, "Tencent Cloud", "sg", "hosting"),
    Network("5.188.0.0/16", 49505, "Selectel", "ru", "hosting"),
    # crawler ranges (published by their operators)
    Network("66.249.64.0/19", 15169, "Google", "us", "crawler:google"),
    Network("157.55.39.0/24", 8075, "Microsoft (Bing)", "us", "crawler:bing"),
    Network("207.46.13.0/24", 8075, "Microsoft (Bing)", "us", "crawler:bing"),
    Network("40.77.167.0/24", 8075, "Microsoft (Bing)", "us", "crawler:bing"),
    Network("17.241.208.0/20", 714, "Apple", "us", "crawler:apple"),
    Network("20.191.45.0/24", 8075, "Microsoft (DuckDuckGo)", "us", "crawler:duckduckgo"),
    Network("52.230.152.0/24", 8075, "Microsoft (OpenAI)", "us", "crawler:openai"),
    Network("5.255.231.0/24", 13238, "Yandex", "ru", "crawler:yandex"),
    Network("216.144.250.0/24", 46475, "Limestone Networks (UptimeRobot)", "us", "crawler:uptime"),
)

_START = np.array([int(ipaddress.ip_network(n.cidr).network_address) for n in NETWORKS], np.int64)
_SIZE = np.array([ipaddress.ip_network(n.cidr).num_addresses for n in NETWORKS], np.int64)
NETWORK_ASN = np.array([n.asn for n in NETWORKS], dtype=np.uint32)
#: Country codes by index: :data:`COUNTRIES` first, then countries that only host servers.
COUNTRY_CODES = tuple(c.code for c in COUNTRIES) + tuple(
    sorted({n.country for n in NETWORKS} - {c.code for c in COUNTRIES})
)
COUNTRY_INDEX = {code: i for i, code in enumerate(COUNTRY_CODES)}
NETWORK_COUNTRY = np.array([COUNTRY_INDEX[n.country] for n in NETWORKS], dtype=np.int16)


def networks_of(kind: str, countries: tuple[str, ...] | None = None) -> np.ndarray:
    """Return the networks of one kind (optionally only in some countries).

    Parameters
    ----------
    kind : str
        ``residential`` (includes mobile), ``hosting`` or ``crawler:<name>``.
    countries : tuple of str, optional
        Country codes to keep.

    Returns
    -------
    numpy.ndarray
        Indices into :data:`NETWORKS`.

    Raises
    ------
    ValueError
        When nothing matches.
    """
    kinds = ("residential", "mobile") if kind == "residential" else (kind,)
    idx = [
        i
        for i, n in enumerate(NETWORKS)
        if n.kind in kinds and (countries is None or n.country in countries)
    ]
    if not idx:
        raise ValueError(f"no network of kind {kind!r} in {countries}")
    return np.array(idx, dtype=np.int64)


def sample_networks(
    rng: np.random.Generator, n: int, kind: str, country_weights: dict[str, float] | None = None
) -> np.ndarray:
    """Pick a network for each of ``n`` clients.

    Residential picks first draw a country by ``country_weights`` then one of its ISPs, so
    country shares follow the weights; other kinds pick uniformly among their networks.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    n : int
        Number of clients.
    kind : str
        Network kind (see :func:`networks_of`).
    country_weights : dict, optional
        Country code to weight, for residential picks.

    Returns
    -------
    numpy.ndarray
        Indices into :data:`NETWORKS`.
    """
    if kind != "residential" or not country_weights:
        pool = networks_of(kind)
        return pool[rng.integers(0, len(pool), n)]
    codes = list(country_weights)
    country = choice(rng, [country_weights[c] for c in codes], n)
    out = np.empty(n, dtype=np.int64)
    for ci, code in enumerate(codes):
        rows = np.flatnonzero(country == ci)
        pool = networks_of("residential", (code,))
        out[rows] = pool[rng.integers(0, len(pool), len(rows))]
    return out


def sample_addresses(rng: np.random.Generator, network: np.ndarray) -> np.ndarray:
    """Draw one host address inside each given network (last octet 1..254).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    network : numpy.ndarray
        Indices into :data:`NETWORKS`.

    Returns
    -------
    numpy.ndarray
        ``uint32`` addresses.
    """
    size = _SIZE[network]
    base = _START[network] + (rng.random(len(network)) * size).astype(np.int64)
    host = rng.integers(1, 255, len(network))
    return ((base & ~np.int64(255)) | host).astype(np.uint32)
