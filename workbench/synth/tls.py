"""TLS ClientHello models of client software, and their JA3 / JA4 fingerprints.

Each :class:`TlsHello` lists what a client offers (cipher suites, extensions, groups,
signature algorithms, ALPN), modelled on what that software sends; the fingerprints are
computed from it with the published JA3 and JA4 algorithms, so every fingerprint in the
synthetic data is the real function of a concrete hello, and all clients built on the same
stack share it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: TLS 1.3 suites (AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305).
_T13 = (4865, 4866, 4867)
#: Cloudflare's names of the suite the edge settles on, by the client's first TLS 1.3 suite.
_CIPHER_NAMES = {
    4865: "AEAD-AES128-GCM-SHA256",
    4866: "AEAD-AES256-GCM-SHA384",
    4867: "AEAD-CHACHA20-POLY1305-SHA256",
}
_SIGALGS_BROWSER = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
_SIGALGS_OPENSSL = (
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080A, 0x080B, 0x0804, 0x0805, 0x0806,
    0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
)  # fmt: skip
_SIGALGS_GO = (0x0804, 0x0403, 0x0807, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0503, 0x0603)
_OPENSSL_CIPHERS = (
    4866, 4867, 4865, 49196, 49200, 159, 52393, 52392, 52394, 49195, 49199, 158, 49188,
    49192, 107, 49187, 49191, 103, 49162, 49172, 57, 49161, 49171, 51, 157, 156, 61, 60, 53,
    47, 255,
)  # fmt: skip


@dataclass(frozen=True)
class TlsHello:
    """What one client stack offers in its TLS ClientHello.

    Attributes
    ----------
    name : str
        The stack, e.g. ``chrome`` or ``python-requests``.
    ciphers : tuple of int
        Offered cipher suites, in order (GREASE omitted).
    extensions : tuple of int
        Extension types, in order (GREASE omitted).
    groups : tuple of int
        Supported groups (elliptic curves).
    sig_algs : tuple of int
        Signature algorithms, in order.
    alpn : str
        First ALPN protocol offered (``h2``, ``http/1.1``, ``h3``) or '' for none.
    max_version : str
        Highest protocol version offered, ``TLSv1.3`` or ``TLSv1.2``.
    quic : bool
        True for a hello carried in QUIC (HTTP/3).
    """

    name: str
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...]
    sig_algs: tuple[int, ...]
    alpn: str
    max_version: str = "TLSv1.3"
    quic: bool = False

    def ja3_string(self) -> str:
        """Return the JA3 string: version, ciphers, extensions, groups, point formats."""
        fields = (self.ciphers, self.extensions, self.groups, (0,) if 11 in self.extensions else ())
        return "771," + ",".join("-".join(str(v) for v in f) for f in fields)

    def ja3(self) -> str:
        """Return the JA3 hash (MD5 of :meth:`ja3_string`, 32 hex digits)."""
        return hashlib.md5(self.ja3_string().encode(), usedforsecurity=False).hexdigest()

    def ja4(self) -> str:
        """Return the JA4 fingerprint, e.g. ``t13d1516h2_8daaf6152771_e5627efa2ab1``."""
        version = "13" if self.max_version == "TLSv1.3" else "12"
        sni = "d" if 0 in self.extensions else "i"
        alpn = f"{self.alpn[0]}{self.alpn[-1]}" if self.alpn else "00"
        head = (
            f"{'q' if self.quic else 't'}{version}{sni}"
            f"{min(len(self.ciphers), 99):02d}{min(len(self.extensions), 99):02d}{alpn}"
        )
        ciphers = ",".join(sorted(f"{c:04x}" for c in self.ciphers))
        exts = ",".join(sorted(f"{e:04x}" for e in self.extensions if e not in (0, 16)))
        if self.sig_algs:
            exts += "_" + ",".join(f"{s:04x}" for s in self.sig_algs)
        return f"{head}_{_sha12(ciphers)}_{_sha12(exts)}"

    def negotiated_cipher(self) -> str:
        """Return the cipher suite name the edge would settle on with this client."""
        for c in self.ciphers:
            if self.max_version == "TLSv1.3" and c in _CIPHER_NAMES:
                return _CIPHER_NAMES[c]
        return "ECDHE-RSA-AES128-GCM-SHA256"


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def _hello(name: str, ciphers, extensions, groups, sig_algs, alpn, **kw) -> TlsHello:
    return TlsHello(
        name, tuple(ciphers), tuple(extensions), tuple(groups), tuple(sig_algs), alpn, **kw
    )


_CHROME_CIPHERS = _T13 + (49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156, 157, 47, 53)
_FIREFOX_CIPHERS = (4865, 4867, 4866, 49195, 49199, 52393, 52392, 49196, 49200, 49162, 49161,
                    49171, 49172, 156, 157, 47, 53)  # fmt: skip
_SAFARI_CIPHERS = _T13 + (49196, 49195, 52393, 49200, 49199, 52392, 49162, 49161, 49172,
                          49171, 157, 156, 53, 47, 49160, 49170, 10)  # fmt: skip
_GO_CIPHERS = _T13 + (49195, 49199, 49196, 49200, 52393, 52392, 49161, 49171, 49162, 49172,
                      156, 157, 47, 53)  # fmt: skip
_JAVA_CIPHERS = _T13 + (49196, 49195, 52393, 49200, 52392, 49199, 159, 52394, 158, 49188,
                        49192, 49187, 49191, 107, 103, 49162, 49172, 49161, 49171, 57, 51,
                        157, 156, 61, 60, 53, 47, 255)  # fmt: skip
_GROUPS_BROWSER = (4588, 29, 23, 24)
_GROUPS_OPENSSL = (29, 23, 30, 25, 24, 256, 257, 258, 259, 260)
_GROUPS_GO = (4588, 29, 23, 24, 25)

#: Every modelled stack, by name.
HELLOS: dict[str, TlsHello] = {
    h.name: h
    for h in (
        _hello("chrome", _CHROME_CIPHERS,
               (0, 23, 65281, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43, 27, 17513, 65037),
               _GROUPS_BROWSER, _SIGALGS_BROWSER, "h2"),
        _hello("chrome-quic", _T13, (0, 10, 13, 16, 27, 43, 45, 51, 57, 17513, 65037),
               _GROUPS_BROWSER, _SIGALGS_BROWSER, "h3", quic=True),
        _hello("firefox", _FIREFOX_CIPHERS,
               (0, 23, 65281, 10, 11, 35, 16, 5, 34, 18, 51, 43, 13, 45, 28, 27, 65037),
               (4588, 29, 23, 24, 25, 256, 257), _SIGALGS_BROWSER + (0x0203, 0x0201), "h2"),
        _hello("firefox-quic", _T13, (0, 10, 13, 16, 28, 43, 45, 51, 57, 65037),
               (4588, 29, 23, 24), _SIGALGS_BROWSER, "h3", quic=True),
        _hello("safari", _SAFARI_CIPHERS, (0, 23, 65281, 10, 11, 16, 5, 13, 18, 51, 45, 43, 27),
               (29, 23, 24, 25), _SIGALGS_BROWSER + (0x0805, 0x0201), "h2"),
        _hello("safari-quic", _T13, (0, 10, 13, 16, 43, 45, 51, 57), (29, 23, 24),
               _SIGALGS_BROWSER, "h3", quic=True),
        _hello("googlebot", _T13 + (49195, 49199, 49196, 49200, 52393, 52392, 156, 157),
               (0, 23, 65281, 10, 11, 35, 16, 13, 51, 45, 43), (29, 23, 24),
               _SIGALGS_BROWSER, "h2"),
        _hello("bingbot", _T13 + (49196, 49195, 49200, 49199, 159, 158, 49188, 49187, 157, 156),
               (0, 5, 10, 11, 13, 35, 16, 23, 65281, 43, 45, 51), (29, 23, 24),
               (0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503), "h2"),
        _hello("applebot", _SAFARI_CIPHERS[:14], (0, 23, 65281, 10, 11, 16, 5, 13, 51, 45, 43),
               (29, 23, 24), _SIGALGS_BROWSER, "http/1.1"),
        _hello("crawler-go", _GO_CIPHERS, (0, 5, 10, 11, 13, 65281, 18, 43, 51, 45, 16, 23),
               _GROUPS_GO[1:], _SIGALGS_GO, "http/1.1"),
        _hello("yandexbot", _OPENSSL_CIPHERS[:20], (0, 11, 10, 35, 22, 23, 13, 43, 45, 51),
               _GROUPS_OPENSSL[:5], _SIGALGS_OPENSSL[:14], ""),
        _hello("python-requests", _OPENSSL_CIPHERS[:29],
               (0, 11, 10, 35, 16, 22, 23, 49, 13, 43, 45, 51, 21),
               _GROUPS_OPENSSL, _SIGALGS_OPENSSL, "http/1.1"),
        _hello("python-httpx", _OPENSSL_CIPHERS[:29],
               (0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51),
               _GROUPS_OPENSSL, _SIGALGS_OPENSSL, "h2"),
        _hello("python-urllib", _OPENSSL_CIPHERS[:29], (0, 11, 10, 35, 22, 23, 49, 13, 43, 45, 51),
               _GROUPS_OPENSSL, _SIGALGS_OPENSSL, ""),
        _hello("scrapy", _OPENSSL_CIPHERS, (0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51),
               _GROUPS_OPENSSL[:5], _SIGALGS_OPENSSL, "http/1.1"),
        _hello("go", _GO_CIPHERS, (0, 5, 10, 11, 13, 65281, 18, 43, 51, 45, 16, 23),
               _GROUPS_GO, _SIGALGS_GO, "h2"),
        _hello("curl", _OPENSSL_CIPHERS, (0, 11, 10, 16, 22, 23, 49, 13, 43, 45, 51, 21),
               _GROUPS_OPENSSL, _SIGALGS_OPENSSL, "h2"),
        _hello("node", _OPENSSL_CIPHERS[:25] + (255,), (0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51),
               (29, 23, 30, 25, 24), _SIGALGS_OPENSSL[:16], "http/1.1"),
        _hello("okhttp", _T13 + (49195, 49196, 52393, 49199, 49200, 52392, 49171, 49172, 156,
                                 157, 47, 53),
               (0, 23, 65281, 10, 11, 35, 16, 5, 13, 51, 45, 43, 21), (29, 23, 24),
               (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201), "h2"),
        _hello("java", _JAVA_CIPHERS, (0, 5, 10, 11, 13, 50, 16, 17, 23, 43, 45, 51, 65281),
               (29, 23, 24, 25, 30, 256, 257, 258, 259, 260), _SIGALGS_OPENSSL[:17], "h2"),
        _hello("dotnet", (4866, 4865, 49196, 49195, 49200, 49199, 159, 158, 49188, 49187,
                          49192, 49191, 49162, 49161, 49172, 49171, 157, 156, 61, 60, 53, 47),
               (0, 10, 11, 13, 35, 16, 23, 65281, 43, 45, 51), (29, 23, 24),
               (0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603), "h2"),
        _hello("perl-openssl", _OPENSSL_CIPHERS[3:29] + (255,), (0, 11, 10, 35, 22, 23, 13),
               _GROUPS_OPENSSL[:5], _SIGALGS_OPENSSL, "", max_version="TLSv1.2"),
    )
}  # fmt: skip

#: Stacks that only browsers use; a fingerprint outside this set is not a browser's.
BROWSER_STACKS = frozenset(
    {"chrome", "chrome-quic", "firefox", "firefox-quic", "safari", "safari-quic"}
)


def fingerprint_table() -> dict[str, tuple[str, str]]:
    """Return ``{stack: (JA3, JA4)}`` for every modelled stack.

    Returns
    -------
    dict
        Stack name to its JA3 hash and JA4 fingerprint.
    """
    return {name: (h.ja3(), h.ja4()) for name, h in HELLOS.items()}


def stack_of_ja4(ja4: str) -> str | None:
    """Return the name of the stack whose JA4 this is, or None if unknown.

    Parameters
    ----------
    ja4 : str
        A JA4 fingerprint.

    Returns
    -------
    str or None
        The stack name.
    """
    for name, (_, fp) in fingerprint_table().items():
        if fp == ja4:
            return name
    return None
