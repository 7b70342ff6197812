"""SQL fragments shared by the detectors' queries (constants only: values are always bound).

Every window bound is a ``DateTime64(3)`` parameter named as in
:meth:`~workbench.detect.window.DetectionWindow.parameters`.
"""

from __future__ import annotations

#: Detection window predicate on ``EventTime``.
IN_WINDOW = "EventTime >= {start:DateTime64(3)} AND EventTime < {end:DateTime64(3)}"
#: Reference window predicate on ``EventTime``.
IN_BASELINE = (
    "EventTime >= {baseline_start:DateTime64(3)} AND EventTime < {baseline_end:DateTime64(3)}"
)
#: A successful interactive sign-in of a named account.
IS_LOGIN = "EventType = 'login_success' AND User != ''"
#: Failed password attempts one row stands for: syslog folds repeats into
#: ``message repeated N times: [ Failed password ... ]``, kept verbatim in ``Raw``.
FAILURE_WEIGHT = (
    "if(EventType = 'login_failure', "
    "greatest(toUInt64(1), toUInt64OrZero(extract(Raw, '^[^\\\\[]*\\\\[[0-9]*\\\\]: message repeated ([0-9]+) times'))), "
    "toUInt64(0))"
)
#: Privileged actions: admin role changes and sudo.
IS_PRIVILEGED = "EventType IN ('privilege_change', 'sudo')"
#: Ground truth carried through an aggregate, for evaluation only (never used to decide).
TRUTH = (
    "countIf(label = 'attack') AS attack_events, countIf(label != '') AS labelled_events, "
    "topKIf(3)(campaign, campaign != '') AS campaigns, "
    "arraySort(groupUniqArrayIf(toString(actor), label = 'attack')) AS attack_actors"
)
