"""The embedding projector: PCA/UMAP of matrices, Embedding tables and activations.

Keras is imported inside the tests that build models, so the matrix tests run
without TensorFlow.  UMAP tests use a few hundred points to stay fast.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from inspector.analysis import umap as _umap
from inspector.analysis.projection import Method, Metric, Projection, project_matrix
from inspector.errors import InputDataError, InspectorError, LayerNotFoundError


def clusters(n_per: int = 75, k: int = 4, dim: int = 16, seed: int = 0,
             scale: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """k Gaussian blobs of unit spread whose centres are ``scale`` apart per axis."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=scale, size=(k, dim))
    X = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(k), n_per)


def knn_purity(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of each point's k nearest (in the projection) that have its label."""
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())


# =============================================================================== PCA
def test_pca_matches_numpy_svd_up_to_sign():
    X = np.random.default_rng(3).normal(size=(200, 12)) @ np.diag(np.linspace(5, 0.5, 12))
    p = project_matrix(X, method="pca", n_components=3)
    Xc = X - X.mean(axis=0)
    u, s, _ = np.linalg.svd(Xc, full_matrices=False)
    expected = u[:, :3] * s[:3]
    got = p.frame[["x", "y", "z"]].to_numpy(dtype=np.float64)
    for axis in range(3):
        sign = np.sign(got[:, axis] @ expected[:, axis])
        np.testing.assert_allclose(got[:, axis] * sign, expected[:, axis], rtol=1e-4, atol=1e-4)
    ratios = s**2 / (s**2).sum()
    np.testing.assert_allclose(p.params["explained_variance_ratio"], ratios[:3], atol=1e-5)
    assert p.method is Method.PCA and p.params["method"] == "pca"


def test_pca_is_deterministic_and_sign_fixed():
    X = np.random.default_rng(4).normal(size=(50, 6))
    a = project_matrix(X, method="pca").frame
    b = project_matrix(X.copy(), method="pca").frame
    pd.testing.assert_frame_equal(a, b)


def test_pca_of_fewer_columns_than_axes_pads_with_zeros():
    p = project_matrix(np.random.default_rng(0).normal(size=(10, 2)), method="pca", n_components=3)
    assert np.all(p.frame["z"] == 0)


# =============================================================================== UMAP
def test_umap_separates_clusters():
    from sklearn.metrics import silhouette_score

    # ten blobs, apart in 32-D but overlapping in any 2-D linear view
    X, y = clusters(n_per=30, k=10, dim=32, scale=1.5)
    flat = project_matrix(X, method="pca").frame[["x", "y"]].to_numpy()
    assert knn_purity(flat, y) < 0.85 and silhouette_score(flat, y) < 0.5
    p = project_matrix(X, method="umap", metric="euclidean", seed=0)
    coords = p.frame[["x", "y"]].to_numpy()
    assert knn_purity(coords, y) > 0.97
    assert silhouette_score(coords, y) > 0.7
    # and the UMAP settings used are all stated
    for key in ("n_neighbors", "min_dist", "n_epochs", "init", "seed", "metric"):
        assert key in p.params


def test_umap_cosine_separates_directions():
    rng = np.random.default_rng(1)
    directions = rng.normal(size=(3, 24))
    X = np.concatenate([d * rng.uniform(0.5, 5, size=(80, 1)) + 0.05 * rng.normal(size=(80, 24)) for d in directions])
    y = np.repeat(np.arange(3), 80)
    p = project_matrix(X, method="umap", metric="cosine")
    assert knn_purity(p.frame[["x", "y"]].to_numpy(), y) > 0.97


def test_seeded_umap_is_reproducible_and_seed_matters():
    X, _ = clusters(n_per=60, k=3)
    a = project_matrix(X, method="umap", seed=7, n_components=3)
    b = project_matrix(X, method="umap", seed=7, n_components=3)
    c = project_matrix(X, method="umap", seed=8, n_components=3)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not np.allclose(a.frame[["x", "y", "z"]], c.frame[["x", "y", "z"]])


