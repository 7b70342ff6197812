"""Small synthetic entity tables for the tabular, anomaly and explanation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = [
    "requests",
    "rate_per_minute_peak",
    "asset_share",
    "burst_share",
    "bot_ua_share",
    "interarrival_cv",
    "noise",
]


def make_entities(n: int = 1200, seed: int = 0, bot_share: float = 0.4) -> pd.DataFrame:
    """Entities with a few informative features, missing values and a campaign per bot.

    Humans load assets and arrive irregularly; bots fetch no assets, arrive in bursts and
    sometimes say they are bots. Bots belong to campaigns ``c0..c9`` (features shifted a
    little per campaign); ``interarrival_cv`` is missing for single-request entities.
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < bot_share).astype(np.int8)
    campaign = np.where(y == 1, np.char.add("c", rng.integers(0, 10, n).astype(str)), "")
    shift = np.array([int(c[1:]) if c else 0 for c in campaign]) / 40.0
    requests = np.where(y == 1, rng.integers(1, 40, n), rng.integers(1, 200, n)).astype(float)
    asset = np.where(y == 1, rng.beta(1, 12, n) + shift / 4, rng.beta(5, 3, n)).clip(0, 1)
    burst = np.where(y == 1, rng.beta(6, 2, n) - shift, rng.beta(2, 5, n)).clip(0, 1)
    bot_ua = np.where((y == 1) & (rng.random(n) < 0.3), 1.0, 0.0)
    cv = np.where(y == 1, rng.gamma(2, 0.2, n), rng.gamma(4, 0.6, n))
    cv[requests < 2] = np.nan
    peak = np.where(y == 1, rng.integers(2, 120, n), rng.integers(1, 30, n)).astype(float)
    return pd.DataFrame(
        {
            "ClientIP": [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(n)],
            "requests": requests,
            "rate_per_minute_peak": peak,
            "asset_share": asset,
            "burst_share": burst,
            "bot_ua_share": bot_ua,
            "interarrival_cv": cv,
            "noise": rng.normal(size=n),
            "y": y,
            "campaign": campaign,
            "actor": np.where(y == 1, "scraper", "human"),
        }
    )


def split3(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / validation / test by position (60/20/20)."""
    n = len(frame)
    a, b = int(0.6 * n), int(0.8 * n)
    return frame.iloc[:a], frame.iloc[a:b], frame.iloc[b:]
