"""Explicit, configurable resource limits.

Every limit is stated in the error raised when it is hit.  Defaults suit a
laptop; change them process-wide with :func:`set_limits` or per call where a
function takes ``limits=``.  Environment variables ``KERAS_INSPECTOR_<FIELD>``
(upper case) override the defaults when the process starts, so a server
operator can set them without code.

Example:
    >>> from inspector.limits import Limits, get_limits, set_limits
    >>> old = set_limits(max_upload_bytes=1_000_000)
    >>> get_limits().max_upload_bytes
    1000000
    >>> _ = set_limits(**vars(old))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

__all__ = ["Limits", "get_limits", "set_limits", "format_bytes"]


@dataclass(frozen=True)
class Limits:
    """Resource limits; sizes in bytes."""

    max_upload_bytes: int = 500 * 2**20  # a model file
    max_uncompressed_bytes: int = 2 * 2**30  # sum of a .keras zip's members once unpacked
    max_weight_bytes: int = 4 * 2**30  # memory the declared weights of a config would take
    max_declared_dim: int = 2**24  # any size a layer config declares (units, filters, input_dim, ...)
    max_parse_seconds: int = 60  # time to parse a file's HDF5 (a legacy .h5, a .keras's weights) in a child process
    max_config_depth: int = 64  # nesting of the JSON config
    max_config_bytes: int = 64 * 2**20  # size of the JSON config text
    max_layout_nodes: int = 400  # nodes laid out before repeated branches are folded
    max_points: int = 100_000  # points projected before sampling
    max_samples: int = 100_000  # samples run through a model for activations
    max_batch_bytes: int = 2 * 2**30  # memory one batch of activations may take
    max_result_bytes: int = 4 * 2**30  # memory all activations kept in memory may take
    max_data_bytes: int = 2 * 2**30  # a user data file (.npy/.npz/.csv)


def _from_environment() -> Limits:
    overrides = {}
    for f in fields(Limits):
        value = os.environ.get(f"KERAS_INSPECTOR_{f.name.upper()}")
        if value:
            overrides[f.name] = int(value)
    return Limits(**overrides)


_current = _from_environment()


def get_limits() -> Limits:
    """The limits in force in this process."""
    return _current


def set_limits(**changes: int) -> Limits:
    """Change some limits process-wide; returns the previous limits (to restore them)."""
    global _current
    previous = _current
    _current = replace(_current, **changes)
    return previous


def format_bytes(n: float) -> str:
    """Human-readable size.

    Example:
        >>> format_bytes(3 * 2**30)
        '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} bytes" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