def test_seed_none_records_the_seed_it_drew():
    X, _ = clusters(n_per=30, k=2)
    p = project_matrix(X, method="umap", seed=None)
    again = project_matrix(X, method="umap", seed=p.params["seed"])
    pd.testing.assert_frame_equal(p.frame, again.frame)


def test_layout_is_identical_serial_and_parallel():
    X, _ = clusters(n_per=100, k=3)
    indices, distances = _umap.exact_neighbours(X, 14)
    graph = _umap.fuzzy_graph(indices, distances, 15)
    init = _umap._initial_layout(X, 2, np.random.default_rng(0))
    serial = _umap.optimize_layout(graph, init, 30, seed=1, parallel=1)
    parallel = _umap.optimize_layout(graph, init, 30, seed=1, parallel=7)
    np.testing.assert_array_equal(serial, parallel)
    assert not np.array_equal(serial, init)


def test_approximate_neighbour_search_recall():
    # above the brute-force size the inverted-file search runs; compare with brute force
    X, _ = clusters(n_per=2_250, k=4, dim=24, seed=2)
    X += np.random.default_rng(0).normal(scale=3.0, size=X.shape).astype(np.float32)  # overlapping blobs
    assert len(X) > _umap._EXACT_MAX_POINTS
    found = _umap.nearest_neighbours(X, 14, seed=0)
    queries = np.random.default_rng(5).choice(len(X), 300, replace=False)
    d = ((X[queries, None, :] - X[None, :, :]) ** 2).sum(-1)
    d[np.arange(len(queries)), queries] = np.inf
    exact = np.argsort(d, axis=1)[:, :14]
    recall = np.mean([len(set(exact[i]) & set(found[q])) / 14 for i, q in enumerate(queries)])
    assert recall > 0.9
    assert all(q not in found[q] for q in queries)  # never its own neighbour
    np.testing.assert_array_equal(found, _umap.nearest_neighbours(X, 14, seed=0))  # deterministic


def test_fuzzy_graph_is_symmetric_with_unit_nearest_membership():
    X, _ = clusters(n_per=40, k=2)
    indices, distances = _umap.exact_neighbours(X, 9)
    graph = _umap.fuzzy_graph(indices, distances, 10)
    dense = graph.toarray()
    np.testing.assert_allclose(dense, dense.T, atol=1e-6)
    assert np.all(dense[np.arange(len(X)), indices[:, 0]] == pytest.approx(1.0))  # rho: nearest is certain
    assert dense.max() <= 1.0 + 1e-6 and np.all(np.diag(dense) == 0)


def test_identical_points_do_not_break_umap():
    X = np.zeros((30, 5))
    X[15:] = 1.0
    p = project_matrix(X, method="umap", metric="euclidean")
    assert np.isfinite(p.frame[["x", "y"]].to_numpy()).all()


# =============================================================================== neighbours
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_neighbours_match_brute_force(metric):
    from scipy.spatial.distance import cdist

    X = np.random.default_rng(11).normal(size=(120, 10))
    p = project_matrix(X, method="pca", metric=metric, labels=[f"w{i}" for i in range(120)])
    got = p.neighbours(17, k=8)
    d = cdist(X[17:18], X, metric=metric)[0]
    d[17] = np.inf
    expected = np.argsort(d)[:8]
    assert got["index"].tolist() == expected.tolist()
    np.testing.assert_allclose(got["distance"], d[expected], rtol=1e-5, atol=1e-6)
    assert got["rank"].tolist() == list(range(1, 9))
    assert got["label"].tolist() == [f"w{i}" for i in expected]
    pd.testing.assert_frame_equal(p.neighbours("w17", k=8), got)


def test_neighbours_errors_say_what_exists():
    p = project_matrix(np.eye(5), method="pca", labels=list("abcde"))
    with pytest.raises(InputDataError, match="No projected point has index 9"):
        p.neighbours(9)
    with pytest.raises(InputDataError, match="label 'zz'"):
        p.neighbours("zz")
    with pytest.raises(InputDataError, match="k must be"):
        p.neighbours(0, k=0)
    assert len(p.neighbours(0, k=50)) == 4  # capped at the other points


