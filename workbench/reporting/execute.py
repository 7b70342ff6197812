"""Run a report template with papermill in a kernel of its own.

Each run gets a fresh ``python3`` kernel (the interpreter running ``wb``, so the project's
environment) with:

- its own environment, given by the caller (where the store is, the side file for
  :func:`workbench.reporting.record`), without touching this process's ``os.environ``, so
  several runs can go at once from threads;
- IPC (Unix socket) transport in a private temporary folder instead of TCP ports, so kernels
  started at the same time cannot collide on a port;
- a start-up timeout and a per-cell timeout.

A failure (a cell raising, a timeout, a kernel that never starts or dies) does not raise:
the result says ``failed`` and carries the notebook as far as it ran, with the error in it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict
from traitlets.config import Config

#: Kernel used for every run: jupyter_client maps it to the running interpreter.
KERNEL_NAME = "python3"
_LOG = logging.getLogger(__name__)


class ReportKernelManager(AsyncKernelManager):
    """A kernel manager that adds ``extra_env`` to the kernel's environment."""

    extra_env = Dict(help="Variables added to the kernel's environment.").tag(config=True)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        env = dict(kw.pop("env", None) or os.environ)
        env.update(self.extra_env)
        kw["env"] = env
        return await super()._async_pre_start_kernel(**kw)


@dataclass
class Execution:
    """What running a notebook gave.

    Attributes
    ----------
    notebook : nbformat.NotebookNode
        The executed notebook, as far as it ran (the parameterized input if the kernel never
        started).
    status : str
        ``"ok"`` or ``"failed"``.
    error : str or None
        One line saying what failed.
    seconds : float
        Wall time of the execution.
    """

    notebook: Any
    status: str
    error: str | None
    seconds: float


def _describe(exc: BaseException, start_timeout_s: float, cell_timeout_s: float) -> str:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        value = (exc.evalue or "").strip().splitlines()
        detail = f": {value[0][:300]}" if value else ""
        return f"cell {exc.exec_count} raised {exc.ename}{detail}"
    if isinstance(exc, CellTimeoutError):
        return f"a cell ran past the per-cell timeout of {cell_timeout_s:g} s"
    if isinstance(exc, DeadKernelError):
        return "the kernel died while running the notebook"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Kernel died before replying" in text:
        return f"the kernel died while starting ({text[:200]})"
    if "didn't respond" in text:
        return f"the kernel did not start within {start_timeout_s:g} s ({text[:200]})"
    return f"{type(exc).__name__}: {text[:300]}"


def execute_notebook(
    input_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    start_timeout_s: float = 60.0,
    cell_timeout_s: float = 900.0,
) -> Execution:
    """Execute a notebook with papermill in a fresh kernel and return it, failed or not.

    Parameters
    ----------
    input_path : str or Path
        The template (one cell tagged ``parameters``).
    parameters : mapping, optional
        Values papermill injects after the ``parameters`` cell.
    env : mapping, optional
        Variables set in the kernel's environment on top of this process's.
    cwd : str or Path, optional
        The kernel's working folder (this process's by default).
    start_timeout_s : float, default 60
        How long to wait for the kernel to start.
    cell_timeout_s : float, default 900
        How long one cell may run.

    Returns
    -------
    Execution
        The executed notebook, its status, the error line and the duration.
    """
    import nbformat
    import papermill

    private = Path(tempfile.mkdtemp(prefix="wbk-"))  # mode 0700: partial output, sockets
    output = private / "executed.ipynb"
    config = Config()
    config.ReportKernelManager.extra_env = {k: str(v) for k, v in (env or {}).items()}
    config.ReportKernelManager.transport = "ipc"
    config.ReportKernelManager.ip = str(private / "kernel")
    began = time.perf_counter()
    status, error = "ok", None
    try:
        papermill.execute_notebook(
            str(input_path),
            str(output),
            parameters=dict(parameters or {}),
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            start_timeout=int(max(1, start_timeout_s)),
            execution_timeout=int(max(1, cell_timeout_s)),
            cwd=str(cwd) if cwd else None,
            kernel_manager_class=ReportKernelManager,
            config=config,
        )
    except Exception as exc:  # noqa: BLE001 - any failure is reported in the run, not raised
        status, error = "failed", _describe(exc, start_timeout_s, cell_timeout_s)
        _LOG.info("report notebook %s failed: %s", input_path, error)
    seconds = time.perf_counter() - began
    try:
        if output.exists():
            notebook = nbformat.read(output, as_version=4)
        else:
            notebook = papermill.execute_notebook(
                str(input_path), None, parameters=dict(parameters or {}),
                kernel_name=KERNEL_NAME, prepare_only=True, progress_bar=False,
            )  # fmt: skip
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return Execution(notebook=notebook, status=status, error=error, seconds=seconds)
