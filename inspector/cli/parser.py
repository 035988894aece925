"""The argument parser of ``keras-inspector``: every sub-command, its options, help and examples.

Example:
    >>> args = build_parser().parse_args(["graph", "model.keras", "-o", "model.svg", "--rankdir", "lr"])
    >>> args.command, args.rankdir, [p.name for p in args.output]
    ('graph', 'LR', ['model.svg'])
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from inspector import __version__

__all__ = ["PROG", "TableFormat", "GraphFormat", "DiffGraphFormat", "build_parser"]

PROG = "keras-inspector"


class TableFormat(str, Enum):
    """How ``summary`` (and ``activations --stats``) print a table."""

    TABLE = "table"  # aligned text; rich-formatted when stdout is a terminal
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "markdown"


class GraphFormat(str, Enum):
    """Output formats of ``graph``, chosen by the output file's suffix."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    JSON = "json"
    HTML = "html"


class _ActivationFormat(str, Enum):
    NPY = "npy"
    NPZ = "npz"


class _ProjectionFormat(str, Enum):
    CSV = "csv"
    HTML = "html"


class _StatsFormat(str, Enum):
    CSV = "csv"
    JSON = "json"


class _ExplainFormat(str, Enum):
    PNG = "png"
    HTML = "html"
    NPY = "npy"


class DiffGraphFormat(str, Enum):
    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    HTML = "html"


# =============================================================================== parser
_EXAMPLES = {
    "summary": """\
examples:
  keras-inspector summary model.keras
  keras-inspector summary model.h5 --format csv > layers.csv
  keras-inspector summary model.keras --format json | jq .total_params""",
    "graph": """\
examples:
  keras-inspector graph model.keras -o model.svg
  keras-inspector graph model.keras -o model.png --rankdir LR --expand-depth 1
  keras-inspector graph model.keras -o graph.json -o graph.html   (one load, two files)
  keras-inspector graph model.keras -o cost.svg --color-by macs
  keras-inspector profile model.keras --input X.npy --format csv > time.csv
  keras-inspector graph model.keras -o time.html --color-by seconds --values time.csv

The format follows the suffix: .svg .png .pdf (Graphviz `dot` program), .dot,
.json (node-link document), .html (one standalone interactive page).""",
    "activations": """\
examples:
  keras-inspector activations model.keras --layer 3 --input X.npy -o layer3.npy
  keras-inspector activations model.keras --layer dense --layer generator/dense_2 --input X.npz -o acts.npz
  keras-inspector activations model.keras --layer all --input X.csv --stats

--layer takes an index into model.layers, a layer name, a nested path
(generator/dense_2), a node id (dense@1 for the second call of a shared layer),
or `all`; repeat it for several layers.  .npy holds one layer's output, .npz one
array per node id.""",
    "stats": """\
examples:
  keras-inspector stats model.keras --input X.npy -o stats.csv
  keras-inspector stats model.keras --input s3://bucket/val/ --engine ray -o stats.csv
  keras-inspector stats model.keras --input val.parquet --engine ray --address ray://head:10001 --layer conv1

Statistics of every requested layer's output (default: all) over the whole
data, streamed: count, mean, std, min, max, zero and dead fractions, NaN/Inf.
--engine ray reads DATA where the Ray cluster runs (Parquet, .npy, .csv,
images, or a folder of them; local or object storage) and opens the model
file on every worker under the same rules (--trust); --address, or
RAY_ADDRESS, names the cluster (default: a local one).  See docs/distributed.md.""",
    "profile": """\
examples:
  keras-inspector profile model.keras --input X.npy
  keras-inspector profile model.keras --input X.npz --repeats 5 --format csv > time.csv

Every layer call is timed in one instrumented forward pass per repeat (median
of the repeats; the whole input is one batch), next to a plain model(X) pass.
Colour the graph by the times with `graph --color-by seconds --values time.csv`.""",
    "project": """\
examples:
  keras-inspector project model.keras --layer word_embedding -o coords.csv
  keras-inspector project model.keras --layer word_embedding --method pca --dims 3 -o plot.html
  keras-inspector project model.keras --layer hidden --input X.npy -o hidden.html

Without --input the rows of an Embedding layer's weight matrix are projected;
with --input, the layer's activations on that data (one point per sample).""",
    "explain": """\
examples:
  keras-inspector explain model.keras --input X.npy --method gradcam --target 3 -o cam.png
  keras-inspector explain model.keras --input X.npy --method saliency --smoothgrad 20 --target 3 -o sal.png
  keras-inspector explain model.keras --input X.npy --method ig --steps 100 --target 0 -o ig.npy

--target is the output unit or class index whose score is explained.  gradcam
weighs the last feature map (or --layer); saliency is |d score / d input|; ig
(integrated gradients, from a zero baseline) reports its completeness check.
An input of token ids is attributed to its Embedding's output.  .png draws
sample --sample over its image, .html draws it interactively, .npy keeps every
sample's map.""",
    "diff": """\
examples:
  keras-inspector diff base.keras finetuned.keras
  keras-inspector diff epoch_10.keras epoch_20.keras --format csv > diff.csv
  keras-inspector diff base.keras finetuned.keras --changed-only -o diff.html

Layers are matched by name, then by position for renamed ones; status is same,
added, removed or changed.  Weight columns are NaN for a model shown from its
static view (one that cannot load without --trust).  -o draws the second model
with added (green), removed (red, dashed) and changed (amber) layers marked.""",
    "app": """\
examples:
  keras-inspector app
  keras-inspector app model.keras --port 8600

Starts the Streamlit app (python -m streamlit run app/main.py); with MODEL the
app opens on that file.  --trust lets the app run code from model files
(KERAS_INSPECTOR_ALLOW_TRUST=1): only for files you wrote yourself.""",
}

