"""Write the small per-format samples under ``data_samples/ingest/`` (one command, repeatable).

Real lines are copied from ``../shared/data`` where a real file of the format exists
(access log, auth log, payload CSV); the Logpush, raw HTTP, CSV and Parquet samples are
built from real access-log lines or written here, since no public file of those formats
is at hand. Run ``python -m workbench.ingest.samples [DATA_DIR] [OUT_DIR]``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.config import PROJECT_DIR
from workbench.errors import InputError
from workbench.ingest.access_log import parse_access_log
from workbench.ingest.common import strip_eol

DEFAULT_DATA = PROJECT_DIR.parent / "shared" / "data"
DEFAULT_OUT = PROJECT_DIR / "data_samples" / "ingest"
ACCESS_LINES = (range(1, 301), [8899])  # 300 lines, plus the one truncated line of the file
AUTH_LINES = (range(1, 151), range(1600, 2051))  # set-up and sudo, then logins and failures
PAYLOADS_PER_TYPE = {"norm": 120, "sqli": 40, "xss": 20, "path-traversal": 10, "cmdi": 10}
_UA = "Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)"


def write_samples(data_dir: Path = DEFAULT_DATA, out_dir: Path = DEFAULT_OUT) -> list[Path]:
    """Write every ingest sample file.

    Parameters
    ----------
    data_dir : Path, optional
        The shared real data (``../shared/data``).
    out_dir : Path, optional
        Where the samples go.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        When the shared data is missing.
    """
    access = data_dir / "access_logs" / "apache_combined_2015.log"
    auth = data_dir / "auth_logs" / "sshd_auth.log"
    payloads = data_dir / "http_params" / "payload_train.csv"
    for path in (access, auth, payloads):
        if not path.is_file():
            raise InputError(f"{path}: shared data file not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    access_lines = access.read_bytes().split(b"\n")
    written = [
        _write(out_dir / "access_combined.log", _pick(access, [n for part in ACCESS_LINES for n in part])),
        _write(out_dir / "auth.log", _pick(auth, [n for part in AUTH_LINES for n in part])),
        _write(out_dir / "payloads_train.csv", _payload_sample(payloads)),
    ]  # fmt: skip
    records = [(i, strip_eol(access_lines[i - 1].decode())) for i in range(1, 201)]
    rows = parse_access_log(records, file_id="sample")[0].to_pylist()
    written.append(_write(out_dir / "logpush_http_requests.ndjson", _logpush_sample(rows)))
    written.append(_write(out_dir / "csic_style_requests.txt", _http_dump_sample()))
    written.append(_write(out_dir / "analyst_labels.csv", _labels_csv(rows)))
    parquet = out_dir / "requests.parquet"
    pq.write_table(_parquet_sample(rows), parquet)
    written.append(parquet)
    return written


def _pick(path: Path, numbers: list[int]) -> bytes:
    lines = path.read_bytes().split(b"\n")
    return b"".join(lines[n - 1] + b"\n" for n in numbers)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _payload_sample(path: Path) -> bytes:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        left = dict(PAYLOADS_PER_TYPE)
        chosen = []
        for row in reader:
            if left.get(row[2], 0) > 0:
                left[row[2]] -= 1
                chosen.append(row)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(chosen)
    return out.getvalue().encode()


def _logpush_sample(rows: list[dict]) -> bytes:
    lines = []
    for i, row in enumerate(rows):
        start: datetime = row["EdgeStartTimestamp"]
        seconds = int(start.timestamp())
        stamp = [start.strftime("%Y-%m-%dT%H:%M:%SZ"), seconds, seconds * 10**9][i % 3]
        record = {
            "RayID": f"{0x7F3C2A0000000000 + i:016x}",
            "EdgeStartTimestamp": stamp,
            "EdgeEndTimestamp": stamp,
            "ClientIP": row["ClientIP"],
            "ClientRequestMethod": row["ClientRequestMethod"],
            "ClientRequestHost": "semicomplete.com",
            "ClientRequestPath": row["ClientRequestPath"],
            "ClientRequestURI": row["ClientRequestURI"],
            "ClientRequestUserAgent": row["ClientRequestUserAgent"],
            "ClientRequestReferer": row["ClientRequestReferer"],
            "ClientRequestProtocol": row["ClientRequestProtocol"],
            "EdgeResponseStatus": row["EdgeResponseStatus"],
            "EdgeResponseBytes": row["EdgeResponseBytes"],
            "RequestHeaders": {"accept-language": "en-US"} if i % 4 == 0 else {},
            "CacheCacheStatus": "hit" if i % 2 else "miss",
            "ZoneName": "semicomplete.com",
        }
        lines.append(json.dumps(record, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def _http_dump_sample() -> bytes:
    def request(method: str, target: str, eol: str, body: str = "") -> str:
        head = [f"{method} {target} HTTP/1.1", f"User-Agent: {_UA}", "Pragma: no-cache",
                "Accept-Language: en", "Host: localhost:8080",
                "Cookie: JSESSIONID=1F767F17239C9B670A39E9B10C3825F4"]  # fmt: skip
        if body:
            head += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
            ]
        head.append("Connection: close")
        return eol.join([*head, "", body, ""]) + eol

    shop = "http://localhost:8080/tienda1"
    return "".join(
        [
            request("GET", f"{shop}/index.jsp", "\n"),
            request("GET", f"{shop}/publico/anadir.jsp?id=3&nombre=Vino+Rioja&cantidad=55", "\r\n"),
            request(
                "POST", f"{shop}/publico/anadir.jsp", "\r\n", "id=3&nombre=Vino+Rioja&cantidad=55"
            ),
            request(
                "POST", f"{shop}/publico/autenticar.jsp", "\n", "modo=entrar&login=grimshaw&pwd=x"
            ),
        ]
    ).encode()


def _labels_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["when", "ip", "verdict", "analyst", "note"])
    for row in rows[:40]:
        bot = "bot" in row["ClientRequestUserAgent"].lower()
        writer.writerow([
            row["EdgeStartTimestamp"].strftime("%Y-%m-%d %H:%M:%S"), row["ClientIP"],
            "bot" if bot else "human", "sample", f"UA: {row['ClientRequestUserAgent'][:40]}",
        ])  # fmt: skip
    return out.getvalue().encode()


def _parquet_sample(rows: list[dict]) -> pa.Table:
    picked = rows[:100]
    return pa.table(
        {
            "ts": pa.array([r["EdgeStartTimestamp"] for r in picked], pa.timestamp("us", tz=UTC)),
            "ip": [r["ClientIP"] for r in picked],
            "method": [r["ClientRequestMethod"] for r in picked],
            "path": [r["ClientRequestPath"] for r in picked],
            "status": pa.array([r["EdgeResponseStatus"] for r in picked], pa.int64()),
            "ua": [r["ClientRequestUserAgent"] for r in picked],
        }
    )


if __name__ == "__main__":  # pragma: no cover
    args = [Path(a) for a in sys.argv[1:3]]
    for written_path in write_samples(*args):
        print(f"{written_path} ({written_path.stat().st_size:,} bytes)")
