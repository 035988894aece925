"""The Streamlit app, driven headless with ``streamlit.testing.v1.AppTest``, and the library modules it draws from.

Every page runs for every bundled sample and for uploaded files; a broken upload
shows an error while the previous model stays.  A page whose library part has
not landed must say so instead of showing anything.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostile_corpus import CASE_NAMES, MARKER_NAME, SECRET_TEXT, pickled_npy, terabyte_npy_header

import inspector
from inspector.analysis import layers
from inspector.app import settings
from inspector.cost import format_macs
from inspector.errors import InputDataError, InspectorError, LayerNotFoundError, ModelFormatError
from inspector.limits import Limits
from inspector.model import opening
from inspector.rendering import facts, figures

REPO = Path(__file__).resolve().parents[1]
MAIN = str(REPO / "inspector" / "app" / "main.py")
TIMEOUT = 120  # the first run imports TensorFlow
SAMPLES = [s.slug for s in inspector.list_samples()]
PAGES = ("views/overview.py", "views/graph.py", "views/layer.py", "views/activations.py", "views/embeddings.py",
         "views/compare.py")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# ------------------------------------------------------------------ helpers
def settle(at):
    """Wait for the session's background model load, then run the app again, as the sidebar's polling does.

    (AppTest does not run ``st.fragment(run_every=...)`` timers.)
    """
    if any("Loading the model" in c for c in texts(at.sidebar.caption)):  # drawn while loading
        at.session_state["loaded_model"].result(timeout=TIMEOUT)
        at.run()
    return at


def new_app(page: str | None = "overview", **session: object):
    """The app after its first run (it lands on the Graph page), switched to ``page`` unless ``None``."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at = settle(at.run())
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    return at


def open_sample(slug: str):
    at = new_app()
    at.sidebar.selectbox(key="sample_widget").set_value(slug).run()
    return settle(at)


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def assert_clean(at) -> None:
    assert not at.exception, texts(at.exception)


def charts(at) -> list[dict]:
    """The plotly figures on the page as JSON dicts."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(value: object) -> np.ndarray:
    """A plotly JSON array: a list, or ``{"dtype", "bdata"[, "shape"]}`` (base64, plotly ≥ 6)."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(d) for d in str(shape).split(",")]) if shape else flat
    return np.asarray(value, dtype=object)


def upload(at, name: str, data: bytes):
    at.sidebar.get("file_uploader")[0].set_value((name, data, "application/octet-stream"))
    return settle(at.run())


def send_selection(at, element, selection: dict):
    """Run the app as if the browser had sent ``selection`` for a chart or table (AppTest has no API for it)."""
    states = at._tree.get_widget_states()
    widget = states.widgets.add()
    widget.id = element.proto.id
    widget.string_value = json.dumps({"selection": selection})
    return at._run(states)


def viewer(at) -> tuple[Any, dict]:
    """The Graph page's viewer component and the arguments the app gave it (payload, marks, height)."""
    from inspector.app.components.graph_viewer import unpack

    element = at.get("component_instance")[0]
    args = json.loads(element.proto.json_args)
    args["marks"] = json.loads(args["marks"])
    drawing = next(special.bytes for special in element.proto.special_args if special.key == "drawing")
    return element, {**args, "payload": unpack(drawing)}


def drawn_ids(at) -> list[str]:
    """Ids of the nodes the Graph page's viewer draws, in drawing order."""
    nodes = viewer(at)[1]["payload"]["nodes"]
    return [nodes[f"n{i}"]["id"] for i in range(len(nodes))]


def send_event(at, event: dict):
    """Run the app as if the viewer had sent a click ``event`` (what component.js does with setComponentValue)."""
    states = at._tree.get_widget_states()
    widget = states.widgets.add()
    widget.id = viewer(at)[0].proto.id
    widget.json_value = json.dumps({"depth": 0, "nonce": f"test-{len(states.widgets)}-{event}", **event})
    return at._run(states)


def graph_of(slug: str):
    return inspector.build_graph(inspector.get_sample(slug).path)


# ------------------------------------------------------------------ configuration
def test_upload_limit_in_config_matches_library_limit() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == Limits().max_upload_bytes
    assert config["server"]["maxUploadSize"] == settings.upload_limit_mb(Limits().max_upload_bytes)
    assert config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False


def test_pages_are_not_in_a_pages_folder() -> None:
    # a pages/ folder beside main.py turns on Streamlit's automatic multipage mode, which fights st.navigation
    assert not (REPO / "inspector" / "app" / "pages").exists()
    for page in PAGES:
        assert (REPO / "inspector" / "app" / page).is_file()


