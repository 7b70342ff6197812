"""Learning curves of the labelling strategies with a simulated analyst.

The simulated analyst answers every query from ground truth. Per seed the entities are split
once (stratified) into a pool and a held-out test set, and every strategy starts from the same
few labels; then, round after round, a LightGBM model is trained on the labelled entities,
PR-AUC (average precision) is recorded on the test set, and ``k`` more pool entities are
queried with the strategy and their ground truth revealed. The same model trained on the
whole pool gives each seed's full-data PR-AUC, the ceiling the curves are read against
(:meth:`LearningCurves.headline`: labels the best strategy needs to reach a share of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from workbench.errors import InputError
from workbench.labels.queue import STRATEGIES, select_queue
from workbench.store.base import Store

#: Columns of :attr:`LearningCurves.frame`.
CURVE_COLUMNS = ("strategy", "seed", "round", "n_labels", "positives", "pr_auc")
#: Columns of :attr:`LearningCurves.full`.
FULL_COLUMNS = ("seed", "n_labels", "pr_auc")
#: Share of the full-data PR-AUC that :meth:`LearningCurves.headline` asks a strategy to reach.
REACH_SHARE = 0.95


@dataclass
class LearningCurves:
    """Result of :func:`run_experiment`: one row per strategy, seed and round.

    Attributes
    ----------
    frame : pandas.DataFrame
        Tidy rows with :data:`CURVE_COLUMNS`.
    prevalence : float
        Share of positives in the data (the PR-AUC of a useless model).
    full : pandas.DataFrame
        Per seed, the PR-AUC of the same model trained on the whole pool
        (:data:`FULL_COLUMNS`); empty when not computed.
    """

    frame: pd.DataFrame
    prevalence: float
    full: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FULL_COLUMNS)))

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation of PR-AUC per strategy and number of labels."""
        g = self.frame.groupby(["strategy", "n_labels"], sort=True)["pr_auc"]
        return g.agg(["mean", "std", "count"]).reset_index()

    def table(self) -> pd.DataFrame:
        """Mean PR-AUC over seeds: one row per number of labels, one column per strategy."""
        wide = self.summary().pivot(index="n_labels", columns="strategy", values="mean")
        order = [s for s in dict.fromkeys(self.frame["strategy"]) if s in wide.columns]
        wide = wide[order].reset_index()
        wide.columns.name = None
        return wide

    @property
    def full_pr_auc(self) -> float | None:
        """Mean over seeds of the PR-AUC with every pool entity labelled (None if unknown)."""
        if self.full.empty:
            return None
        return float(self.full["pr_auc"].mean())

    def labels_to_reach(self, share: float = REACH_SHARE) -> dict[str, int | None]:
        """Fewest labels at which each strategy's mean PR-AUC reaches ``share`` of full data.

        Parameters
        ----------
        share : float, default 0.95
            Share of :attr:`full_pr_auc` to reach.

        Returns
        -------
        dict of str to int or None
            Per strategy, the first label count whose mean PR-AUC is at least
            ``share * full_pr_auc``; None when it never does (or full data is unknown).
        """
        table = self.table()
        full = self.full_pr_auc
        out: dict[str, int | None] = {}
        for strategy in table.columns[1:]:
            reached = table.loc[table[strategy] >= share * full, "n_labels"] if full else []
            out[str(strategy)] = int(min(reached)) if len(reached) else None
        return out

    def headline(self, share: float = REACH_SHARE) -> dict[str, Any]:
        """Return the numbers a report records about the curves.

        Parameters
        ----------
        share : float, default 0.95
            Share of the full-data PR-AUC the strategies are asked to reach.

        Returns
        -------
        dict
            ``full_pr_auc``; ``best_strategy`` (fewest labels to reach the share; ties, and
            no strategy reaching it, broken by the mean PR-AUC over the curve's label
            counts, its normalized area) and ``labels_to_reach`` (None when it does not
            reach the share); ``label_budget`` (the largest label count) and
            ``pr_auc_at_budget`` per strategy (mean over seeds, rounded to 4 digits).
        """
        table = self.table()
        last = table.iloc[-1]
        at_budget = {str(s): round(float(last[s]), 4) for s in table.columns[1:]}
        area = {str(s): float(table[s].mean()) for s in table.columns[1:]}
        reach = self.labels_to_reach(share)
        big = int(table["n_labels"].max()) + 1
        best = min(at_budget, key=lambda s: (reach[s] or big, -area[s]))
        full = self.full_pr_auc
        return {
            "full_pr_auc": None if full is None else round(full, 4),
            "share": share,
            "best_strategy": best,
            "labels_to_reach": reach[best],
            "label_budget": int(last["n_labels"]),
            "pr_auc_at_budget": at_budget,
        }

    def figure(self) -> go.Figure:
        """Plot mean PR-AUC against the number of labels, one line (and band) per strategy."""
        fig = go.Figure()
        summary = self.summary()
        for strategy, part in summary.groupby("strategy", sort=False):
            sd = part["std"].fillna(0.0)
            fig.add_trace(
                go.Scatter(
                    x=part["n_labels"],
                    y=part["mean"],
                    mode="lines+markers",
                    name=str(strategy),
                    error_y={"type": "data", "array": sd, "visible": True},
                )
            )
        fig.add_hline(y=self.prevalence, line_dash="dot", annotation_text="prevalence (chance)")
        if self.full_pr_auc is not None:
            fig.add_hline(
                y=self.full_pr_auc,
                line_dash="dash",
                line_color="#455a64",
                annotation_text="every pool entity labelled",
                annotation_position="bottom right",
            )
        fig.update_layout(
            title="Active learning: PR-AUC against labels, per strategy",
            xaxis_title="labels",
            yaxis_title="PR-AUC on held-out entities",
            yaxis_range=[0, 1.02],
        )
        return fig

    def _repr_html_(self) -> str:
        return self.summary().to_html(index=False)


