"""The summary table: params add up for every keras.applications architecture and the zoo."""

from __future__ import annotations

import gc

import keras
import pytest
import zoo

import inspector

APPLICATIONS = sorted(
    name for name in dir(keras.applications)
    if name[0].isupper() and callable(getattr(keras.applications, name)))


def _check_sums(model: keras.Model) -> None:
    frame = inspector.summary_frame(inspector.build_graph(model))
    top = frame[frame.depth == 0]
    assert top.params.sum() == model.count_params() == frame.attrs["total_params"]
    assert (top.trainable_params.sum() + top.non_trainable_params.sum()) == model.count_params()
    assert frame.attrs["trainable_params"] == sum(int(w.numpy().size) for w in model.trainable_weights)
    for parent in frame.loc[frame.kind == "model", "id"]:
        children = frame[frame.parent == parent]
        assert frame.loc[frame.id == parent, "params"].item() == children.params.sum()


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_zoo_params_add_up(name):
    _check_sums(zoo.ZOO[name]())


def test_applications_list_is_complete():
    assert len(APPLICATIONS) == 40, APPLICATIONS


@pytest.mark.slow
@pytest.mark.parametrize("name", APPLICATIONS)
def test_keras_applications_params_add_up(name):
    model = getattr(keras.applications, name)(weights=None)
    _check_sums(model)
    del model
    keras.backend.clear_session()
    gc.collect()


def test_columns_and_connections():
    frame = inspector.summary_frame(inspector.build_graph(zoo.shared_layer()))
    for column in ("name", "class_name", "output_shape", "params", "trainable_params", "non_trainable_params",
                   "connected_to", "depth"):
        assert column in frame.columns
    row = frame.set_index("id").loc["merge"]
    assert row.connected_to == "shared_dense, shared_dense@1"
    assert row.output_shape == "(None, 10)"
    assert frame.attrs["total_bytes"] == 36 * 4


def test_cost_columns_and_totals():
    frame = inspector.summary_frame(inspector.build_graph(zoo.shared_layer()))
    assert list(frame.columns[-3:-1]) == ["macs", "output_bytes"]
    rows = frame.set_index("id")
    # each call of the shared Dense(4 -> 5) counts; the head reads the 10 concatenated values
    assert rows.loc["shared_dense", "macs"] == rows.loc["shared_dense@1", "macs"] == 4 * 5
    assert rows.loc["head", "macs"] == 10
    assert frame.attrs["total_macs"] == 2 * 4 * 5 + 10
    assert rows.loc["merge", "output_bytes"] == 10 * 4
    assert frame.attrs["total_output_bytes"] == (5 + 5 + 10 + 1) * 4  # inputs are not layer outputs


def test_unknown_cost_is_missing_not_zero(tmp_path):
    path = tmp_path / "lambda.keras"
    zoo.lambda_abs().save(path)
    frame = inspector.summary_frame(inspector.static_graph(path))
    assert str(frame["macs"].dtype) == "Int64"
    assert frame.set_index("id")["macs"].isna()["abs"]
    assert frame.attrs["total_macs"] is None