_DESCRIPTION = """\
See inside saved Keras models (.keras, legacy .h5) from the command line.

No code from a model file runs unless you pass --trust; without it, models with
Lambda layers or custom classes are shown from their config (static view).

exit codes: 0 success, 1 unexpected error (a bug), 2 usage error,
            3 the file, data or arguments were refused (message on stderr)"""


def _global_options(parser: argparse.ArgumentParser, *, on_subcommand: bool) -> None:
    # Accepted before and after the sub-command; on the sub-command the default is
    # SUPPRESS so an absent flag does not overwrite one given before it.
    default: Any = argparse.SUPPRESS if on_subcommand else False
    group = parser.add_argument_group("global options")
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="no progress bars and no notes on stderr (errors are still shown)")
    group.add_argument("--debug", action="store_true", default=default,
                       help="show full tracebacks and library warnings")
    group.add_argument("--trust", action="store_true", default=default,
                       help="allow code stored in the model file to run (Lambda layers, custom classes); "
                            "only for files you wrote yourself")


def _load_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load", action="store_true",
                        help="build the model with Keras and walk it instead of reading the graph from the file "
                             "(slower: imports TensorFlow); --trust implies it")


def _custom_objects_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--custom-objects", metavar="MODULE.py", default=None,
                        help="with --trust: import this Python file and give Keras its classes and functions "
                             "(its CUSTOM_OBJECTS dict if it defines one, else every public class and function "
                             "defined in it); never imported without --trust")


def _suffix_type(enum: type[Enum], what: str) -> Callable[[str], Path]:
    """An argparse type: a path whose suffix names one of ``enum``'s values."""
    allowed = ", ".join("." + m.value for m in enum)  # type: ignore[attr-defined]

    def parse(text: str) -> Path:
        path = Path(text)
        if path.suffix.lower().lstrip(".") not in {m.value for m in enum}:  # type: ignore[attr-defined]
            raise argparse.ArgumentTypeError(
                f"{what} {text!r} has an unsupported suffix {path.suffix or '(none)'!r}; use one of {allowed}")
        return path

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def _int_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number ≥ {minimum}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(1, text)


