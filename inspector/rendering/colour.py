"""Colour a drawn graph by a number per node: parameters, MACs, activation size, time, activation health.

The renderers take ``color_by=`` (a column name) and, for numbers they cannot
compute from the graph, ``values=`` computed by the caller — so this package
never imports the analysis code that measures them:

* ``"params"``, ``"macs"``, ``"output_bytes"``: read from the graph itself
  (``LayerNode.params`` and :mod:`inspector.cost`); ``values`` is not needed.
* anything else — ``"seconds"`` from :func:`inspector.profile_layers`, or an
  :func:`inspector.activation_stats` column such as ``"nan_count"``,
  ``"inf_count"``, ``"zero_fraction"``, ``"dead_fraction"``, ``"max"``, or a
  :func:`inspector.gradient_stats` column such as ``"grad_norm"`` (log scale:
  vanishing and exploding gradients are orders of magnitude apart) — comes
  from ``values``: a ``{node_id: number}`` mapping, or a DataFrame with the
  node ids in an ``id`` (or ``layer``) column and the named column.  A layer with
  several rows (several outputs, or ``per_channel=True``) shows its largest
  value, so the worst output stands out.

A node drawn for several nodes (a folded ``×N`` group, a collapsed nested
model) shows its own value when it has one (a nested model's MACs or time),
else the sum of its members' (counts, sizes, time) or their largest (any other
column).  Colours run on a continuous scale from pale yellow to dark red:
logarithmic for counts, sizes and time (``color_scale="log"``; zero gets the
palest colour), linear otherwise; a node without a value is white.  The legend
(:meth:`ColourScale.ticks`) gives the scale's colours with their values.

Example:
    >>> from inspector.graph import LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense", params=10),
    ...     LayerNode(id="b", name="b", class_name="Dense", params=1000)), (), ("a",), ("b",))
    >>> scale = colour_scale(g, "params")
    >>> scale.log, scale.colour("a"), scale.colour("b")
    (True, '#ffffcc', '#bd0026')
    >>> [text for _, text in scale.ticks(3)]
    ['10', '100', '1,000']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inspector.errors import InputDataError
from inspector.graph import ModelGraph

__all__ = ["ColourScale", "colour_scale", "GRAPH_COLUMNS", "LOG_COLUMNS", "MISSING_FILL", "format_value"]

GRAPH_COLUMNS = ("params", "macs", "output_bytes")  # computed from the graph when no values are given
# counts, sizes and times span orders of magnitude: a log scale; everything else (fractions, means) linear
_COUNTS = frozenset({"params", "trainable_params", "non_trainable_params", "layer_params", "nan_count", "inf_count",
                     "count"})  # whole numbers: shown with separators
LOG_COLUMNS = _COUNTS | frozenset({"macs", "output_bytes", "seconds", "grad_norm", "grad_norm_max", "mean_abs"})
# a folded group or collapsed model sums these over its members; it shows the largest member of the others
_ADDITIVE = frozenset({"params", "trainable_params", "non_trainable_params", "macs", "output_bytes", "seconds"})
# pale yellow to dark red (the sequential YlOrRd ramp); readable black text up to the last two stops
_STOPS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026")
MISSING_FILL = "#ffffff"


@dataclass(frozen=True)
class ColourScale:
    """The colour of each node for one column, and the scale behind it."""

    column: str
    values: dict[str, float]  # node id (of the original graph) -> value
    low: float
    high: float
    log: bool
    shown: dict[str, float] = field(default_factory=dict)  # drawn node id -> value (set by :meth:`for_view`)

    def position(self, value: float) -> float:
        """Where ``value`` lies on the scale, 0 (palest) to 1 (darkest)."""
        if math.isnan(value):
            return math.nan
        if self.log:
            if value <= 0 or self.low <= 0:
                return 0.0
            if self.high <= self.low:
                return 1.0
            t = (math.log10(value) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        else:
            if self.high <= self.low:
                return 1.0 if value > self.low else 0.0
            t = (value - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, t))

    def value(self, node_id: str) -> float | None:
        """The value shown on a drawn node (or a node of the graph), ``None`` if it has none."""
        value = self.shown.get(node_id, self.values.get(node_id))
        return None if value is None or math.isnan(value) else value

    def colour(self, node_id: str) -> str:
        """The fill colour of a node: its value's colour, white without one."""
        value = self.value(node_id)
        return MISSING_FILL if value is None else ramp(self.position(value))

    def dark(self, node_id: str) -> bool:
        """Whether the node's fill is dark enough to need white text."""
        value = self.value(node_id)
        return value is not None and self.position(value) > 0.85

    def ticks(self, n: int = 5) -> list[tuple[str, str]]:
        """``n`` evenly spaced ``(colour, value text)`` pairs from the palest to the darkest end."""
        if self.high <= self.low or not self.values:
            return [(ramp(1.0 if self.high > 0 else 0.0), format_value(self.column, self.high))]
        out = []
        for i in range(n):
            t = i / (n - 1)
            if self.log:
                value = 10 ** (math.log10(self.low) + t * (math.log10(self.high) - math.log10(self.low)))
            else:
                value = self.low + t * (self.high - self.low)
            out.append((ramp(t), format_value(self.column, value)))
        return out

    @property
    def title(self) -> str:
        """The legend's heading, e.g. ``"macs (log scale)"``."""
        return f"{self.column} ({'log' if self.log else 'linear'} scale)"

    def for_view(self, view: Any) -> ColourScale:
        """This scale with a value for every drawn node of a :class:`~inspector.rendering.view.View`."""
        shown: dict[str, float] = {}
        parents = {n.id: n.parent for n, _ in view.source.walk()}
        gathered: dict[str, list[float]] = {}
        for node_id, value in self.values.items():
            target = view.locate(node_id)
            if target is None:
                continue
            if target == node_id:
                shown[target] = value
                continue
            parent = parents.get(node_id)
            if parent is not None and view.locate(parent) == target and parent in self.values:
                continue  # its enclosing model already counts it
            gathered.setdefault(target, []).append(value)
        for target, members in gathered.items():
            if target not in shown:
                finite = [v for v in members if not math.isnan(v)]
                if finite:
                    shown[target] = sum(finite) if self.column in _ADDITIVE else max(finite)
        return ColourScale(self.column, self.values, self.low, self.high, self.log, shown)


