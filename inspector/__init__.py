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
    "ClusterError": "inspector.errors",
    # data model
    "ModelGraph": "inspector.graph",
    "LayerNode": "inspector.graph",
    "Edge": "inspector.graph",
    "NodeKind": "inspector.graph",
    "WeightInfo": "inspector.graph",
    "Source": "inspector.graph",
    # progress reports of long computations
    "ProgressCallback": "inspector.progress",
    # limits
    "Limits": "inspector.limits",
    "get_limits": "inspector.limits",
    "set_limits": "inspector.limits",
    # loading, graph, summary
    "load_model": "inspector.model.loading",
    "compute_channels_last": "inspector.model.channels_first",
    "build_graph": "inspector.model.loading",
    "static_graph": "inspector.model.static",
    "summary_frame": "inspector.rendering.summary",
    "summary_text": "inspector.rendering.notebook",
    "print_summary": "inspector.rendering.notebook",
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
    # rendering (inspector/rendering/)
    "to_dot": "inspector.rendering",
    "render": "inspector.rendering",
    "to_json": "inspector.rendering",
    "to_html": "inspector.rendering",
    "graph_figure": "inspector.rendering",
    "fold_repeats": "inspector.rendering",
    "nested_model_ids": "inspector.rendering.view",
    "viewer_payload": "inspector.rendering.viewer",
    "viewer_folder": "inspector.rendering.viewer",
    # intermediate outputs
    "Mode": "inspector.analysis.activations",
    "inspect_layer": "inspector.analysis.activations",
    "inspect_layers": "inspector.analysis.activations",
    "activation_stats": "inspector.analysis.activations",
    "compare_modes": "inspector.analysis.activations",
    # the same statistics and a uniform sample of activations, here or on a Ray cluster
    "Engine": "inspector.analysis.distributed",
    "ActivationSample": "inspector.analysis.activations",
    "sample_activations": "inspector.analysis.activations",
    # per-layer wall time
    "profile_layers": "inspector.analysis.profile",
    # gradients and attribution maps
    "LayerGradients": "inspector.analysis.gradients",
    "layer_gradients": "inspector.analysis.gradients",
    "gradient_stats": "inspector.analysis.gradients",
    "Saliency": "inspector.analysis.attribution",
    "GradCam": "inspector.analysis.attribution",
    "IntegratedGradients": "inspector.analysis.attribution",
    "saliency": "inspector.analysis.attribution",
    "grad_cam": "inspector.analysis.attribution",
    "integrated_gradients": "inspector.analysis.attribution",
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

if TYPE_CHECKING:  # pragma: no cover - every public name, for type checkers and IDEs (tests/test_api.py)
    from inspector.analysis.activations import (
        ActivationSample as ActivationSample,
    )
    from inspector.analysis.activations import (
        Mode as Mode,
    )
    from inspector.analysis.activations import (
        activation_stats as activation_stats,
    )
    from inspector.analysis.activations import (
        compare_modes as compare_modes,
    )
    from inspector.analysis.activations import (
        inspect_layer as inspect_layer,
    )
    from inspector.analysis.activations import (
        inspect_layers as inspect_layers,
    )
    from inspector.analysis.activations import (
        sample_activations as sample_activations,
    )
    from inspector.analysis.attribution import GradCam as GradCam
    from inspector.analysis.attribution import IntegratedGradients as IntegratedGradients
    from inspector.analysis.attribution import Saliency as Saliency
    from inspector.analysis.attribution import grad_cam as grad_cam
    from inspector.analysis.attribution import integrated_gradients as integrated_gradients
    from inspector.analysis.attribution import saliency as saliency
    from inspector.analysis.distributed import Engine as Engine
    from inspector.analysis.embedding_rows import (
        EmbeddingLookup as EmbeddingLookup,
    )
    from inspector.analysis.embedding_rows import (
        embedding_lookup as embedding_lookup,
    )
    from inspector.analysis.gradients import LayerGradients as LayerGradients
    from inspector.analysis.gradients import gradient_stats as gradient_stats
    from inspector.analysis.gradients import layer_gradients as layer_gradients
    from inspector.analysis.model_diff import ModelDiff as ModelDiff
    from inspector.analysis.model_diff import compare as compare
    from inspector.analysis.profile import profile_layers as profile_layers
    from inspector.analysis.projection import (
        Projection as Projection,
    )
    from inspector.analysis.projection import (
        embedding_layers as embedding_layers,
    )
    from inspector.analysis.projection import (
        project_activations as project_activations,
    )
    from inspector.analysis.projection import (
        project_embedding as project_embedding,
    )
    from inspector.cost import (
        LayerCost as LayerCost,
    )
    from inspector.cost import (
        layer_costs as layer_costs,
    )
    from inspector.cost import (
        total_macs as total_macs,
    )
    from inspector.cost import (
        total_output_bytes as total_output_bytes,
    )
    from inspector.errors import ClusterError as ClusterError
    from inspector.errors import (
        InputDataError as InputDataError,
    )
    from inspector.errors import (
        InspectorError as InspectorError,
    )
    from inspector.errors import (
        LayerNotFoundError as LayerNotFoundError,
    )
    from inspector.errors import (
        LimitExceededError as LimitExceededError,
    )
    from inspector.errors import (
        MissingDependencyError as MissingDependencyError,
    )
    from inspector.errors import (
        ModelFormatError as ModelFormatError,
    )
    from inspector.errors import (
        ModelLoadError as ModelLoadError,
    )
    from inspector.errors import (
        SavedModelError as SavedModelError,
    )
    from inspector.errors import (
        UnsafeModelError as UnsafeModelError,
    )
    from inspector.errors import (
        WeightsOnlyError as WeightsOnlyError,
    )
    from inspector.graph import (
        Edge as Edge,
    )
    from inspector.graph import (
        LayerNode as LayerNode,
    )
    from inspector.graph import (
        ModelGraph as ModelGraph,
    )
    from inspector.graph import (
        NodeKind as NodeKind,
    )
    from inspector.graph import (
        Source as Source,
    )
    from inspector.graph import (
        WeightInfo as WeightInfo,
    )
    from inspector.io.samples import Sample as Sample
    from inspector.io.samples import get_sample as get_sample
    from inspector.io.samples import list_samples as list_samples
    from inspector.limits import Limits as Limits
    from inspector.limits import get_limits as get_limits
    from inspector.limits import set_limits as set_limits
    from inspector.masks import MaskFlow as MaskFlow
    from inspector.masks import MaskRole as MaskRole
    from inspector.masks import mask_flow as mask_flow
    from inspector.model.channels_first import compute_channels_last as compute_channels_last
    from inspector.model.loading import build_graph as build_graph
    from inspector.model.loading import load_model as load_model
    from inspector.model.static import static_graph as static_graph
    from inspector.progress import ProgressCallback as ProgressCallback
    from inspector.rendering import (
        fold_repeats as fold_repeats,
    )
    from inspector.rendering import (
        graph_figure as graph_figure,
    )
    from inspector.rendering import (
        render as render,
    )
    from inspector.rendering import (
        to_dot as to_dot,
    )
    from inspector.rendering import (
        to_html as to_html,
    )
    from inspector.rendering import (
        to_json as to_json,
    )
    from inspector.rendering.notebook import print_summary as print_summary
    from inspector.rendering.notebook import summary_text as summary_text
    from inspector.rendering.summary import summary_frame as summary_frame
    from inspector.rendering.view import nested_model_ids as nested_model_ids
    from inspector.rendering.viewer import viewer_folder as viewer_folder
    from inspector.rendering.viewer import viewer_payload as viewer_payload



def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'inspector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
