"""Scheduled reports: ``schedules.yaml`` jobs, due slots, the run ledger, crontab lines.

A job names a template, a cron expression (UTC) and parameters whose windows are relative
(``start: -24h``, ``end: now``). ``wb report due``, run every few minutes from cron, works out
for each job the latest slot at or before now; if the ledger has no claim for that slot or a
later one, it claims it and runs the report with windows resolved against the slot time (so
the 06:00 run of a daily job covers the 24 hours before 06:00 whenever it actually starts).

- Catch-up: after downtime only the latest missed slot of a job runs, not every one missed.
  A job never run before runs its latest slot on the first ``due``.
- Exactly once: slots are claimed under the reports lock (``reports/.reports.lock``), so two
  ``due`` processes started together split the work and never run one slot twice. A claimed
  slot is not retried if its run fails or the process is killed; the next slot runs normally.
- Isolation: runs go in parallel up to ``workers``; one failing (even before its kernel
  starts) is recorded as failed and does not stop the others. With the embedded store the
  kernels take turns on the data folder (see ``access.py``); a server store serves them at once.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from workbench.config import settings
from workbench.errors import InputError, WorkbenchError
from workbench.reporting.params import check_parameter_name
from workbench.reporting.runner import run_report
from workbench.reporting.runs import append_ledger, read_ledger, reports_lock, utc_now
from workbench.timespec import format_time, parse_time

_JOB_KEYS = {"name", "template", "cron", "parameters", "redact", "description"}
#: Non-secret settings a crontab line passes on, so cron runs see the same store and folders.
_PASSED_ON = ("WB_DATA_DIR", "WB_DATABASE", "WB_REPORTS_DIR", "WB_MODELS_DIR",
              "WB_CLICKHOUSE_URL", "WB_CLICKHOUSE_USER", "WB_CLICKHOUSE_CLUSTER")  # fmt: skip


@dataclass(frozen=True)
class Job:
    """One scheduled report.

    Attributes
    ----------
    name : str
        Unique job name.
    template : str
        Template name, or a notebook path (absolute, or relative to the schedules file).
    cron : str
        Five-field cron expression, in UTC.
    parameters : dict
        Template parameters; windows relative to the slot time.
    redact : bool
        Run with ``--redact``.
    description : str
        Free text.
    """

    name: str
    template: str
    cron: str
    parameters: dict[str, Any] = field(default_factory=dict)
    redact: bool = False
    description: str = ""


@dataclass(frozen=True)
class DueRun:
    """What happened to one due slot.

    Attributes
    ----------
    job : str
        Job name.
    slot : str
        The slot (ISO 8601 UTC).
    status : str
        ``ok`` or ``failed``.
    folder : Path or None
        The run folder (None when the run could not start).
    error : str or None
        What failed.
    """

    job: str
    slot: str
    status: str
    folder: Path | None = None
    error: str | None = None


def load_schedules(path: str | Path) -> list[Job]:
    """Read and check a schedules file.

    Parameters
    ----------
    path : str or Path
        YAML with a ``jobs`` list; each job has ``name``, ``template``, ``cron`` and optional
        ``parameters``, ``redact``, ``description``.

    Returns
    -------
    list of Job
        The jobs, in file order.

    Raises
    ------
    InputError
        When the file is missing or malformed: the message names the job and the field.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"schedules file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise InputError(f"{path} must hold a mapping with a `jobs:` list")
    jobs: list[Job] = []
    for number, raw in enumerate(data["jobs"], 1):
        where = f"{path}: job {number}"
        if not isinstance(raw, dict):
            raise InputError(f"{where} must be a mapping")
        unknown = sorted(set(raw) - _JOB_KEYS)
        if unknown:
            raise InputError(f"{where} has unknown field(s) {', '.join(unknown)}")
        for key in ("name", "template", "cron"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise InputError(f"{where} needs `{key}` (text)")
        name = check_parameter_name(raw["name"], f"{where}: job")
        where = f"{path}: job {name!r}"
        if any(j.name == name for j in jobs):
            raise InputError(f"{where} is defined twice")
        if not croniter.is_valid(raw["cron"]) or len(raw["cron"].split()) != 5:
            raise InputError(f"{where}: `cron` {raw['cron']!r} is not a 5-field cron expression")
        params = raw.get("parameters") or {}
        if not isinstance(params, dict):
            raise InputError(f"{where}: `parameters` must be a mapping")
        for key in params:
            check_parameter_name(str(key), f"{where}: parameter")
        if not isinstance(raw.get("redact", False), bool):
            raise InputError(f"{where}: `redact` must be true or false")
        template = raw["template"].strip()
        if template.endswith(".ipynb") and not Path(template).is_absolute():
            template = str((path.parent / template).resolve())
        jobs.append(
            Job(name=name, template=template, cron=raw["cron"].strip(), parameters=dict(params),
                redact=bool(raw.get("redact", False)), description=str(raw.get("description", "")))
        )  # fmt: skip
    return jobs


def latest_slot(cron: str, now: dt.datetime) -> dt.datetime:
    """Return the latest time at or before ``now`` that ``cron`` fires (UTC).

    Parameters
    ----------
    cron : str
        Cron expression.
    now : datetime
        The reference time.

    Returns
    -------
    datetime
        Aware UTC slot time.
    """
    base = parse_time(now, now).replace(microsecond=0) + dt.timedelta(seconds=1)
    return croniter(cron, base).get_prev(dt.datetime).astimezone(dt.UTC)


def next_slot(cron: str, now: dt.datetime) -> dt.datetime:
    """Return the first time after ``now`` that ``cron`` fires (UTC).

    Parameters
    ----------
    cron : str
        Cron expression.
    now : datetime
        The reference time.

    Returns
    -------
    datetime
        Aware UTC slot time.
    """
    return croniter(cron, parse_time(now, now)).get_next(dt.datetime).astimezone(dt.UTC)


def last_claims(reports_dir: Path) -> dict[str, dict[str, Any]]:
    """Return, per job, the ledger's latest claimed slot and how its run ended.

    Parameters
    ----------
    reports_dir : Path
        The reports root.

    Returns
    -------
    dict
        Job name to ``{"slot": ..., "status": ..., "run_id": ...}``.
    """
    claims: dict[str, dict[str, Any]] = {}
    for entry in read_ledger(reports_dir):
        job, slot = entry.get("job"), entry.get("slot")
        if not job or not slot:
            continue
        if entry["event"] == "claimed" and slot >= claims.get(job, {}).get("slot", ""):
            claims[job] = {"slot": slot, "status": "claimed", "run_id": None}
        elif entry["event"] == "finished" and claims.get(job, {}).get("slot") == slot:
            claims[job].update(status=entry.get("status"), run_id=entry.get("run_id"))
    return claims


def claim_due(
    jobs: list[Job], reports_dir: Path, now: dt.datetime
) -> list[tuple[Job, dt.datetime]]:
    """Claim, in the ledger, each job's latest slot at or before ``now`` not claimed yet.

    Parameters
    ----------
    jobs : list of Job
        The schedule.
    reports_dir : Path
        The reports root (ledger and lock).
    now : datetime
        The current time.

    Returns
    -------
    list of (Job, datetime)
        What this caller must run; no other caller gets the same slot.
    """
    due = []
    with reports_lock(reports_dir):
        claims = last_claims(reports_dir)
        for job in jobs:
            slot = format_time(latest_slot(job.cron, now))
            if claims.get(job.name, {}).get("slot", "") >= slot:
                continue
            append_ledger(reports_dir, "claimed", job=job.name, slot=slot)
            due.append((job, parse_time(slot, now)))
    return due


def run_due(
    schedules: str | Path,
    *,
    now: dt.datetime | None = None,
    workers: int = 1,
    reports_dir: str | Path | None = None,
    on_done: Callable[[DueRun], None] | None = None,
    **run_options: Any,
) -> list[DueRun]:
    """Run every job whose latest slot has not run yet, ``workers`` at a time.

    Parameters
    ----------
    schedules : str or Path
        The schedules file.
    now : datetime, optional
        The current time (for tests and back-fills); the clock by default.
    workers : int, default 1
        Reports run at once (1 to 16).
    reports_dir : str or Path, optional
        Reports root (``WB_REPORTS_DIR`` by default).
    on_done : callable, optional
        Called with each :class:`DueRun` as it ends (progress display).
    **run_options
        Passed to :func:`~workbench.reporting.runner.run_report` (timeouts, ``env`` ...).

    Returns
    -------
    list of DueRun
        One per slot run, in the order they ended.

    Raises
    ------
    InputError
        When the schedules file is malformed or ``workers`` is out of range.
    """
    if not 1 <= int(workers) <= 16:
        raise InputError(f"--workers must be between 1 and 16, got {workers}")
    jobs = load_schedules(schedules)
    root = Path(reports_dir) if reports_dir else settings().reports_dir
    root.mkdir(parents=True, exist_ok=True)
    due = claim_due(jobs, root, now or utc_now())

    def one(job: Job, slot: dt.datetime) -> DueRun:
        stamp = format_time(slot)
        try:
            result = run_report(
                job.template, job.parameters, redact=job.redact, reports_dir=root, now=slot,
                job=job.name, slot=stamp, **run_options,
            )  # fmt: skip
            return DueRun(job.name, stamp, result.record.status, result.folder, result.record.error)
        except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the others
            error = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
            with reports_lock(root):
                append_ledger(
                    root, "finished", job=job.name, slot=stamp, status="failed", error=error
                )
            return DueRun(job.name, stamp, "failed", None, error)

    outcomes: list[DueRun] = []
    with ThreadPoolExecutor(max_workers=int(workers), thread_name_prefix="wb-report") as pool:
        futures = [pool.submit(one, job, slot) for job, slot in due]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
    return outcomes


def _wb_command() -> str:
    script = Path(sys.executable).with_name("wb")
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m workbench.cli"


def crontab_lines(
    schedules: str | Path,
    *,
    every: str = "*/5 * * * *",
    workers: int = 2,
    workdir: str | Path | None = None,
    environ: dict[str, str] | None = None,
) -> list[str]:
    """Return crontab lines that run ``wb report due`` for a schedules file.

    One line is enough whatever the jobs: ``due`` decides what to run, so the jobs' own cron
    expressions apply with the resolution of ``every``.

    Parameters
    ----------
    schedules : str or Path
        The schedules file (checked).
    every : str, default "*/5 * * * *"
        How often cron starts ``wb report due``.
    workers : int, default 2
        ``--workers`` of the ``due`` command.
    workdir : str or Path, optional
        Folder the command runs in (the current one by default); a ``.env`` there is sourced
        for secrets such as ``WB_REDACT_KEY``, which never go in the crontab.
    environ : dict, optional
        Environment to take ``WB_*`` settings from (``os.environ`` by default).

    Returns
    -------
    list of str
        Comment lines and the crontab entry.

    Raises
    ------
    InputError
        When the schedules file or ``every`` is malformed.
    """
    path = Path(schedules).resolve()
    jobs = load_schedules(path)
    if not croniter.is_valid(every) or len(every.split()) != 5:
        raise InputError(f"{every!r} is not a 5-field cron expression")
    cwd = Path(workdir or Path.cwd()).resolve()
    env = os.environ if environ is None else environ
    cfg = settings()
    values = {"WB_DATA_DIR": str(cfg.data_dir), "WB_REPORTS_DIR": str(cfg.reports_dir),
              "WB_MODELS_DIR": str(cfg.models_dir)}  # fmt: skip
    values.update({k: env[k] for k in _PASSED_ON if env.get(k)})
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in values.items())
    log = shlex.quote(str(Path(values["WB_REPORTS_DIR"]) / "cron.log"))
    command = (
        f"cd {shlex.quote(str(cwd))} && {{ [ ! -f .env ] || {{ set -a; . ./.env; set +a; }}; }} && "
        f"{assignments} {_wb_command()} report due --schedules {shlex.quote(str(path))} "
        f"--workers {int(workers)} >> {log} 2>&1"
    )
    lines = [
        f"# workbench scheduled reports from {path}",
        "# `wb report due` runs each job's latest slot once; cron times are UTC.",
        "# Secrets (WB_REDACT_KEY, WB_CLICKHOUSE_PASSWORD) come from .env in the work folder.",
    ]
    lines += [f"#   {j.name}: {j.cron} -> {j.template}" for j in jobs]
    lines.append(f"{every} {command}")
    return lines