# ------------------------------------------------------------------ the app
def test_lands_on_the_graph_of_the_default_sample() -> None:
    at = new_app(page=None)
    assert_clean(at)
    graph = graph_of(inspector.list_samples()[0].slug)
    assert at.title[0].value == f"Graph · {settings.literal(graph.name)}"
    shown = set(drawn_ids(at)) | set(viewer(at)[1]["payload"]["owners"])  # drawn, or folded into a drawn group
    assert shown >= {n.id for n in graph.nodes if n.parent is None}


def test_opens_on_the_default_sample() -> None:
    at = new_app()
    assert_clean(at)
    first = inspector.list_samples()[0]
    graph = graph_of(first.slug)
    assert at.title[0].value == f"Overview · {settings.literal(graph.name)}"
    assert at.metric[0].label == "Parameters" and at.metric[0].value == f"{graph.total_params:,}"
    macs = next(m for m in at.metric if m.label == "MACs per sample")
    assert macs.value == format_macs(inspector.total_macs(graph)) != "unknown"
    assert at.sidebar.selectbox(key="sample_widget").value == first.slug
    assert at.sidebar.get("file_uploader")[0].proto.max_upload_size_mb == 500
    assert any("500.0 MiB" in c for c in texts(at.sidebar.caption))
    summary = at.dataframe[1].value
    assert list(summary["id"]) == [n.id for n, _ in graph.walk()]
    assert [b.proto.label for b in at.get("download_button")] == ["Download CSV"]
    assert not at.error and not at.warning


@pytest.mark.parametrize("slug", SAMPLES)
def test_every_page_for_every_sample(slug: str) -> None:
    sample = inspector.get_sample(slug)
    graph = graph_of(slug)
    static = sample.trusted_only
    at = open_sample(slug)
    assert_clean(at)
    assert at.title[0].value == f"Overview · {settings.literal(graph.name)}"
    assert at.metric[0].value == f"{graph.total_params:,}"
    banner = [w for w in texts(at.warning) if w.startswith("**Static view")]
    assert bool(banner) == static
    if static:
        assert any("cannot be understood without running code" in w for w in texts(at.warning))

    at.switch_page("views/graph.py").run()
    assert_clean(at)
    drawn = set(drawn_ids(at))
    assert drawn
    assert drawn <= {n.id for n, _ in graph.walk()} | set(graph.expanded().clusters) | {
        i for i in drawn if "[x" in i}
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"DOT", "JSON", "HTML"} <= set(labels)
    assert ({"SVG", "PNG"} <= set(labels)) == settings.graphviz_available()

    at.switch_page("views/layer.py").run()
    assert_clean(at)
    picked = at.selectbox(key="layer_pick_widget").value
    assert picked == facts.node_choices(graph)[0]
    assert at.header[0].value.startswith(settings.literal(graph.node(picked).name))

    at.switch_page("views/activations.py").run()
    assert_clean(at)
    if static:
        assert any("Activations are unavailable" in w for w in texts(at.warning))
        assert not charts(at)
    else:
        assert at.radio(key="activation_source_widget").value == "Sample inputs"
        histogram = charts(at)[0]
        assert array(histogram["data"][0]["y"]).sum() > 0
        assert [b.proto.label for b in at.get("download_button")] == ["Download .npy"]

    at.switch_page("views/embeddings.py").run()
    assert_clean(at)
    if static:
        assert any("Embeddings are unavailable" in w for w in texts(at.warning))
    else:
        has_embedding = any(n.class_name == "Embedding" for n, _ in graph.walk())
        expected = "Embedding layer" if has_embedding else "Layer activations"
        assert at.radio(key="embedding_source_widget").value == expected
        if not has_embedding:  # running a model over samples waits for a click
            assert not charts(at)
            next(b for b in at.button if b.label == "Run and project").click().run()
            assert_clean(at)
        projection = charts(at)[0]
        points = sum(len(array(t["x"])) for t in projection["data"])
        if has_embedding:
            # the largest vocabulary opens first
            assert points == max(n.config["input_dim"] for n, _ in graph.walk() if n.class_name == "Embedding")
        else:
            assert points == min(200, len(next(iter(sample.load_inputs().values()))))
        assert "Download coordinates (.csv)" in [b.proto.label for b in at.get("download_button")]


def test_search_filters_the_summary_and_the_layer_list() -> None:
    at = new_app()
    at.sidebar.text_input(key="search_widget").set_value("emb_").run()
    assert_clean(at)
    summary = at.dataframe[1].value
    assert len(summary) == 6 and all(i.startswith("emb_") for i in summary["id"])
    assert any("6 of" in c for c in texts(at.caption))
    at.switch_page("views/layer.py").run()
    assert at.selectbox(key="layer_pick_widget").options == [f"emb_{c}" for c in (
        "activity_category", "char_1", "char_2", "char_7", "char_10", "group_1")]