def ramp(t: float) -> str:
    """The colour at position ``t`` (0 to 1) of the ramp, interpolated between its stops.

    Example:
        >>> ramp(0.0), ramp(1.0)
        ('#ffffcc', '#bd0026')
    """
    t = min(1.0, max(0.0, t)) * (len(_STOPS) - 1)
    i = min(int(t), len(_STOPS) - 2)
    a, b = _rgb(_STOPS[i]), _rgb(_STOPS[i + 1])
    f = t - i
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def format_value(column: str, value: float | None) -> str:
    """A value as the legend and tooltips show it: counts with separators, bytes and seconds with units.

    Example:
        >>> format_value("macs", 1_234_567), format_value("seconds", 0.00125), format_value("zero_fraction", 0.5)
        ('1.23 M', '1.25 ms', '0.5')
        >>> format_value("params", 1234567), format_value("grad_norm", 0.0181576)
        ('1,234,567', '0.0182')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no value"
    if column == "seconds":
        for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
            if abs(value) >= scale or unit == "µs":
                return f"{value / scale:.3g} {unit}"
    if column == "output_bytes":
        from inspector.limits import format_bytes

        return format_bytes(int(round(value)))
    if column == "macs":
        from inspector.cost import format_macs

        return format_macs(value)
    if column in _COUNTS:
        return f"{round(value):,}"
    return f"{value:.3g}"


def colour_scale(graph: ModelGraph, column: str, values: Any = None, *,
                 scale: str | None = None) -> ColourScale:
    """The colour of every node of ``graph`` for ``column`` (see the module docstring).

    Raises:
        InputDataError: an unknown column without ``values``, ``values`` without that column, no value for any
            node of the graph, or an unknown ``scale``.
    """
    column = str(column)
    if values is None:
        if column not in GRAPH_COLUMNS:
            raise InputDataError(
                f"color_by={column!r} needs the numbers: the graph holds only {', '.join(GRAPH_COLUMNS)}.",
                received=f"color_by={column!r} and no values",
                fix="Pass values= as well: the frame of inspector.profile_layers (color_by='seconds') or of "
                    "inspector.activation_stats (e.g. color_by='nan_count'), or a {node_id: number} dict.")
        numbers = _graph_values(graph, column)
    else:
        numbers = _given_values(column, values)
        known = {n.id for n, _ in graph.walk()}
        numbers = {k: v for k, v in numbers.items() if k in known}
        if not numbers:
            sample = ", ".join(repr(n.id) for n in graph.nodes[:4])
            raise InputDataError(
                f"None of the values for color_by={column!r} names a node of model {graph.name!r}.",
                received=f"{len(_given_values(column, values))} values",
                fix=f"Key the values by node id (e.g. {sample}), computed on the same model.")
    if scale is None:
        log = column in LOG_COLUMNS
    elif str(scale).lower() in ("log", "linear"):
        log = str(scale).lower() == "log"
    else:
        raise InputDataError("Unknown colour scale.", received=f"color_scale={scale!r}",
                             fix="Use 'log', 'linear', or leave it out (log for counts, sizes and time).")
    finite = [v for v in numbers.values() if not math.isnan(v) and not math.isinf(v)]
    if log:
        positive = [v for v in finite if v > 0]
        low, high = (min(positive), max(positive)) if positive else (0.0, 0.0)
    else:
        low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    return ColourScale(column, numbers, float(low), float(high), log)


def _graph_values(graph: ModelGraph, column: str) -> dict[str, float]:
    if column == "params":
        return {n.id: float(n.params) for n, _ in graph.walk()}
    from inspector.cost import layer_costs

    out = {}
    for node_id, cost in layer_costs(graph).items():
        value = getattr(cost, column)
        out[node_id] = math.nan if value is None else float(value)
    return out


def _given_values(column: str, values: Any) -> dict[str, float]:
    if hasattr(values, "columns") and hasattr(values, "itertuples"):  # a DataFrame (pandas not imported here)
        key = next((k for k in ("id", "layer") if k in values.columns), None)
        if key is None or column not in values.columns:
            raise InputDataError(
                f"The values for color_by={column!r} need an 'id' (or 'layer') column and a {column!r} column.",
                received=f"a DataFrame with columns {list(values.columns)[:12]}",
                fix="Pass the frame of profile_layers or activation_stats, or a {node_id: number} dict.")
        pairs: Iterable[tuple[Any, Any]] = zip(values[key].tolist(), values[column].tolist(), strict=True)
    elif isinstance(values, Mapping):
        pairs = values.items()
    else:
        raise InputDataError(f"The values for color_by={column!r} must be a mapping or a DataFrame.",
                             received=f"a {type(values).__name__}",
                             fix="Pass {node_id: number} or a frame with an 'id' column.")
    out: dict[str, float] = {}
    for node_id, raw in pairs:
        try:
            value = math.nan if raw is None else float(raw)
        except (TypeError, ValueError):
            raise InputDataError(f"A value for color_by={column!r} is not a number.",
                                 received=f"{node_id!r}: {raw!r}", fix="Pass numbers (NaN for no value).") from None
        key = str(node_id)
        previous = out.get(key)
        # several rows for one layer: the largest shows (NaN only when every row is NaN)
        out[key] = value if previous is None or math.isnan(previous) else max(previous, value)
    return out
