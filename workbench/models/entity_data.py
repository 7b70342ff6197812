"""Labelled entity tables and leak-free splits for the entity models.

An entity (a ``ClientIP`` by default; any request entity of the features registry) is
labelled from the ground-truth columns of its requests in the window:

* target ``y = 1`` (automated) when **most** of its labelled requests are automated
  (``bad_bot`` or ``good_bot``: Cloudflare's bot score puts verified crawlers at the
  automated end too; they are let through by ``VerifiedBotCategory``, not by the score),
  ``y = 0`` (human) otherwise; ``label_rule="any"`` makes one automated request enough;
  ``y = -1`` when none of its requests carries a known label;
* ``actor`` is the commonest actor among the requests on the entity's side (automated or
  human), ``campaign`` the commonest campaign among its automated requests (humans have no
  campaign: the synthetic ``campaign = 'human'`` is a label, not a campaign) and
  ``attack_class`` the commonest non-empty attack class ('' when none).

Splits (:func:`split_entities`) never put one campaign, or one entity, on two sides:

* ``campaign`` (default): each actor's campaigns are shuffled with the seed and dealt to
  test and validation first (at least one each when the actor has three or more), the rest
  to training; entities without a campaign (humans) are split by entity with
  :func:`workbench.features.split_by_group`, separately per class;
* ``time``: the window is cut in time (features computed per part), an entity may recur;
* ``time_campaign``: cut in time, then entities of a later part whose campaign or key
  appeared in an earlier part are dropped (linked with :func:`workbench.features.group_ids`);
* ``random``: stratified by class, ignoring campaigns (leaky; for comparison only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError, WorkbenchError
from workbench.features import build_entity_features, group_ids, resolve_entity, split_by_group
from workbench.features.entity import window_parameters
from workbench.features.registry import EntityKind
from workbench.store.base import Store
from workbench.store.identifiers import check_identifier

#: Ground-truth ``label`` values and their target (1 = automated).
LABEL_TARGETS: dict[str, int] = {"human": 0, "good_bot": 1, "bad_bot": 1}
LABEL_RULES = ("majority", "any")
SPLITS = ("campaign", "time", "time_campaign", "random")
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)
SIDES = ("train", "validation", "test")
#: Columns added next to the features.
LABEL_COLUMNS = ("y", "labelled_requests", "automated_share", "actor", "campaign", "attack_class")


def entity_labels_sql(kind: EntityKind) -> str:
    """Return the SQL counting requests per entity and ground-truth value in a window.

    The statement binds ``{start:DateTime64(3, 'UTC')}`` and ``{end:DateTime64(3, 'UTC')}``;
    its rows are ``keys..., label, actor, campaign, attack_class, n``.
    """
    if kind.table != "http_requests":
        raise InputError(f"entity {kind.name!r} is not a request entity; labels need requests")
    keys = ", ".join(check_identifier(k) for k in kind.keys)
    ts = check_identifier(kind.time_column)
    where = f"{ts} >= {{start:DateTime64(3, 'UTC')}} AND {ts} < {{end:DateTime64(3, 'UTC')}}"
    if kind.skip_empty:
        where += "".join(f" AND {check_identifier(k)} != ''" for k in kind.keys)
    return (
        f"SELECT {keys}, toString(label) AS label, toString(actor) AS actor, campaign, "
        "toString(attack_class) AS attack_class, count() AS n\n"
        f"FROM http_requests\nWHERE {where}\n"
        f"GROUP BY {keys}, label, actor, campaign, attack_class"
    )


def _majority(rows: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    """Commonest value of ``column`` per entity, weighted by ``n`` (ties: smallest value)."""
    if rows.empty:
        return pd.Series(dtype=object)
    sums = rows.groupby([*keys, column], sort=False, observed=True)["n"].sum().reset_index()
    sums = sums.sort_values(["n", column], ascending=[False, True], kind="stable")
    top = sums.drop_duplicates(keys, keep="first")
    return top.set_index(keys)[column]


def label_entities(
    counts: pd.DataFrame, keys: Sequence[str], rule: str = "majority"
) -> pd.DataFrame:
    """Turn per-entity ground-truth counts into one labelled row per entity.

    Parameters
    ----------
    counts : pandas.DataFrame
        Rows of :func:`entity_labels_sql`.
    keys : sequence of str
        The entity key columns.
    rule : {"majority", "any"}, default "majority"
        When an entity counts as automated.

    Returns
    -------
    pandas.DataFrame
        Keys and :data:`LABEL_COLUMNS`.
    """
    if rule not in LABEL_RULES:
        raise InputError(f"label_rule must be one of {LABEL_RULES}, not {rule!r}")
    keys = list(keys)
    c = counts.copy()
    c["n"] = c["n"].astype(np.int64)
    target = c["label"].map(LABEL_TARGETS)
    c["auto_n"] = np.where(target == 1, c["n"], 0)
    c["known_n"] = np.where(target.notna(), c["n"], 0)
    per = c.groupby(keys, sort=True, observed=True)[["n", "auto_n", "known_n"]].sum()
    known = per["known_n"].to_numpy()
    auto = per["auto_n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(known > 0, auto / np.maximum(known, 1), np.nan)
    y = np.where(known == 0, -1, (share > 0.5) if rule == "majority" else (auto > 0))
    out = pd.DataFrame(
        {
            "y": y.astype(np.int8),
            "labelled_requests": known,
            "automated_share": share,
        },
        index=per.index,
    )
    side = c.join(out["y"], on=keys)
    on_side = side[target.fillna(-2).to_numpy() == side["y"].to_numpy()]
    out["actor"] = _majority(on_side, keys, "actor").reindex(out.index).fillna("")
    automated = side[(target == 1).to_numpy() & (side["y"] == 1).to_numpy()]
    automated = automated[automated["campaign"] != ""]
    out["campaign"] = _majority(automated, keys, "campaign").reindex(out.index).fillna("")
    attacks = c[c["attack_class"] != ""]
    out["attack_class"] = _majority(attacks, keys, "attack_class").reindex(out.index).fillna("")
    return out.reset_index()


def entity_training_frame(
    store: Store,
    entity: str | EntityKind,
    start: Any,
    end: Any,
    features: Sequence[str] | None = None,
    label_rule: str = "majority",
) -> pd.DataFrame:
    """Compute entity features in ClickHouse and attach each entity's ground truth.

    Parameters
    ----------
    store : Store
        Where ``http_requests`` is.
    entity : str or EntityKind
        A request entity (``ip``, ``ja4``, ``user_agent`` ...).
    start, end : datetime or ISO-8601 str
        Window, UTC; ``start`` inclusive, ``end`` exclusive.
    features : sequence of str, optional
        Feature names (all of the entity's when omitted).
    label_rule : {"majority", "any"}, default "majority"

    Returns
    -------
    pandas.DataFrame
        Keys, features, then :data:`LABEL_COLUMNS`; one row per entity, sorted by key.

    Raises
    ------
    InputError
        Bad entity, features or window, or no requests in the window.
    """
    kind = resolve_entity(entity)
    window = window_parameters(start, end)
    feats = build_entity_features(store, kind, window["start"], window["end"], features)
    if feats.empty:
        raise InputError(
            f"no {kind.name} entities between {window['start']} and {window['end']}; "
            "is the window right and the data loaded?"
        )
    counts = store.query_df(entity_labels_sql(kind), window)
    labels = label_entities(counts, kind.keys, label_rule)
    keys = list(kind.keys)
    for key in keys:  # the same key type on both sides of the join
        labels[key] = labels[key].astype(feats[key].dtype)
    frame = feats.merge(labels, on=keys, how="left", validate="one_to_one")
    frame["y"] = frame["y"].fillna(-1).astype(np.int8)
    for col in ("actor", "campaign", "attack_class"):
        frame[col] = frame[col].fillna("").astype(object)
    return frame


def time_windows(start: Any, end: Any, fractions: Sequence[float]) -> list[tuple[Any, Any]]:
    """Cut ``[start, end)`` into consecutive parts of the given shares of its duration."""
    window = window_parameters(start, end)
    shares = np.asarray(list(fractions), dtype=float)
    if len(shares) != 3 or (shares <= 0).any() or not np.isclose(shares.sum(), 1.0):
        raise InputError(f"fractions must be three positive shares summing to 1, got {fractions}")
    t0 = pd.Timestamp(window["start"])
    span = pd.Timestamp(window["end"]) - t0
    cuts = [t0 + span * float(c) for c in np.cumsum(shares)[:-1]]
    cuts = [c.floor("ms") for c in cuts]
    bounds = [t0, *cuts, pd.Timestamp(window["end"])]
    return [(bounds[i].to_pydatetime(), bounds[i + 1].to_pydatetime()) for i in range(3)]


@dataclass
class EntitySplit:
    """Train, validation and test entities, and how they were made.

    Attributes
    ----------
    train, validation, test : pandas.DataFrame
        Labelled entity rows.
    how : str
        The split kind.
    keys : list of str
        Entity key columns.
    dropped : dict
        Rows left out, by reason.
    labels : dict
        Where the targets came from (:func:`workbench.labels.apply_label_source` stats:
        ``source``, analyst labels used, how many overrode ground truth ...).
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    how: str
    keys: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=lambda: {"source": "truth"})

    def sides(self) -> dict[str, pd.DataFrame]:
        """Return ``{"train": ..., "validation": ..., "test": ...}``."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def leaks(self) -> dict[str, int]:
        """Count campaigns and entity keys found on more than one side."""
        out = {}
        for what, cols in (("campaigns", ["campaign"]), ("entities", self.keys)):
            seen: dict[Any, set[str]] = {}
            for name, side in self.sides().items():
                if what == "campaigns":
                    values = set(side.loc[side["campaign"] != "", "campaign"])
                else:
                    values = set(map(tuple, side[cols].astype(str).to_numpy().tolist()))
                for v in values:
                    seen.setdefault(v, set()).add(name)
            out[what] = sum(1 for sides in seen.values() if len(sides) > 1)
        return out

    def describe(self) -> dict[str, Any]:
        """Return JSON-ready counts: rows, classes, actors and campaigns per side."""
        out: dict[str, Any] = {
            "how": self.how,
            "dropped": dict(self.dropped),
            "labels": dict(self.labels),
        }
        for name, side in self.sides().items():
            out[name] = {
                "entities": len(side),
                "automated": int((side["y"] == 1).sum()),
                "human": int((side["y"] == 0).sum()),
                "actors": {str(k): int(v) for k, v in side["actor"].value_counts().items()},
                "campaigns": sorted(str(c) for c in set(side["campaign"]) if c),
            }
        out["leaks"] = self.leaks()
        return out


def _deal_campaigns(frame: pd.DataFrame, fractions: np.ndarray, rng: np.random.Generator):
    """Side per row for rows with a campaign: campaigns dealt per actor."""
    side = np.zeros(len(frame), dtype=np.int64)
    for _, rows in frame.groupby("actor", sort=True):
        campaigns = np.array(sorted(set(rows["campaign"])), dtype=object)
        rng.shuffle(campaigns)
        n = len(campaigns)
        sides = np.zeros(n, dtype=np.int64)
        if n >= 3:
            n_test = max(1, int(round(n * fractions[2])))
            n_val = max(1, int(round(n * fractions[1])))
            n_test, n_val = min(n_test, n - 2), min(n_val, n - 1 - min(n_test, n - 2))
            sides[:n_test] = 2
            sides[n_test : n_test + n_val] = 1
        elif n == 2:
            sides[0] = 2
        mapping = dict(zip(campaigns.tolist(), sides.tolist(), strict=True))
        side[frame.index.get_indexer(rows.index)] = rows["campaign"].map(mapping).to_numpy()
    return side


def split_entities(
    frame: pd.DataFrame,
    keys: Sequence[str],
    how: str = "campaign",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> EntitySplit:
    """Split labelled entities with no campaign or entity on two sides.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`entity_training_frame` (a ``window`` column 0/1/2 for the time splits).
    keys : sequence of str
        Entity key columns.
    how : {"campaign", "time", "time_campaign", "random"}, default "campaign"
    fractions : sequence of float, default (0.6, 0.2, 0.2)
        Shares for train, validation, test (of entities without a campaign; of campaigns,
        at least one each, for the campaign split).
    seed : int, default 0

    Returns
    -------
    EntitySplit
        The sides.

    Raises
    ------
    InputError
        On an unknown split or bad fractions; WorkbenchError if a leak is found.
    """
    keys = list(keys)
    if how not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, not {how!r}")
    fr = np.asarray(list(fractions), dtype=float)
    if len(fr) != 3 or (fr <= 0).any() or not np.isclose(fr.sum(), 1.0):
        raise InputError(f"fractions must be three positive shares summing to 1, got {fractions}")
    frame = frame.reset_index(drop=True)
    dropped: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    if how in ("time", "time_campaign"):
        if "window" not in frame.columns:
            raise InputError("time splits need a 'window' column (0, 1, 2) per entity row")
        side = frame["window"].to_numpy(dtype=np.int64)
        if how == "time_campaign":
            linked = frame.assign(_campaign=frame["campaign"], _key=_key_strings(frame, keys))
            gid = group_ids(linked, ["_campaign", "_key"])
            first = np.full(gid.max() + 1 if len(gid) else 0, 3, dtype=np.int64)
            np.minimum.at(first, gid, side)
            leak = side != first[gid]
            dropped["seen_in_an_earlier_part"] = int(leak.sum())
            side = np.where(leak, -1, side)
    elif how == "random":
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(frame))
        y = frame["y"].to_numpy()
        strat = y if np.bincount(y.astype(np.int64) + 1).min(initial=2) >= 3 else None
        rest, test = train_test_split(idx, test_size=fr[2], random_state=seed, stratify=strat)
        strat_rest = y[rest] if strat is not None else None
        train, val = train_test_split(
            rest, test_size=fr[1] / (fr[0] + fr[1]), random_state=seed + 1, stratify=strat_rest
        )
        side = np.zeros(len(frame), dtype=np.int64)
        side[val], side[test] = 1, 2
    else:
        side = np.zeros(len(frame), dtype=np.int64)
        has_campaign = (frame["campaign"] != "").to_numpy()
        with_c = frame[has_campaign]
        if len(with_c):
            side[has_campaign] = _deal_campaigns(with_c, fr, rng)
        rest = frame[~has_campaign]
        for _, part in rest.groupby("y", sort=True):
            pieces = split_by_group(part.assign(_key=_key_strings(part, keys)), "_key", fr, seed)
            for i, piece in enumerate(pieces):
                side[frame.index.get_indexer(piece.index)] = i
    result = EntitySplit(
        *(frame[side == i].reset_index(drop=True) for i in range(3)), how, keys, dropped
    )
    if how in ("campaign", "time_campaign"):
        leaks = result.leaks()
        if any(leaks.values()):
            raise WorkbenchError(f"the {how} split leaks across sides: {leaks}")
    return result


def _key_strings(frame: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    if len(keys) == 1:
        return frame[keys[0]].astype(str)
    return frame[list(keys)].astype(str).agg("\t".join, axis=1)


def split_training_frames(
    store: Store,
    entity: str | EntityKind,
    start: Any,
    end: Any,
    how: str = "campaign",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    features: Sequence[str] | None = None,
    label_rule: str = "majority",
    labels: str = "truth",
) -> EntitySplit:
    """Build the labelled entity table(s) for a window and split them.

    Time splits compute features separately on each part of the window (the parts are
    cut by ``fractions`` of its duration), so no test-time request feeds a training row.
    Targets come from ground truth, analyst verdicts (the ``labels`` table) or both, set
    before the split so the split sees the targets the model is trained on.

    Parameters
    ----------
    store : Store
    entity : str or EntityKind
    start, end : datetime or ISO-8601 str
    how : {"campaign", "time", "time_campaign", "random"}, default "campaign"
    fractions : sequence of float, default (0.6, 0.2, 0.2)
    seed : int, default 0
    features : sequence of str, optional
    label_rule : {"majority", "any"}, default "majority"
    labels : {"truth", "analyst", "both"}, default "truth"
        Target source (:func:`workbench.labels.apply_label_source`): ground truth only,
        each entity's latest analyst verdict only, or verdicts overriding ground truth.

    Returns
    -------
    EntitySplit
        Labelled (and unlabelled, ``y = -1``) entities per side; ``.labels`` says where
        the targets came from.

    Raises
    ------
    InputError
        Bad arguments, no data, or (``labels="analyst"``) too few verdicts of a class.
    """
    from workbench.labels.training import LABEL_SOURCES, apply_label_source

    if labels not in LABEL_SOURCES:
        raise InputError(f"labels must be one of {LABEL_SOURCES}, not {labels!r}")
    kind = resolve_entity(entity)
    if how in ("time", "time_campaign"):
        parts = []
        for i, (lo, hi) in enumerate(time_windows(start, end, fractions)):
            part = entity_training_frame(store, kind, lo, hi, features, label_rule)
            parts.append(part.assign(window=i))
        frame = pd.concat(parts, ignore_index=True)
    else:
        frame = entity_training_frame(store, kind, start, end, features, label_rule)
    frame, stats = apply_label_source(frame, store, kind, labels)
    result = split_entities(frame, kind.keys, how, fractions, seed)
    result.labels = stats
    return result


def feature_columns(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Return the feature columns of an entity table (not keys, labels or the window)."""
    skip = set(keys) | set(LABEL_COLUMNS) | {"window"}
    return [c for c in frame.columns if c not in skip]


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the rows with a known target (``y`` 0 or 1)."""
    return frame[frame["y"] >= 0]


def label_targets_description(
    rule: str, targets: Mapping[str, int] = LABEL_TARGETS, source: str = "truth"
) -> dict:
    """Return how targets were made, for ``features.json`` and ``metrics.json``.

    Parameters
    ----------
    rule : {"majority", "any"}
        Ground-truth rule per entity.
    targets : mapping of str to int, optional
        Ground-truth ``label`` values and their target.
    source : {"truth", "analyst", "both"}, default "truth"
        Where the targets came from (ground truth, analyst verdicts, or verdicts over it).

    Returns
    -------
    dict
        JSON-ready description.
    """
    return {
        "source": source,
        "rule": rule,
        "automated_labels": sorted(k for k, v in targets.items() if v == 1),
        "human_labels": sorted(k for k, v in targets.items() if v == 0),
        "meaning": "y = 1: automated (bot score 1); y = 0: human (bot score 99)",
    }
