"""``summary``, ``graph`` and ``diff``: the commands that draw and tabulate a model without computing on data.

Example:
    >>> from inspector.cli.parser import build_parser
    >>> run_summary(build_parser().parse_args(["summary", "no/such/model.keras"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    inspector.errors.ModelFormatError: No model file at this path...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import inspector
from inspector.cli import common, tables
from inspector.cli.parser import DiffGraphFormat, GraphFormat, TableFormat
from inspector.errors import InputDataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run_summary", "run_graph", "run_diff"]


# =============================================================================== summary
def run_summary(args: argparse.Namespace) -> None:
    fmt = TableFormat(args.format)
    common.import_in_background("pandas")  # the table's; the graph is read meanwhile
    graph = common.drawn_graph(args)
    frame = inspector.summary_frame(graph)
    totals = _totals(frame.attrs)
    if fmt is TableFormat.JSON:
        document = {"model": frame.attrs.get("name"), "source": frame.attrs.get("source"),
                    **{k: frame.attrs.get(k) for k in ("total_params", "trainable_params", "non_trainable_params",
                                                       "total_bytes", "total_macs", "total_output_bytes")},
                    "warnings": list(graph.warnings), "layers": tables.records(frame)}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if fmt is TableFormat.CSV:
        sys.stdout.write(frame.to_csv(index=False))
        return
    view = frame[["id", "class_name", "output_shape", "params", "connected_to"]].rename(columns={
        "id": "Layer", "class_name": "Type", "output_shape": "Output shape", "params": "Params",
        "connected_to": "Connected to"})
    # every file is read statically unless --load or --trust: the title marks the views that lack something
    title = f"Model: {frame.attrs.get('name', '')}" + (" (static view)" if graph.opaque_nodes else "")
    tables.print_table(view, fmt, title=title, footer=totals)


def _totals(attrs: dict[str, Any]) -> str:
    from inspector.cost import format_macs
    from inspector.limits import format_bytes

    total = int(attrs.get("total_params") or 0)
    size = attrs.get("total_bytes")
    size_text = f" ({format_bytes(size)})" if size else ""
    return (f"Total params: {total:,}{size_text} | Trainable: {int(attrs.get('trainable_params') or 0):,} | "
            f"Non-trainable: {int(attrs.get('non_trainable_params') or 0):,} | "
            f"MACs per sample: {format_macs(attrs.get('total_macs'))}")


# =============================================================================== graph
def run_graph(args: argparse.Namespace) -> None:
    outputs = [(common.check_output(path), GraphFormat(path.suffix.lower().lstrip("."))) for path in args.output]
    from inspector.rendering import render, to_dot, to_html, to_json

    # named from the package itself: once inspector.rendering (the subpackage) is imported, the attribute
    # `inspector.rendering` is that module, not the function (`-o g.html -o g.svg` failed)
    functions = {"render": render, "to_dot": to_dot, "to_html": to_html, "to_json": to_json}
    renderers = {fmt: functions[_RENDERER[fmt]] for _, fmt in outputs}
    fold_repeats = inspector.fold_repeats if GraphFormat.JSON in renderers and args.fold else None
    values = _load_values(args.values) if args.values else None
    if values is not None and args.color_by is None:
        raise InputDataError("--values colours the graph only together with --color-by.",
                             received=f"--values {args.values}", fix="Add --color-by COLUMN (a column of the CSV).")
    graph = common.drawn_graph(args)
    drawing: dict[str, Any] = {"rankdir": args.rankdir, "expand_depth": args.expand_depth, "fold": args.fold,
                               "expand_models": args.expand_models, "collapse_models": args.collapse_models}
    if args.color_by is not None:
        drawing.update(color_by=args.color_by, values=values)
        if GraphFormat.JSON in renderers:
            common.note(args, "note: --color-by colours the drawings; the .json graph holds no colours")
    for path, fmt in outputs:
        render = renderers[fmt]
        if fmt in (GraphFormat.SVG, GraphFormat.PNG, GraphFormat.PDF):
            content: bytes | str = render(graph, fmt.value, **drawing)
        elif fmt is GraphFormat.JSON:
            # the machine-readable graph: folded like the drawings unless --no-fold; nested graphs stay nested
            data = fold_repeats(graph) if fold_repeats is not None else graph
            content = json.dumps(render(data), indent=1, ensure_ascii=False) + "\n"
        else:
            content = render(graph, **drawing)
        common.write(path, content)
        common.note(args, f"wrote {path}")


def _load_values(path_text: str) -> pd.DataFrame:
    """The ``--values`` table: a CSV file, size-checked before pandas reads it."""
    import pandas as pd

    from inspector.limits import format_bytes, get_limits

    path = Path(path_text)
    if path.suffix.lower() != ".csv":
        raise InputDataError("--values takes a CSV table.", received=str(path),
                             fix="Write one with `keras-inspector profile ... --format csv > time.csv`.")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputDataError("The --values file cannot be read.", received=f"{path}: {e.strerror or e}",
                             fix="Check the path.") from e
    limit = get_limits().max_data_bytes
    if size > limit:
        raise InputDataError(f"The --values file is larger than max_data_bytes = {format_bytes(limit)}.",
                             received=f"{path}: {format_bytes(size)}", fix="Pass the per-layer table only.")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputDataError("The --values file is not a readable CSV table.", received=f"{path}: {e}",
                             fix="Pass the CSV written by `profile --format csv` or `activations --stats "
                                 "--format csv`.") from e


_RENDERER = {GraphFormat.SVG: "render", GraphFormat.PNG: "render", GraphFormat.PDF: "render",
             GraphFormat.DOT: "to_dot", GraphFormat.JSON: "to_json", GraphFormat.HTML: "to_html"}


# =============================================================================== diff
def run_diff(args: argparse.Namespace) -> None:
    from inspector.io.files import read_model_file

    fmt = TableFormat(args.format)
    output = common.check_output(args.output) if args.output is not None else None
    compare = inspector.compare
    files = [read_model_file(path) for path in (args.model_a, args.model_b)]  # fail fast, before TensorFlow
    common.import_keras(args)
    diff = compare(files[0], files[1], trust=args.trust, custom_objects=common.custom_objects(args))
    frame = diff.frame
    if args.changed_only:
        frame = frame[frame["status"] != "same"]
    counts = ", ".join(f"{n} {status}" for status, n in diff.counts().items())
    if fmt is TableFormat.JSON:
        document = {"a": diff.name_a, "b": diff.name_b, "counts": diff.counts(),
                    "layers": json.loads(frame.to_json(orient="records"))}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif fmt is TableFormat.CSV:
        sys.stdout.write(frame.to_csv(index=False))
    else:
        view = frame[["name", "status", "class_b", "output_shape_a", "output_shape_b", "params_a", "params_b",
                      "weight_max_abs_diff", "weight_rel_diff", "changes"]].rename(columns={
            "name": "Layer", "status": "Status", "class_b": "Type", "output_shape_a": "Output A",
            "output_shape_b": "Output B", "params_a": "Params A", "params_b": "Params B",
            "weight_max_abs_diff": "Max |Δw|", "weight_rel_diff": "Rel Δw", "changes": "Changes"})
        view = view.astype(object).where(view.notna(), "")
        tables.print_table(view, fmt, title=f"{diff.name_a} → {diff.name_b}", footer=counts)
    if output is not None:
        suffix = DiffGraphFormat(output.suffix.lower().lstrip("."))
        if suffix is DiffGraphFormat.HTML:
            content: bytes | str = diff.to_html()
        elif suffix is DiffGraphFormat.DOT:
            content = diff.to_dot()
        else:
            content = inspector.rendering(diff.graph, suffix.value, marks=diff.marks)
        common.write(output, content)
        common.note(args, f"wrote {output}")
