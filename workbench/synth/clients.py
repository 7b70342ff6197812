"""Client software: user agents, TLS stacks and header sets, combined into client variants.

A *build* says what a client claims (its user agent and the header style it imitates) and
what it really is (its TLS stack). Honest builds match: real Chrome claims Chrome and speaks
Chrome's TLS. Spoofing builds do not: a Python script claiming a Chrome user agent keeps
Python's TLS fingerprint and a header set Chrome never sends. A *variant* is one build with
one user agent string and one HTTP protocol; an actor keeps its variant, so its user agent,
JA3/JA4, header set and protocol stay consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from workbench.synth.sitemap import CSS, FONT, FORM, IMAGE, JS, JSON, KIND_NAMES, PAGE, XHR
from workbench.synth.tls import HELLOS

_CHROME_VERSIONS = (148, 149, 150, 151, 152)
_GREASE_BRANDS = ('"Not?A_Brand";v="99"', '"Not/A)Brand";v="8"', '"Not.A/Brand";v="24"')
_CHROME_OS = {
    "win": ("Windows NT 10.0; Win64; x64", "Windows", "desktop"),
    "mac": ("Macintosh; Intel Mac OS X 10_15_7", "macOS", "desktop"),
    "linux": ("X11; Linux x86_64", "Linux", "desktop"),
    "android": ("Linux; Android 10; K", "Android", "mobile"),
}
_FIREFOX_OS = {
    "win": ("Windows NT 10.0; Win64; x64", "desktop"),
    "mac": ("Macintosh; Intel Mac OS X 10.15", "desktop"),
    "linux": ("X11; Linux x86_64", "desktop"),
    "android": ("Android 15; Mobile", "mobile"),
}


@dataclass(frozen=True)
class Agent:
    """One user agent string and what a browser sending it also says about itself."""

    ua: str
    device: str = "desktop"
    brands: str = ""
    mobile: str = "?0"
    platform: str = ""


def _chrome_agents(edge: bool = False) -> list[Agent]:
    out = []
    for i, v in enumerate(_CHROME_VERSIONS):
        grease = _GREASE_BRANDS[i % len(_GREASE_BRANDS)]
        for os_key, (os_text, platform, device) in _CHROME_OS.items():
            if edge and os_key in ("linux", "android"):
                continue
            mobile = " Mobile" if device == "mobile" else ""
            ua = f"Mozilla/5.0 ({os_text}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0{mobile} Safari/537.36"
            brand = f'"Microsoft Edge";v="{v}"' if edge else f'"Google Chrome";v="{v}"'
            if edge:
                ua += f" Edg/{v}.0.0.0"
            brands = f'"Chromium";v="{v}", {brand}, {grease}'
            out.append(Agent(ua, device, brands, "?1" if mobile else "?0", f'"{platform}"'))
    return out


def _firefox_agents() -> list[Agent]:
    out = []
    for v in (148, 149, 150, 151):
        for os_key, (os_text, device) in _FIREFOX_OS.items():
            gecko = f"{v}.0" if os_key == "android" else "20100101"
            out.append(
                Agent(f"Mozilla/5.0 ({os_text}; rv:{v}.0) Gecko/{gecko} Firefox/{v}.0", device)
            )
    return out


def _safari_agents() -> list[Agent]:
    out = []
    for v in ("18.6", "26.0", "26.1"):
        out.append(
            Agent(
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15"
            )
        )
        for dev, device in (
            ("iPhone; CPU iPhone OS 18_6 like Mac OS X", "mobile"),
            ("iPad; CPU OS 18_6 like Mac OS X", "tablet"),
        ):
            out.append(
                Agent(
                    f"Mozilla/5.0 ({dev}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1",
                    device,
                )
            )
    return out  # fmt: skip


def _agents(*uas: str) -> list[Agent]:
    return [Agent(ua) for ua in uas]


_GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
AGENTS: dict[str, list[Agent]] = {
    "chrome": _chrome_agents(),
    "edge": _chrome_agents(edge=True),
    "firefox": _firefox_agents(),
    "safari": _safari_agents(),
    "googlebot": _agents(_GOOGLEBOT, "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.7390.122 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    "bingbot": _agents("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/140.0.7339.207 Safari/537.36"),
    "applebot": _agents("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"),
    "duckduckbot": _agents("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"),
    "gptbot": _agents("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.3; +https://openai.com/gptbot)"),
    "yandexbot": _agents("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"),
    "uptimerobot": _agents("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
    "python-requests": _agents("python-requests/2.32.3", "python-requests/2.32.5", "python-requests/2.31.0"),
    "python-httpx": _agents("python-httpx/0.28.1", "python-httpx/0.27.2"),
    "aiohttp": _agents("Python/3.12 aiohttp/3.11.11", "Python/3.13 aiohttp/3.12.15"),
    "scrapy": _agents("Scrapy/2.13.3 (+https://scrapy.org)", "Scrapy/2.11.2 (+https://scrapy.org)"),
    "go": _agents("Go-http-client/2.0", "Go-http-client/1.1"),
    "curl": _agents("curl/8.14.1", "curl/8.7.1", "curl/7.88.1"),
    "axios": _agents("axios/1.12.2", "axios/1.7.9", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"),
    "okhttp": _agents("okhttp/4.12.0", "okhttp/5.1.0"),
    "java": _agents("Apache-HttpClient/5.4.1 (Java/21.0.5)", "Java/17.0.12"),
    "sqlmap": _agents("sqlmap/1.9.8#stable (https://sqlmap.org)", "sqlmap/1.8.11#stable (https://sqlmap.org)"),
    "nikto": _agents("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:map_codes)"),
    "nuclei": _agents("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Nuclei/v3.4.10", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"),
    "wpscan": _agents("WPScan v3.8.28 (https://wpscan.com/wordpress-security-scanner)"),
    "ffuf": _agents("Fuzz Faster U Fool v2.1.0-dev"),
    "zgrab": _agents("Mozilla/5.0 zgrab/0.x"),
}  # fmt: skip

# Header sets by style. Browser styles build theirs per request kind (see _browser_headers).
_NAV_ACCEPT = {
    "chrome": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "firefox": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "safari": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}  # fmt: skip
_ENCODING = {
    "chrome": "gzip, deflate, br, zstd",
    "firefox": "gzip, deflate, br, zstd",
    "safari": "gzip, deflate, br",
}
_SCRIPT_HEADERS: dict[str, list[tuple[str, str]]] = {
    "python-requests": [("accept", "*/*"), ("accept-encoding", "gzip, deflate"), ("connection", "keep-alive")],
    "python-httpx": [("accept", "*/*"), ("accept-encoding", "gzip, deflate, br, zstd"), ("connection", "keep-alive")],
    "aiohttp": [("accept", "*/*"), ("accept-encoding", "gzip, deflate, br")],
    "scrapy": [("accept", _NAV_ACCEPT["firefox"]), ("accept-language", "en"), ("accept-encoding", "gzip, deflate, br, zstd")],
    "go": [("accept-encoding", "gzip")],
    "curl": [("accept", "*/*")],
    "axios": [("accept", "application/json, text/plain, */*"), ("accept-encoding", "gzip, compress, deflate, br"), ("connection", "keep-alive")],
    "okhttp": [("accept-encoding", "gzip"), ("connection", "Keep-Alive")],
    "java": [("accept-encoding", "gzip, x-gzip, deflate"), ("connection", "keep-alive")],
    "sqlmap": [("accept", "*/*"), ("accept-encoding", "gzip,deflate"), ("cache-control", "no-cache"), ("connection", "close")],
    "nikto": [("connection", "Keep-Alive")],
    "nuclei": [("accept", "*/*"), ("accept-language", "en"), ("accept-encoding", "gzip"), ("connection", "close")],
    "wpscan": [("accept", "*/*"), ("accept-encoding", "gzip, deflate")],
    "ffuf": [("accept-encoding", "gzip")],
    "zgrab": [("accept", "*/*"), ("accept-encoding", "gzip")],
    "googlebot": [("accept", "text/html,application/xhtml+xml,application/signed-exchange;v=b3,application/xml;q=0.9,*/*;q=0.8"), ("accept-encoding", "gzip, deflate, br"), ("from", "googlebot(at)googlebot.com")],
    "bingbot": [("accept", "*/*"), ("accept-encoding", "gzip, deflate"), ("from", "bingbot(at)microsoft.com")],
    "crawler": [("accept", "text/html,*/*;q=0.8"), ("accept-encoding", "gzip")],
    # a script dressed as Chrome: Chrome's accept and a stale client hint, its own encoding,
    # no sec-fetch-*, a fixed language
    "forged-chrome": [("accept", _NAV_ACCEPT["chrome"]), ("accept-encoding", "gzip, deflate"), ("accept-language", "en-US,en;q=0.9"), ("sec-ch-ua", '"Chromium";v="120", "Not?A_Brand";v="24"'), ("connection", "keep-alive")],
}  # fmt: skip


@dataclass(frozen=True)
class Build:
    """What a client claims (user agents, header style) and what it is (TLS stack)."""

    name: str
    agents: str
    stack: str
    style: str
    protocols: tuple[tuple[str, float], ...]


_BROWSER_PROTOCOLS = (("HTTP/2", 0.68), ("HTTP/3", 0.27), ("HTTP/1.1", 0.05))
_SCRIPT_STACKS = {
    "python-requests": ("python-requests", "HTTP/1.1"), "python-httpx": ("python-httpx", "HTTP/2"),
    "aiohttp": ("python-requests", "HTTP/1.1"), "scrapy": ("scrapy", "HTTP/1.1"),
    "go": ("go", "HTTP/2"), "curl": ("curl", "HTTP/2"), "axios": ("node", "HTTP/1.1"),
    "okhttp": ("okhttp", "HTTP/2"), "java": ("java", "HTTP/2"), "sqlmap": ("python-urllib", "HTTP/1.1"),
    "nikto": ("perl-openssl", "HTTP/1.1"), "nuclei": ("go", "HTTP/1.1"), "wpscan": ("curl", "HTTP/1.1"),
    "ffuf": ("go", "HTTP/1.1"), "zgrab": ("go", "HTTP/1.1"),
}  # fmt: skip
_CRAWLERS = {
    "googlebot": ("googlebot", "googlebot"), "bingbot": ("bingbot", "bingbot"),
    "applebot": ("applebot", "crawler"), "duckduckbot": ("crawler-go", "crawler"),
    "gptbot": ("crawler-go", "crawler"), "yandexbot": ("yandexbot", "crawler"),
    "uptimerobot": ("crawler-go", "crawler"),
}  # fmt: skip

BUILDS: dict[str, Build] = {}
for _b in ("chrome", "edge", "firefox", "safari"):
    BUILDS[_b] = Build(_b, _b, "chrome" if _b == "edge" else _b,
                       "chrome" if _b == "edge" else _b, _BROWSER_PROTOCOLS)  # fmt: skip
for _b, (_stack, _style) in _CRAWLERS.items():
    BUILDS[_b] = Build(_b, _b, _stack, _style, (("HTTP/2", 0.7), ("HTTP/1.1", 0.3)))
for _b, (_stack, _proto) in _SCRIPT_STACKS.items():
    plain = 0.3 if _b in ("sqlmap", "nikto", "zgrab", "ffuf", "curl", "go") else 0.0
    BUILDS[_b] = Build(_b, _b, _stack, _b, ((_proto, 1.0 - plain), ("HTTP/1.1-plain", plain)))
# scripts dressed as Chrome (headless-browser impostors, OpenBullet configs, bot kits)
for _stack in ("python-requests", "go", "node", "curl", "dotnet", "java", "python-httpx"):
    BUILDS[f"spoof-chrome/{_stack}"] = Build(
        f"spoof-chrome/{_stack}", "chrome", _stack, "forged-chrome", (("HTTP/1.1", 1.0),)
    )


def _browser_headers(style: str, agent: Agent, kind: int) -> list[tuple[str, str]]:
    hints = [("sec-ch-ua", agent.brands), ("sec-ch-ua-mobile", agent.mobile),
             ("sec-ch-ua-platform", agent.platform)] if style == "chrome" else []  # fmt: skip
    enc = ("accept-encoding", _ENCODING[style])
    if kind in (PAGE, FORM) or kind > JSON:
        out = hints + [("upgrade-insecure-requests", "1"), ("accept", _NAV_ACCEPT[style]),
                       ("sec-fetch-mode", "navigate"), ("sec-fetch-user", "?1"),
                       ("sec-fetch-dest", "document"), enc, ("priority", "u=0, i")]  # fmt: skip
        if kind == FORM:
            out += [("cache-control", "max-age=0"),
                    ("content-type", "application/x-www-form-urlencoded")]  # fmt: skip
        return out
    accept, mode, dest, prio = {
        CSS: ("text/css,*/*;q=0.1", "no-cors", "style", "u=0"),
        JS: ("*/*", "no-cors", "script", "u=1"),
        IMAGE: ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "no-cors", "image", "u=1, i"),
        FONT: ("*/*", "cors", "font", "u=0"),
        XHR: ("application/json, text/plain, */*", "cors", "empty", "u=1, i"),
        JSON: ("application/json, text/plain, */*", "cors", "empty", "u=1, i"),
    }[kind]  # fmt: skip
    out = hints + [
        ("accept", accept),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", mode),
        ("sec-fetch-dest", dest),
        enc,
        ("priority", prio),
    ]
    if kind == JSON:
        out.append(("content-type", "application/json"))
    return out


def _headers(style: str, agent: Agent, kind: int) -> list[tuple[str, str]]:
    if style in _NAV_ACCEPT:
        return _browser_headers(style, agent, kind)
    out = list(_SCRIPT_HEADERS[style])
    if kind == FORM:
        out.append(("content-type", "application/x-www-form-urlencoded"))
    elif kind == JSON:
        out.append(("content-type", "application/json"))
    return out


@dataclass(frozen=True)
class Variants:
    """Flat table of client variants (one build, one user agent, one protocol each).

    Attributes
    ----------
    build : list of str
        Build name of each variant.
    ua, ja3, ja4, ssl_protocol, cipher, protocol, scheme, device : pyarrow.StringArray
        Column values each variant puts on its requests.
    stack : list of str
        The TLS stack really used.
    browser : numpy.ndarray
        True where the variant is a real browser (sends language, cookies, fetch metadata).
    script : numpy.ndarray
        True where the variant is an honest script or tool (its user agent says so).
    template_offsets : numpy.ndarray
        CSR offsets of header templates, indexed ``variant * N_KINDS + kind``.
    header_key_ids : numpy.ndarray
        Header name of each template entry, as an index into :data:`HEADER_NAMES`.
    header_values : pyarrow.StringArray
        Header values of the template entries.
    by_build : dict
        Build name to (variant indices, protocol weights).
    """

    build: list[str]
    ua: pa.Array
    ja3: pa.Array
    ja4: pa.Array
    ssl_protocol: pa.Array
    cipher: pa.Array
    protocol: pa.Array
    scheme: pa.Array
    device: pa.Array
    stack: list[str]
    browser: np.ndarray
    script: np.ndarray
    template_offsets: np.ndarray
    header_key_ids: np.ndarray
    header_values: pa.Array
    by_build: dict

    def sample(
        self, rng: np.random.Generator, builds: list[str], weights: list[float], n: int
    ) -> np.ndarray:
        """Draw ``n`` variants: a build by ``weights``, then a variant of it by protocol share."""
        from workbench.synth.arrays import choice

        b = choice(rng, weights, n)
        out = np.empty(n, dtype=np.int64)
        for i, name in enumerate(builds):
            rows = np.flatnonzero(b == i)
            idx, w = self.by_build[name]
            out[rows] = idx[choice(rng, w, len(rows))]
        return out


N_KINDS = len(KIND_NAMES)
#: Every header name a generated request can carry (templates first, then per-client ones).
HEADER_NAMES = (
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "upgrade-insecure-requests",
    "accept",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-user",
    "sec-fetch-dest",
    "accept-encoding",
    "priority",
    "cache-control",
    "content-type",
    "accept-language",
    "connection",
    "from",
    "origin",
    "cookie",
    "authorization",
)


@cache
def variants() -> Variants:
    """Build the variant table (once per process; always the same).

    Returns
    -------
    Variants
        Every client variant.
    """
    rows: list[dict] = []
    keys: list[str] = []
    values: list[str] = []
    offsets = [0]
    by_build: dict[str, tuple[list[int], list[float]]] = {}
    for build in BUILDS.values():
        agents = AGENTS[build.agents]
        for proto, p_weight in build.protocols:
            if p_weight <= 0:
                continue
            stack = build.stack + "-quic" if proto == "HTTP/3" else build.stack
            hello = HELLOS[stack]
            plain = proto.endswith("-plain")
            for agent in agents:
                idx, w = by_build.setdefault(build.name, ([], []))
                idx.append(len(rows))
                w.append(p_weight / len(agents))
                rows.append({
                    "build": build.name, "ua": agent.ua, "device": agent.device,
                    "ja3": "" if plain else hello.ja3(), "ja4": "" if plain else hello.ja4(),
                    "ssl": "none" if plain else hello.max_version,
                    "cipher": "NONE" if plain else hello.negotiated_cipher(),
                    "protocol": "HTTP/1.1" if plain else proto,
                    "scheme": "http" if plain else "https", "stack": stack,
                    "browser": build.style in _NAV_ACCEPT,
                })  # fmt: skip
                for kind in range(N_KINDS):
                    for k, v in _headers(build.style, agent, kind):
                        keys.append(k)
                        values.append(v)
                    offsets.append(len(keys))
    col = {k: pa.array([r[k] for r in rows]) for k in ("ua", "ja3", "ja4", "ssl", "cipher", "protocol", "scheme", "device")}  # fmt: skip
    return Variants(
        build=[r["build"] for r in rows],
        ua=col["ua"], ja3=col["ja3"], ja4=col["ja4"], ssl_protocol=col["ssl"],
        cipher=col["cipher"], protocol=col["protocol"], scheme=col["scheme"],
        device=col["device"], stack=[r["stack"] for r in rows],
        browser=np.array([r["browser"] for r in rows]),
        script=np.array([not (r["browser"] or r["build"].startswith("spoof") or r["build"] in _CRAWLERS) for r in rows]),
        template_offsets=np.array(offsets, dtype=np.int64),
        header_key_ids=np.array([HEADER_NAMES.index(k) for k in keys], dtype=np.int64),
        header_values=pa.array(values),
        by_build={b: (np.array(i), np.array(w)) for b, (i, w) in by_build.items()},
    )  # fmt: skip
