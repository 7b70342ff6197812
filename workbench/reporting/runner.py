"""``run_report``: parameters checked, notebook executed, redacted, rendered, recorded, indexed.

One call makes one run folder ``reports/<name>/<time>-<id>/`` holding the executed notebook,
the self-contained HTML and ``run.json``; appends a ``finished`` entry to the ledger; and
rebuilds ``reports/index.html``. A run whose notebook fails still gets its HTML (with the error
in the header and the failing cell's traceback) and is recorded as failed.

The kernel is a separate process. With the embedded store it opens ``WB_DATA_DIR`` itself, so
this process must not hold that folder open while the report runs (chDB lets one process at
a time open a folder): close your stores first (``store.close()``), or the run is refused with
a message saying so.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.config import settings
from workbench.errors import ReportError
from workbench.reporting.access import embedded_folder_in_use_here
from workbench.reporting.execute import execute_notebook
from workbench.reporting.index import build_index
from workbench.reporting.locks import atomic_write
from workbench.reporting.params import (
    check_parameters,
    format_time,
    is_time_parameter,
    resolve_window,
)
from workbench.reporting.record import RECORD_ENV, read_record
from workbench.reporting.redact import Redactor, redact_notebook
from workbench.reporting.render import ReportHeader, header_html, render_html
from workbench.reporting.runs import (
    RunRecord,
    append_ledger,
    git_commit,
    new_run_folder,
    reports_lock,
    utc_now,
    write_run,
)
from workbench.reporting.templates import load_template

#: A report larger than this gets a warning (plotly.js alone is about 4.8 MB).
WARN_BYTES = 10 * 1024 * 1024
#: Parameters naming a model; their value (a folder under WB_MODELS_DIR) gives the model version.
MODEL_PARAMETERS = ("model", "model_name", "model_dir", "model_path", "model_version")
#: Parameters whose values are account names (replaced when redacting).
ACCOUNT_PARAMETERS = ("user", "username", "account", "login", "target_user")


@dataclass
class RunResult:
    """The outcome of :func:`run_report`.

    Attributes
    ----------
    record : RunRecord
        The run's metadata, as saved in ``run.json``.
    folder : Path
        The run folder.
    """

    record: RunRecord
    folder: Path

    @property
    def ok(self) -> bool:
        """Whether the notebook ran to the end."""
        return self.record.status == "ok"

    @property
    def html_path(self) -> Path:
        """The report's HTML file."""
        return self.folder / self.record.html

    @property
    def notebook_path(self) -> Path:
        """The executed notebook."""
        return self.folder / self.record.notebook


def model_version(parameters: Mapping[str, Any], models_dir: Path) -> str | None:
    """Return the version of the model a report's parameters name, if any.

    Parameters
    ----------
    parameters : mapping
        The run's parameters; the first non-empty of ``model``, ``model_name``, ``model_dir``,
        ``model_path``, ``model_version`` is used.
    models_dir : Path
        Where model folders live when the value is a bare name.

    Returns
    -------
    str or None
        ``"<name> (content <hash>)"`` when the folder has a model card, else the value itself.
    """
    for name in MODEL_PARAMETERS:
        value = parameters.get(name)
        if not value or not isinstance(value, str):
            continue
        folder = Path(value) if os.path.isabs(value) else models_dir / value
        try:
            card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return value
        content = str(card.get("content_hash", ""))[:12]
        return f"{folder.name} (content {content})" if content else folder.name
    return None


