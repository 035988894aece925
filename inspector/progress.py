"""Progress reports: one callback type for every long computation (activations, statistics, projections).

A ``ProgressCallback`` is called as ``progress(fraction, message)``: ``fraction`` from 0 to 1, or
``None`` while the total is unknown (a stream of batches whose length is not known), and a short
``message`` saying what is being done.

Example:
    >>> seen = []
    >>> report_batch(lambda fraction, message: seen.append((fraction, message)), 1, 4)
    >>> report_batch(lambda fraction, message: seen.append((fraction, message)), 3, None)
    >>> seen
    [(0.25, 'batch 1 of 4'), (None, 'batch 3')]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressCallback", "report_batch"]

ProgressCallback = Callable[[float | None, str], None]


def report_batch(progress: ProgressCallback, done: int, total: int | None) -> None:
    """Report ``done`` batches out of ``total`` (``None``: unknown) to a :data:`ProgressCallback`."""
    progress(done / total if total else None, f"batch {done} of {total}" if total else f"batch {done}")