# =============================================================================== figure, CSV
def test_3d_figure_has_three_axes_and_hover_labels():
    X, y = clusters(n_per=20, k=3)
    p = project_matrix(X, method="pca", n_components=3, labels=[f"c{v}" for v in y])
    fig = p.figure()
    assert {t.type for t in fig.data} == {"scatter3d"}
    assert all(t.z is not None for t in fig.data)
    assert fig.layout.scene.zaxis.title.text.startswith("PC 3")
    assert sorted(t.name for t in fig.data) == ["c0", "c1", "c2"]  # 3 categories -> coloured by label
    assert "c1" in set(fig.data[1].text) | set(fig.data[0].text)


def test_2d_figure_colours_by_a_numeric_column_and_rejects_unknown_ones():
    X = np.random.default_rng(0).normal(size=(80, 4))
    meta = pd.DataFrame({"frequency": np.arange(80) * 1.5, "kind": ["a", "b"] * 40})
    p = project_matrix(X, method="pca", metadata=meta)
    fig = p.figure(color="frequency")
    assert len(fig.data) == 1 and fig.data[0].type == "scatter"
    assert list(fig.data[0].marker.color) == list(meta["frequency"])
    assert sorted(t.name for t in p.figure(color="kind").data) == ["a", "b"]
    with pytest.raises(InputDataError, match="no column 'nope'"):
        p.figure(color="nope")


def test_csv_round_trip():
    X = np.random.default_rng(0).normal(size=(25, 4))
    p = project_matrix(X, method="pca", labels=[f"w,{i}" for i in range(25)])
    back = pd.read_csv(io.StringIO(p.to_csv()))
    assert list(back.columns) == ["index", "label", "x", "y", "is_padding"]
    assert back["label"].tolist() == [f"w,{i}" for i in range(25)]
    np.testing.assert_allclose(back["x"], p.frame["x"], rtol=1e-5)


# =============================================================================== sampling, metadata
def test_sampling_beyond_max_points_is_stated():
    X = np.random.default_rng(0).normal(size=(120, 6))
    p = project_matrix(X, method="pca", max_points=50, seed=2)
    assert p.sampled and p.n_total == 120 and len(p.frame) == 50
    assert p.params["sampled"] is True and "50 of 120" in p.params["sampling"]
    assert p.frame["index"].is_monotonic_increasing and p.frame["index"].max() < 120
    again = project_matrix(X, method="pca", max_points=50, seed=2)
    assert again.frame["index"].tolist() == p.frame["index"].tolist()
    full = project_matrix(X, method="pca")
    assert not full.sampled and full.n_total == 120 and "sampling" not in full.params
    assert "sample of 50 / 120" in p.figure().layout.title.text


def test_sampling_uses_the_configured_limit():
    from inspector.limits import set_limits

    old = set_limits(max_points=30)
    try:
        p = project_matrix(np.random.default_rng(0).normal(size=(40, 3)), method="pca")
    finally:
        set_limits(**vars(old))
    assert p.sampled and len(p.frame) == 30 and p.params["max_points"] == 30


def test_metadata_csv_rows_join_and_wrong_count_errors(tmp_path):
    X = np.random.default_rng(0).normal(size=(12, 4))
    path = tmp_path / "meta.csv"
    pd.DataFrame({"word": [f"w{i}" for i in range(12)], "freq": range(12), "x": 0}).to_csv(path, index=False)
    p = project_matrix(X, method="pca", metadata=path)
    assert p.frame["word"].tolist() == [f"w{i}" for i in range(12)]
    assert "meta_x" in p.frame.columns  # clashes with a coordinate are renamed
    assert p.params["label_source"] == "index"  # no 'label' column: labels stay the index
    short = tmp_path / "short.csv"
    pd.DataFrame({"word": ["a"] * 11}).to_csv(short, index=False)
    with pytest.raises(InputDataError, match="11 rows, but there are 12 points"):
        project_matrix(X, method="pca", metadata=short)
    with pytest.raises(InputDataError, match="does not exist"):
        project_matrix(X, method="pca", metadata=tmp_path / "missing.csv")


def test_metadata_label_column_supplies_labels():
    X = np.random.default_rng(0).normal(size=(6, 3))
    p = project_matrix(X, method="pca", metadata=pd.DataFrame({"label": list("abcdef"), "n": range(6)}))
    assert p.frame["label"].tolist() == list("abcdef") and p.params["label_source"] == "metadata table"


