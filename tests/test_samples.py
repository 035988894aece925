"""The bundled sample models: files, metadata, loading, and the structure training gave them.

Keras is imported inside the tests that need it, so the metadata tests run without TensorFlow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector.errors import InspectorError, LayerNotFoundError, ModelFormatError
from inspector.io.samples import SAMPLE_ORDER, Sample, get_sample, list_samples, samples_dir

REPO = Path(__file__).resolve().parents[1]
SAFE_SLUGS = [s for s in SAMPLE_ORDER if s != "lambda_merge"]
METADATA_KEYS = {"slug", "title", "description", "trusted_only", "inputs", "outputs", "embedding_labels",
                 "input_columns", "source", "model_name", "params", "files", "keras_version"}


@pytest.fixture(autouse=True)
def _bundled_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_INSPECTOR_SAMPLES", raising=False)


@cache
def _load(slug: str, *, safe_mode: bool = True, file: str = "model.keras") -> Any:
    import keras

    return keras.saving.load_model(samples_dir() / slug / file, compile=False, safe_mode=safe_mode)


def _predict(model: Any, sample: Sample) -> list[np.ndarray]:
    inputs = sample.load_inputs()
    # a single-input functional model warns when given a dict, so pass it the bare array
    outputs = model.predict(inputs if len(inputs) > 1 else next(iter(inputs.values())), verbose=0)
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _separation(points: np.ndarray, groups: list[str], first: str, second: str) -> tuple[float, float]:
    """(d', leave-one-out nearest-centroid accuracy) of two groups of embedding rows.

    d' is the distance of the group means along the line joining them, in units of the
    groups' pooled standard deviation along that line.
    """
    labels = np.array(groups)
    keep = (labels == first) | (labels == second)
    x, y = points[keep], labels[keep] == second
    direction = x[y].mean(0) - x[~y].mean(0)
    projected = x @ direction / np.linalg.norm(direction)
    d_prime = abs(projected[y].mean() - projected[~y].mean()) / np.sqrt(
        (projected[y].var() + projected[~y].var()) / 2)
    correct = 0
    for i in range(len(x)):
        others = np.arange(len(x)) != i
        to_second = np.linalg.norm(x[i] - x[others & y].mean(0))
        to_first = np.linalg.norm(x[i] - x[others & ~y].mean(0))
        correct += (to_second < to_first) == y[i]
    return float(d_prime), correct / len(x)


# ----------------------------------------------------------------------------- listing, files, metadata
def test_every_sample_is_listed_in_the_fixed_order() -> None:
    assert [s.slug for s in list_samples()] == list(SAMPLE_ORDER)
    assert list_samples()[0].slug == "entity_embeddings"


@pytest.mark.parametrize("slug", SAMPLE_ORDER)
def test_files_exist_and_metadata_is_valid(slug: str) -> None:
    sample = get_sample(slug)
    folder = samples_dir() / slug
    meta = sample.metadata
    assert METADATA_KEYS <= set(meta), METADATA_KEYS - set(meta)
    assert meta["slug"] == slug == folder.name
    assert sample.path == folder / "model.keras" and zipfile.is_zipfile(sample.path)
    assert sample.inputs_path == folder / "inputs.npz"
    for name in meta["files"]:
        assert (folder / name).is_file(), name
    assert sorted(p.name for p in folder.iterdir()) == sorted(meta["files"])
    assert isinstance(sample.trusted_only, bool) and sample.trusted_only == (slug == "lambda_merge")
    assert 2 <= len(re.findall(r"[.!?](\s|$)", sample.description)) <= 3, sample.description
    assert sample.title and meta["source"] and meta["params"] > 0

    inputs = sample.load_inputs()
    assert list(inputs) == sample.input_names == [spec["name"] for spec in meta["inputs"]]
    rows = {len(a) for a in inputs.values()}
    assert len(rows) == 1 and 0 < rows.pop() <= 200
    for spec in meta["inputs"]:
        array = inputs[spec["name"]]
        assert spec["shape"][0] is None and list(array.shape[1:]) == spec["shape"][1:]
        assert str(array.dtype) == spec["dtype"]
    labels = sample.load_labels()
    if labels is not None:
        assert len(labels) == len(next(iter(inputs.values())))
    for layer, labels_ in meta["embedding_labels"].items():
        assert all(isinstance(label, str) and label for label in labels_), layer
        assert len(set(labels_)) == len(labels_), f"{layer} labels are not unique"
    for layer, groups in meta.get("embedding_groups", {}).items():
        assert len(groups) == len(meta["embedding_labels"][layer])
    assert set(meta["input_columns"]) <= set(sample.input_names)


def test_committed_samples_are_small() -> None:
    total = sum(p.stat().st_size for p in samples_dir().rglob("*") if p.is_file())
    assert total < 3 * 2**20, f"sample_models/ holds {total} bytes"


def test_inputs_are_read_without_pickle_and_labels_kept_apart() -> None:
    sample = get_sample("entity_embeddings")
    inputs = sample.load_inputs()
    assert "labels" not in inputs
    with np.load(sample.inputs_path, allow_pickle=False) as raw:
        assert set(raw.files) == {*inputs, "labels"}
        np.testing.assert_array_equal(raw["group_1"], inputs["group_1"])
    assert set(np.unique(sample.load_labels())) <= {0.0, 1.0}
    assert get_sample("nested_gan").load_labels() is None


def test_embedding_labels_of_an_unknown_layer_is_none() -> None:
    sample = get_sample("masked_text")
    assert sample.embedding_labels("word_embedding")[:2] == ["[PAD]", "[UNK]"]
    assert sample.embedding_labels("no_such_layer") is None
    assert get_sample("entity_embeddings").embedding_labels("emb_group_1")[16] == "group 17"


def test_unknown_slug_names_the_valid_ones() -> None:
    with pytest.raises(InspectorError) as info:
        get_sample("mnist_cnn")
    assert not isinstance(info.value, LayerNotFoundError)
    assert "'mnist_cnn'" in str(info.value)
    for slug in SAMPLE_ORDER:
        assert slug in info.value.fix


def test_environment_variable_points_at_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(samples_dir() / "tanh_hinge", tmp_path / "tanh_hinge")
    own = tmp_path / "my_model"
    shutil.copytree(samples_dir() / "otto_mlp", own)
    meta = json.loads((own / "metadata.json").read_text())
    (own / "metadata.json").write_text(json.dumps({**meta, "slug": "my_model", "title": "Mine"}))
    (tmp_path / "not_a_sample").mkdir()
    monkeypatch.setenv("KERAS_INSPECTOR_SAMPLES", str(tmp_path))

    assert samples_dir() == tmp_path.resolve()
    assert [s.slug for s in list_samples()] == ["tanh_hinge", "my_model"]  # known order first
    assert get_sample("my_model").path == tmp_path.resolve() / "my_model" / "model.keras"
    with pytest.raises(InspectorError, match="entity_embeddings") as info:
        get_sample("entity_embeddings")
    assert "tanh_hinge, my_model" in info.value.fix


def test_missing_folder_and_broken_metadata_raise_inspector_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_INSPECTOR_SAMPLES", str(tmp_path / "absent"))
    with pytest.raises(InspectorError, match="does not exist"):
        list_samples()

    monkeypatch.setenv("KERAS_INSPECTOR_SAMPLES", str(tmp_path))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metadata.json").write_text('{"slug": "broken", ')
    with pytest.raises(ModelFormatError, match="broken") as info:
        list_samples()
    assert "build.py" in info.value.fix

    (tmp_path / "broken" / "metadata.json").write_text(
        json.dumps({"slug": "broken", "title": "t", "description": "d.", "trusted_only": False,
                    "inputs": [{"name": "x", "shape": [None, 2], "dtype": "float32"}]}))
    np.savez(tmp_path / "broken" / "inputs.npz", y=np.zeros((3, 2)))
    with pytest.raises(InspectorError, match="no array for model input"):
        get_sample("broken").load_inputs()
    np.save(tmp_path / "broken" / "objects.npy", np.array([{}], dtype=object))
    shutil.move(tmp_path / "broken" / "objects.npy", tmp_path / "broken" / "inputs.npz")
    with pytest.raises(InspectorError, match="Cannot read the input sample"):
        get_sample("broken").load_inputs()


# ----------------------------------------------------------------------------- loading and predicting
@pytest.mark.parametrize("slug", SAFE_SLUGS)
def test_sample_loads_in_safe_mode_and_predicts(slug: str) -> None:
    sample = get_sample(slug)
    model = _load(slug)
    assert model.count_params() == sample.metadata["params"]
    assert [t.name for t in model.inputs] == sample.input_names
    import keras

    output_names = [model.layers[-1].name] if isinstance(model, keras.Sequential) else model.output_names
    assert output_names == [spec["name"] for spec in sample.metadata["outputs"]]
    outputs = _predict(model, sample)
    rows = len(next(iter(sample.load_inputs().values())))
    for out, spec in zip(outputs, sample.metadata["outputs"], strict=True):
        assert out.shape == (rows, *spec["shape"][1:])
        assert np.isfinite(out).all()


@pytest.mark.parametrize("slug", ["otto_mlp", "tanh_hinge"])
def test_legacy_h5_copy_predicts_the_same(slug: str) -> None:
    sample = get_sample(slug)
    assert sample.h5_path == samples_dir() / slug / "model.h5"
    from_h5 = _predict(_load(slug, file="model.h5"), sample)
    np.testing.assert_allclose(from_h5[0], _predict(_load(slug), sample)[0], rtol=1e-5, atol=1e-6)
    assert get_sample("masked_text").h5_path is None


def test_lambda_merge_needs_trust_and_computes_abs_sum() -> None:
    import keras

    sample = get_sample("lambda_merge")
    with pytest.raises(ValueError, match="Lambda"):
        keras.saving.load_model(sample.path, compile=False, safe_mode=True)
    model = _load("lambda_merge", safe_mode=False)
    inputs = sample.load_inputs()
    abs_sum, l1_norm = _predict(model, sample)
    np.testing.assert_allclose(abs_sum, np.abs(inputs["a"]) + np.abs(inputs["b"]), rtol=1e-6)
    # the read-out was trained to sum |a| + |b|: weights near 1, close predictions
    kernel, bias = model.get_layer("l1_norm").get_weights()
    np.testing.assert_allclose(kernel, 1.0, atol=0.1)
    np.testing.assert_allclose(l1_norm[:, 0], sample.load_labels(), atol=0.25)


@pytest.mark.parametrize(("slug", "minimum"), [("entity_embeddings", 0.75), ("otto_mlp", 0.75),
                                                ("tanh_hinge", 0.9), ("masked_text", 0.9)])
def test_trained_sample_beats_chance_on_its_held_out_rows(slug: str, minimum: float) -> None:
    sample = get_sample(slug)
    out = _predict(_load(slug), sample)[0]
    labels = sample.load_labels()
    if slug == "otto_mlp":
        predicted = out.argmax(1)
    elif slug == "tanh_hinge":
        predicted = np.sign(out[:, 0])
    else:
        predicted = (out[:, 0] > 0.5).astype(labels.dtype)
    accuracy = float(np.mean(predicted == labels))
    majority = max(np.mean(labels == v) for v in np.unique(labels))
    assert accuracy >= minimum and accuracy > majority + 0.05, (accuracy, majority)


# ----------------------------------------------------------------------------- embeddings
@pytest.mark.parametrize("slug", SAMPLE_ORDER)
def test_embedding_labels_cover_each_embedding_vocabulary(slug: str) -> None:
    import keras

    sample = get_sample(slug)
    model = _load(slug, safe_mode=slug != "lambda_merge")
    embeddings = {layer.name: layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)}
    assert set(sample.metadata["embedding_labels"]) == set(embeddings)
    for name, layer in embeddings.items():
        assert len(sample.embedding_labels(name)) == layer.input_dim
    if slug == "entity_embeddings":
        assert set(embeddings) == {f"emb_{name}" for name in sample.input_names}


def test_entity_embeddings_separate_the_latent_groups() -> None:
    sample = get_sample("entity_embeddings")
    model = _load("entity_embeddings")
    rng = np.random.default_rng(0)
    for layer in ("emb_group_1", "emb_activity_category"):
        points = model.get_layer(layer).get_weights()[0]
        groups = sample.embedding_groups(layer)
        first, second = sorted(set(groups))
        d_prime, accuracy = _separation(points, groups, first, second)
        assert d_prime > 4.0 and accuracy >= 0.95, (layer, d_prime, accuracy)
        # control: the same measure on shuffled group labels finds nothing
        shuffled = [_separation(points, list(rng.permutation(groups)), first, second) for _ in range(5)]
        assert np.median([d for d, _ in shuffled]) < 1.5, (layer, shuffled)


def test_masked_text_words_separate_and_padding_is_masked() -> None:
    sample = get_sample("masked_text")
    model = _load("masked_text")
    table = model.get_layer("word_embedding").get_weights()[0]
    d_prime, accuracy = _separation(table, sample.embedding_groups("word_embedding"), "negative", "positive")
    assert d_prime > 4.0 and accuracy == 1.0, (d_prime, accuracy)

    tokens = sample.load_inputs()["tokens"][:20]
    assert (tokens == 0).any(), "the sample should contain padding"
    hidden_kernel, hidden_bias = model.get_layer("hidden").get_weights()
    out_kernel, out_bias = model.get_layer("sentiment").get_weights()

    def head(pooled: np.ndarray) -> np.ndarray:
        h = np.maximum(pooled @ hidden_kernel + hidden_bias, 0.0)
        return 1.0 / (1.0 + np.exp(-(h @ out_kernel + out_bias)))

    mask = (tokens != 0)[..., None]
    masked_mean = (table[tokens] * mask).sum(1) / mask.sum(1)
    predicted = model.predict(tokens, verbose=0)
    np.testing.assert_allclose(predicted, head(masked_mean), rtol=1e-4, atol=1e-5)
    assert not np.allclose(predicted, head(table[tokens].mean(1)), atol=1e-3)  # [PAD] rows are excluded


# ----------------------------------------------------------------------------- nested GAN
def test_nested_gan_nests_two_levels_and_generates_per_condition() -> None:
    import keras

    sample = get_sample("nested_gan")
    gan = _load("nested_gan")
    generator, discriminator = gan.get_layer("generator"), gan.get_layer("discriminator")
    assert isinstance(generator, keras.Model) and isinstance(discriminator, keras.Model)
    assert isinstance(discriminator.get_layer("critic_head"), keras.Sequential)
    assert [layer.name for layer in gan.layers] == ["noise", "condition", "generator", "discriminator"]

    inputs = sample.load_inputs()
    generated = generator.predict([inputs["noise"], inputs["condition"]], verbose=0)
    centers = np.array(sample.metadata["mode_centers"])
    mode = inputs["condition"].argmax(1)
    own = np.linalg.norm(generated - centers[mode], axis=1).mean()
    other = np.linalg.norm(generated - centers[(mode + 1) % 3], axis=1).mean()
    assert own < 0.6 < 2.0 < other, (own, other)


# ----------------------------------------------------------------------------- through inspector's loader
@pytest.mark.parametrize("slug", SAFE_SLUGS)
def test_inspector_loads_each_safe_sample_and_its_graph_adds_up(slug: str) -> None:
    import inspector
    from inspector.graph import Source

    sample = get_sample(slug)
    model = inspector.load_model(sample.path)
    graph = inspector.build_graph(sample.path)
    assert graph.source is Source.KERAS
    assert graph.total_params == model.count_params() == sample.metadata["params"]
    assert sum(n.params for n in graph.nodes) == graph.total_params
    assert list(graph.inputs) == sample.input_names
    if sample.h5_path is not None:
        assert inspector.build_graph(sample.h5_path).total_params == sample.metadata["params"]


def test_inspector_refuses_lambda_merge_without_trust_and_shows_the_static_view() -> None:
    import inspector
    from inspector.errors import UnsafeModelError
    from inspector.graph import Source

    sample = get_sample("lambda_merge")
    with pytest.raises(UnsafeModelError):
        inspector.load_model(sample.path)
    graph = inspector.build_graph(sample.path)
    assert graph.source is Source.STATIC and graph.warnings
    assert [n.name for n in graph.opaque_nodes] == ["abs", "abs"]  # one node per call of the shared Lambda
    assert graph.total_params == sample.metadata["params"]
    trusted = inspector.load_model(sample.path, trust=True)
    np.testing.assert_allclose(_predict(trusted, sample)[0],
                               np.abs(sample.load_inputs()["a"]) + np.abs(sample.load_inputs()["b"]), rtol=1e-6)


def test_inspector_graph_of_nested_gan_has_two_nested_levels() -> None:
    import inspector

    graph = inspector.build_graph(get_sample("nested_gan").path)
    assert set(graph.nested) == {"generator", "discriminator"}
    assert set(graph.nested["discriminator"].nested) == {"discriminator/critic_head"}
    assert graph.node("discriminator/critic_head/d_dense").depth == 2
    assert graph.successors("condition") == ["generator", "discriminator"]
    flat = graph.expanded()
    assert {"generator", "discriminator", "discriminator/critic_head"} <= set(flat.clusters)


# ----------------------------------------------------------------------------- rebuild
def _config(path: Path) -> dict[str, Any]:
    text = zipfile.ZipFile(path).read("config.json").decode()
    # Lambda bytecode records the build script's absolute path, which differs between clones
    text = re.sub(r'"code": "[^"]*"', '"code": ""', text)
    return json.loads(re.sub(r'"shared_object_id": \d+', '"shared_object_id": 0', text))


@pytest.mark.slow
def test_rebuild_gives_the_committed_configs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / "sample_models" / "build.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for slug in SAMPLE_ORDER:
        committed, rebuilt = samples_dir() / slug, tmp_path / slug
        assert _config(rebuilt / "model.keras") == _config(committed / "model.keras"), slug
        new, old = (json.loads((f / "metadata.json").read_text()) for f in (rebuilt, committed))
        new.pop("keras_version"), old.pop("keras_version")
        assert new == old, slug
        with np.load(committed / "inputs.npz") as a, np.load(rebuilt / "inputs.npz") as b:
            assert a.files == b.files
            for key in a.files:
                assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype
    assert f"{get_sample('otto_mlp').metadata['params']:>7}" in result.stdout
