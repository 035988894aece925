"""An Embedding explained on its weights (inspector.embedding_lookup), and the TensorBoard projector export."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import inspector


@pytest.fixture(scope="module")
def word_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    lookup = keras.layers.StringLookup(vocabulary=["cat", "dog", "fish"], name="lookup")
    words = keras.Input((1,), dtype="string", name="words")
    return keras.Model(words, keras.layers.Embedding(4, 5, name="emb")(lookup(words)), name="words")


def test_row_equals_one_hot_times_the_matrix_on_a_saved_model() -> None:
    model = inspector.load_model(inspector.get_sample("entity_embeddings").path)
    table = inspector.embedding_layers(model)
    name = table["layer"][0]
    weights = model.get_layer(name).get_weights()[0]
    for index in (0, 1, len(weights) - 1):
        look = inspector.embedding_lookup(model, name, index)
        assert look.equal and look.max_abs_diff == 0.0
        np.testing.assert_array_equal(look.row, weights[index])
        np.testing.assert_array_equal(look.product, np.eye(len(weights), dtype=np.float32)[index] @ weights)
        np.testing.assert_array_equal(look.layer_output, weights[index])
        assert look.shape == weights.shape and look.label == str(index) and look.label_source == "index"


def test_tokens_of_the_models_own_vocabulary(word_model: keras.Model) -> None:
    weights = word_model.get_layer("emb").get_weights()[0]
    look = inspector.embedding_lookup(word_model, "emb", "dog")
    assert (look.index, look.label, look.label_source) == (2, "dog", "StringLookup vocabulary")
    np.testing.assert_array_equal(look.row, weights[2])
    # the same row the whole model gives for the word "dog"
    np.testing.assert_array_equal(np.asarray(word_model(np.array([["dog"]])))[0, 0], look.row)
    assert inspector.embedding_lookup(word_model, "emb", "3").label == "fish"


@pytest.mark.parametrize("item", [4, -1, "horse", True, 1.5])
def test_bad_items_are_refused_clearly(word_model: keras.Model, item: object) -> None:
    with pytest.raises(inspector.InputDataError) as info:
        inspector.embedding_lookup(word_model, "emb", item)
    assert info.value.fix


def test_tensorboard_export_has_one_row_per_point_and_a_parseable_config(tmp_path: Path) -> None:
    from google.protobuf import text_format
    from tensorflow.python.keras.protobuf import projector_config_pb2  # TensorBoard's ProjectorConfig message

    model = inspector.load_model(inspector.get_sample("entity_embeddings").path)
    layer = inspector.embedding_layers(model)["layer"][0]
    projection = inspector.project_embedding(model, layer, method="pca")
    weights = model.get_layer(layer).get_weights()[0]
    folder = projection.to_tensorboard(tmp_path / "projector")
    tensors = np.loadtxt(folder / "tensors.tsv", delimiter="\t", dtype=np.float32, ndmin=2)
    assert tensors.shape == weights.shape
    np.testing.assert_allclose(tensors, weights[projection.frame["index"].to_numpy()], rtol=1e-6, atol=1e-7)
    metadata = (folder / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert len(metadata) == 1 + len(projection.frame)
    header = metadata[0].split("\t")
    assert header[:2] == ["index", "label"] and "x" not in header
    rows = [line.split("\t") for line in metadata[1:]]
    assert all(len(r) == len(header) for r in rows)
    assert [r[1] for r in rows] == [str(v) for v in projection.frame["label"]]
    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig())
    (embedding,) = config.embeddings
    assert (embedding.tensor_path, embedding.metadata_path) == ("tensors.tsv", "metadata.tsv")
    assert list(embedding.tensor_shape) == list(weights.shape) and layer in embedding.tensor_name


def test_tensorboard_export_keeps_tabs_out_of_labels(tmp_path: Path) -> None:
    from inspector.analysis.projection import project_matrix

    projection = project_matrix(np.eye(3), method="pca", labels=["a\tb", "new\nline", ""])
    folder = projection.to_tensorboard(tmp_path)
    rows = (folder / "metadata.tsv").read_text().splitlines()
    assert [r.split("\t")[1] for r in rows[1:]] == ["a b", "new line", "(empty)"]
