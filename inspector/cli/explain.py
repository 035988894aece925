"""``explain``: an attribution map of one target on your data — Grad-CAM, saliency or integrated gradients.

``-o`` decides what is written: ``.png`` the map of one sample (``--sample``) over
its image (inputs that are images only), ``.html`` the same as an interactive plotly
page (bars per feature or token for other inputs), ``.npy`` the maps of every sample.
A summary goes to stderr: the method, target, layer, scores, and for integrated
gradients the completeness check.

Example:
    >>> from inspector.cli.parser import build_parser
    >>> args = build_parser().parse_args(["explain", "m.keras", "--input", "X.npy", "--target", "3", "-o", "cam.png"])
    >>> args.method, args.target, args.output.name
    ('gradcam', 3, 'cam.png')
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import inspector
from inspector.cli import common
from inspector.errors import InputDataError

__all__ = ["run_explain"]


def run_explain(args: argparse.Namespace) -> None:
    output = common.check_output(args.output)
    data = common.load_data(args)
    model = common.load_model(args)
    options: dict[str, Any] = {"target": args.target, "training": args.training, "batch_size": args.batch_size}
    if args.method == "gradcam":
        result = inspector.grad_cam(model, data, layer=args.layer, **options)
        maps, signed = (result.heatmap if result.heatmap is not None else result.cam), False
        summary = f"Grad-CAM on layer {result.layer!r}"
    elif args.method == "saliency":
        result = inspector.saliency(model, data, smoothgrad=args.smoothgrad, **options)
        maps, signed = result.map, False
        summary = f"saliency{f' (SmoothGrad, {args.smoothgrad} samples)' if args.smoothgrad else ''} of " \
                  f"{result.attributed_to}"
    else:
        result = inspector.integrated_gradients(model, data, steps=args.steps, **options)
        maps, signed = result.attributions, True
        summary = (f"integrated gradients of {result.attributed_to}, {result.steps} steps; completeness "
                   f"{'passed' if result.complete else 'FAILED'} (largest relative error "
                   f"{float(result.completeness_error.max()):.2%}, tolerance {result.tolerance:.0%})")
    common.note(args, f"{summary}; target {result.target}; score of sample {args.sample}: "
                      f"{float(result.score[_sample(args, len(maps))]):.6g}")
    _write(args, output, maps, data, model, signed)


def _sample(args: argparse.Namespace, count: int) -> int:
    if not 0 <= args.sample < count:
        raise InputDataError(f"Sample {args.sample} is out of range.", received=f"{count} samples in --input",
                             fix=f"Pass --sample between 0 and {count - 1}.")
    return int(args.sample)


def _write(args: argparse.Namespace, output: Path, maps: Any, data: Any, model: Any, signed: bool) -> None:
    from inspector.analysis.attribution import select_sample
    from inspector.rendering.attribution import attribution_figure, attribution_png
    from inspector.rendering.figures import npy_bytes

    suffix = output.suffix.lower()
    if suffix == ".npy":
        common.write(output, npy_bytes(maps))
        common.note(args, f"wrote {output}: {tuple(maps.shape)} {maps.dtype}")
        return
    index = _sample(args, len(maps))
    image = select_sample(model, data, index)[0][0][0]
    if suffix == ".png":
        common.write(output, attribution_png(maps[index], image, signed=signed))
    else:
        figure = attribution_figure(maps[index], image=image, signed=signed,
                                    title=f"{args.method}: target {args.target}, sample {index}")
        common.write(output, figure.to_html(include_plotlyjs=True, full_html=True))
    common.note(args, f"wrote {output}")
