"""One extraction request end to end: resolve the layers, validate the data, check the limits, run every batch.

:class:`_Request` is what :func:`~inspector.analysis.activations.inspect_layers`,
:func:`~inspector.analysis.activations.activation_stats` and
:func:`~inspector.analysis.activations.compare_modes` share: the batch size chosen or checked against
``max_batch_bytes`` from the output shapes, in-memory results against ``max_samples`` and
``max_result_bytes``, a backend failure on the user's data turned into an :class:`~inspector.errors.InputDataError`,
progress reported per batch, and the results assembled (arrays, statistics or the mode comparison).

Example:
    >>> _output_bytes((None, 8, 4), "float32")  # per sample
    128
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from inspector.analysis.forward import Mode, _runner
from inspector.analysis.layer_calls import _catalog, _resolve_many
from inspector.analysis.reductions import _exact_batch_stats, _numpy_stats, _Running, _to_numpy
from inspector.analysis.reservoir import _Reservoir
from inspector.errors import InputDataError, InspectorError, LimitExceededError, ModelLoadError
from inspector.graph import Shape, format_shape
from inspector.io.inputs import (
    BatchStream,
    batch_stream,
    expected_text,
    input_specs,
    warn_nonfinite,
)
from inspector.limits import format_bytes, get_limits
from inspector.progress import ProgressCallback, report_batch

DEFAULT_BATCH_SIZE = 32


# =============================================================================== one request, end to end
class _Request:
    """Resolve layers, validate data, check limits, then run every batch through one runner."""

    def __init__(self, model: Any, layers: Any, X: Any, *, mode: Mode, kind: str, batch_size: int | None,
                 progress: ProgressCallback | bool | None, compiled: bool | None, keep_in_memory: bool,
                 per_channel: bool = False) -> None:
        self.model = model
        self.catalog = _catalog(model)
        self.ids = self._layer_ids(layers)
        by_id = {e.id: e for e in self.catalog.walk()}
        self.entries = [by_id[i] for i in self.ids]
        self.specs = input_specs(model)
        self.kind = kind
        self.mode = mode
        self.per_channel = per_channel
        self.progress = progress
        self.limits = get_limits()
        self.per_sample = self._per_sample_bytes()
        self.keep_in_memory = keep_in_memory
        self.stream: BatchStream = batch_stream(X, self.specs, batch_size=_positive(batch_size))
        self.batch_size = self._batch_size(batch_size)
        self.stream.set_batch_size(self.batch_size)
        if self.stream.n_samples is not None:
            self._check_total(self.stream.n_samples)
            warn_nonfinite(self.stream.warnings, stacklevel=4)
        self.runner = self._make_runner(compiled)

    # ------------------------------------------------------------------ what a kind of request changes
    # (inspector.analysis.gradients' request asks for no layer at all, counts gradients, runs its own runner)
    def _layer_ids(self, layers: Any) -> list[str]:
        return _resolve_many(self.model, self.catalog, layers)

    def _per_sample_bytes(self) -> int:
        """Bytes one sample's requested results take during the pass (planned from the output shapes)."""
        per_sample = sum(_output_bytes(shape, dtype) for e in self.entries for shape, dtype in e.outputs)
        return per_sample * 2 if self.kind == "compare" else per_sample

    def _make_runner(self, compiled: bool | None) -> Any:
        return _runner(self.model, self.catalog, self.ids, self.kind, self.mode, self.per_channel, self.specs,
                       compiled, self.stream.n_batches)

    # ------------------------------------------------------------------ limits
    def _batch_size(self, requested: int | None) -> int:
        limit = self.limits.max_batch_bytes
        if self.per_sample <= 0:
            return int(requested or DEFAULT_BATCH_SIZE)
        fits = limit // self.per_sample
        if fits < 1:
            raise LimitExceededError(
                f"One sample's activations for the requested layers need {format_bytes(self.per_sample)}, above "
                f"the limit max_batch_bytes = {format_bytes(limit)}.",
                received=f"{len(self.ids)} layer(s): {_short_list(self.ids)}",
                fix="Ask for fewer or smaller layers, or raise the limit with inspector.set_limits(max_batch_bytes=...).")
        if requested is None:
            return self._one_pass_size() or int(min(DEFAULT_BATCH_SIZE, fits))
        n = self.stream.n_samples if self.stream.in_memory else None
        if requested > fits and (n is None or n > fits):
            raise LimitExceededError(
                f"A batch of {requested} samples would need {format_bytes(requested * self.per_sample)} of "
                f"activations ({format_bytes(self.per_sample)} per sample), above the limit max_batch_bytes = "
                f"{format_bytes(limit)}.",
                received=f"batch_size={requested} for {len(self.ids)} layer(s): {_short_list(self.ids)}",
                fix=f"Use batch_size={int(fits)} or less, ask for fewer layers, or raise the limit with "
                    "inspector.set_limits(max_batch_bytes=...).")
        return int(requested)

    def _one_pass_size(self) -> int | None:
        """All of an in-memory ``X`` in one pass, as ``model(X)`` runs it, when the whole result is kept and
        the outputs of *every* call of the model for all of ``X`` fit in ``max_batch_bytes``; else ``None``.

        The result then holds TensorFlow's own buffers: batches are not copied into it (for MobileNetV2 at
        96x96, 64 samples and all 155 layers, 1 GB, that copy cost 0.3 s, as much as the pass itself).
        Every call counts, not only the requested ones, because a pass holds each output until its
        consumers ran; a free dimension (a sequence length) makes the size unknown, so it keeps batches.
        """
        n = self.stream.n_samples
        if self.kind != "values" or not self.stream.in_memory or n is None or n <= DEFAULT_BATCH_SIZE:
            return None
        outputs = [output for e in self.catalog.walk() for output in e.outputs]
        if any(d is None for shape, _ in outputs for d in shape[1:]):
            return None
        every_call = sum(_output_bytes(shape, dtype) for shape, dtype in outputs)
        return n if n * every_call <= self.limits.max_batch_bytes else None

    def _check_total(self, n: int) -> None:
        if not self.keep_in_memory:
            return
        if n > self.limits.max_samples:
            raise LimitExceededError(
                f"{n} samples is above the limit max_samples = {self.limits.max_samples} for results kept in memory.",
                received=f"{n} samples",
                fix="Pass fewer samples, use activation_stats (which streams any number), or raise the limit "
                    "with inspector.set_limits(max_samples=...).")
        total = n * self.per_sample
        if total > self.limits.max_result_bytes:
            raise LimitExceededError(
                f"Keeping the requested activations of {n} samples in memory would need {format_bytes(total)}, "
                f"above the limit max_result_bytes = {format_bytes(self.limits.max_result_bytes)}.",
                received=f"{n} samples x {format_bytes(self.per_sample)} per sample for {len(self.ids)} layer(s)",
                fix=f"Pass at most {max(1, self.limits.max_result_bytes // max(self.per_sample, 1))} samples, ask for "
                    "fewer layers, use activation_stats (streamed), or raise the limit with "
                    "inspector.set_limits(max_result_bytes=...).")

    # ------------------------------------------------------------------ the loop
    def _batches(self) -> Iterator[Any]:
        """Reduced results of each batch, in order, with progress reported and errors explained.

        Sets ``self.batch`` and ``self.batch_state`` (the inputs and the state the batch started from) so a
        batch can be run again (see :meth:`stats`).
        """
        total = self.stream.n_batches
        report = _progress_reporter(self.progress, total)
        state = self.runner.initial_state()
        done = 0
        try:
            iterator = iter(self.stream)
            for batch in iterator:
                self.batch, self.batch_state = batch, state
                try:
                    result, state = self.runner(batch, state)
                except InspectorError:
                    raise
                except Exception as e:
                    if type(e).__name__ == "UnimplementedError":  # the machine, not the data
                        raise ModelLoadError(
                            f"TensorFlow on this machine cannot run an operation of the model: {_first_line(e)}",
                            received=f"a {type(e).__name__} from TensorFlow",
                            fix="Run the model with the JAX backend (KERAS_BACKEND=jax), or on a machine whose "
                                "TensorFlow build implements this operation.") from e
                    if not _is_data_error(e):
                        raise
                    raise InputDataError(
                        f"The model failed on this data: {type(e).__name__}: {_first_line(e)}",
                        received="a batch of " + ", ".join(f"{s.name!r} {tuple(a.shape)} {a.dtype}"
                                                           for s, a in zip(self.specs, batch, strict=True)),
                        fix=f"Pass data matching {expected_text(self.specs)}.") from e
                yield result
                done += 1
                if report is not None:
                    report_batch(report, done, total)
        finally:
            if report is not None and hasattr(report, "close"):
                report.close()
        if self.stream.n_samples is not None and not self.stream.in_memory:
            warn_nonfinite(self.stream.warnings, stacklevel=5)

    def _check_measured(self, per_sample: int) -> None:
        """Outputs with free (None) dimensions were counted as size 1; check again with the real size."""
        if per_sample <= self.per_sample:
            return
        self.per_sample = per_sample
        if self.batch_size * per_sample > self.limits.max_batch_bytes:
            fits = max(1, self.limits.max_batch_bytes // per_sample)
            raise LimitExceededError(
                f"A batch of {self.batch_size} samples needs {format_bytes(self.batch_size * per_sample)} of "
                f"activations ({format_bytes(per_sample)} per sample, measured on the first batch), above the "
                f"limit max_batch_bytes = {format_bytes(self.limits.max_batch_bytes)}.",
                received=f"batch_size={self.batch_size} for {len(self.ids)} layer(s): {_short_list(self.ids)}",
                fix=f"Use batch_size={fits} or less, ask for fewer layers, or raise the limit with "
                    "inspector.set_limits(max_batch_bytes=...).")
        if self.stream.n_samples is not None and self.stream.in_memory:
            self._check_total(self.stream.n_samples)

    def _streamed_sample(self, n: int) -> None:
        if self.stream.in_memory or not self.keep_in_memory:
            return
        self._check_total(n)

    # ------------------------------------------------------------------ results
    def values(self) -> dict[str, Any]:
        n = self.stream.n_samples
        parts: list[list[list[np.ndarray]]] = []
        out: list[list[np.ndarray]] | None = None
        filled = 0
        for result in self._batches():
            arrays = [[_to_numpy(t) for t in outputs] for outputs in result]
            rows = len(arrays[0][0]) if arrays and arrays[0] else 0
            if filled == 0 and rows:
                self._check_measured(sum(a.nbytes for outputs in arrays for a in outputs) // rows)
            if n is not None and self.stream.in_memory and n > rows and out is None:
                out = [[np.empty((n, *a.shape[1:]), a.dtype) for a in outputs] for outputs in arrays]
            if out is not None:
                for node_id, dest, outputs in zip(self.ids, out, arrays, strict=True):
                    for d, a in zip(dest, outputs, strict=True):
                        if d.shape[1:] != a.shape[1:]:
                            raise InputDataError(
                                f"The output of {node_id!r} changes shape between batches ({d.shape[1:]} vs "
                                f"{a.shape[1:]}), so batches cannot be stacked.",
                                received=f"batch_size={self.batch_size}",
                                fix="Pad the inputs to one length, or use a batch_size covering all samples.")
                        d[filled:filled + len(a)] = a
            else:
                parts.append(arrays)
                self._streamed_sample(sum(len(p[0][0]) for p in parts if p and p[0]))
            filled += rows
        if out is None:
            if not parts:
                raise InputDataError("The data holds no samples.", received="0 samples",
                                     fix=f"Pass at least one sample for {expected_text(self.specs)}.")
            out = parts[0] if len(parts) == 1 else [
                [_concatenate(node_id, [p[i][k] for p in parts]) for k in range(len(parts[0][i]))]
                for i, node_id in enumerate(self.ids)]
        result: dict[str, Any] = {}
        for node_id, outputs in zip(self.ids, out, strict=True):
            for a in outputs:
                a.flags.writeable = False
            result[node_id] = outputs[0] if len(outputs) == 1 else list(outputs)
        return result

    def stats(self) -> Any:
        return stats_frame(self.layout(), self.running_totals(), per_channel=self.per_channel,
                           samples=self.stream.n_samples, mode=self.mode, input_warnings=self.stream.warnings)

    def layout(self) -> list[tuple[str, str, list[str]]]:
        """``(node id, class name, output shapes)`` of each requested layer: what a statistics row names."""
        return [(e.id, e.class_name, [format_shape(shape) for shape, _ in e.outputs]) for e in self.entries]

    def running_totals(self) -> list[list[_Running | None]] | None:
        """The statistics of every batch merged per requested output (``None`` for no batch; an output
        that is not numeric has ``None``): what :func:`stats_frame` turns into rows, and what the workers
        of :mod:`inspector.analysis.distributed` send back to be merged."""
        totals: list[list[_Running | None]] | None = None
        for result in self._batches():
            if totals is None:
                totals = [[_Running() if parts else None for parts in outputs] for outputs in result]
            numbers = [[_numpy_stats(parts) for parts in outputs] for outputs in result]
            exact = self._exact_where_nonfinite(numbers)
            for i, (acc_row, outputs) in enumerate(zip(totals, numbers, strict=True)):
                for k, (acc, parts) in enumerate(zip(acc_row, outputs, strict=True)):
                    if acc is None:
                        continue
                    if (i, k) in exact:
                        acc.add(*exact[i, k])
                    else:
                        count, mean, m2, low, high, zeros, alive, _ = parts
                        nothing = np.zeros_like(mean)
                        acc.add(np.broadcast_to(count, mean.shape), mean, m2, low, high, zeros, nothing, nothing,
                                alive)
        return totals

    def sample(self, reservoir: _Reservoir, positions: np.ndarray | None = None) -> None:
        """Offer every sample's requested outputs to ``reservoir``, a row per sample: its position first (its
        index in the data, or ``positions[index]``), then each output of each requested layer in order."""
        size = min(reservoir.n, self.stream.n_samples or reservoir.n) * self.per_sample
        if size > self.limits.max_result_bytes:
            raise LimitExceededError(
                f"A sample of {reservoir.n:,} samples' requested activations would need {format_bytes(size)}, "
                f"above the limit max_result_bytes = {format_bytes(self.limits.max_result_bytes)}.",
                received=f"n={reservoir.n} x {format_bytes(self.per_sample)} per sample for {len(self.ids)} "
                         f"layer(s): {_short_list(self.ids)}",
                fix=f"Ask for n={max(1, self.limits.max_result_bytes // max(self.per_sample, 1))} or fewer, or fewer "
                    "layers, or raise the limit with inspector.set_limits(max_result_bytes=...).")
        done = 0
        for result in self._batches():
            arrays = [_to_numpy(t) for outputs in result for t in outputs]
            rows = len(arrays[0]) if arrays else 0
            index = np.arange(done, done + rows)
            reservoir.add([index if positions is None else positions[index], *arrays])
            done += rows

    def _exact_where_nonfinite(self, numbers: list[list[list[np.ndarray]]]) -> dict[tuple[int, int], tuple]:
        """Exact float64 statistics for the outputs whose batch held NaN/Inf (the lean sums cannot tell)."""
        bad = [(i, k) for i, outputs in enumerate(numbers) for k, parts in enumerate(outputs)
               if parts and not np.all(parts[-1])]
        if not bad:
            return {}
        ids = sorted({self.ids[i] for i, _ in bad}, key=self.ids.index)
        runner = _runner(self.model, self.catalog, ids, "values", self.mode, False, self.specs,
                         self.runner.compiled, None)  # compiled alike: fused kernels treat NaN alike
        values, _ = runner(self.batch, self.batch_state)  # same inputs, same starting seed state
        by_id = dict(zip(ids, values, strict=True))
        return {(i, k): _exact_batch_stats(_to_numpy(by_id[self.ids[i]][k]), self.per_channel) for i, k in bad}

    def comparison(self) -> Any:
        import pandas as pd

        sums: list[list[np.ndarray | None]] | None = None
        for result in self._batches():
            numbers = [[np.array([float(np.sum(_to_numpy(p), dtype=np.float64)) for p in parts]) if parts else None
                        for parts in outputs]
                       for outputs in result]
            if sums is None:
                sums = numbers
                continue
            for row_sum, row in zip(sums, numbers, strict=True):
                for k, values in enumerate(row):
                    if values is not None and row_sum[k] is not None:
                        total = row_sum[k]
                        row_sum[k] = np.array([total[0] + values[0], max(total[1], values[1]),
                                               total[2] + values[2], total[3] + values[3]])
        rows = []
        for entry, per_output in zip(self.entries, sums or [], strict=True):
            for k, values in enumerate(per_output):
                if values is None:
                    continue
                diff_sum, diff_max, scale_sum, count = values
                mean_diff = diff_sum / count if count else np.nan
                scale = scale_sum / count if count else np.nan
                rows.append({"layer": entry.id, "output": k, "class_name": entry.class_name,
                             "mean_abs_diff": mean_diff, "max_abs_diff": diff_max, "mean_abs_inference": scale,
                             "relative_diff": mean_diff / scale if scale else (0.0 if mean_diff == 0 else np.inf)})
        frame = pd.DataFrame(rows, columns=["layer", "output", "class_name", "mean_abs_diff", "max_abs_diff",
                                            "mean_abs_inference", "relative_diff"])
        frame.attrs["input_warnings"] = list(self.stream.warnings)
        frame.attrs["samples"] = self.stream.n_samples
        return frame

def stats_frame(layout: list[tuple[str, str, list[str]]], totals: list[list[_Running | None]] | None, *,
                per_channel: bool, samples: int | None, mode: Mode, input_warnings: list[str]) -> Any:
    """The DataFrame of :func:`~inspector.activation_stats`: one row per layer output (and channel).

    ``layout`` is :meth:`_Request.layout`, ``totals`` :meth:`_Request.running_totals` (or their merge
    over the blocks of a dataset).
    """
    import pandas as pd

    rows = []
    for (layer_id, class_name, shapes), accs in zip(layout, totals or [[None] * len(s) for _, _, s in layout],
                                                     strict=True):
        for k, acc in enumerate(accs):
            if acc is None:
                continue
            base = {"layer": layer_id, "output": k, "class_name": class_name,
                    "shape": shapes[k] if k < len(shapes) else format_shape(None)}
            for channel, numbers in enumerate(acc.rows()):
                rows.append({**base, **({"channel": channel} if per_channel else {}), **numbers})
    columns = ["layer", "output", "class_name", "shape", *(["channel"] if per_channel else []), "count",
               "mean", "std", "min", "max", "zero_fraction", "dead_fraction", "nan_count", "inf_count"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["input_warnings"] = list(input_warnings)
    frame.attrs["samples"] = samples
    frame.attrs["mode"] = mode.value
    frame.attrs["skipped_non_numeric"] = [layer_id for (layer_id, _, _), accs in zip(layout, totals or [],
                                                                                    strict=False)
                                          if any(a is None for a in accs)]
    return frame


# =============================================================================== small helpers
def _positive(batch_size: Any) -> int:
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputDataError("batch_size must be a positive integer.", received=f"batch_size={batch_size!r}",
                             fix="Pass e.g. batch_size=32, or leave it out to choose one automatically.")
    return int(batch_size)


def _output_bytes(shape: Shape, dtype: str) -> int:
    n = 1
    for d in shape[1:]:
        n *= int(d) if d is not None else 1
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:
        itemsize = 8
    return n * itemsize

def _concatenate(node_id: str, arrays: list[np.ndarray]) -> np.ndarray:
    try:
        return np.concatenate(arrays)
    except ValueError as e:
        raise InputDataError(f"The output of {node_id!r} changes shape between batches, so batches cannot be "
                             "stacked.", received=f"batch shapes {[a.shape for a in arrays[:4]]}",
                             fix="Pad the inputs to one length, or stream them through activation_stats.") from e

def _short_list(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f", ... ({len(ids)} in all)" if len(ids) > n else "")


def _first_line(e: Exception) -> str:
    """The informative part of a backend error: Keras wraps the real message in a few lines of its own."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m|\{\{function_node [^}]*\}\}\s*", "", str(e))  # colours, TF node names
    text = text.split("Arguments received")[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:400]


def _is_data_error(e: Exception) -> bool:
    """Errors Keras/TensorFlow raise for data the model cannot take (not bugs of ours)."""
    return isinstance(e, (ValueError, TypeError)) or type(e).__module__.startswith("tensorflow")


class _TqdmReporter:
    def __init__(self, total: int | None, unit: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit=unit, desc="activations", leave=False)

    def __call__(self, fraction: float | None, message: str) -> None:
        if ", " in message:  # "block 3 of 8, 1,204 samples/s": the rate beside the bar's own count
            self.bar.set_postfix_str(message.split(", ", 1)[1], refresh=False)
        self.bar.update(1)  # called once per batch (or block)

    def close(self) -> None:
        self.bar.close()


def _progress_reporter(progress: ProgressCallback | bool | None, total: int | None, unit: str = "batch") -> Any:
    """The callback to report to: the caller's, none (``False``), or a tqdm bar when stderr is a terminal."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    if progress is None and (total is None or total > 1) and sys.stderr is not None and sys.stderr.isatty():
        return _TqdmReporter(total, unit)
    return None
