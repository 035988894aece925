"""The Ray engine against the local path, on a local Ray cluster (2 CPUs) started once for the module.

Ray's start-up and each job's workers (a process importing TensorFlow each) cost seconds, so the Ray tests are
few and share one model: several layers, a nested model called on a layer's output and a masked token input.
The sample's properties that need many draws (uniform inclusion, merging) are tested on the reservoir alone.
"""

from __future__ import annotations

import os
import re
import sys

import keras
import numpy as np
import pytest
import ray
from hostile_corpus import MARKER_NAME, _tiny_keras_files
from scipy import stats

import inspector
from inspector.analysis.activations import activation_stats, inspect_layer, sample_activations
from inspector.analysis.reservoir import _Reservoir
from inspector.errors import InputDataError, MissingDependencyError, UnsafeModelError

N = 300


@pytest.fixture(scope="module")
def cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers do not have tests/ on their path
    yield
    if started:
        ray.shutdown()


def several_layers_nested_and_masked() -> keras.Model:
    """Convolutions and dense layers, a nested model called on a layer's output, and a masked token input."""
    pixels = keras.Input((8, 8, 1), name="pixels")
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(pixels)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.MaxPooling2D(name="pool2d")(x)
    x = keras.layers.Dense(6, activation="relu", name="dense")(keras.layers.Flatten(name="flat")(x))
    inner = keras.Input((6,), name="enc_in")
    encoder = keras.Model(inner, keras.layers.Dense(3, activation="tanh", name="enc_dense")(
        keras.layers.Dense(5, name="enc_hidden")(inner)), name="encoder")
    words = keras.layers.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    pooled = keras.layers.GlobalAveragePooling1D(name="masked_pool")(words)  # averages the unmasked steps only
    joined = keras.layers.Concatenate(name="cat")([encoder(x), pooled])
    return keras.Model({"pixels": pixels, "tokens": tokens}, keras.layers.Dense(2, name="out")(joined), name="zoo")


def _data(n: int = N, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 20, size=(n, 7))
    tokens[np.arange(7) >= rng.integers(1, 8, size=(n, 1))] = 0  # padded to 7 steps: the mask matters
    return {"pixels": rng.normal(size=(n, 8, 8, 1)).astype("float32"), "tokens": tokens.astype("int32")}


@pytest.fixture(scope="module")
def model():
    return several_layers_nested_and_masked()


LAYERS = ["conv", "bn", "dense", "encoder", "encoder/enc_hidden", "encoder/enc_dense", "embed", "masked_pool", "out"]


def test_ray_statistics_equal_the_local_ones(cluster, model, tmp_path):
    X = _data()
    path = tmp_path / "zoo.keras"
    model.save(path)
    seen = []
    local = activation_stats(model, LAYERS, X, per_channel=True)
    distributed = activation_stats(path, LAYERS, X, per_channel=True, engine="ray",
                                   progress=lambda fraction, message: seen.append((fraction, message)))
    assert distributed[["layer", "output", "class_name", "shape", "channel"]].equals(
        local[["layer", "output", "class_name", "shape", "channel"]])
    for column in ("count", "zero_fraction", "dead_fraction", "nan_count", "inf_count"):
        np.testing.assert_array_equal(distributed[column], local[column], err_msg=column)
    # float32 activations of other batch sizes (blocks) differ in their last bits
    for column in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(distributed[column], local[column], rtol=1e-5, atol=1e-7, err_msg=column)
    assert distributed.attrs["samples"] == N and distributed.attrs["mode"] == "inference"
    # the data went as several blocks, each reported with the rate
    assert len(seen) > 1 and seen[-1][0] == 1.0
    assert re.fullmatch(rf"block {len(seen)} of {len(seen)}, [\d,]+ samples/s", seen[-1][1])
    # and the masked pooling is the mean over the unmasked steps, by NumPy from Keras's own embedding output
    embedded = keras.Model(model.inputs, model.get_layer("embed").output).predict(X, verbose=0)
    mask = (X["tokens"] != 0)[..., None]
    pooled = (embedded * mask).sum(axis=1) / mask.sum(axis=1)
    rows = distributed[distributed["layer"] == "masked_pool"]
    np.testing.assert_allclose(rows["mean"], pooled.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows["std"], pooled.std(axis=0), rtol=1e-4, atol=1e-6)


