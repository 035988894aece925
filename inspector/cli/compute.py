"""``activations``, ``profile`` and ``project``: the commands that run the model on data (Keras and TensorFlow).

Example:
    >>> from inspector.cli.parser import build_parser
    >>> run_activations(build_parser().parse_args(["activations", "m.keras", "--layer", "0", "--input", "X.npy"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    inspector.errors.InputDataError: Nothing to do:...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import inspector
from inspector.cli import common, tables
from inspector.cli.parser import TableFormat
from inspector.errors import InputDataError

__all__ = ["run_activations", "run_profile", "run_project"]


# =============================================================================== activations
def run_activations(args: argparse.Namespace) -> None:
    parser_hint = "keras-inspector activations --help"
    if args.output is None and not args.stats:
        raise InputDataError("Nothing to do: give -o FILE to save the activations, --stats to print their "
                             "statistics, or both.", received=" ".join(sys.argv[1:]) or "no -o and no --stats",
                             fix=f"Add -o acts.npz or --stats (see {parser_hint}).")
    layers: Any = args.layer
    if any(spec == "all" for spec in layers):
        layers = "all"
    output = common.check_output(args.output) if args.output is not None else None
    if output is not None and output.suffix.lower() == ".npy" and (layers == "all" or len(layers) > 1):
        raise InputDataError("A .npy file holds one array, but several layers were asked for.",
                             received=f"-o {output} with --layer {' --layer '.join(map(str, args.layer))}",
                             fix=f"Write them to {output.with_suffix('.npz')} (one array per node id), or ask "
                                 "for one layer.")
    data = common.load_data(args)
    model = common.load_model(args)
    if output is not None:
        values = inspector.inspect_layers(model, layers, data, training=args.training,
                                            batch_size=args.batch_size, progress=common.progress_option(args))
        arrays = _flatten_outputs(values)
        _save_arrays(output, arrays)
        described = ", ".join(f"{key} {tuple(a.shape)} {a.dtype}" for key, a in list(arrays.items())[:6])
        more = f", … ({len(arrays)} arrays)" if len(arrays) > 6 else ""
        common.note(args, f"wrote {output}: {described}{more}")
    if args.stats:
        stats = inspector.activation_stats(model, layers, data, batch_size=args.batch_size,
                                             per_channel=args.per_channel, training=args.training,
                                             progress=common.progress_option(args))
        for message in stats.attrs.get("input_warnings", []) or []:
            common.note(args, f"note: {message}")
        mode = "training" if args.training else "inference"
        tables.print_table(stats, TableFormat(args.format), title=f"Activation statistics ({mode} mode)")


def _flatten_outputs(values: dict[str, Any]) -> dict[str, Any]:
    """``{node_id: array or list of arrays}`` → ``{key: array}``; a layer's k-th output is ``node_id:k``.

    Example:
        >>> import numpy as np
        >>> sorted(_flatten_outputs({"d": np.zeros(2), "split": [np.zeros(1), np.ones(1)]}))
        ['d', 'split:0', 'split:1']
    """
    import numpy as np

    arrays: dict[str, Any] = {}
    for node_id, value in values.items():
        if isinstance(value, (list, tuple)):
            for k, item in enumerate(value):
                arrays[f"{node_id}:{k}"] = np.asarray(item)
        else:
            arrays[node_id] = np.asarray(value)
    return arrays


def _save_arrays(path: Path, arrays: dict[str, Any]) -> None:
    import io

    import numpy as np

    buffer = io.BytesIO()
    if path.suffix.lower() == ".npy":
        if len(arrays) != 1:
            raise InputDataError("A .npy file holds one array, but this layer has several outputs.",
                                 received=f"outputs {', '.join(arrays)}",
                                 fix=f"Write them to {path.with_suffix('.npz')} instead.")
        np.save(buffer, next(iter(arrays.values())), allow_pickle=False)
    else:
        np.savez(buffer, **arrays)
    common.write(path, buffer.getvalue())


# =============================================================================== profile
def run_profile(args: argparse.Namespace) -> None:
    fmt = TableFormat(args.format)
    data = common.load_data(args)
    model = common.load_model(args)
    frame = inspector.profile_layers(model, data, training=args.training, repeats=args.repeats)
    attrs = frame.attrs
    footer = (f"Layers: {attrs['total_seconds'] * 1e3:.3f} ms in all | plain model(X): "
              f"{attrs['forward_seconds'] * 1e3:.3f} ms ({attrs['overhead']:+.0%}) | "
              f"{attrs['samples']:,} samples, median of {attrs['repeats']}, {attrs['mode']} mode, {attrs['backend']}")
    if fmt in (TableFormat.CSV, TableFormat.JSON):
        tables.print_table(frame, fmt)
        if not args.quiet:
            common.note(args, footer)
        return
    view = frame.assign(
        ms=(frame["seconds"] * 1e3).round(3), share=(frame["share"] * 100).round(1),
        id=["  " * d + i for d, i in zip(frame["depth"], frame["id"], strict=True)],
    )[["id", "class_name", "ms", "share"]].rename(columns={"id": "Layer", "class_name": "Type", "ms": "Time (ms)",
                                                            "share": "Share (%)"})
    tables.print_table(view, fmt, title=f"Profile: {getattr(model, 'name', '')}", footer=footer)


# =============================================================================== project
def run_project(args: argparse.Namespace) -> None:
    output = common.check_output(args.output)
    data = common.load_data(args) if args.input else None
    model_file = common.read_model_file(args)
    function = getattr(inspector, "project_activations" if args.input else "project_embedding")
    model = common.load_model(args, model_file)
    with common.fraction_bar(args, args.method.upper()) as progress:
        options = {"method": args.method, "n_components": args.dims, "progress": progress}
        if data is not None:
            projection = function(model, args.layer, data, batch_size=args.batch_size, **options)
        else:
            projection = function(model, args.layer, **options)
    if output.suffix.lower() == ".csv":
        common.write(output, projection.to_csv())
    else:
        figure = projection.figure()
        common.write(output, figure.to_html(include_plotlyjs=True, full_html=True))
    common.note(args, f"wrote {output} ({args.method.upper()}, {args.dims} dimensions)")