def _kernel_env(record_path: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    cfg = settings()
    out = {
        "WB_DATA_DIR": str(cfg.data_dir),
        "WB_REPORTS_DIR": str(cfg.reports_dir),
        "WB_MODELS_DIR": str(cfg.models_dir),
        RECORD_ENV: str(record_path),
        "PLOTLY_RENDERER": "plotly_mimetype",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    out.update({k: str(v) for k, v in (env or {}).items()})
    return out


def _check_store_free(kernel_env: Mapping[str, str]) -> None:
    if kernel_env.get("WB_CLICKHOUSE_URL", os.environ.get("WB_CLICKHOUSE_URL")):
        return
    folder = Path(kernel_env["WB_DATA_DIR"])
    if embedded_folder_in_use_here(folder):
        raise ReportError(
            f"this process has the embedded store {folder} open, and the report's kernel (another "
            "process) cannot open it at the same time: close the stores (store.close()) first"
        )


def _fallback_html(header: ReportHeader) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\"><title>report</title></head><body>"
        f"{header_html(header)}</body></html>"
    )


def run_report(
    template: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    redact: bool = False,
    reports_dir: str | Path | None = None,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    start_timeout_s: float = 60.0,
    cell_timeout_s: float = 900.0,
    templates_dir: Path | None = None,
    job: str | None = None,
    slot: str | None = None,
) -> RunResult:
    """Run a report template and save its notebook, HTML and metadata in a new run folder.

    Parameters
    ----------
    template : str or Path
        Template name (``traffic_overview``) or path to a notebook.
    parameters : mapping, optional
        Values for the template's parameters (text is converted to the declared types).
        Window bounds (``start``, ``end``, ``*_start``, ``*_end``) may be relative (``-24h``)
        and are resolved against ``now``.
    redact : bool, default False
        Replace IPs, e-mail addresses and account names by keyed pseudonyms (key in
        ``WB_REDACT_KEY``) in everything saved.
    reports_dir : str or Path, optional
        Reports root (``WB_REPORTS_DIR``, default ``./reports``).
    now : datetime, optional
        Reference time for relative windows (a schedule's slot); the current time by default.
    env : mapping, optional
        Extra environment for the kernel (for example another ``WB_DATA_DIR``).
    start_timeout_s : float, default 60
        Kernel start-up timeout.
    cell_timeout_s : float, default 900
        Per-cell timeout.
    templates_dir : Path, optional
        Where template names are looked up.
    job, slot : str, optional
        The schedule job and slot, recorded with the run.

    Returns
    -------
    RunResult
        The run's metadata and folder; ``result.ok`` is False for a failed run.

    Raises
    ------
    InputError
        When a parameter is unknown, secret-like or of the wrong type, or the template is
        malformed.
    ConfigError
        When ``redact`` is asked without a usable ``WB_REDACT_KEY``.
    ReportError
        When the template does not exist, or this process holds the embedded store open.
    """
    began = time.perf_counter()
    started = utc_now()
    tmpl = load_template(template, templates_dir)
    given = check_parameters(dict(parameters or {}), tmpl.parameters, tmpl.name)
    redact = bool(redact or given.get("redact") is True)
    if "redact" in tmpl.parameters:
        given["redact"] = redact
    full = resolve_window({**tmpl.parameters, **given}, now or started)
    redactor = Redactor.from_env() if redact else None
    root = Path(reports_dir) if reports_dir else settings().reports_dir
    private = Path(tempfile.mkdtemp(prefix="wb-run-"))
    try:
        kernel_env = _kernel_env(private / "record.json", env)
        _check_store_free(kernel_env)
        run_id, folder = new_run_folder(root.resolve(), tmpl.name, started)
        window = {
            k: v for k, v in full.items() if is_time_parameter(k) and isinstance(v, str) and v
        }
        record = RunRecord(
            run_id=run_id, name=tmpl.name, template=str(tmpl.path), status="running",
            # redacted values are known only once the notebook has run (accounts it shows)
            started=format_time(started), parameters={} if redactor else full,
            window={} if redactor else window, redacted=redact,
            git_commit=git_commit(), job=job, slot=slot,
            html=f"{tmpl.name}.html", notebook=f"{tmpl.name}.ipynb",
        )  # fmt: skip
        write_run(folder, record)
        execution = execute_notebook(
            tmpl.path, full, env=kernel_env,
            start_timeout_s=start_timeout_s, cell_timeout_s=cell_timeout_s,
        )  # fmt: skip
        recorded = read_record(private / "record.json")
    finally:
        shutil.rmtree(private, ignore_errors=True)
    notebook, error, warnings = execution.notebook, execution.error, []
    headline, context = recorded["headline"], recorded["context"]
    if redactor is not None:
        redactor.add_accounts(str(v) for k, v in full.items() if k in ACCOUNT_PARAMETERS and v)
        for kind, values in recorded["sensitive"].items():
            redactor.add_accounts(values if kind == "account" else [])
        notebook, warnings = redact_notebook(notebook, redactor)
        headline, context = redactor.value(headline), redactor.value(context)
        error = redactor.text(error) if error else None
        record.parameters, record.window = redactor.value(full), redactor.value(window)
    record.status = execution.status
    record.error, record.headline, record.context = error, headline, context
    record.model_version = context.get("model_version") or model_version(
        full, settings().models_dir
    )
    if redactor is not None and record.model_version:
        record.model_version = redactor.text(record.model_version)
    record.warnings = warnings
    header = ReportHeader(
        title=tmpl.description or tmpl.name, name=tmpl.name, status=record.status,
        started=record.started, duration_s=time.perf_counter() - began,
        parameters=record.parameters, window=record.window, git_commit=record.git_commit,
        model_version=record.model_version, context=context, headline=headline, error=error,
        redacted=redact, notebook_file=record.notebook, warnings=warnings,
    )  # fmt: skip
    try:
        page = render_html(notebook, header)
    except Exception as exc:  # noqa: BLE001 - a run must still produce its HTML
        header.status = record.status = "failed"
        header.error = record.error = f"rendering failed: {type(exc).__name__}: {exc}"[:400]
        page = _fallback_html(header)
    import nbformat

    nbformat.write(nbformat.from_dict(notebook), str(folder / record.notebook))
    atomic_write(folder / record.html, page)
    record.html_bytes = (folder / record.html).stat().st_size
    if record.html_bytes > WARN_BYTES:
        record.warnings.append(
            f"the report is {record.html_bytes / 2**20:.1f} MB (over 10 MB): lower `limit`, "
            "shorten the window or show fewer figures"
        )
    finished = utc_now()
    record.finished = format_time(finished)
    record.duration_s = round(time.perf_counter() - began, 3)
    write_run(folder, record)
    with reports_lock(root):
        append_ledger(
            root, "finished", run_id=run_id, name=tmpl.name, status=record.status,
            folder=str(folder.relative_to(root.resolve())), job=job, slot=slot,
        )  # fmt: skip
        build_index(root)
    return RunResult(record=record, folder=folder)
