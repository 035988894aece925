"""profile_layers: one row per layer call from one instrumented pass per repeat, shares that add up."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import zoo

import inspector
from inspector.graph import NodeKind


def _layer_ids(model: keras.Model) -> list[str]:
    return [n.id for n, _ in inspector.build_graph(model).walk() if n.kind is not NodeKind.INPUT]


def test_one_row_per_layer_call_and_shares_add_up():
    model = keras.applications.MobileNetV2(input_shape=(64, 64, 3), weights=None, classes=10, alpha=0.35)
    X = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    df = inspector.profile_layers(model, X, repeats=2)
    assert df["id"].tolist() == _layer_ids(model)  # the graph's node ids, in graph order
    assert (df["seconds"] > 0).all()
    assert df["share"].sum() == pytest.approx(1.0)
    assert df.attrs["total_seconds"] == pytest.approx(df["seconds"].sum())
    assert df.attrs["forward_seconds"] > 0 and df.attrs["samples"] == 4 and df.attrs["repeats"] == 2
    # the convolutions do the work: they take more time than the reshapes and paddings
    conv = df[df.class_name.str.contains("Conv")]["seconds"].sum()
    assert conv > df[df.class_name.isin(["ZeroPadding2D", "Reshape", "Flatten"])]["seconds"].sum()


def test_one_instrumented_pass_per_repeat(monkeypatch):
    """Every layer is called once per pass: a warm-up plus `repeats` timed passes, plus the plain passes."""
    model = zoo.shared_layer()
    calls = {"n": 0}
    dense = model.get_layer("shared_dense")
    original = dense.call

    def counting(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(dense, "call", counting)
    X = [np.ones((3, 4), "float32"), np.zeros((3, 4), "float32")]
    df = inspector.profile_layers(model, X, repeats=3)
    # 2 calls of the shared layer per pass; (1 warm-up + 3 timed) instrumented + (1 + 3) plain passes
    assert calls["n"] == 2 * (4 + 4)
    assert df["id"].tolist() == ["shared_dense", "shared_dense@1", "merge", "head"]


def test_nested_rows_include_their_children_and_training_changes_nothing():
    model = zoo.nested_3_levels()
    before = [v.numpy().copy() for v in model.variables]
    df = inspector.profile_layers(model, np.random.rand(32, 6), training=True, repeats=2).set_index("id")
    assert set(df.index) == set(_layer_ids(model))
    inner = df.loc[["level2/level3/deep_dense", "level2/level3/deep_bn"], "seconds"].sum()
    assert df.loc["level2/level3", "seconds"] >= inner
    assert df.loc["level2", "seconds"] >= df.loc["level2/level3", "seconds"]
    assert df.loc[df.depth == 0, "share"].sum() == pytest.approx(1.0)
    assert df.attrs["mode"] == "training"
    for a, v in zip(before, model.variables, strict=True):  # BatchNorm's moving statistics untouched
        np.testing.assert_array_equal(a, v.numpy())


def test_dict_inputs_and_bad_arguments():
    model = zoo.multi_in_out_dict()
    X = {"image": np.ones((2, 8, 8, 1)), "meta": np.ones((2, 3))}
    assert inspector.profile_layers(model, X, repeats=1)["id"].tolist() == ["conv", "flat", "join", "label", "score"]
    with pytest.raises(inspector.InputDataError, match="repeats"):
        inspector.profile_layers(model, X, repeats=0)
    with pytest.raises(inspector.InputDataError, match="image"):
        inspector.profile_layers(model, {"image": np.ones((2, 9, 8, 1)), "meta": np.ones((2, 3))})
    with pytest.raises(inspector.InputDataError, match="stream"):
        inspector.profile_layers(model, iter([X]))


def test_activation_memory_is_bounded():
    model = zoo.sequential_mlp()
    previous = inspector.set_limits(max_batch_bytes=1000)
    try:
        with pytest.raises(inspector.LimitExceededError, match="max_batch_bytes"):
            inspector.profile_layers(model, np.ones((100, 8)))
    finally:
        inspector.set_limits(**vars(previous))
