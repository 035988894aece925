"""Explicit, configurable resource limits.

Every limit is stated in the error raised when it is hit.  Defaults suit a
laptop; change them process-wide with :func:`set_limits` or per call where a
function takes ``limits=``.  Environment variables ``KERAS_INSPECTOR_<FIELD>``
(upper case) override the defaults, so a server operator can set them without
code; they are read on the first :func:`get_limits` (not at import, so a bad
value is an :class:`~inspector.errors.InspectorError` where a limit is used) and
take an integer written as ``100000``, ``100_000`` or ``1e5``.

Example:
    >>> from inspector.limits import Limits, get_limits, set_limits
    >>> old = set_limits(max_upload_bytes=1_000_000)
    >>> get_limits().max_upload_bytes
    1000000
    >>> _ = set_limits(**vars(old))
    >>> parse_limit("KERAS_INSPECTOR_MAX_POINTS", "2.5e5"), parse_limit("KERAS_INSPECTOR_MAX_POINTS", "100_000")
    (250000, 100000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation

from inspector.errors import InspectorError

__all__ = ["Limits", "get_limits", "set_limits", "format_bytes", "parse_limit"]


@dataclass(frozen=True)
class Limits:
    """Resource limits; sizes in bytes."""

    max_upload_bytes: int = 500 * 2**20  # a model file
    max_uncompressed_bytes: int = 2 * 2**30  # sum of a .keras zip's members once unpacked
    # memory a model's build takes: its weights, serialized arrays and vocabularies, predicted from the config (and
    # the stored weights). Keras takes about 7 bytes per byte of weights to load them, TensorFlow 0.85 GiB of its own:
    # 128 MiB keeps an open within 2 GiB (bench/bounded.py, docs/performance.md)
    max_weight_bytes: int = 128 * 2**20
    max_declared_dim: int = 2**24  # any size a layer config declares (units, filters, input_dim, ...)
    max_parse_seconds: int = 60  # time to parse a file's HDF5 (a legacy .h5, a .keras's weights) in a child process
    max_config_depth: int = 64  # nesting of the JSON config
    max_config_bytes: int = 16 * 2**20  # size of the JSON config text (NASNetLarge: 1 MiB; 16 MiB of {} parse to 0.4 GiB)
    max_layout_nodes: int = 400  # nodes laid out before repeated branches are folded
    max_graph_nodes: int = 50_000  # layer calls once nested models' calls are expanded (past it: folded, not traced)
    max_build_seconds: int = 60  # time the first build of a model whose memory cannot be predicted may take
    max_points: int = 100_000  # points projected before sampling
    max_samples: int = 100_000  # samples run through a model for activations
    max_batch_bytes: int = 2 * 2**30  # memory one batch of activations may take
    max_result_bytes: int = 4 * 2**30  # memory all activations kept in memory may take
    max_data_bytes: int = 2 * 2**30  # a user data file (.npy/.npz/.csv)


_LARGEST = Decimal(2**63)


def parse_limit(variable: str, text: str) -> int:
    """The positive integer an environment variable holds: ``100000``, ``100_000`` or ``1e5``.

    Example:
        >>> parse_limit("KERAS_INSPECTOR_MAX_SAMPLES", " 1e3 ")
        1000

    Raises:
        InspectorError: anything else (a fraction, a unit such as ``500MB``, zero or a negative number).
    """
    value = text.strip()
    number: int | None = None
    try:
        float(value)  # Python's own number syntax (Decimal is laxer with underscores: "_1")
        exact = Decimal(value.replace("_", ""))  # exact, unlike float: 1e5, 2.5e5, 100_000
    except (ValueError, InvalidOperation):
        exact = Decimal("NaN")
    if exact.is_finite() and exact == exact.to_integral_value() and exact <= _LARGEST:
        number = int(exact)
    if number is None or number < 1:  # also above 2**63: no size or count is that large
        field = variable.removeprefix("KERAS_INSPECTOR_").lower()
        default = f" ({getattr(Limits(), field):,})" if hasattr(Limits(), field) else ""
        raise InspectorError(
            f"The environment variable {variable} must be a positive whole number.",
            received=f"{variable}={text!r}",
            fix=f"Set it to a number such as 100000, 100_000 or 1e5 (sizes are in bytes), or unset it for the "
                f"default{default}.")
    return number


def _from_environment() -> Limits:
    overrides = {}
    for f in fields(Limits):
        variable = f"KERAS_INSPECTOR_{f.name.upper()}"
        value = os.environ.get(variable)
        if value:
            overrides[f.name] = parse_limit(variable, value)
    return Limits(**overrides)


_current: Limits | None = None  # read from the environment on first use


def get_limits() -> Limits:
    """The limits in force in this process."""
    global _current
    if _current is None:
        _current = _from_environment()
    return _current


def set_limits(**changes: int) -> Limits:
    """Change some limits process-wide; returns the previous limits (to restore them)."""
    global _current
    previous = get_limits()
    _current = replace(previous, **changes)
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