def test_ray_sample_is_drawn_uniformly_from_the_local_activations(cluster, model):
    X = _data()
    full = inspect_layer(model, "encoder/enc_dense", X)
    sample = sample_activations(model, ["encoder/enc_dense", "masked_pool"], X, n=120, seed=3, engine="ray")
    assert sample.seen == N and sample.positions is not None and len(set(sample.positions)) == 120
    # every sampled row is the row of the data it says it is
    np.testing.assert_allclose(sample.values["encoder/enc_dense"], full[sample.positions], rtol=1e-5, atol=1e-6)
    # and its values are distributed as the whole data's (two-sample KS per unit)
    for unit in range(full.shape[1]):
        assert stats.ks_2samp(sample.values["encoder/enc_dense"][:, unit], full[:, unit]).pvalue > 1e-3
    assert sample.values["masked_pool"].shape == (120, 4)


def test_project_activations_projects_a_sample_of_a_ray_dataset(cluster, model):
    X = _data()
    projection = inspector.project_activations(model, "encoder/enc_dense", X, method="pca", max_points=80,
                                               engine="ray")
    assert len(projection.frame) == 80 and projection.sampled and projection.n_total == N
    assert "Ray dataset" in projection.params["sampling"]
    rows = projection.frame["index"].to_numpy().astype(int)
    assert len(set(rows)) == 80 and rows.max() < N
    # each point is labelled by the model's own prediction for the row it says it is
    predicted = model.predict(X, verbose=0).argmax(axis=1)
    assert projection.frame["label"].astype(int).tolist() == predicted[rows].tolist()


def test_an_untrusted_model_never_runs_code_on_the_workers(cluster, tmp_path):
    marker = tmp_path / MARKER_NAME
    _, _, lambda_keras, _ = _tiny_keras_files(tmp_path, marker)
    with pytest.raises(UnsafeModelError, match="A Ray worker refused to open the model") as caught:
        activation_stats(lambda_keras, "all", np.ones((8, 3), "float32"), engine="ray")
    assert "lambda" in str(caught.value).lower()
    assert not marker.exists()


def test_a_bad_block_is_our_typed_error_naming_its_rows(cluster, model):
    X = _data()
    tokens = X["tokens"].astype("float64")
    tokens[250, 3] = np.nan  # an integer input cannot take NaN
    with pytest.raises(InputDataError, match="expects integers") as caught:
        activation_stats(model, ["dense"], {**X, "tokens": tokens}, engine="ray")
    first, last = map(int, re.search(r"rows (\d+) to (\d+) of the data", caught.value.what).groups())
    assert first <= 250 <= last < N and last - first < N - 1