# =============================================================================== validation
@pytest.mark.parametrize(
    ("matrix", "options", "message"),
    [
        (np.ones((5, 3)), {"n_components": 4}, "n_components must be 2 or 3"),
        (np.ones((5, 3)), {"metric": "manhattan"}, "Unknown metric"),
        (np.ones((5, 3)), {"method": "tsne"}, "Unknown projection method"),
        (np.ones((0, 3)), {}, "nothing to project"),
        (np.ones((4, 0)), {}, "nothing to project"),
        (np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]]), {}, "1 NaN"),
        (np.array([[1.0, np.inf]] * 5), {}, "infinite"),
        (np.ones(5), {}, "2-D array"),
        (np.array([["a", "b"]] * 5), {}, "must be numbers"),
        (np.ones((3, 2)), {"method": "umap"}, "at least 4 points"),
        (np.ones((5, 3)), {"labels": ["a"] * 4}, "one label per point"),
        (np.ones((5, 3)), {"max_points": 0}, "max_points"),
        (np.ones((5, 3)), {"seed": -1}, "seed"),
    ],
)
def test_bad_input_is_an_input_data_error(matrix, options, message):
    with pytest.raises(InputDataError, match=message) as info:
        project_matrix(matrix, **{"method": "pca", **options})
    assert info.value.fix  # every refusal says what to do


def test_enums_and_strings_are_both_accepted():
    X = np.random.default_rng(0).normal(size=(10, 3))
    a = project_matrix(X, method=Method.PCA, metric=Metric.EUCLIDEAN)
    b = project_matrix(X, method="PCA", metric="euclidean")
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert isinstance(a, Projection) and "PCA 2-D" in repr(a)


