"""The session plan: every session of every actor, planned up front, then cut into blocks.

Planning fixes, for each session, who sends it (actor, client variant, address, ASN,
country, language), when it starts and how many requests it holds. Requests are generated
later, block by block, from this plan alone; a block is a run of whole sessions (so human
sessions stay coherent) of about :data:`BLOCK_ROWS` requests, with its own random stream,
which makes the output the same whatever chunk size the caller asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.synth.arrays import choice, seg_arange, seg_cumsum
from workbench.synth.campaigns import FLOOD, HUMAN, Campaign, make_campaigns
from workbench.synth.clients import variants
from workbench.synth.network import (
    COUNTRIES,
    NETWORK_COUNTRY,
    sample_addresses,
    sample_networks,
)

#: Requests per generation block (blocks hold whole sessions, so they vary a little).
BLOCK_ROWS = 65_536
#: Every accept-language value, and the range of them each country uses.
LANGUAGES = tuple(lang for c in COUNTRIES for lang in c.languages)
_LANG_START = np.cumsum([0] + [len(c.languages) for c in COUNTRIES])
_DIURNAL = np.array([0.55, 0.35, 0.22, 0.15, 0.12, 0.15, 0.3, 0.6, 0.9, 1.05, 1.1, 1.15,
                     1.2, 1.15, 1.1, 1.1, 1.15, 1.25, 1.45, 1.65, 1.8, 1.7, 1.35, 0.9])  # fmt: skip


@dataclass
class Plan:
    """Sessions of a dataset, sorted by start time (one entry per session in each array).

    Attributes
    ----------
    campaigns : list of Campaign
        The campaigns, indexed by ``campaign``.
    start_ms, end_ms : int
        The time window (epoch milliseconds, end exclusive).
    campaign, actor, variant, network, ip, country, lang, rows, t0, first, token : ndarray
        Per session: campaign index, global actor id, client variant, network index,
        address, country index, language index (-1: none), request count, start time (ms),
        whether it is the actor's first session, and a per-actor random token.
    block_starts : numpy.ndarray
        First session of each block, plus the number of sessions at the end.
    row_base : numpy.ndarray
        Global index of the first request of each block.
    cache : dict
        Values derived from the plan once and shared by all blocks (payload pools).
    """

    campaigns: list[Campaign]
    start_ms: int
    end_ms: int
    campaign: np.ndarray
    actor: np.ndarray
    variant: np.ndarray
    network: np.ndarray
    ip: np.ndarray
    country: np.ndarray
    lang: np.ndarray
    rows: np.ndarray
    t0: np.ndarray
    first: np.ndarray
    token: np.ndarray
    block_starts: np.ndarray
    row_base: np.ndarray
    cache: dict = field(default_factory=dict)

    @property
    def n_blocks(self) -> int:
        """Number of generation blocks."""
        return len(self.block_starts) - 1


def _session_sizes(c: Campaign, rng: np.random.Generator) -> np.ndarray:
    """Draw requests per session (log-normal), summing exactly to the campaign budget."""
    mean = c.session_median * np.exp(c.session_sigma**2 / 2)
    sizes = np.zeros(0, dtype=np.int64)
    while sizes.sum() < c.budget:
        k = int(1.3 * (c.budget - sizes.sum()) / mean) + 8
        more = np.rint(c.session_median * np.exp(rng.normal(0, c.session_sigma, k)))
        sizes = np.concatenate([sizes, np.clip(more, 1, c.session_max).astype(np.int64)])
    cut = int(np.searchsorted(np.cumsum(sizes), c.budget)) + 1
    sizes = sizes[:cut]
    sizes[-1] -= int(sizes.sum()) - c.budget
    return sizes


def _actor_counts(
    c: Campaign, n_sessions: int, window_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Split the campaign's sessions among its actors (sessions per actor)."""
    if c.rotate:
        return np.ones(n_sessions, dtype=np.int64)
    if c.family == HUMAN:
        counts = rng.geometric(0.45, size=n_sessions)
        counts = counts[: int(np.searchsorted(np.cumsum(counts), n_sessions)) + 1]
        counts[-1] -= int(counts.sum()) - n_sessions
        return counts
    if c.actors:
        n_actors = c.actors
    else:
        span = max(window_s * (c.active[1] - c.active[0]), 1.0)
        n_actors = int(np.ceil(c.budget * c.gap_s / (0.5 * span)))
        n_actors = max(n_actors, 2 if c.family == FLOOD else 1)
    n_actors = int(np.clip(n_actors, 1, n_sessions))
    owner = rng.integers(0, n_actors, n_sessions)
    owner[:n_actors] = np.arange(n_actors)  # every actor gets at least one session
    return np.bincount(owner, minlength=n_actors).astype(np.int64)


def _human_starts(rng, n, tz_hours, window_s) -> np.ndarray:
    """Draw session starts following a diurnal cycle in each user's local time."""
    days = max(int(np.ceil(window_s / 86_400)), 1)
    local = rng.integers(0, days, n) * 86_400.0 + (choice(rng, _DIURNAL, n) + rng.random(n)) * 3600
    return np.mod(local - tz_hours * 3600.0, window_s)