def _exit_once(batch: dict, marker: str) -> dict:
    """The process running this dies the first time (a worker lost mid-block)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return batch


def test_a_worker_that_dies_is_restarted_and_nothing_is_lost(cluster, model, tmp_path):
    X = _data(seed=1)
    dataset = ray.data.from_items([{**{k: v[i] for k, v in X.items()}} for i in range(N)], override_num_blocks=3)
    dying = dataset.map_batches(_exit_once, fn_kwargs={"marker": str(tmp_path / "died")}, batch_size=None)
    distributed = activation_stats(model, ["dense", "out"], dying, engine="ray")
    assert (tmp_path / "died").exists()
    local = activation_stats(model, ["dense", "out"], X)
    assert distributed.attrs["samples"] == N
    np.testing.assert_allclose(distributed["mean"], local["mean"], rtol=1e-5, atol=1e-7)


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch, model):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingDependencyError, match=r"keras-inspector\[ray\]"):
        activation_stats(model, "all", _data(4), engine="ray")


def test_an_unknown_engine_is_refused(model):
    with pytest.raises(InputDataError, match="engine"):
        activation_stats(model, "all", _data(4), engine="spark")


# ------------------------------------------------------------------------------ the sample, without Ray
def test_local_sample_rows_are_the_data_rows(model):
    X = _data(100)
    sample = sample_activations(model, ["dense", "cat"], X, n=30, seed=1, batch_size=16)
    full = inspect_layer(model, "dense", X)
    assert sample.seen == 100 and len(set(sample.positions)) == 30
    np.testing.assert_allclose(sample.values["dense"], full[sample.positions], rtol=1e-6, atol=1e-6)
    assert not sample.values["dense"].flags.writeable
    again = sample_activations(model, ["dense", "cat"], X, n=30, seed=1, batch_size=16)
    np.testing.assert_array_equal(sample.positions, again.positions)  # seeded


def _inclusion(draw, rows: int, trials: int) -> np.ndarray:
    counts = np.zeros(rows)
    for seed in range(trials):
        chosen = draw(seed)
        assert len(set(chosen)) == len(chosen)
        counts[chosen] += 1
    return counts / trials


@pytest.mark.parametrize("how", ["one stream", "merged blocks"])
def test_every_row_is_equally_likely_to_be_sampled(how):
    rows, n, trials = 23, 5, 3000

    def draw(seed):
        if how == "one stream":
            reservoir = _Reservoir(n, np.random.default_rng(seed))
            for start in range(0, rows, 4):  # batches of 4, the first filling the sample
                reservoir.add([np.arange(start, min(rows, start + 4))])
            return reservoir.columns[0]
        merged = _Reservoir(n, np.random.default_rng([seed, 0]))
        for i, (start, stop) in enumerate([(0, 3), (3, 13), (13, 23)]):  # blocks smaller and larger than n
            block = _Reservoir(n, np.random.default_rng([seed, i + 1]))
            block.add([np.arange(start, stop)])
            merged.merge(block)
        assert merged.seen == rows
        return merged.columns[0]

    frequency = _inclusion(draw, rows, trials)
    p = n / rows
    assert np.all(np.abs(frequency - p) < 5 * np.sqrt(p * (1 - p) / trials)), frequency


# ------------------------------------------------------------------------------ the command line
def test_cli_stats_on_ray_reads_a_folder_and_writes_the_local_numbers(cluster, tmp_path):
    from inspector.cli import main

    x = keras.Input((5,), name="features")
    small = keras.Model(x, keras.layers.Dense(2, name="head")(keras.layers.Dense(4, activation="relu", name="h")(x)))
    small.save(tmp_path / "small.keras")
    X = np.random.default_rng(2).normal(size=(90, 5)).astype("float32")
    (tmp_path / "data").mkdir()
    for i in range(3):  # three files: three blocks, each read by the workers themselves
        np.save(tmp_path / "data" / f"part{i}.npy", X[i * 30:(i + 1) * 30])
    np.save(tmp_path / "all.npy", X)
    assert main(["stats", str(tmp_path / "small.keras"), "--input", str(tmp_path / "all.npy"), "-q",
                 "-o", str(tmp_path / "local.csv")]) == 0
    assert main(["stats", str(tmp_path / "small.keras"), "--input", str(tmp_path / "data"), "--engine", "ray",
                 "-q", "-o", str(tmp_path / "ray.csv")]) == 0
    import pandas as pd

    local, distributed = pd.read_csv(tmp_path / "local.csv"), pd.read_csv(tmp_path / "ray.csv")
    assert list(distributed["layer"]) == ["h", "head"] and distributed["count"].tolist() == [360, 180]
    np.testing.assert_allclose(distributed[["mean", "std", "min", "max"]], local[["mean", "std", "min", "max"]],
                               rtol=1e-5, atol=1e-7)
    reference = np.maximum(X @ small.get_layer("h").kernel.numpy() + small.get_layer("h").bias.numpy(), 0)
    np.testing.assert_allclose(distributed.loc[0, ["mean", "std"]].astype(float),
                               [reference.mean(), reference.std()], rtol=1e-5)


# ------------------------------------------------------------------------------ the app
def test_the_app_computes_all_layer_statistics_on_ray_with_its_progress_bar(cluster, monkeypatch):
    """The Activations page's "On a Ray cluster" toggle: the workers open the shown file's bytes and the table is
    the local one; the page's progress bar counts the blocks with the rate."""
    from test_app import open_sample

    from inspector.app import common

    messages: list[str] = []
    real_bar = common.progress_bar

    def spy(text):
        update = real_bar(text)

        def report(fraction, message):
            messages.append(message)
            update(fraction, message)

        report.bar = update.bar
        return report

    monkeypatch.setattr(common, "progress_bar", spy)
    at = open_sample("otto_mlp")
    at.default_timeout = 600  # a run that starts Ray's workers (each imports TensorFlow)
    at.switch_page("views/activations.py").run()
    at.radio(key="activation_source_widget").set_value("Random data").run()

    def all_layer_stats():
        next(b for b in at.button if b.label == "Compute statistics of all layers").click().run()
        assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
        return next(d.value for d in at.dataframe if "dead_fraction" in d.value)

    local = all_layer_stats()
    at.toggle(key="activation_ray_widget").set_value(True).run()
    messages.clear()
    on_ray = all_layer_stats()
    assert on_ray["layer"].tolist() == local["layer"].tolist() == ["hidden", "logits", "softmax"]
    assert on_ray["count"].tolist() == local["count"].tolist() == [200 * 100, 200 * 9, 200 * 9]
    np.testing.assert_allclose(on_ray[["mean", "std", "min", "max"]], local[["mean", "std", "min", "max"]],
                               rtol=1e-5, atol=1e-7)
    assert messages and all(re.fullmatch(r"block \d+ of \d+, [\d,]+ samples/s", m) for m in messages), messages