def test_progress_reaches_one_and_never_goes_back():
    seen: list[float] = []
    X, _ = clusters(n_per=30, k=2)
    project_matrix(X, method="umap", progress=lambda f, message: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


# =============================================================================== Keras models
def _word_model(mask_zero: bool = False):
    import keras

    words = keras.Input((3,), dtype="string", name="words")
    lookup = keras.layers.StringLookup(vocabulary=["cat", "dog", "fish", "bird", "cow"], name="lookup",
                                       mask_token="" if mask_zero else None)
    size = lookup.vocabulary_size()
    vectors = keras.layers.Embedding(size + 2, 6, mask_zero=mask_zero, name="word_embedding")(lookup(words))
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    return keras.Model(words, keras.layers.Dense(2, activation="softmax", name="head")(pooled)), lookup


def test_labels_come_from_a_real_string_lookup_vocabulary():
    from inspector.analysis.projection import embedding_layers, project_embedding

    model, lookup = _word_model()
    table = embedding_layers(model)
    assert table.to_dict("records") == [{"layer": "word_embedding", "vocabulary_size": 8, "dimension": 6,
                                         "mask_zero": False, "label_source": "StringLookup vocabulary",
                                         "lookup": "lookup"}]
    p = project_embedding(model, "word_embedding", method="pca")
    vocabulary = [str(v) for v in lookup.get_vocabulary()]
    assert vocabulary == ["[UNK]", "cat", "dog", "fish", "bird", "cow"]
    assert p.frame["label"].tolist() == vocabulary + ["6", "7"]  # rows past the vocabulary keep their index
    assert p.params["label_source"] == "StringLookup vocabulary" and p.params["layer"] == "word_embedding"
    # the projected vectors are the layer's weights, row for row
    np.testing.assert_array_equal(p.vectors, model.get_layer("word_embedding").get_weights()[0])
    assert p.neighbours("dog", k=3).attrs["query"]["index"] == 2


def test_padding_row_is_flagged_for_mask_zero():
    from inspector.analysis.projection import project_embedding

    model, lookup = _word_model(mask_zero=True)
    p = project_embedding(model, 0, method="pca")
    assert p.frame["is_padding"].tolist() == [True] + [False] * (len(p.frame) - 1)
    assert p.frame["label"].iloc[0] == "(empty)"  # the mask token '' of the StringLookup
    assert any(t.name.startswith("padding") for t in p.figure().data)


def test_other_lookup_layers_and_nested_models():
    import keras

    from inspector.analysis.projection import embedding_layers, project_embedding

    ints = keras.Input((2,), dtype="int64", name="codes")
    codes = keras.layers.IntegerLookup(vocabulary=[10, 20, 30], name="codes_lookup")(ints)
    a = keras.layers.Embedding(4, 3, name="code_embedding")(codes)
    text = keras.Input((1,), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(output_sequence_length=2, vocabulary=["good", "bad"], name="tv")
    b = keras.layers.Embedding(4, 3, name="text_embedding")(vectorize(text))
    inner_in = keras.Input((2,), dtype="int32")
    inner = keras.Model(inner_in, keras.layers.Embedding(9, 3, name="embedding")(inner_in), name="generator")
    ids = keras.Input((2,), dtype="int32", name="ids")
    out = keras.layers.Concatenate(axis=1)([a, b, inner(ids)])
    model = keras.Model([ints, text, ids], out)
    table = embedding_layers(model).set_index("layer")
    assert table.loc["code_embedding", "label_source"] == "IntegerLookup vocabulary"
    assert table.loc["text_embedding", "label_source"] == "TextVectorization vocabulary"
    assert table.loc["generator/embedding", "label_source"] == "index"
    assert project_embedding(model, "code_embedding", method="pca").frame["label"].tolist() == ["-1", "10", "20", "30"]
    assert project_embedding(model, "text_embedding", method="pca").frame["label"].tolist()[2:] == ["good", "bad"]
    nested = project_embedding(model, "generator/embedding", method="pca")
    assert len(nested.frame) == 9 and nested.params["layer"] == "generator/embedding"
    assert project_embedding(model, "embedding", method="pca").params["layer"] == "generator/embedding"


def test_sample_metadata_labels_and_label_errors():
    from inspector.analysis.projection import embedding_layers, project_embedding

    model, _ = _word_model()
    names = [f"n{i}" for i in range(8)]
    per_layer = {"word_embedding": names, "other_layer": ["x"]}
    assert embedding_layers(model, labels=per_layer)["label_source"].tolist() == ["sample metadata"]
    p = project_embedding(model, "word_embedding", method="pca", labels=per_layer)
    assert p.frame["label"].tolist() == names and p.params["label_source"] == "sample metadata"
    p = project_embedding(model, "word_embedding", method="pca", labels={3: "three"})
    assert p.frame["label"].tolist()[2:4] == ["2", "three"]
    with pytest.raises(InputDataError, match="8-row vocabulary"):
        project_embedding(model, "word_embedding", method="pca", labels=["a", "b"])


def test_wrong_layer_errors_list_the_embeddings():
    from inspector.analysis.projection import project_embedding

    model, _ = _word_model()
    with pytest.raises(InputDataError, match="is a Dense, not an Embedding") as info:
        project_embedding(model, "head")
    assert "word_embedding" in info.value.fix
    with pytest.raises(LayerNotFoundError, match="No Embedding layer 'nope'") as info:
        project_embedding(model, "nope")
    assert "word_embedding" in info.value.fix
    with pytest.raises(LayerNotFoundError, match="no Embedding number 3"):
        project_embedding(model, 3)
    with pytest.raises(InputDataError, match="keras.Model"):
        project_embedding(np.ones((3, 3)), 0)
    import keras

    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(LayerNotFoundError, match="has no Embedding layer"):
        project_embedding(plain, 0)


def test_embeddings_inside_a_custom_layer_are_found():
    import keras

    from inspector.analysis.projection import embedding_layers, project_embedding

    class TokenAndPosition(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.token = keras.layers.Embedding(20, 4, name="token")
            self.position = keras.layers.Embedding(5, 4, name="position")

        def call(self, x):
            return self.token(x) + self.position(keras.ops.arange(keras.ops.shape(x)[-1]))

    ids = keras.Input((5,), dtype="int32")
    model = keras.Model(ids, TokenAndPosition(name="tp")(ids))
    assert embedding_layers(model)["layer"].tolist() == ["tp/token", "tp/position"]
    assert len(project_embedding(model, "tp/position", method="pca").frame) == 5


def test_project_activations_labels_predictions_and_sampling():
    import keras

    from inspector.analysis.projection import project_activations

    X, y = clusters(n_per=40, k=3, dim=8)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu", name="hidden"),
                              keras.layers.Dense(3, activation="softmax", name="out")])
    given = project_activations(model, "hidden", X, labels=y, method="umap")
    assert given.params["label_source"] == "given labels" and given.params["layer"] == "hidden"
    assert given.frame["label"].tolist() == [str(v) for v in y]
    predicted = model.predict(X, verbose=0).argmax(axis=1)
    assert given.frame["predicted"].tolist() == [str(v) for v in predicted]
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output).predict(X, verbose=0)
    np.testing.assert_allclose(given.vectors, hidden, rtol=1e-5, atol=1e-5)
    assert knn_purity(given.frame[["x", "y"]].to_numpy(), y) > 0.9  # the clusters survive a random layer

    by_class = project_activations(model, "out", X, method="pca")
    assert by_class.params["label_source"] == "predicted class"
    assert by_class.frame["label"].tolist() == [str(v) for v in predicted]

    one_hot = np.eye(3)[y]
    assert project_activations(model, 0, X, labels=one_hot, method="pca").frame["label"].tolist() == [
        str(v) for v in y]
    sampled = project_activations(model, "hidden", X, method="pca", max_points=25, seed=1)
    assert sampled.sampled and sampled.n_total == 120 and len(sampled.frame) == 25
    assert "drawn before running the model" in sampled.params["sampling"]
    np.testing.assert_allclose(sampled.vectors, hidden[sampled.frame["index"].to_numpy()], rtol=1e-5, atol=1e-5)
    with pytest.raises(InputDataError, match="one label per sample"):
        project_activations(model, "hidden", X, labels=y[:10], method="pca")
    with pytest.raises(InspectorError):
        project_activations(model, "nope", X, method="pca")