def _chained_starts(rng, c: Campaign, sizes, counts, window_s) -> np.ndarray:
    """Chain each actor's sessions with random pauses inside the campaign's active span."""
    lo, hi = c.active[0] * window_s, c.active[1] * window_s
    span = hi - lo
    dur = sizes * c.gap_s
    pause = rng.exponential(1.0, len(sizes))
    actor_dur = np.add.reduceat(dur, np.cumsum(counts) - counts)
    actor_pause = np.add.reduceat(pause, np.cumsum(counts) - counts)
    free = np.maximum(span - actor_dur, 0.0)
    scale = free * rng.uniform(0.3, 1.0, len(counts)) / np.maximum(actor_pause, 1e-9)
    if c.family == FLOOD:  # all bots of a flood start together and barely pause
        scale = np.minimum(scale, 2.0)
    pause *= np.repeat(scale, counts)
    slack = np.maximum(free - actor_pause * scale, 0.0)
    offset = lo + rng.random(len(counts)) * (slack if c.family != FLOOD else np.minimum(slack, 30))
    step = dur + pause
    before = seg_cumsum(step, counts) - step
    return np.repeat(offset, counts) + before


def make_plan(
    n_requests: int,
    days: float,
    seed: int,
    start_ms: int,
    mix: dict[str, float] | None = None,
    block_rows: int = BLOCK_ROWS,
) -> Plan:
    """Plan every session of a dataset.

    Parameters
    ----------
    n_requests : int
        Total requests.
    days : float
        Window length in days.
    seed : int
        Seed of all randomness.
    start_ms : int
        Window start (epoch milliseconds, UTC).
    mix : dict, optional
        Family shares (see :func:`workbench.synth.campaigns.check_mix`).
    block_rows : int, optional
        Target requests per generation block.

    Returns
    -------
    Plan
        The sessions, sorted by start time, and the block boundaries.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E55]))
    window_s = days * 86_400.0
    campaigns = make_campaigns(n_requests, rng, mix)
    var = variants()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "campaign", "actor", "variant", "network", "ip", "lang", "rows", "t0", "first", "token")}  # fmt: skip
    actor_base = 0
    for ci, c in enumerate(campaigns):
        sizes = _session_sizes(c, rng)
        counts = _actor_counts(c, len(sizes), window_s, rng)
        n_act = len(counts)
        a_var = var.sample(rng, c.builds, c.build_weights, n_act)
        a_net = sample_networks(rng, n_act, c.network, c.countries)
        a_ip = sample_addresses(rng, a_net)
        a_country = NETWORK_COUNTRY[a_net].astype(np.int64)
        known = a_country < len(COUNTRIES)
        safe = np.where(known, a_country, 0)
        a_lang = _LANG_START[safe] + (rng.random(n_act) * np.diff(_LANG_START)[safe]).astype(int)
        a_lang = np.where(known & var.browser[a_var], a_lang, -1)
        owner = np.repeat(np.arange(n_act), counts)
        net, ip = a_net[owner], a_ip[owner]
        if c.family == HUMAN:  # a quarter of people get a new address each session (CGNAT, mobile)
            dynamic = (rng.random(n_act) < 0.25)[owner]
            ip = np.where(dynamic, sample_addresses(rng, net), ip)
            tz = np.array([k.utc_offsets[0] for k in COUNTRIES])
            alt = np.array([k.utc_offsets[-1] for k in COUNTRIES])
            a_tz = np.where(rng.random(n_act) < 0.5, tz[safe], alt[safe])
            t0 = _human_starts(rng, len(sizes), a_tz[owner], window_s)
        elif c.rotate:
            lo, hi = c.active[0] * window_s, c.active[1] * window_s
            t0 = lo + rng.random(len(sizes)) * np.maximum(hi - lo - sizes * c.gap_s, 0.0)
        else:
            t0 = _chained_starts(rng, c, sizes, counts, window_s)
        cols["campaign"].append(np.full(len(sizes), ci, dtype=np.int16))
        cols["actor"].append(actor_base + owner)
        cols["variant"].append(a_var[owner])
        cols["network"].append(net)
        cols["ip"].append(ip)
        cols["lang"].append(a_lang[owner])
        cols["rows"].append(sizes)
        cols["t0"].append(start_ms + np.rint(t0 * 1000).astype(np.int64))
        cols["first"].append(seg_arange(counts) == 0)
        cols["token"].append(rng.integers(0, 2**63, n_act, dtype=np.int64)[owner])
        actor_base += n_act
    arrays = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in cols.items()}
    order = np.lexsort((np.arange(len(arrays["t0"])), arrays["t0"]))
    arrays = {k: v[order] for k, v in arrays.items()}
    rows = arrays["rows"]
    before = np.cumsum(rows) - rows
    block_id = before // block_rows
    starts = np.flatnonzero(np.diff(block_id, prepend=-1) != 0) if len(rows) else np.zeros(0, int)
    return Plan(
        campaigns=campaigns,
        start_ms=start_ms,
        end_ms=start_ms + int(round(window_s * 1000)),
        country=NETWORK_COUNTRY[arrays["network"]],
        block_starts=np.append(starts, len(rows)),
        row_base=before[starts],
        **arrays,
    )
