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
    frame = inspector.summary_frame(model)
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
    frame = inspector.summary_frame(zoo.shared_layer())
    for column in ("name", "class_name", "output_shape", "params", "trainable_params", "non_trainable_params",
                   "connected_to", "depth"):
        assert column in frame.columns
    row = frame.set_index("id").loc["merge"]
    assert row.connected_to == "shared_dense, shared_dense@1"
    assert row.output_shape == "(None, 10)"
    assert frame.attrs["total_bytes"] == 36 * 4