def _non_negative_int(text: str) -> int:
    return _int_at_least(0, text)


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _layer_spec(text: str) -> int | str:
    """``"3"``/``"-1"`` → an index into ``model.layers``; anything else is a name, path or node id."""
    stripped = text.strip()
    if not stripped:
        raise argparse.ArgumentTypeError("a layer cannot be empty")
    try:
        return int(stripped)
    except ValueError:
        return stripped


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``keras-inspector`` (all sub-commands).

    Example:
        >>> build_parser().parse_args(["summary", "m.keras", "--format", "CSV"]).format
        'csv'
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION, formatter_class=formatter,
                                     epilog="Run `keras-inspector COMMAND --help` for a command's options "
                                            "and examples.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _global_options(parser, on_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=_EXAMPLES[name],
                                  formatter_class=formatter)
        _global_options(sub, on_subcommand=True)
        return sub

    model_help = "model file: .keras, legacy .h5, or a tf.keras 2 SavedModel folder (or a .zip of one)"

    summary = command("summary", "Print the layer table of a model, with parameter totals.")
    summary.add_argument("model", metavar="MODEL", help=model_help)
    summary.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                         help="table (default; coloured in a terminal), csv and json (every column, for "
                              "scripts), markdown")
    _load_option(summary)
    _custom_objects_option(summary)

    graph = command("graph", "Draw the model's graph to a file; the format follows the suffix.")
    graph.add_argument("model", metavar="MODEL", help=model_help)
    graph.add_argument("-o", "--output", type=_suffix_type(GraphFormat, "output file"), action="append",
                       required=True, metavar="FILE",
                       help="output file (.svg .png .pdf .dot .json .html); repeat for several")
    graph.add_argument("--rankdir", type=str.upper, choices=["TB", "LR", "BT", "RL"], default="TB",
                       help="direction of the drawing: TB top to bottom (default), LR left to right")
    graph.add_argument("--expand-depth", type=_non_negative_int, default=None, metavar="N",
                       help="draw nested models open to this depth (default: all; 0: every nested model is "
                            "one box)")
    graph.add_argument("--expand-model", dest="expand_models", action="append", default=None, metavar="ID",
                       help="draw this nested model open whatever --expand-depth says (a node id, e.g. encoder or "
                            "encoder/block); repeatable")
    graph.add_argument("--collapse-model", dest="collapse_models", action="append", default=None, metavar="ID",
                       help="draw this nested model as one box whatever --expand-depth says; repeatable")
    graph.add_argument("--no-fold", dest="fold", action="store_false",
                       help="draw every repeated parallel branch instead of folding it into one ×N node")
    graph.add_argument("--color-by", "--colour-by", dest="color_by", metavar="COLUMN", default=None,
                       help="fill the layers by a number: params, macs, output_bytes, or a column of --values "
                            "(seconds from `profile`, nan_count, zero_fraction, … from `activations --stats`)")
    graph.add_argument("--values", metavar="CSV", default=None,
                       help="with --color-by: a CSV table with an `id` (or `layer`) column, e.g. "
                            "`profile --format csv` or `activations --stats --format csv`")
    _load_option(graph)
    _custom_objects_option(graph)

    activations = command("activations", "Save the outputs of layers on your data (and/or their statistics).")
    activations.add_argument("model", metavar="MODEL", help=model_help)
    activations.add_argument("--layer", type=_layer_spec, action="append", required=True, metavar="LAYER",
                             help="index, name, nested path, node id, or `all`; repeatable")
    activations.add_argument("--input", required=True, metavar="DATA",
                             help="input data: .npy (one input), .npz (one array per model input name) or .csv")
    activations.add_argument("-o", "--output", type=_suffix_type(_ActivationFormat, "output file"),
                             metavar="FILE", help="where to save the activations: .npy (one layer) or .npz")
    activations.add_argument("--stats", action="store_true",
                             help="print per-layer statistics (mean, std, min, max, zero and dead fractions)")
    activations.add_argument("--per-channel", action="store_true",
                             help="with --stats: one row per channel (last axis) instead of per layer")
    activations.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                             help="format of the --stats table (default: table)")
    activations.add_argument("--training", action="store_true",
                             help="run Dropout, BatchNormalization, … as in training (the model is not changed)")
    activations.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                             help="samples per forward pass (default: the largest up to 32 that fits the "
                                  "memory limit)")
    _custom_objects_option(activations)

    stats = command("stats", "Activation statistics of layers over a dataset of any size, here or on a Ray cluster.")
    stats.add_argument("model", metavar="MODEL", help=model_help)
    stats.add_argument("--input", required=True, metavar="DATA",
                       help=".npy/.npz/.csv; with --engine ray, anything ray.data reads (file, folder, URI)")
    stats.add_argument("--layer", type=_layer_spec, action="append", default=None, metavar="LAYER",
                       help="index, name, nested path, node id, or `all` (the default); repeatable")
    stats.add_argument("--engine", choices=["local", "ray"], default="local",
                       help="local: this process (default); ray: the workers of a Ray cluster")
    stats.add_argument("--address", default=None, metavar="ADDR",
                       help="with --engine ray: the cluster (ray://HEAD:10001, auto); default RAY_ADDRESS, else "
                            "a local cluster")
    stats.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                       help="with --engine ray: workers holding the model (default: one per CPU of the cluster)")
    stats.add_argument("-o", "--output", type=_suffix_type(_StatsFormat, "output file"), metavar="FILE",
                       help="write the table to .csv or .json instead of printing it")
    stats.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                       help="format of the printed table (default: table)")
    stats.add_argument("--per-channel", action="store_true", help="one row per channel (last axis)")
    stats.add_argument("--training", action="store_true",
                       help="run Dropout, BatchNormalization, … as in training (the model is not changed)")
    stats.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                       help="samples per forward pass (default: the largest up to 32 that fits the memory limit)")
    _custom_objects_option(stats)

    profile = command("profile", "Time every layer call of a forward pass on your data.")
    profile.add_argument("model", metavar="MODEL", help=model_help)
    profile.add_argument("--input", required=True, metavar="DATA",
                         help="input data, one batch: .npy (one input), .npz (one array per model input name) "
                              "or .csv")
    profile.add_argument("--repeats", type=_positive_int, default=3, metavar="N",
                         help="timed passes; each layer's median is shown (default: 3)")
    profile.add_argument("--training", action="store_true",
                         help="run Dropout, BatchNormalization, … as in training (the model is not changed)")
    profile.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                         help="table (default), csv and json (every column, seconds unrounded), markdown")
    _custom_objects_option(profile)

    project = command("project", "Project an embedding (or a layer's activations) to 2-D/3-D with UMAP or PCA.")
    project.add_argument("model", metavar="MODEL", help=model_help)
    project.add_argument("--layer", required=True, metavar="LAYER",
                         help="Embedding layer name (or any layer with --input)")
    project.add_argument("--method", choices=["umap", "pca", "umap-learn"], default="umap",
                         help="umap (default, ours), pca, or umap-learn (the optional extra: "
                              "pip install 'keras-inspector[umap-learn]')")
    project.add_argument("--dims", type=int, choices=[2, 3], default=2, help="output dimensions (default: 2)")
    project.add_argument("--input", metavar="DATA",
                         help="project the layer's activations on this data (.npy/.npz/.csv) instead of "
                              "embedding weights")
    project.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                         help="with --input: samples per forward pass")
    project.add_argument("-o", "--output", type=_suffix_type(_ProjectionFormat, "output file"), required=True,
                         metavar="FILE", help="coords.csv (one row per point) or plot.html (standalone plotly page)")
    _custom_objects_option(project)

    explain = command("explain", "Explain a prediction: Grad-CAM, saliency or integrated gradients of one target.")
    explain.add_argument("model", metavar="MODEL", help=model_help)
    explain.add_argument("--input", required=True, metavar="DATA",
                         help="input data: .npy (one input), .npz (one array per model input name) or .csv")
    explain.add_argument("--method", choices=["gradcam", "saliency", "ig"], default="gradcam",
                         help="gradcam (default), saliency, or ig (integrated gradients)")
    explain.add_argument("--target", type=int, required=True, metavar="N",
                         help="the output unit or class index to explain")
    explain.add_argument("-o", "--output", type=_suffix_type(_ExplainFormat, "output file"), required=True,
                         metavar="FILE", help="map.png (over the image), map.html (interactive) or maps.npy")
    explain.add_argument("--sample", type=_non_negative_int, default=0, metavar="I",
                         help="the sample drawn in .png/.html (default: 0)")
    explain.add_argument("--layer", type=_layer_spec, default=None, metavar="LAYER",
                         help="gradcam: the convolutional layer (default: the last feature map)")
    explain.add_argument("--steps", type=_positive_int, default=50, metavar="N",
                         help="ig: integration steps (default: 50)")
    explain.add_argument("--smoothgrad", type=_non_negative_int, default=0, metavar="N",
                         help="saliency: average over N noisy copies of each sample (default: 0, off)")
    explain.add_argument("--training", action="store_true",
                         help="run Dropout, BatchNormalization, … as in training (the model is not changed)")
    explain.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                         help="samples per forward and backward pass")
    _custom_objects_option(explain)

    diff = command("diff", "Compare two models layer by layer: added, removed, changed layers and weight deltas.")
    diff.add_argument("model_a", metavar="A", help=model_help + " (the reference, e.g. the base model)")
    diff.add_argument("model_b", metavar="B", help=model_help + " (compared against A)")
    diff.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                      help="table (default), csv and json (every column), markdown")
    diff.add_argument("--changed-only", action="store_true", help="list only added, removed and changed layers")
    diff.add_argument("-o", "--output", type=_suffix_type(DiffGraphFormat, "output file"), metavar="FILE",
                      help="also draw the difference on B's graph (.svg .png .pdf .dot .html)")
    _custom_objects_option(diff)

    app = command("app", "Start the Streamlit app, optionally opened on MODEL.")
    app.add_argument("model", metavar="MODEL", nargs="?", help=model_help + " to open first (optional)")
    app.add_argument("--port", type=_port, default=8501, help="port to serve on (default: 8501)")
    app.add_argument("--no-browser", action="store_true",
                     help="do not open a browser (always the case when not run from a terminal)")
    return parser
