"""Open a report in headless Chromium and say what happened: the harness of the browser tests.

Drives Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``.ci/run``) with Playwright's
Python package, pointed at that executable: no browser is downloaded. The page is loaded from
``file://``; every request that is not a local file or inline data is recorded and aborted,
so a report that needs the network fails the check instead of fetching anything.

What :func:`inspect_page` reports:

- ``dialogs``: ``alert``/``confirm``/``prompt`` dialogs opened (each dismissed);
- ``console_errors``: console messages of type error (CSP violations included);
- ``page_errors``: uncaught exceptions;
- ``external_requests``: URLs the page tried to fetch from the network;
- ``xss_flag``: the value of ``window.__xss`` (hostile test payloads set it if they ever run);
- ``plotly_plots``: plotly figures on the page (``.js-plotly-plot`` elements, set by plotly.js
  when it draws one) and ``plotly_svgs``: their ``.main-svg`` layers;
- ``text``: the page's visible text.

Tests mark themselves ``@pytest.mark.browser`` and call :func:`require_browser`, which skips
with a reason when Chromium or Playwright is missing locally; CI has both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--allow-file-access-from-files",
]
_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str | None:
    """Return the Chromium executable (``WB_CHROMIUM`` or ``chromium`` on PATH), if any."""
    for candidate in (os.environ.get("WB_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def require_browser() -> str:
    """Return the Chromium path, or skip the calling test saying what is missing."""
    # In CI (CI=true) a missing browser is a failure, never a skip: .ci/run installs it.
    give_up = pytest.fail if os.environ.get("CI") else pytest.skip
    path = chromium_path()
    if path is None:
        give_up("headless Chromium not found: install Debian's `chromium` (CI does)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        give_up("the `playwright` Python package is not installed (pip install playwright)")
    return path


@dataclass
class PageReport:
    """What happened when a page was opened (see the module docstring)."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    xss_flag: object = None
    plotly_plots: int = 0
    plotly_svgs: int = 0
    text: str = ""
    seconds: float = 0.0

    def problems(self) -> list[str]:
        """Return every finding that makes a report unsafe or broken."""
        found = [f"dialog opened: {d}" for d in self.dialogs]
        found += [f"console error: {e}" for e in self.console_errors]
        found += [f"uncaught exception: {e}" for e in self.page_errors]
        found += [f"network request: {u}" for u in self.external_requests]
        if self.xss_flag is not None:
            found.append(f"window.__xss was set to {self.xss_flag!r}: injected script ran")
        return found


def inspect_page(
    path: str | Path,
    *,
    expect_plotly: int = 0,
    timeout_s: float = 30.0,
    settle_s: float = 0.5,
) -> PageReport:
    """Open ``path`` in headless Chromium and report dialogs, errors, requests and figures.

    Parameters
    ----------
    path : str or Path
        An HTML file.
    expect_plotly : int, default 0
        Wait until at least this many plotly figures have drawn their SVG (or ``timeout_s``
        passes).
    timeout_s : float, default 30
        Longest wait for the page and its figures.
    settle_s : float, default 0.5
        Extra wait after loading, for late errors.

    Returns
    -------
    PageReport
        The findings.
    """
    from playwright.sync_api import sync_playwright

    executable = require_browser()
    report = PageReport()
    began = time.perf_counter()
    profile = tempfile.mkdtemp(prefix="wb-chromium-")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, args=CHROMIUM_FLAGS, headless=True,
                timeout=timeout_s * 1000, env={**os.environ, "HOME": profile},
            )  # fmt: skip
            try:
                context = browser.new_context(java_script_enabled=True, offline=False)
                page = context.new_page()

                def on_dialog(dialog) -> None:  # noqa: ANN001 - playwright Dialog
                    report.dialogs.append(f"{dialog.type}: {dialog.message}")
                    dialog.dismiss()

                def on_route(route) -> None:  # noqa: ANN001 - playwright Route
                    url = route.request.url
                    if url.startswith(_LOCAL_SCHEMES):
                        route.continue_()
                    else:
                        report.external_requests.append(url)
                        route.abort()

                page.on("dialog", on_dialog)
                page.on(
                    "console",
                    lambda m: report.console_errors.append(m.text) if m.type == "error" else None,
                )
                page.on("pageerror", lambda e: report.page_errors.append(str(e)))
                context.route("**/*", on_route)
                page.goto(
                    Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000
                )
                if expect_plotly:
                    try:
                        page.wait_for_function(
                            "n => { const p = document.querySelectorAll('.js-plotly-plot');"
                            " return p.length >= n && [...p].every(e => e.querySelector('.main-svg')); }",
                            arg=expect_plotly, timeout=timeout_s * 1000,
                        )  # fmt: skip
                    except Exception:  # noqa: BLE001, S110 - the count below tells the test
                        pass
                page.wait_for_timeout(settle_s * 1000)
                report.xss_flag = page.evaluate(
                    "() => window.__xss === undefined ? null : window.__xss"
                )
                report.plotly_plots = page.evaluate(
                    "() => document.querySelectorAll('.js-plotly-plot').length"
                )
                report.plotly_svgs = page.evaluate(
                    "() => document.querySelectorAll('.js-plotly-plot .main-svg').length"
                )
                report.text = page.evaluate("() => document.body ? document.body.innerText : ''")
            finally:
                browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    report.seconds = time.perf_counter() - began
    return report
