"""The public API: an exact __all__, every name resolves, and `import inspector` stays light."""

from __future__ import annotations

import subprocess
import sys

import inspector

PUBLIC = {
    "InspectorError", "ModelFormatError", "WeightsOnlyError", "SavedModelError", "UnsafeModelError",
    "ModelLoadError", "LimitExceededError", "InputDataError", "LayerNotFoundError", "MissingDependencyError",
    "ClusterError",
    "ModelGraph", "LayerNode", "Edge", "NodeKind", "WeightInfo", "Source",
    "Limits", "get_limits", "set_limits", "ProgressCallback",
    "load_model", "compute_channels_last", "build_graph", "static_graph", "summary_frame", "summary_text", "print_summary",
    "LayerCost", "layer_costs", "total_macs", "total_output_bytes",
    "compare", "ModelDiff", "mask_flow", "MaskFlow", "MaskRole", "embedding_lookup", "EmbeddingLookup",
    "to_dot", "render", "to_json", "to_html", "graph_figure", "fold_repeats", "nested_model_ids", "viewer_payload",
    "viewer_folder",
    "Mode", "inspect_layer", "inspect_layers", "activation_stats", "compare_modes", "profile_layers",
    "Engine", "ActivationSample", "sample_activations",
    "LayerGradients", "layer_gradients", "gradient_stats", "Saliency", "GradCam", "IntegratedGradients", "saliency",
    "grad_cam", "integrated_gradients",
    "Projection", "embedding_layers", "project_embedding", "project_activations",
    "Sample", "list_samples", "get_sample",
    "__version__",
}


def test_all_is_exact():
    assert set(inspector.__all__) == PUBLIC
    assert len(inspector.__all__) == len(PUBLIC)


def test_type_checkers_see_every_public_name():
    """The TYPE_CHECKING block imports exactly the public names, from the modules that define them."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(inspector.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    seen = {alias.name: node.module for node in block.body for alias in node.names}
    assert seen == {name: module for name, module in inspector._EXPORTS.items()}


def test_every_public_name_resolves():
    for name in inspector.__all__:
        assert getattr(inspector, name) is not None, name


def test_import_is_light():
    code = ("import sys, inspector, inspector.graph, inspector.errors, inspector.io.files;"
            "heavy = [m for m in ('tensorflow', 'keras', 'umap', 'plotly', 'graphviz', 'sklearn', 'streamlit')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_subpackage_shadows_a_public_name():
    """Importing ``inspector.x.y`` sets attribute ``x`` on the package: no subpackage may share a public name."""
    import importlib
    import pkgutil
    import types

    for module in pkgutil.walk_packages(inspector.__path__, "inspector."):
        if not module.name.startswith(("inspector.app.", "inspector.sample_models", "inspector.__main__")):
            importlib.import_module(module.name)
    for name in inspector.__all__:
        assert not isinstance(getattr(inspector, name), types.ModuleType), name