def test_projection_pickles_for_caching():
    import pickle

    p = project_matrix(np.random.default_rng(0).normal(size=(20, 4)), method="pca", labels=list("ab") * 10)
    back = pickle.loads(pickle.dumps(p))
    pd.testing.assert_frame_equal(back.frame, p.frame)
    assert back.method is Method.PCA and back.params == p.params
    pd.testing.assert_frame_equal(back.neighbours(3), p.neighbours(3))


def test_duplicate_heavy_data_gets_valid_neighbours():
    # 9,000 identical rows make one giant k-means cell, searched in blocks of queries
    X = np.zeros((9_500, 8), dtype=np.float32)
    X[9_000:] = np.random.default_rng(0).normal(size=(500, 8))
    found = _umap.nearest_neighbours(X, 10, seed=0)
    assert found.shape == (9_500, 10)
    assert all(len(set(row)) == 10 for row in found[:: 97])  # distinct neighbours, never itself
    assert all(i not in found[i] for i in range(0, 9_500, 97))


# =============================================================================== umap-learn (the optional extra)
def _trustworthiness(X: np.ndarray, p: Projection) -> float:
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(X, p.frame[["x", "y"]].to_numpy(), n_neighbors=10))


def test_our_umap_is_at_least_0_95_times_as_trustworthy_as_umap_learn():
    pytest.importorskip("umap")
    rng = np.random.default_rng(5)
    X, _ = clusters(n_per=150, k=6, dim=24, seed=5, scale=3.0)  # overlapping blobs: neighbourhoods to keep
    X = X + rng.normal(scale=0.5, size=X.shape).astype(np.float32)
    ours = project_matrix(X, method="umap", metric="euclidean", seed=0)
    theirs = project_matrix(X, method="umap-learn", metric="euclidean", seed=0)
    assert theirs.params["implementation"].startswith("umap-learn") and theirs.reducer is not None
    assert _trustworthiness(X, ours) >= 0.95 * _trustworthiness(X, theirs) > 0.8


