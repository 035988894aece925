"""A uniform sample of the rows of a stream, of at most ``n`` rows, that two streams' samples merge into.

:class:`_Reservoir` keeps a uniform random sample without replacement of the rows it has been given, batch
by batch (Vitter's Algorithm R, vectorised per batch: the row seen ``t``-th, 0-based, replaces slot ``j``
drawn uniformly from ``0..t`` when ``j < n``).  Every row of a batch is several arrays (one per requested
layer output, plus the row's position), sampled together.

Two reservoirs of disjoint streams merge into a uniform sample of their union (:meth:`_Reservoir.merge`):
the number ``x`` of rows to take from the first is drawn from the hypergeometric distribution (``n`` rows
out of ``seen_a + seen_b``, ``seen_a`` of them the first stream's), then ``x`` rows of the first sample and
``n - x`` of the second are taken uniformly — a uniform subset of a uniform sample is a uniform sample.
So a dataset split into blocks, each sampled where it is read (:mod:`inspector.analysis.distributed`), gives
the sample one pass over the whole dataset would, in distribution.

Example:
    >>> import numpy as np
    >>> a, b = _Reservoir(3, np.random.default_rng(0)), _Reservoir(3, np.random.default_rng(1))
    >>> a.add([np.arange(10)]); b.add([np.arange(10, 15)])
    >>> a.merge(b)
    >>> a.seen, len(a.columns[0]), set(a.columns[0]) <= set(range(15))
    (15, 3, True)
"""

from __future__ import annotations

import numpy as np


class _Reservoir:
    """Up to ``n`` rows drawn uniformly without replacement from every row given to :meth:`add`."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n = int(n)
        self.rng = rng
        self.seen = 0
        self.columns: list[np.ndarray] = []  # one array per column, len(...) == min(n, seen) rows

    def add(self, columns: list[np.ndarray]) -> None:
        """Offer a batch: one array per column, the same number of rows in each."""
        rows = len(columns[0]) if columns else 0
        if rows == 0:
            return
        fill = max(0, min(rows, self.n - self.seen))  # rows that go straight in while the sample is short
        if fill:
            head = [np.array(c[:fill]) for c in columns]  # copies: slots are overwritten later
            self.columns = head if not self.columns else [
                np.concatenate([kept, new]) for kept, new in zip(self.columns, head, strict=True)]
        if fill < rows:
            positions = np.arange(self.seen + fill, self.seen + rows)  # 0-based index of each row in the stream
            slots = self.rng.integers(0, positions + 1)
            taken = np.flatnonzero(slots < self.n)
            if taken.size:
                # a later row of the batch replacing the same slot wins, as it would one row at a time
                _, last = np.unique(slots[taken][::-1], return_index=True)
                taken = taken[::-1][last]
                for kept, new in zip(self.columns, columns, strict=True):
                    kept[slots[taken]] = np.asarray(new)[fill + taken]
        self.seen += rows

    def merge(self, other: _Reservoir) -> None:
        """Make this the sample of both streams: ``other`` (of the same ``n``) saw rows this one did not."""
        if other.seen == 0:
            return
        if self.seen == 0:
            self.seen, self.columns = other.seen, [c.copy() for c in other.columns]
            return
        total = self.seen + other.seen
        size = min(self.n, total)
        mine = int(self.rng.hypergeometric(self.seen, other.seen, size))
        take_mine = self.rng.choice(len(self.columns[0]), size=mine, replace=False)
        take_other = self.rng.choice(len(other.columns[0]), size=size - mine, replace=False)
        self.columns = [np.concatenate([a[take_mine], b[take_other]])
                        for a, b in zip(self.columns, other.columns, strict=True)]
        self.seen = total