def _initial(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random rows holding at least one row of each class."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    first = np.array([rng.choice(pos), rng.choice(neg)])
    rest = np.setdiff1d(np.arange(y.size), first)
    more = rng.choice(rest, size=max(0, n - 2), replace=False)
    return np.concatenate([first, more])


def _fit_predict(x_lab: np.ndarray, y_lab: np.ndarray, x: np.ndarray, seed: int) -> np.ndarray:
    """Train LightGBM on the labelled rows; p(bad) for ``x`` (the prior if one class)."""
    if np.unique(y_lab).size < 2:
        return np.full(x.shape[0], float(y_lab.mean()))
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=60,
        learning_rate=0.1,
        num_leaves=8,
        min_child_samples=2,
        min_data_in_bin=1,
        subsample_freq=0,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    model.fit(x_lab, y_lab)
    return model.predict_proba(x)[:, 1]


def run_experiment(
    X: Any,
    y: Any,
    strategies: Sequence[str] = STRATEGIES,
    seeds: Sequence[int] = (0, 1, 2),
    initial: int = 10,
    k: int = 10,
    rounds: int = 8,
    test_size: float = 0.3,
    progress: bool = False,
) -> LearningCurves:
    """Simulate an analyst labelling entities with each strategy and record learning curves.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        Entity features, one row per entity.
    y : array-like of int
        Ground truth (1 bad, 0 normal): the simulated analyst's answers.
    strategies : sequence of str, default all of :data:`STRATEGIES`
        Strategies to compare.
    seeds : sequence of int, default (0, 1, 2)
        One split, starting set and model seed per value.
    initial : int, default 10
        Labels before the first round (at least one of each class).
    k : int, default 10
        Labels queried per round.
    rounds : int, default 8
        Query rounds; the curve has ``rounds + 1`` points per strategy and seed.
    test_size : float, default 0.3
        Held-out share (stratified).
    progress : bool, default False
        Show a progress bar on stderr.

    Returns
    -------
    LearningCurves
        Tidy frame and figure.

    Raises
    ------
    InputError
        Unknown strategy, too few entities or a missing class, bad sizes.
    """
    for s in strategies:
        if s not in STRATEGIES:
            raise InputError(f"unknown strategy {s!r}; use one of {', '.join(STRATEGIES)}")
    if not strategies or not seeds:
        raise InputError("give at least one strategy and one seed")
    x = np.asarray(pd.DataFrame(X).to_numpy(dtype=np.float64, na_value=np.nan))
    target = np.asarray(y)
    if x.ndim != 2 or target.shape != (x.shape[0],):
        raise InputError(f"X has shape {x.shape} but y has shape {target.shape}")
    if not np.isin(target, (0, 1)).all():
        raise InputError("y must hold only 0 (normal) and 1 (bad)")
    target = target.astype(np.int8)
    if min(int(target.sum()), int((1 - target).sum())) < 4:
        raise InputError("the experiment needs at least 4 entities of each class")
    if initial < 2 or k < 1 or rounds < 0 or not 0 < test_size < 1:
        raise InputError("need initial >= 2, k >= 1, rounds >= 0 and 0 < test_size < 1")
    from tqdm.auto import tqdm

    rows, full = [], []
    bar = tqdm(total=len(seeds) * len(strategies), desc="strategies", disable=not progress)
    for seed in seeds:
        pool, test = train_test_split(
            np.arange(x.shape[0]), test_size=test_size, stratify=target, random_state=seed
        )
        if initial + k * rounds > pool.size:
            raise InputError(
                f"initial + k * rounds = {initial + k * rounds} exceeds the pool of {pool.size}"
            )
        rng = np.random.default_rng(seed)
        start = _initial(target[pool], initial, rng)
        xp, yp, xt, yt = x[pool], target[pool], x[test], target[test]
        p_full = _fit_predict(xp, yp, xt, seed)
        full.append((int(seed), int(pool.size), float(average_precision_score(yt, p_full))))
        for strategy in strategies:
            labelled = np.zeros(pool.size, dtype=bool)
            labelled[start] = True
            for rnd in range(rounds + 1):
                idx = np.flatnonzero(labelled)
                p_all = _fit_predict(xp[idx], yp[idx], np.vstack([xt, xp]), seed)
                p_test, p_pool = p_all[: xt.shape[0]], p_all[xt.shape[0] :]
                rows.append(
                    (strategy, int(seed), rnd, int(idx.size), int(yp[idx].sum()),
                     float(average_precision_score(yt, p_test)))
                )  # fmt: skip
                if rnd == rounds:
                    break
                picks = select_queue(
                    p_pool, k, strategy, features=xp, exclude=labelled, seed=seed * 1000 + rnd
                )
                labelled[picks] = True  # the simulated analyst reveals ground truth
            bar.update(1)
    bar.close()
    frame = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    return LearningCurves(
        frame=frame,
        prevalence=float(target.mean()),
        full=pd.DataFrame(full, columns=list(FULL_COLUMNS)),
    )


def experiment_data(
    store: Store,
    start: Any,
    end: Any,
    entity: str = "ip",
    features: Sequence[str] | None = None,
    label_rule: str = "majority",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Fetch the experiment's inputs: entity features and ground truth of a window.

    Parameters
    ----------
    store : Store
        Where labelled (synthetic) ``http_requests`` are.
    start, end : datetime or ISO-8601 str
        Window, UTC.
    entity : str, default "ip"
        Entity kind.
    features : sequence of str, optional
        Feature names (all of the entity's when omitted).
    label_rule : {"majority", "any"}, default "majority"
        When an entity counts as automated.

    Returns
    -------
    X : pandas.DataFrame
        Features of the entities with ground truth, sorted by key.
    y : numpy.ndarray
        Their ground truth (1 automated, 0 human).
    """
    from workbench.features import resolve_entity
    from workbench.models.entity_data import entity_training_frame, feature_columns

    kind = resolve_entity(entity)
    frame = entity_training_frame(store, kind, start, end, features, label_rule)
    frame = frame[frame["y"] >= 0].reset_index(drop=True)
    names = feature_columns(frame, kind.keys)
    return frame[names], frame["y"].to_numpy(dtype=np.int8)


def experiment_from_store(
    store: Store,
    start: Any,
    end: Any,
    entity: str = "ip",
    features: Sequence[str] | None = None,
    label_rule: str = "majority",
    **kwargs: Any,
) -> LearningCurves:
    """Run :func:`run_experiment` on entity features and ground truth from the store.

    Parameters
    ----------
    store : Store
        Where labelled (synthetic) ``http_requests`` are.
    start, end : datetime or ISO-8601 str
        Window, UTC.
    entity : str, default "ip"
        Entity kind.
    features : sequence of str, optional
        Feature names (all of the entity's when omitted).
    label_rule : {"majority", "any"}, default "majority"
        When an entity counts as automated.
    **kwargs
        Passed to :func:`run_experiment`.

    Returns
    -------
    LearningCurves
        Tidy frame and figure.
    """
    X, y = experiment_data(store, start, end, entity, features, label_rule)
    return run_experiment(X, y, **kwargs)
