"""Run folders, their ``run.json`` metadata, and the run ledger.

::

    reports/
      index.html                       every run, newest first (see index.py)
      ledger.jsonl                     one JSON line per event: scheduled slot claimed, run done
      <name>/<YYYYmmddTHHMMSSZ>-<id>/
        <name>.ipynb                   the executed notebook (redacted when asked)
        <name>.html                    the self-contained report
        run.json                       this run's metadata (RunRecord)

Writers take the ledger lock; files are replaced atomically, so a reader (the index builder,
``wb report list``) never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import PROJECT_DIR
from workbench.errors import InputError
from workbench.reporting.locks import atomic_write, file_lock
from workbench.timespec import format_time

RUN_FILE = "run.json"
LEDGER_FILE = "ledger.jsonl"
LOCK_FILE = ".reports.lock"


@dataclass
class RunRecord:
    """Metadata of one report run, saved as ``run.json`` in its folder.

    Attributes
    ----------
    run_id : str
        ``<time>-<random>``, also the folder's name.
    name : str
        The template's name.
    template : str
        Path of the template that ran.
    parameters : dict
        The values injected (resolved windows; redacted when ``redacted``).
    status : str
        ``"ok"``, ``"failed"`` or ``"running"``.
    started, finished : str
        ISO 8601 UTC.
    duration_s : float
        Wall time of the whole run.
    git_commit : str
        Commit of the project (``-dirty`` when the work tree had changes), or ``unknown``.
    window : dict
        ``start``/``end`` the report covers (absolute UTC), when it has them.
    model_version : str or None
        The model a report used, when it names one.
    headline : dict
        The numbers the notebook recorded.
    context : dict
        Other facts the notebook recorded (data actually seen ...).
    error : str or None
        What failed.
    redacted : bool
        Whether IPs, e-mails and accounts were pseudonymized.
    html : str
        The HTML file's name in the run folder.
    notebook : str
        The executed notebook's name in the run folder.
    html_bytes : int
        Size of the HTML file.
    warnings : list of str
        Things the reader should know (large file, images removed ...).
    job, slot : str or None
        The schedule job and slot that started it, if any.
    """

    run_id: str
    name: str
    template: str
    parameters: dict[str, Any]
    status: str
    started: str
    finished: str = ""
    duration_s: float = 0.0
    git_commit: str = "unknown"
    window: dict[str, str] = field(default_factory=dict)
    model_version: str | None = None
    headline: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    redacted: bool = False
    html: str = ""
    notebook: str = ""
    html_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    job: str | None = None
    slot: str | None = None

    def to_json(self) -> str:
        """Return the record as indented JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Build a record from ``run.json`` content, ignoring keys it does not know.

        Parameters
        ----------
        data : dict
            Parsed JSON.

        Returns
        -------
        RunRecord
            The record.
        """
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def utc_now() -> dt.datetime:
    """Return the current time, aware, in UTC (milliseconds)."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_run_folder(reports_dir: Path, name: str, started: dt.datetime) -> tuple[str, Path]:
    """Create ``reports/<name>/<time>-<id>/`` and return its id and path.

    Parameters
    ----------
    reports_dir : Path
        The reports root.
    name : str
        Template name (an identifier).
    started : datetime
        Start of the run (UTC).

    Returns
    -------
    tuple of (str, Path)
        The run id and the new, empty folder.
    """
    stamp = started.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    while True:
        run_id = f"{stamp}-{secrets.token_hex(3)}"
        folder = reports_dir / name / run_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return run_id, folder
        except FileExistsError:
            continue


def write_run(folder: Path, record: RunRecord) -> Path:
    """Write ``run.json`` atomically.

    Parameters
    ----------
    folder : Path
        The run folder.
    record : RunRecord
        The metadata.

    Returns
    -------
    Path
        The file.
    """
    return atomic_write(folder / RUN_FILE, record.to_json() + "\n")


def read_run(path: Path) -> RunRecord:
    """Read one ``run.json``.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    RunRecord
        The record.

    Raises
    ------
    InputError
        When the file is not a run record.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunRecord.from_dict(data)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a readable run record: {exc}") from None


def load_runs(reports_dir: Path) -> list[RunRecord]:
    """Return every run under ``reports_dir``, newest first (unreadable folders skipped).

    Parameters
    ----------
    reports_dir : Path
        The reports root.

    Returns
    -------
    list of RunRecord
        Runs sorted by start time, newest first.
    """
    runs = []
    for path in sorted(Path(reports_dir).glob(f"*/*/{RUN_FILE}")):
        try:
            runs.append(read_run(path))
        except InputError:
            continue
    runs.sort(key=lambda r: (r.started, r.run_id), reverse=True)
    return runs


def reports_lock(reports_dir: Path, timeout_s: float = 120.0) -> Any:
    """Return the lock that guards the ledger and the index of ``reports_dir``.

    Parameters
    ----------
    reports_dir : Path
        The reports root.
    timeout_s : float, default 120
        How long to wait for another ``wb report`` process.

    Returns
    -------
    context manager
        Hold it in a ``with`` block.
    """
    return file_lock(Path(reports_dir) / LOCK_FILE, timeout_s, "reports ledger lock")


def append_ledger(reports_dir: Path, event: str, **fields: Any) -> dict[str, Any]:
    """Append one event to ``ledger.jsonl``; the caller holds :func:`reports_lock`.

    Parameters
    ----------
    reports_dir : Path
        The reports root.
    event : str
        ``claimed`` (a scheduled slot was taken), ``finished`` (a run ended).
    **fields
        The event's data (job, slot, run_id, status ...).

    Returns
    -------
    dict
        The entry written.
    """
    entry = {"event": event, "at": format_time(utc_now()), "pid": os.getpid(), **fields}
    path = Path(reports_dir) / LEDGER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode("utf-8")
    with open(path, "a+b") as handle:  # one write() per line: appends stay whole
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":  # a writer died mid-line: keep its tear on its own line
                line = b"\n" + line
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def read_ledger(reports_dir: Path) -> Iterator[dict[str, Any]]:
    """Yield the ledger's entries in order (a torn or foreign line is skipped).

    Parameters
    ----------
    reports_dir : Path
        The reports root.

    Yields
    ------
    dict
        One entry.
    """
    path = Path(reports_dir) / LEDGER_FILE
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "event" in entry:
                yield entry


def git_commit(repo: Path = PROJECT_DIR) -> str:
    """Return the project's commit, with ``-dirty`` when tracked files changed, or ``unknown``.

    Parameters
    ----------
    repo : Path
        A folder in the work tree.

    Returns
    -------
    str
        For example ``7a516a0c1d2e-dirty``.
    """
    from workbench.gitinfo import git_state

    commit, dirty = git_state(repo)
    if commit is None:
        return "unknown"
    return commit[:12] + ("-dirty" if dirty else "")