def test_umap_learn_supervised_is_umap_learns_own_fit():
    umap = pytest.importorskip("umap")
    X, groups = clusters(n_per=60, k=3, dim=8, seed=2, scale=0.6)  # classes that overlap in the input
    names = np.array(["red", "green", "blue"])[groups]
    p = project_matrix(X, method="umap-learn", metric="euclidean", seed=0, y=names, labels=names)
    reference = umap.UMAP(n_components=2, metric="euclidean", random_state=0, n_jobs=1, n_neighbors=15, min_dist=0.1,
                          target_metric="categorical").fit_transform(X, y=pd.factorize(names)[0])
    np.testing.assert_allclose(p.frame[["x", "y"]].to_numpy(), reference, rtol=1e-5, atol=1e-5)
    assert p.params["supervised"] and p.params["target_metric"] == "categorical"
    unsupervised = project_matrix(X, method="umap-learn", metric="euclidean", seed=0)
    coords = p.frame[["x", "y"]].to_numpy()
    assert knn_purity(coords, groups) > max(0.95, knn_purity(unsupervised.frame[["x", "y"]].to_numpy(), groups))


def test_umap_learn_places_new_activations_onto_the_training_map():
    pytest.importorskip("umap")
    keras = pytest.importorskip("keras")
    X, groups = clusters(n_per=80, k=3, dim=6, seed=4)
    order = np.random.default_rng(0).permutation(len(X))
    X, groups = X[order], groups[order]
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(10, activation="tanh", name="h"),
                              keras.layers.Dense(3, activation="softmax")])
    train = project_activations_of(model, X[:200], method="umap-learn", metric="euclidean")
    placed = project_activations_of(model, X[200:], onto=train)
    assert placed.method is Method.UMAP_LEARN and placed.params["placed_onto"] == train.source
    hidden = keras.Model(model.inputs, model.get_layer("h").output).predict(X[200:], verbose=0)
    # umap-learn's transform optimises the new points' places with SGD: two calls on the same rows differ by a
    # fraction of the map (seen: up to 0.8 on a map 10 wide), so the places are compared at that scale
    map_ = train.frame[["x", "y"]].to_numpy()
    extent = float(np.linalg.norm(map_.max(axis=0) - map_.min(axis=0)))
    apart = np.linalg.norm(placed.frame[["x", "y"]].to_numpy() - train.reducer.transform(hidden), axis=1)
    assert np.median(apart) < 0.05 * extent and apart.max() < 0.2 * extent, (np.median(apart), apart.max(), extent)
    # each new sample lands among training samples of its own blob
    nearest = ((placed.frame[["x", "y"]].to_numpy()[:, None] - map_[None]) ** 2).sum(-1).argmin(axis=1)
    assert (groups[:200][nearest] == groups[200:]).mean() > 0.95


def project_activations_of(model, X, **options):
    from inspector.analysis.projection import project_activations

    return project_activations(model, "h", X, **options)


def test_embedding_table_with_umap_learn_and_its_sample_groups():
    pytest.importorskip("umap")
    import inspector

    sample = inspector.get_sample("entity_embeddings")
    model = inspector.load_model(sample.path)
    groups = sample.embedding_groups("emb_group_1")
    p = inspector.project_embedding(model, "emb_group_1", method="umap-learn", y=groups, seed=1)
    assert len(p.frame) == len(groups) and p.params["supervised"] and p.params["layer"] == "emb_group_1"


def test_umap_learn_refusals(monkeypatch):
    from inspector.errors import MissingDependencyError

    X, _ = clusters(n_per=10, k=2, dim=4)
    with pytest.raises(InputDataError, match="needs method='umap-learn'"):
        project_matrix(X, method="umap", y=[0, 1] * 10)
    with pytest.raises(InputDataError, match="onto= must be a projection made with method='umap-learn'"):
        project_matrix(X, onto=project_matrix(X, method="pca"))
    monkeypatch.setitem(__import__("sys").modules, "umap", None)  # as if umap-learn were not installed
    with pytest.raises(MissingDependencyError) as refused:
        project_matrix(X, method="umap-learn")
    assert 'pip install "keras-inspector[umap-learn]"' in refused.value.fix
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="h")])
    with pytest.raises(MissingDependencyError):  # before the model runs
        project_activations_of(model, X, method="umap-learn")
