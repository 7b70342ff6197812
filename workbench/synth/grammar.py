"""A tiny vectorized string grammar: each node draws ``n`` strings at once.

Nodes compose like a grammar (alternatives, sequences, repetition, numbers, random tokens,
encodings); drawing ``n`` strings costs a handful of Arrow operations per node, never a
Python loop per string. Plain ``str`` values stand for literals anywhere a node is expected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.synth.arrays import choice, digits, join, scatter, tokens

Encoder = Callable[[pa.Array], pa.Array]


class Node:
    """A grammar symbol that can draw strings."""

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:  # pragma: no cover - abstract
        """Draw ``n`` strings."""
        raise NotImplementedError


def _node(x: Node | str) -> Node:
    return x if isinstance(x, Node) else Lit(x)


class Lit(Node):
    """A fixed string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw ``n`` copies of the text."""
        return _repeat(self.text, n)


def _repeat(text: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(text, pa.string()), n)


class Alt(Node):
    """One of several alternatives, by weight."""

    def __init__(self, options: Sequence[Node | str], weights: Sequence[float] | None = None):
        self.options = [_node(o) for o in options]
        self.weights = list(weights) if weights is not None else [1.0] * len(self.options)
        if len(self.weights) != len(self.options):
            raise ValueError("Alt: one weight per option")
        self._literal = all(isinstance(o, Lit) for o in self.options)
        if self._literal:
            self._pool = pa.array([o.text for o in self.options], pa.string())

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw an alternative per row, then draw each alternative for its rows."""
        pick = choice(rng, self.weights, n)
        if self._literal:
            return self._pool.take(pa.array(pick))
        parts = []
        for i, option in enumerate(self.options):
            rows = np.flatnonzero(pick == i)
            if len(rows):
                parts.append((rows, option.draw(rng, len(rows))))
        return scatter(n, parts)


class Seq(Node):
    """Parts one after another."""

    def __init__(self, *parts: Node | str) -> None:
        self.parts = [_node(p) for p in parts]

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw each part and concatenate."""
        drawn = [p.text if isinstance(p, Lit) else p.draw(rng, n) for p in self.parts]
        if all(isinstance(d, str) for d in drawn):
            return _repeat("".join(drawn), n)
        return join(*drawn)


class Num(Node):
    """A uniform random integer in ``[lo, hi]``, written in decimal."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw ``n`` numbers."""
        return digits(rng.integers(self.lo, self.hi + 1, n))


class Tok(Node):
    """A random token of ``lo..hi`` characters from ``alphabet``."""

    def __init__(self, lo: int, hi: int | None = None, alphabet: str = "") -> None:
        self.lo, self.hi, self.alphabet = lo, hi or lo, alphabet

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw ``n`` tokens (a full-width token cut to each row's length)."""
        full = tokens(rng, n, self.hi, self.alphabet)
        if self.lo == self.hi:
            return full
        cut = rng.integers(self.lo, self.hi + 1, n)
        return _cut(full, cut)


def _cut(values: pa.Array, length: np.ndarray) -> pa.Array:
    """Keep the first ``length[i]`` characters of each (ASCII) string."""
    out = values
    for k in np.unique(length):
        out = pc.if_else(pa.array(length == k), pc.utf8_slice_codeunits(values, 0, int(k)), out)
    return out


class Same(Node):
    """One drawn string repeated ``lo..hi`` times (``../../../``), optionally joined."""

    def __init__(self, node: Node | str, lo: int, hi: int, sep: str = "") -> None:
        self.node, self.lo, self.hi, self.sep = _node(node), lo, hi, sep

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw a unit per row and repeat it."""
        unit = self.node.draw(rng, n)
        count = rng.integers(self.lo, self.hi + 1, n)
        if self.sep:
            unit = join(unit, self.sep)
        out = pc.binary_repeat(unit, pa.array(count))
        if self.sep:
            out = pc.utf8_slice_codeunits(out, 0, -len(self.sep))
        return out


class Many(Node):
    """``lo..hi`` independent draws of a node joined by ``sep`` (``NULL,1,@@version``)."""

    def __init__(self, node: Node | str, lo: int, hi: int, sep: str = ",") -> None:
        self.node, self.lo, self.hi, self.sep = _node(node), lo, hi, sep

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw the counts, all items at once, and join them per row."""
        count = rng.integers(self.lo, self.hi + 1, n)
        items = self.node.draw(rng, int(count.sum()))
        offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
        return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), items), self.sep)


class Fn(Node):
    """A node computed by a function ``(rng, n) -> pyarrow.Array`` (for dependent parts)."""

    def __init__(self, fn: Callable[[np.random.Generator, int], pa.Array]) -> None:
        self.fn = fn

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Call the function."""
        return self.fn(rng, n)


class Encode(Node):
    """Draw from ``node`` then apply one of several encoders per row, by weight."""

    def __init__(self, node: Node | str, encoders: Sequence[tuple[Encoder | None, float]]):
        self.node = _node(node)
        self.encoders = [e for e, _ in encoders]
        self.weights = [w for _, w in encoders]

    def draw(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Draw, then encode each row's string with its encoder (None keeps it)."""
        raw = self.node.draw(rng, n)
        pick = choice(rng, self.weights, n)
        parts = []
        for i, enc in enumerate(self.encoders):
            rows = np.flatnonzero(pick == i)
            if len(rows):
                subset = raw.take(pa.array(rows))
                parts.append((rows, subset if enc is None else enc(subset)))
        return scatter(n, parts)


def replace(*pairs: tuple[str, str]) -> Encoder:
    """Return an encoder applying literal substring replacements in order.

    Parameters
    ----------
    *pairs : tuple of str
        ``(old, new)`` replacements.

    Returns
    -------
    callable
        The encoder.
    """

    def encode(values: pa.Array) -> pa.Array:
        for old, new in pairs:
            values = pc.replace_substring(values, old, new)
        return values

    return encode
