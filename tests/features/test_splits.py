"""Leak-free splits: disjoint groups, ordered times, fractions respected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.features import (
    group_ids,
    split_by_group,
    split_by_time,
    split_by_time_and_group,
)


def frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    campaign = np.where(rng.random(n) < 0.6, "", rng.choice([f"c{i}" for i in range(12)], n))
    return pd.DataFrame(
        {
            "t": pd.Timestamp("2024-05-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "ip": rng.choice([f"10.0.0.{i}" for i in range(150)], n),
            "campaign": campaign,
            "y": rng.integers(0, 2, n),
        }
    )


def _values(side: pd.DataFrame, col: str) -> set:
    return {v for v in side[col] if v != ""}


def assert_partition(df, sides):
    index = np.concatenate([s.index.to_numpy() for s in sides])
    assert len(index) == len(set(index)) == len(df)


def assert_disjoint(sides, cols):
    for col in cols:
        for i in range(len(sides)):
            for j in range(i + 1, len(sides)):
                assert not _values(sides[i], col) & _values(sides[j], col), col


def test_split_by_time_orders_sides():
    df = frame()
    train, val, test = split_by_time(df, "t")
    assert_partition(df, (train, val, test))
    assert train["t"].max() < val["t"].min() and val["t"].max() < test["t"].min()
    assert abs(len(train) / len(df) - 0.7) < 0.01
    assert abs(len(test) / len(df) - 0.15) < 0.01


def test_split_by_time_keeps_ties_together():
    times = ["2024-01-01"] * 7 + ["2024-01-02"] * 3
    df = pd.DataFrame({"t": pd.to_datetime(times), "x": range(10)})
    a, b = split_by_time(df, "t", (0.5, 0.5))  # the tie of 7 is not cut at 5
    assert a["x"].tolist() == list(range(7)) and b["x"].tolist() == [7, 8, 9]


def test_split_by_group_single_column():
    df = frame()
    sides = split_by_group(df, "ip", seed=1)
    assert_partition(df, sides)
    assert_disjoint(sides, ["ip"])
    assert abs(len(sides[0]) / len(df) - 0.7) < 0.05
    # the same seed gives the same split, another seed another one
    again = split_by_group(df, "ip", seed=1)
    assert all(a.index.equals(b.index) for a, b in zip(sides, again, strict=True))
    other = split_by_group(df, "ip", seed=2)
    assert not sides[0].index.equals(other[0].index)


def test_split_by_campaign_and_ip_links_both():
    df = frame()
    sides = split_by_group(df, ["campaign", "ip"], fractions=(0.5, 0.5), seed=3)
    assert_partition(df, sides)
    assert_disjoint(sides, ["campaign", "ip"])


def test_empty_campaign_links_nothing():
    df = frame()
    ids = group_ids(df, "campaign")
    benign = df["campaign"] == ""
    assert len(np.unique(ids[benign.to_numpy()])) == benign.sum()  # each benign row alone
    assert len(np.unique(ids[~benign.to_numpy()])) == df.loc[~benign, "campaign"].nunique()


def test_time_and_group_purge_is_strict_and_disjoint():
    df = frame()
    sides = split_by_time_and_group(df, "t", ["campaign", "ip"], purge=True)
    assert_disjoint(sides, ["campaign", "ip"])
    nonempty = [s for s in sides if len(s)]
    for a, b in zip(nonempty, nonempty[1:], strict=False):
        assert a["t"].max() < b["t"].min()
    assert sum(len(s) for s in sides) < len(df)  # leaking rows were dropped


def test_time_and_group_first_seen_keeps_all_rows():
    df = frame()
    sides = split_by_time_and_group(df, "t", "campaign", purge=False)
    assert_partition(df, sides)
    assert_disjoint(sides, ["campaign"])
    # every group's first row is no earlier than the first rows of groups on earlier sides
    firsts = [s.groupby(group_ids(s, "campaign"))["t"].min() for s in sides if len(s)]
    for a, b in zip(firsts, firsts[1:], strict=False):
        assert a.max() <= b.min()


def test_errors_name_the_problem():
    df = frame(50)
    with pytest.raises(InputError, match="sum to 1"):
        split_by_time(df, "t", (0.5, 0.4))
    with pytest.raises(InputError, match="at least two"):
        split_by_group(df, "ip", (1.0,))
    with pytest.raises(InputError, match="'nope' not in the frame"):
        split_by_group(df, ["ip", "nope"])
    with pytest.raises(InputError, match="non-negative"):
        split_by_time(df, "t", (1.5, -0.5))
    bad = df.assign(t=df["t"].where(df.index != 3))
    with pytest.raises(InputError, match="1 missing times"):
        split_by_time(bad, "t")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 50), st.sampled_from(["", "a", "b", "c", "d"]), st.integers(0, 9)),
        min_size=1,
        max_size=80,
    ),
    seed=st.integers(0, 10),
    purge=st.booleans(),
)
def test_properties_hold_for_any_frame(rows, seed, purge):
    df = pd.DataFrame(rows, columns=["t", "campaign", "ip"])
    df["t"] = pd.to_datetime(df["t"], unit="s", utc=True)
    df["ip"] = "ip" + df["ip"].astype(str)
    sides = split_by_group(df, ["campaign", "ip"], seed=seed)
    assert_partition(df, sides)
    assert_disjoint(sides, ["campaign", "ip"])
    ts = split_by_time(df, "t")
    assert_partition(df, ts)
    nonempty = [s for s in ts if len(s)]
    for a, b in zip(nonempty, nonempty[1:], strict=False):
        assert a["t"].max() < b["t"].min()
    both = split_by_time_and_group(df, "t", ["campaign", "ip"], purge=purge)
    assert_disjoint(both, ["campaign", "ip"])
    if not purge:
        assert_partition(df, both)