def test_selected_layer_opens_in_layer_page_with_weight_histograms() -> None:
    at = open_sample("otto_mlp")
    at.session_state["selected_layer"] = "hidden"
    at.switch_page("views/layer.py").run()
    assert_clean(at)
    assert at.selectbox(key="layer_pick_widget").value == "hidden"
    weights = at.dataframe[1].value
    assert list(weights["name"]) == ["kernel", "bias"]
    assert list(weights["shape"]) == ["(93, 100)", "(100,)"]
    assert weights["nan"].tolist() == [0, 0]
    assert weights["min"][0] <= weights["mean"][0] <= weights["max"][0]
    histograms = charts(at)
    assert len(histograms) == 2 and array(histograms[0]["data"][0]["y"]).sum() == 93 * 100
    # picking another layer in the page changes the shared selection
    at.selectbox(key="layer_pick_widget").set_value("logits").run()
    assert at.session_state["selected_layer"] == "logits"


def test_clicking_a_graph_node_opens_it_in_the_layer_page_after_an_upload() -> None:
    at = upload(new_app(), "hinge.keras", inspector.get_sample("tanh_hinge").path.read_bytes())
    at.switch_page("views/graph.py").run()
    assert_clean(at)
    assert drawn_ids(at) == ["x", "hidden", "score"]
    assert at.title[0].value == "Graph · " + settings.literal(graph_of("tanh_hinge").name)
    at = send_event(at, {"type": "select", "id": "hidden"})
    assert_clean(at)
    assert at.title[0].value == "Layer" and at.selectbox(key="layer_pick_widget").value == "hidden"
    # the page switch kept the uploaded model (st.switch_page drops widget state, the upload included)
    assert "**hinge.keras**" in texts(at.sidebar.markdown)
    at.switch_page("views/graph.py").run()
    assert viewer(at)[1]["marks"]["highlight"] == ["hidden"], "the selected layer is highlighted in the graph"


def test_clicking_a_folded_group_unfolds_it() -> None:
    at = new_app()
    at.switch_page("views/graph.py").run()
    nodes = viewer(at)[1]["payload"]["nodes"].values()
    groups = [n["id"] for n in nodes if n["kind"] == "group"]
    assert groups, "the six parallel Embedding branches are folded"
    at = send_event(at, {"type": "unfold", "id": groups[1]})
    assert_clean(at)
    assert at.title[0].value.startswith("Graph") and at.session_state["graph_unfold"] == [groups[1]]
    unfolded = set(drawn_ids(at))
    assert groups[1] not in unfolded and "emb_group_1" in unfolded
    # the same event again (Streamlit keeps a component's value across reruns) is not handled twice
    at.run()
    assert at.session_state["graph_unfold"] == [groups[1]]


def test_collapsing_and_expanding_one_nested_model_from_the_graph() -> None:
    def clusters(at) -> set[str]:
        return {c["id"] for c in viewer(at)[1]["payload"]["clusters"].values()}

    def models(at) -> set[str]:
        return {n["id"] for n in viewer(at)[1]["payload"]["nodes"].values() if n["kind"] == "model"}

    at = open_sample("nested_gan")
    at.switch_page("views/graph.py").run()
    assert_clean(at)
    every = {"generator", "discriminator", "discriminator/critic_head"}
    assert clusters(at) == every, "all nested models start expanded (the small model's default depth)"
    # a click on generator's title closes generator only, not the other model of its level
    at = send_event(at, {"type": "collapse", "id": "generator", "depth": 0})
    assert_clean(at)
    assert clusters(at) == {"discriminator", "discriminator/critic_head"} and models(at) == {"generator"}
    assert not any(i.startswith("generator/") for i in drawn_ids(at))
    assert viewer(at)[1]["marks"]["focus"] == "generator", "the viewer centres on what changed"
    at = send_event(at, {"type": "expand", "id": "generator", "depth": 0})
    assert_clean(at)
    assert clusters(at) == every and not models(at)

    # the depth widget is the default: changing it forgets the clicks; then a click opens that model only
    at = send_event(at, {"type": "collapse", "id": "discriminator/critic_head", "depth": 1})
    assert at.session_state["graph_collapsed"] == ["discriminator/critic_head"]
    at.number_input(key="graph_depth_widget").set_value(0).run()
    assert_clean(at)
    assert not clusters(at) and models(at) == {"generator", "discriminator"}
    assert "graph_collapsed" not in at.session_state and "graph_expanded" not in at.session_state
    at = send_event(at, {"type": "expand", "id": "discriminator", "depth": 0})
    assert_clean(at)
    assert clusters(at) == {"discriminator"} and models(at) == {"generator", "discriminator/critic_head"}
    drawn = set(drawn_ids(at))
    assert not any(i.startswith(("generator/", "discriminator/critic_head/")) for i in drawn)
    assert any(i.startswith("discriminator/") for i in drawn)
    at = send_event(at, {"type": "expand", "id": "discriminator/critic_head", "depth": 1})
    assert clusters(at) == {"discriminator", "discriminator/critic_head"} and models(at) == {"generator"}
    assert at.session_state["graph_expanded"] == ["discriminator", "discriminator/critic_head"]
    # the per-model choices belong to the model: opening another one drops them
    at.sidebar.selectbox(key="sample_widget").set_value("otto_mlp").run()
    assert_clean(at)
    assert "graph_expanded" not in at.session_state


