"""Run the detectors over a window and write their alerts: what ``wb alerts build`` does.

Each detector is a function ``(store, window, **thresholds) -> alert rows``; the registry
below names them, says which alert detectors each emits (first-seen emits three) and which
share the per-user-day features, computed once per run.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.detect.alerts import alert_frame, write_alerts
from workbench.detect.anomalies import detect_user_day_anomalies
from workbench.detect.credential import detect_brute_force, detect_password_spraying
from workbench.detect.escalation import detect_privilege_escalation
from workbench.detect.novelty import detect_dormant_account, detect_first_seen, detect_off_hours
from workbench.detect.peers import detect_peer_deviation
from workbench.detect.travel import detect_impossible_travel
from workbench.detect.userdays import user_day_features
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store


@dataclass(frozen=True)
class Detector:
    """One detector in the registry.

    Attributes
    ----------
    name : str
        Name used on the command line and in options.
    function : callable
        ``function(store, window, **thresholds)`` returning alert rows.
    emits : tuple of str
        Values of ``Detector`` its alert rows carry.
    uses_user_days : bool
        Takes the shared per-user-day features as ``user_days=``.
    """

    name: str
    function: Callable[..., pd.DataFrame]
    emits: tuple[str, ...]
    uses_user_days: bool = False

    def parameters(self) -> dict[str, Any]:
        """Return the detector's thresholds and their defaults."""
        signature = inspect.signature(self.function)
        skip = {"store", "window", "user_days"}
        return {n: p.default for n, p in signature.parameters.items() if n not in skip}


DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        Detector("brute_force", detect_brute_force, ("brute_force",)),
        Detector("password_spraying", detect_password_spraying, ("password_spraying",)),
        Detector("impossible_travel", detect_impossible_travel, ("impossible_travel",)),
        Detector(
            "first_seen",
            detect_first_seen,
            ("first_seen_country", "first_seen_asn", "first_seen_device"),
        ),
        Detector("off_hours", detect_off_hours, ("off_hours",)),
        Detector("dormant_account", detect_dormant_account, ("dormant_account",)),
        Detector("privilege_escalation", detect_privilege_escalation, ("privilege_escalation",)),
        Detector("peer_deviation", detect_peer_deviation, ("peer_deviation",), True),
        Detector("user_day_model", detect_user_day_anomalies, ("user_day_model",), True),
    )
}


@dataclass
class BuildResult:
    """What a build produced.

    Attributes
    ----------
    window : DetectionWindow
        The window that was run.
    alerts : pandas.DataFrame
        All alert rows, ordered by time.
    seconds : dict of str to float
        Time each detector took.
    written : int
        Rows written to the ``alerts`` table (0 when not written).
    """

    window: DetectionWindow
    alerts: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    written: int = 0

    def counts(self) -> pd.DataFrame:
        """Return alerts per detector and severity (detectors with none included)."""
        emitted = [name for d in self.seconds for name in DETECTORS[d].emits]
        table = pd.crosstab(self.alerts["Detector"], self.alerts["Severity"])
        table = table.reindex(index=emitted, fill_value=0)
        for level in ("low", "medium", "high", "critical"):
            if level not in table.columns:
                table[level] = 0
        table = table[["low", "medium", "high", "critical"]].fillna(0).astype(int)
        table["total"] = table.sum(axis=1)
        return table


def check_options(
    detectors: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Validate per-detector threshold overrides.

    Parameters
    ----------
    detectors : sequence of str
        Detectors that will run.
    options : mapping, optional
        ``{detector: {threshold: value}}``.

    Returns
    -------
    dict
        The options, one dict per detector that will run.

    Raises
    ------
    InputError
        For an unknown detector or threshold, or options for a detector that will not run.
    """
    out: dict[str, dict[str, Any]] = {name: {} for name in detectors}
    for name, values in (options or {}).items():
        if name not in DETECTORS:
            raise InputError(f"unknown detector {name!r}; choose from: {', '.join(DETECTORS)}")
        if name not in out:
            raise InputError(f"options given for detector {name!r}, which is not selected")
        allowed = DETECTORS[name].parameters()
        for key, value in values.items():
            if key not in allowed:
                raise InputError(
                    f"detector {name!r} has no threshold {key!r}; it has: {', '.join(allowed)}"
                )
            out[name][key] = value
    return out


def build_alerts(
    store: Store,
    window: DetectionWindow,
    detectors: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    write: bool = True,
    progress: bool = False,
) -> BuildResult:
    """Run detectors over a window and (by default) replace their alerts in the store.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` and ``alerts`` live.
    window : DetectionWindow
        Detection and reference windows (see :func:`~workbench.detect.window.resolve_window`).
    detectors : sequence of str, optional
        Names from :data:`DETECTORS`; all by default.
    options : mapping, optional
        Threshold overrides, ``{detector: {threshold: value}}``.
    write : bool, default True
        Replace the alerts these detectors wrote earlier for the window with the new ones.
    progress : bool, default False
        Show a progress bar on stderr.

    Returns
    -------
    BuildResult
        The alerts, timings and rows written.

    Raises
    ------
    InputError
        For an unknown detector or threshold, or a threshold out of range.
    """
    from tqdm import tqdm

    names = list(detectors) if detectors else list(DETECTORS)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise InputError(f"unknown detector(s) {unknown}; choose from: {', '.join(DETECTORS)}")
    names = list(dict.fromkeys(names))
    settings = check_options(names, options)
    frames, seconds = [], {}
    user_days = None
    for name in tqdm(names, desc="detectors", unit="detector", disable=not progress):
        detector = DETECTORS[name]
        began = time.perf_counter()
        kwargs = dict(settings[name])
        if detector.uses_user_days:
            if user_days is None:
                user_days = user_day_features(store, window)
            kwargs["user_days"] = user_days
        frames.append(detector.function(store, window, **kwargs))
        seconds[name] = time.perf_counter() - began
    rows = [r for f in frames for r in f.to_dict("records")]
    alerts = alert_frame(rows)
    result = BuildResult(window, alerts, seconds)
    if write:
        emitted = [e for n in names for e in DETECTORS[n].emits]
        result.written = write_alerts(store, alerts, window.start, window.end, emitted)
    return result
