"""Keras Inspector: see inside saved Keras models.

Load a model safely, walk its graph, render it, read any layer's activations and
project embeddings.  Heavy dependencies (TensorFlow, umap, graphviz) are imported
only when a function that needs them is called, so ``import inspector`` is fast.

Example:
    >>> import inspector
    >>> "build_graph" in inspector.__all__
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it; __all__ is exactly these names
_EXPORTS: dict[str, str] = {
    # errors
    "InspectorError": "inspector.errors",
    "ModelFormatError": "inspector.errors",
    "WeightsOnlyError": "inspector.errors",
    "SavedModelError": "inspector.errors",
    "UnsafeModelError": "inspector.errors",
    "ModelLoadError": "inspector.errors",
    "LimitExceededError": "inspector.errors",
    "InputDataError": "inspector.errors",
    "LayerNotFoundError": "inspector.errors",
    "MissingDependencyError": "inspector.errors",
    # data model
    "ModelGraph": "inspector.graph",
    "LayerNode": "inspector.graph",
    "Edge": "inspector.graph",
    "NodeKind": "inspector.graph",
    "WeightInfo": "inspector.graph",
    "Source": "inspector.graph",
    # limits
    "Limits": "inspector.limits",
    "get_limits": "inspector.limits",
    "set_limits": "inspector.limits",
    # loading, graph, summary
    "load_model": "inspector.model.loading",
    "build_graph": "inspector.model.loading",
    "static_graph": "inspector.model.static",
    "summary_frame": "inspector.render.summary",
    "summary_text": "inspector.render.notebook",
    "print_summary": "inspector.render.notebook",
    # compute cost: MACs and activation sizes
    "LayerCost": "inspector.cost",
    "layer_costs": "inspector.cost",
    "total_macs": "inspector.cost",
    "total_output_bytes": "inspector.cost",
    # comparing two models, mask flow, an Embedding as a lookup
    "compare": "inspector.analysis.model_diff",
    "ModelDiff": "inspector.analysis.model_diff",
    "mask_flow": "inspector.masks",
    "MaskFlow": "inspector.masks",
    "MaskRole": "inspector.masks",
    "embedding_lookup": "inspector.analysis.embedding_rows",
    "EmbeddingLookup": "inspector.analysis.embedding_rows",
    # rendering (inspector/render/)
    "to_dot": "inspector.render",
    "render": "inspector.render",
    "to_json": "inspector.render",
    "to_html": "inspector.render",
    "graph_figure": "inspector.render",
    "fold_repeats": "inspector.render",
    # intermediate outputs
    "Mode": "inspector.analysis.activations",
    "inspect_layer": "inspector.analysis.activations",
    "inspect_layers": "inspector.analysis.activations",
    "activation_stats": "inspector.analysis.activations",
    "compare_modes": "inspector.analysis.activations",
    # per-layer wall time
    "profile_layers": "inspector.analysis.profile",
    # projector
    "Projection": "inspector.analysis.projection",
    "embedding_layers": "inspector.analysis.projection",
    "project_embedding": "inspector.analysis.projection",
    "project_activations": "inspector.analysis.projection",
    # bundled sample models
    "Sample": "inspector.io.samples",
    "list_samples": "inspector.io.samples",
    "get_sample": "inspector.io.samples",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from inspector.errors import *  # noqa: F403
    from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind, Source, WeightInfo  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'inspector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