def test_selecting_a_summary_row_opens_the_layer() -> None:
    at = open_sample("otto_mlp")
    at = send_selection(at, at.dataframe[1], {"rows": [2], "columns": [], "cells": []})
    assert_clean(at)
    assert at.title[0].value == "Layer" and at.selectbox(key="layer_pick_widget").value == "logits"


def test_embedding_layer_has_a_project_button() -> None:
    at = new_app(selected_layer="emb_group_1")
    at.switch_page("views/layer.py").run()
    assert_clean(at)
    assert at.selectbox(key="layer_pick_widget").value == "emb_group_1"
    button = next(b for b in at.button if b.label == "Project this embedding")
    button.click().run()
    assert_clean(at)
    assert at.title[0].value == "Embeddings"
    assert at.selectbox(key="embedding_pick_widget").value == "emb_group_1"
    assert settings.literal("emb_group_1 (80 x") in texts(at.caption)[0]


def test_embedding_projection_colours_searches_and_switches_to_pca_3d() -> None:
    at = new_app()
    at.session_state["embedding_layer"] = "emb_group_1"
    at.switch_page("views/embeddings.py").run()
    assert_clean(at)
    assert at.selectbox(key="embedding_pick_widget").value == "emb_group_1"
    assert at.selectbox(key="embedding_colour_widget").value == "group", "the hidden groups colour by default"
    legend = sorted(t["name"] for t in charts(at)[0]["data"])
    assert legend == ["latent group 1 (-2.0)", "latent group 2 (+2.0)"]
    at.text_input(key="embedding_search_widget").set_value("group 7").run()
    neighbours = at.dataframe[-1].value
    assert len(neighbours) == 10 and "group 7" not in neighbours["label"].tolist()
    at.text_input(key="embedding_search_widget").set_value("no such label").run()
    assert "No projected point has the label" in at.error[0].value
    at.radio(key="embedding_method_widget").set_value("pca").run()
    at.radio(key="embedding_dimensions_widget").set_value(3).run()
    assert_clean(at)
    assert charts(at)[0]["data"][0]["type"] == "scatter3d"


