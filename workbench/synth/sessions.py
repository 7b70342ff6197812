"""Shared machinery of the request generators: the block context, request rows, timing.

A generator turns the sessions of one family in one block into :class:`Rows` (one entry per
request, mostly small integer codes plus a few string columns); :mod:`workbench.synth.columns`
then turns rows into the ``http_requests`` Arrow table.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from workbench.synth.arrays import choice, seg_arange, seg_cumsum, seg_max
from workbench.synth.campaigns import Campaign
from workbench.synth.plan import Plan
from workbench.synth.sitemap import SiteMap, site_map

METHODS = ("GET", "POST", "HEAD", "PUT", "OPTIONS")
GET, POST, HEAD = 0, 1, 2
#: ``sec-fetch-site`` values of navigations (-1: header not sent).
FETCH_SITES = ("none", "same-origin", "cross-site", "same-site")


@dataclass
class Rows:
    """Requests produced by one generator, one entry per request.

    Attributes
    ----------
    sess : numpy.ndarray
        Session (index within the block) that sent the request.
    t : numpy.ndarray
        Start time, epoch milliseconds.
    kind, method, site : numpy.ndarray
        Request kind (:mod:`sitemap` constants), method (index into :data:`METHODS`), site.
    path, query, referer, body : pyarrow.StringArray
        Path, query string (no ``?``), referer and request body.
    status : numpy.ndarray
        Edge response status.
    attack : numpy.ndarray
        Attack class index (-1: clean request).
    resp_bytes : numpy.ndarray
        Response size (-1: typical size for the kind and status).
    fetch_site : numpy.ndarray
        ``sec-fetch-site`` code for browser navigations (-1: none).
    cookie, auth : numpy.ndarray
        Whether the request carries the client's cookie / API credential.
    """

    sess: np.ndarray
    t: np.ndarray
    kind: np.ndarray
    method: np.ndarray
    site: np.ndarray
    path: pa.Array
    query: pa.Array
    referer: pa.Array
    body: pa.Array
    status: np.ndarray
    attack: np.ndarray
    resp_bytes: np.ndarray
    fetch_site: np.ndarray
    cookie: np.ndarray
    auth: np.ndarray

    def __len__(self) -> int:
        return len(self.sess)


def empty_strings(n: int) -> pa.Array:
    """Return ``n`` empty strings."""
    return pa.repeat(pa.scalar("", pa.string()), n)


def make_rows(sess: np.ndarray, t: np.ndarray, site, path: pa.Array, **kw) -> Rows:
    """Build :class:`Rows`, filling every column not given with its neutral value.

    Parameters
    ----------
    sess, t : numpy.ndarray
        Session index and time of each request.
    site : numpy.ndarray or int
        Site of each request.
    path : pyarrow.StringArray
        Request paths.
    **kw
        Any other :class:`Rows` field.

    Returns
    -------
    Rows
        The rows.
    """
    n = len(sess)
    blank = empty_strings(n)
    defaults = {
        "kind": np.zeros(n, np.int8), "method": np.zeros(n, np.int8), "query": blank,
        "referer": blank, "body": blank, "status": np.full(n, 200, np.int16),
        "attack": np.full(n, -1, np.int8), "resp_bytes": np.full(n, -1, np.int64),
        "fetch_site": np.full(n, -1, np.int8), "cookie": np.zeros(n, bool),
        "auth": np.zeros(n, bool),
    }  # fmt: skip
    defaults.update(kw)
    site = np.broadcast_to(np.asarray(site, dtype=np.int8), (n,)).copy()
    return Rows(sess=sess, t=t, site=site, path=path, **defaults)


def concat_rows(parts: list[Rows]) -> Rows:
    """Concatenate rows of several generators."""
    out = {}
    for f in fields(Rows):
        values = [getattr(p, f.name) for p in parts]
        if isinstance(values[0], pa.Array):
            out[f.name] = pa.concat_arrays([v.cast(pa.string()) for v in values])
        else:
            out[f.name] = np.concatenate(values)
    return Rows(**out)


class Block:
    """The sessions of one generation block, with their random stream.

    Parameters
    ----------
    plan : Plan
        The dataset plan.
    index : int
        Block number.
    seed : int
        Dataset seed.
    """

    def __init__(self, plan: Plan, index: int, seed: int) -> None:
        lo, hi = int(plan.block_starts[index]), int(plan.block_starts[index + 1])
        self.plan = plan
        self.index = index
        self.seed = seed
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB10C, index]))
        self.site_map: SiteMap = site_map()
        sl = slice(lo, hi)
        self.campaign = plan.campaign[sl].astype(np.int64)
        self.family = np.array([c.family for c in plan.campaigns], dtype=np.int64)[self.campaign]
        self.actor, self.variant, self.ip = plan.actor[sl], plan.variant[sl], plan.ip[sl]
        self.network, self.country = plan.network[sl], plan.country[sl]
        self.lang, self.rows, self.t0 = plan.lang[sl], plan.rows[sl], plan.t0[sl]
        self.first, self.token = plan.first[sl], plan.token[sl]
        self.n_sessions = hi - lo
        self.row_base = int(plan.row_base[index])

    def sessions_of(self, family: int) -> np.ndarray:
        """Return the block-local indices of the sessions of one family."""
        return np.flatnonzero(self.family == family)

    def param(self, name: str, sess: np.ndarray) -> np.ndarray:
        """Return a campaign attribute for each given session."""
        values = np.array([getattr(c, name) for c in self.plan.campaigns])
        return values[self.campaign[sess]]

    def campaigns_in(self, sess: np.ndarray) -> list[tuple[Campaign, np.ndarray]]:
        """Group positions of ``sess`` by campaign: ``[(campaign, positions), ...]``."""
        camp = self.campaign[sess]
        return [(self.plan.campaigns[c], np.flatnonzero(camp == c)) for c in np.unique(camp)]

    def status(self, sess_of_row: np.ndarray) -> np.ndarray:
        """Draw each request's status from its campaign's status mix."""
        out = np.full(len(sess_of_row), 200, dtype=np.int16)
        for c, pos in self.campaigns_in(sess_of_row):
            codes = np.array(list(c.status), dtype=np.int16)
            out[pos] = codes[choice(self.rng, list(c.status.values()), len(pos))]
        return out

    def expand(self, sess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per request of the given sessions: its session and position within the session."""
        counts = self.rows[sess]
        return np.repeat(sess, counts), seg_arange(counts)

    def bot_times(self, sess: np.ndarray) -> np.ndarray:
        """Request times of machine-driven sessions: gamma-distributed gaps.

        The campaign's ``gap_s`` is the mean gap and ``gap_cv`` its coefficient of variation
        (small: metronome-regular, 1: Poisson, above 1: bursts and lulls).
        """
        counts = self.rows[sess]
        cv = np.repeat(self.param("gap_cv", sess), counts)
        mean = np.repeat(self.param("gap_s", sess), counts)
        shape = 1.0 / cv**2
        gaps = self.rng.gamma(shape, mean / shape) * 1000.0
        gaps[np.cumsum(counts) - counts] = 0.0
        offsets = np.rint(seg_cumsum(gaps, counts)).astype(np.int64)
        return self.fit_window(np.repeat(self.t0[sess], counts) + offsets, counts)

    def fit_window(self, t: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Move (and if needed squeeze) sessions that run past the window end back inside."""
        start, last = self.plan.start_ms, self.plan.end_ms - 1
        first = np.repeat(t[np.cumsum(counts) - counts], counts) if len(t) else t
        over = np.repeat(np.maximum(seg_max(t, counts) - last, 0), counts) if len(t) else t
        if not over.any():
            return t
        # move back by the overshoot plus up to ten minutes, so ends do not pile up at the edge
        slack = np.repeat(self.rng.uniform(0, 600_000, len(counts)).astype(np.int64), counts)
        shift = np.minimum(np.where(over > 0, over + slack, 0), first - start)
        t, first, over = t - shift, first - shift, over - shift
        squeeze = over > 0
        if squeeze.any():
            span = (t - first).astype(np.float64)
            top = np.repeat(seg_max(t - first, counts), counts).astype(np.float64)
            room = (last - first).astype(np.float64)
            scaled = first + np.floor(span * room / np.maximum(top, 1.0)).astype(np.int64)
            t = np.where(squeeze, scaled, t)
        return t
