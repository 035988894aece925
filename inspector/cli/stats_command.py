"""``stats``: activation statistics of every requested layer over a dataset, here or on a Ray cluster.

``keras-inspector stats MODEL --input DATA [--engine ray] [--address ADDR] -o stats.csv`` is
:func:`inspector.activation_stats`: with ``--engine local`` (the default) ``DATA`` is a ``.npy``/``.npz``/``.csv``
file read here; with ``--engine ray`` it is anything ``ray.data`` reads (a Parquet, NumPy, CSV or image file or
folder, local or on object storage), read by the cluster's workers, which open the model file under the same
rules (``--trust``).  The table goes to ``-o FILE.csv``/``.json`` or to stdout.

Example:
    >>> from inspector.cli.parser import build_parser
    >>> args = build_parser().parse_args(["stats", "m.keras", "--input", "data/", "--engine", "ray", "-o", "s.csv"])
    >>> args.engine, args.layer, str(args.output)
    ('ray', None, 's.csv')
"""

from __future__ import annotations

import argparse
from typing import Any

import inspector
from inspector.cli import common, tables
from inspector.cli.parser import TableFormat

__all__ = ["run_stats"]


def run_stats(args: argparse.Namespace) -> None:
    output = common.check_output(args.output) if args.output is not None else None
    layers: Any = "all" if not args.layer or any(spec == "all" for spec in args.layer) else args.layer
    options = {"batch_size": args.batch_size, "per_channel": args.per_channel, "training": args.training,
               "progress": common.progress_option(args)}
    if args.engine == "ray":
        # the workers read the data and open the model file themselves, with the same trust
        stats = inspector.activation_stats(args.model, layers, args.input, engine="ray", address=args.address,
                                           workers=args.workers, trust=args.trust, **options)
    else:
        data = common.load_data(args)
        stats = inspector.activation_stats(common.load_model(args), layers, data, **options)
    for message in stats.attrs.get("input_warnings", []) or []:
        common.note(args, f"note: {message}")
    if output is None:
        mode = "training" if args.training else "inference"
        tables.print_table(stats, TableFormat(args.format), title=f"Activation statistics ({mode} mode)")
        return
    common.write(output, stats.to_json(orient="records", indent=1) if output.suffix.lower() == ".json"
                 else stats.to_csv(index=False))
    common.note(args, f"wrote {output}: {len(stats)} rows over {stats.attrs['samples']:,} samples")
