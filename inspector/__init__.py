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
    "load_model": "inspector.loading",
    "build_graph": "inspector.loading",
    "static_graph": "inspector.static",
    "summary_frame": "inspector.summary",
    # rendering (inspector/renderers/)
    "to_dot": "inspector.renderers",
    "render": "inspector.renderers",
    "to_json": "inspector.renderers",
    "to_html": "inspector.renderers",
    "graph_figure": "inspector.renderers",
    "fold_repeats": "inspector.renderers",
    "viewer_payload": "inspector.renderers.viewer",
    "viewer_folder": "inspector.renderers.viewer",
    # intermediate outputs
    "Mode": "inspector.activations",
    "inspect_layer": "inspector.activations",
    "inspect_layers": "inspector.activations",
    "activation_stats": "inspector.activations",
    "compare_modes": "inspector.activations",
    # projector
    "Projection": "inspector.projection",
    "embedding_layers": "inspector.projection",
    "project_embedding": "inspector.projection",
    "project_activations": "inspector.projection",
    # bundled sample models
    "Sample": "inspector.samples",
    "list_samples": "inspector.samples",
    "get_sample": "inspector.samples",
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