def test_upload_opens_the_file_and_a_broken_one_keeps_the_previous_model() -> None:
    at = new_app()
    sample = inspector.get_sample("tanh_hinge")
    at = upload(at, "hinge.keras", sample.path.read_bytes())
    assert_clean(at)
    assert at.title[0].value == f"Overview · {settings.literal(graph_of('tanh_hinge').name)}"
    assert "**hinge.keras**" in texts(at.sidebar.markdown)

    at = upload(at, "broken.keras", b"this is not a model")
    assert_clean(at)
    assert len(at.error) == 1 and "not a Keras model file" in at.error[0].value
    assert at.title[0].value == f"Overview · {settings.literal(graph_of('tanh_hinge').name)}"
    assert any("Still showing the previous model" in c for c in texts(at.caption))
    at.switch_page("views/activations.py").run()  # the previous model still runs
    assert_clean(at)
    assert at.radio(key="activation_source_widget").options == ["Random data", "Upload data"]
    assert charts(at), "random data matching the inputs runs at once"

    # a truncated .keras: the error names the damage, the app carries on
    at.switch_page("views/overview.py").run()
    data = sample.path.read_bytes()
    at = upload(at, "cut.keras", data[: len(data) // 2])
    assert len(at.error) == 1 and at.title[0].value == f"Overview · {settings.literal(graph_of('tanh_hinge').name)}"

    # choosing a sample afterwards clears the error
    settle(at.sidebar.selectbox(key="sample_widget").set_value("otto_mlp").run())
    assert not at.error and at.title[0].value == f"Overview · {settings.literal(graph_of('otto_mlp').name)}"


def test_real_convolutional_model_shows_feature_maps(real_models: Path) -> None:
    path = real_models / "fc_tiny_XCEPTION_KDEF.hdf5"
    at = upload(new_app(), path.name, path.read_bytes())
    assert_clean(at)
    at.switch_page("views/activations.py").run()
    assert_clean(at)
    assert [t.label for t in at.tabs] == ["Histogram", "Heatmap", "Feature maps", "Table"]
    graph = inspector.build_graph(path)
    first = graph.node(facts.node_choices(graph)[0])
    assert at.selectbox(key="activation_layer_widget").value == first.id
    maps = charts(at)[2]
    channels = first.output_shapes[0][-1]
    assert sum(1 for t in maps["data"] if t["type"] == "heatmap") == min(16, channels) > 1
    assert at.number_input(key="feature_map_sample").value == 0


def test_model_keras_cannot_load_is_a_static_view_without_a_trust_hint(corpus_files: tuple[Path, dict]) -> None:
    path = corpus_files[1]["weights do not match"].path  # a Dense whose stored weights have another shape
    at = upload(new_app(), path.name, path.read_bytes())
    assert_clean(at)
    assert any(w.startswith("**Static view") for w in texts(at.warning))
    at.switch_page("views/activations.py").run()
    message = next(w for w in texts(at.warning) if "Activations are unavailable" in w)
    assert "Keras could not load it" in message and "TRUST" not in message and "[1m" not in message


def test_weights_only_file_is_explained(real_models: Path) -> None:
    path = real_models / "fml_proxy_jet_classifier.h5"
    at = upload(new_app(), path.name, path.read_bytes())
    assert_clean(at)
    assert "holds only weights" in at.error[0].value
    assert settings.message_markdown(path.name) in at.error[0].value, "the message names the file"


def test_legacy_h5_upload() -> None:
    sample = inspector.get_sample("otto_mlp")
    at = upload(new_app(), "otto.h5", sample.h5_path.read_bytes())
    assert_clean(at)
    assert at.metric[0].value == f"{graph_of('otto_mlp').total_params:,}"
    assert not at.error


def test_savedmodel_zip_upload(real_models: Path) -> None:
    """A tf.keras 2 SavedModel folder, zipped as a user would, opens with tf_keras's parameter count (MANIFEST.md)
    and says what it did not count."""
    import zipfile

    folder = real_models / "savedmodel" / "mnist_cnn_bn"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, f"mnist_cnn_bn/{path.relative_to(folder).as_posix()}")
    at = upload(new_app(), "mnist_cnn_bn.zip", buffer.getvalue())
    assert_clean(at)
    assert not at.error
    assert at.metric[0].value == "131,530"
    overview = settle(at.switch_page("views/overview.py").run())
    assert any("optimizer" in w and "not counted" in w for w in texts(overview.warning)), texts(overview.warning)


def test_untrusted_lambda_upload_is_a_static_view_and_trust_is_off() -> None:
    at = upload(new_app(), "lambda.keras", inspector.get_sample("lambda_merge").path.read_bytes())
    assert_clean(at)
    assert any(w.startswith("**Static view") for w in texts(at.warning))
    assert not at.sidebar.checkbox, "no trust checkbox unless the server allows trust"
    at.switch_page("views/activations.py").run()
    assert any("KERAS_INSPECTOR_ALLOW_TRUST=1" in w for w in texts(at.warning))


def test_trust_checkbox_when_the_server_allows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_INSPECTOR_ALLOW_TRUST", "1")
    at = open_sample("lambda_merge")
    assert any(w.startswith("**Static view") for w in texts(at.warning))
    settle(at.sidebar.checkbox(key="trust_widget").check().run())
    assert_clean(at)
    assert not any(w.startswith("**Static view") for w in texts(at.warning))
    assert any("code from the file ran" in c for c in texts(at.sidebar.caption))
    at.switch_page("views/activations.py").run()
    assert_clean(at)
    assert charts(at), "a trusted Lambda model runs"


def test_preload_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_INSPECTOR_PRELOAD", str(inspector.get_sample("nested_gan").path))
    at = new_app()
    assert_clean(at)
    assert at.title[0].value == f"Overview · {settings.literal(graph_of('nested_gan').name)}"
    monkeypatch.setenv("KERAS_INSPECTOR_PRELOAD", "/no/such/model.keras")
    at = new_app()
    assert "No model file at this path" in at.error[0].value


def test_activations_random_data_compare_and_all_layer_stats() -> None:
    at = open_sample("otto_mlp")
    at.switch_page("views/activations.py").run()
    at.radio(key="activation_source_widget").set_value("Random data").run()
    at.selectbox(key="activation_layer_widget").set_value("hidden").run()
    at.checkbox(key="activation_compare_widget").check().run()
    assert_clean(at)
    assert [c["layout"]["title"]["text"] for c in charts(at)[:3]] == ["inference", "training", "training − inference"]
    assert at.dataframe[-1].value["layer"].tolist() == ["hidden", "logits", "softmax"]  # compare_modes table
    next(b for b in at.button if b.label == "Compute statistics of all layers").click().run()
    assert_clean(at)
    stats = next(d.value for d in at.dataframe if "dead_fraction" in d.value)
    assert stats["layer"].tolist() == ["hidden", "logits", "softmax"]
    assert (stats["nan_count"] == 0).all()

    # the statistics' health columns colour the graph (issue 17): each node's details carry its number
    at.switch_page("views/graph.py").run()
    choice = at.selectbox(key="graph_colour_widget")
    assert {"macs", "dead_fraction", "nan_count"} <= set(choice.options)
    choice.set_value("dead_fraction").run()
    assert_clean(at)
    nodes = viewer(at)[1]["payload"]["nodes"].values()
    shown = {n["id"]: dict(map(tuple, n["rows"])).get("dead_fraction") for n in nodes}
    expected = stats.groupby("layer")["dead_fraction"].max()
    assert shown["hidden"] and float(shown["hidden"].rstrip("%")) / (100 if shown["hidden"].endswith("%") else 1) \
        == pytest.approx(expected["hidden"], abs=0.01)
    at.selectbox(key="graph_colour_widget").set_value("macs").run()
    assert_clean(at)
    nodes = {n["id"]: dict(map(tuple, n["rows"])) for n in viewer(at)[1]["payload"]["nodes"].values()}
    assert nodes["hidden"]["macs"] == "9.30 K"  # 93 x 100 multiply-accumulates


def test_activation_data_upload_errors_are_shown() -> None:
    at = open_sample("otto_mlp")
    at.switch_page("views/activations.py").run()
    at.radio(key="activation_source_widget").set_value("Upload data").run()
    assert_clean(at)
    at.main.get("file_uploader")[0].set_value(("x.npy", figures.npy_bytes(np.zeros((4, 5))),
                                           "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert any("expects (None, 93)" in e for e in texts(at.error))
    at.main.get("file_uploader")[0].set_value(("x.npy", figures.npy_bytes(np.ones((7, 93), "float32")),
                                           "application/octet-stream"))
    at.run()
    assert_clean(at) and not at.error
    assert "hidden: output shape (7, 100)" in texts(at.caption)[-1] or any(
        "output shape (7," in c for c in texts(at.caption))


# ------------------------------------------------------------------ the modules the pages draw from
def test_open_model_falls_back_to_the_static_view() -> None:
    lambda_bytes = inspector.get_sample("lambda_merge").path.read_bytes()
    opened = opening.open_model(lambda_bytes, name="l.keras")
    assert not opened.can_run and opened.graph.source == inspector.Source.STATIC
    assert opened.graph.warnings[0].startswith("Static view") and "trust" in opened.static_reason
    assert opened.sha256 == opening.file_digest(lambda_bytes)
    trusted = opening.open_model(lambda_bytes, name="l.keras", trust=True)
    assert trusted.can_run and trusted.graph.source == inspector.Source.KERAS
    with pytest.raises(ModelFormatError):
        opening.open_model(b"nope")


def test_weight_frame_matches_the_keras_weights() -> None:
    opened = opening.open_model(inspector.get_sample("nested_gan").path.read_bytes())
    node_id = "generator/g_dense_1"
    frame = layers.weight_frame(opened.graph, node_id, opened.model)
    layer = opened.model.get_layer("generator").get_layer("g_dense_1")
    kernel = np.asarray(layer.kernel.numpy())
    row = frame.iloc[0]
    assert row["name"] == "kernel" and row["size"] == kernel.size
    assert np.isclose(row["mean"], kernel.mean()) and np.isclose(row["max"], kernel.max())
    assert np.array_equal(layers.weight_values(opened.model, opened.graph, node_id, "kernel"), kernel)
    static = layers.weight_frame(opened.graph, node_id)  # static view: shapes only
    assert static["shape"].tolist() == frame["shape"].tolist() and static["mean"].isna().all()
    with pytest.raises(LayerNotFoundError):
        layers.weight_frame(opened.graph, "nope", opened.model)
    with pytest.raises(LayerNotFoundError):
        layers.weight_values(opened.model, opened.graph, node_id, "nope")


def test_nan_weights_are_warned_about() -> None:
    opened = opening.open_model(inspector.get_sample("tanh_hinge").path.read_bytes())
    assert layers.model_warnings(opened) == []
    kernel = opened.model.get_layer("hidden").kernel
    original = kernel.numpy()
    try:
        broken = original.copy()
        broken[0, :2] = np.nan
        kernel.assign(broken)
        assert layers.nonfinite_weights(opened.model) == [("hidden", "kernel", 2, 0)]
        assert "holds 2 NaN" in layers.model_warnings(opened)[0]
    finally:
        kernel.assign(original)


def test_random_inputs_respect_embedding_vocabularies() -> None:
    opened = opening.open_model(inspector.get_sample("entity_embeddings").path.read_bytes())
    data = layers.random_inputs(opened.model, opened.graph, samples=500, seed=1)
    vocab = {n.id: n.config["input_dim"] for n in opened.graph.nodes if n.class_name == "Embedding"}
    for name, values in data.items():
        assert values.shape == (500, 1) and values.dtype == np.int32
        assert 0 <= values.min() and values.max() < vocab[f"emb_{name}"]
    assert inspector.inspect_layer(opened.model, "outcome", data).shape == (500, 1)


def test_read_data_upload_refuses_pickles_and_unknown_types() -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InspectorError):
        layers.read_data_upload("evil.npy", buffer.getvalue())
    with pytest.raises(InputDataError):
        layers.read_data_upload("x.txt", b"1,2")
    frame = layers.read_data_upload("m.csv", b"label,group\na,1\nb,2\n")
    assert frame["label"].tolist() == ["a", "b"]


def test_error_messages_keep_their_lines_in_markdown() -> None:
    error = ModelFormatError("Bad *file* a_b.", received="$1 and $2", fix="Re-save it.")
    text = settings.message_markdown(str(error))
    assert text.split("  \n") == [r"Bad \*file\* a\_b.", r"  Received\: \$1 and \$2", r"  Fix\: Re-save it."]


def test_activation_figures() -> None:
    maps = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    assert figures.is_image_activation(maps)
    figure = figures.feature_map_figure(maps, sample=1)
    assert len(figure.data) == 3 and np.array_equal(np.asarray(figure.data[2].z), maps[1, :, :, 2])
    with pytest.raises(InputDataError):
        figures.feature_map_figure(maps, sample=2)
    assert figures.heatmap_figure(maps).data[0].z.shape == (2, 48)
    assert sum(figures.histogram_figure(maps).data[0].y) == maps.size
    assert figures.activation_frame(maps).shape == (2, 48)
    assert np.array_equal(np.load(__import__("io").BytesIO(figures.npy_bytes(maps))), maps)


# ------------------------------------------------------------------ every hostile file through the app
@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_hostile_file_keeps_the_app_serving(corpus, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploaded after a good model (a folder cannot be uploaded: it is preloaded): nothing runs, nothing leaks,
    the refusal is shown with its fix — or the static view with its banner — and the app keeps working."""
    folder, cases = corpus
    case = cases[name]
    good = graph_of("tanh_hinge")
    if case.path.is_dir():
        monkeypatch.setenv("KERAS_INSPECTOR_PRELOAD", str(case.path))
        at = new_app()
    else:
        at = upload(new_app(), "hinge.keras", inspector.get_sample("tanh_hinge").path.read_bytes())
        assert at.title[0].value == f"Overview · {settings.literal(good.name)}"
        at = upload(at, case.path.name, case.path.read_bytes())
    assert_clean(at)
    shown = texts(at.error) + texts(at.warning) + texts(at.markdown) + texts(at.caption)
    assert not any(SECRET_TEXT[:24] in t for t in shown)
    if case.static_ok:
        assert not at.error
        banner = next(w for w in texts(at.warning) if w.startswith("**Static view"))
        assert "no code from this file was run" in banner
        at.switch_page("views/graph.py").run()
        assert_clean(at)
        assert drawn_ids(at), "the static graph is drawn"
        at.switch_page("views/activations.py").run()
        assert_clean(at)
        assert any("Activations are unavailable" in w for w in texts(at.warning)) and not charts(at)
    else:
        assert len(at.error) == 1
        message = at.error[0].value
        assert settings.message_markdown(case.phrase).lower() in message.lower()
        assert "Received" in message and "Fix" in message
        drawn_then_refused = any(w.startswith("**Static view") for w in texts(at.warning))
        if drawn_then_refused:  # its config and shapes were read and drawn; the background load refused it
            at.switch_page("views/activations.py").run()
            assert_clean(at)
            assert any("Activations are unavailable" in w for w in texts(at.warning)) and not charts(at)
        elif not case.path.is_dir():
            assert at.title[0].value == f"Overview · {settings.literal(good.name)}", "the last good model is still shown"
            assert any("Still showing the previous model" in c for c in texts(at.caption))
            at.switch_page("views/activations.py").run()  # and it still runs
            assert_clean(at)
            assert charts(at)
    assert not (folder / MARKER_NAME).exists(), "code from the file ran"
    assert "evil_layers_module" not in sys.modules


# ------------------------------------------------------------------ hostile and broken data through the app
BAD_DATA = {  # case: (sample, file name, bytes or a function of the marker path, phrase shown)
    "wrong shape": ("otto_mlp", "x.npy", figures.npy_bytes(np.zeros((4, 5))), "expects (None, 93)"),
    "wrong dtype": ("otto_mlp", "x.npy", figures.npy_bytes(np.array([["a"] * 93])), "cannot be used as float32"),
    "wrong number of inputs": ("entity_embeddings", "x.npy", figures.npy_bytes(np.zeros((3, 6))), "6 inputs"),
    "empty array": ("otto_mlp", "x.npy", figures.npy_bytes(np.zeros((0, 93), "float32")), "no samples"),
    "pickled array": ("otto_mlp", "x.npy", pickled_npy, "never loaded"),
    "terabyte header": ("otto_mlp", "x.npy", terabyte_npy_header(), "max\\_data\\_bytes"),
    "truncated npy": ("otto_mlp", "x.npy", figures.npy_bytes(np.ones((7, 93), "float32"))[:100], "x.npy"),
    "text named .npy": ("otto_mlp", "x.npy", b"hello world\n", "not a readable .npy"),
    "csv missing columns": ("entity_embeddings", "x.csv", b"a,b\n1,2\n", "no column for input"),
    "binary named .csv": ("otto_mlp", "x.csv", b"\xff\xfe\x00garbage", "could not be read"),
}


def _upload_data(at, name: str, data: bytes):
    at.main.get("file_uploader")[0].set_value((name, data, "application/octet-stream"))
    return at.run()


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_activation_data_is_refused_clearly_and_the_page_recovers(case: str, tmp_path: Path) -> None:
    slug, name, data, phrase = BAD_DATA[case]
    marker = tmp_path / MARKER_NAME
    at = open_sample(slug)
    at.switch_page("views/activations.py").run()
    at.radio(key="activation_source_widget").set_value("Upload data").run()
    at = _upload_data(at, name, data(marker) if callable(data) else data)
    assert_clean(at)
    assert len(at.error) == 1 and phrase in at.error[0].value, texts(at.error)
    assert "Received" in at.error[0].value and "Fix" in at.error[0].value
    assert "keras-inspector-data-" not in at.error[0].value, "the message names the upload, not our temporary copy"
    assert not charts(at) and not marker.exists()
    good = inspector.get_sample(slug).load_inputs()
    buffer = io.BytesIO()
    np.savez(buffer, **good) if isinstance(good, dict) else np.save(buffer, good)
    at = _upload_data(at, "good.npz" if isinstance(good, dict) else "good.npy", buffer.getvalue())
    assert_clean(at)
    assert not at.error and charts(at), "the next good file runs"


def test_nan_data_is_reported_and_still_run() -> None:
    at = open_sample("otto_mlp")
    at.switch_page("views/activations.py").run()
    at.radio(key="activation_source_widget").set_value("Upload data").run()
    data = np.ones((5, 93), "float32")
    data[1, 3] = np.nan
    data[2, 4] = np.inf
    at = _upload_data(at, "x.npy", figures.npy_bytes(data))
    assert_clean(at)
    assert not at.error
    assert "Input 'features' holds 1 NaN and 1 Inf value(s) in 2 of 5 samples (first\\: sample 1)." in texts(at.warning)  # shown as text: ':' escaped
    assert charts(at), "NaN is something to look at, not a reason to refuse"


def test_data_over_the_size_limit_is_refused_with_the_limit() -> None:
    at = open_sample("otto_mlp")
    at.switch_page("views/activations.py").run()
    at.radio(key="activation_source_widget").set_value("Upload data").run()
    previous = inspector.set_limits(max_data_bytes=1000)
    try:
        at = _upload_data(at, "x.npy", figures.npy_bytes(np.ones((7, 93), "float32")))
    finally:
        inspector.set_limits(**vars(previous))
    assert_clean(at)
    assert "max\\_data\\_bytes" in at.error[0].value and "1000 bytes" in at.error[0].value
