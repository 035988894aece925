"""Validation of user data at the edge (inspector.io.inputs): no TensorFlow needed here."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_corpus import CreatesMarker

from inspector.errors import InputDataError, LimitExceededError
from inspector.io.inputs import (
    InputSpec,
    NonFiniteInputWarning,
    batch_stream,
    describe_data,
    expected_text,
    is_stream,
    load_data_file,
    nonfinite_messages,
    prepare_arrays,
    warn_nonfinite,
)
from inspector.limits import format_bytes, get_limits, set_limits

IMAGE = InputSpec("image", (None, 4, 4, 1), "float32")
META = InputSpec("meta", (None, 3), "float32")
COLOR = InputSpec("color", (None, 1), "int32")
SIZE = InputSpec("size", (None, 1), "float32")
TWO = (IMAGE, META)


@pytest.fixture
def small_limits():
    old = get_limits()
    yield set_limits
    set_limits(**vars(old))


def _expects_everything(err: InputDataError, specs) -> None:
    text = str(err)
    for spec in specs:
        assert spec.describe() in text, text


# ------------------------------------------------------------------------------ accepted shapes
def test_single_array_is_cast_to_the_model_dtype():
    (x,) = prepare_arrays(np.ones((5, 3), dtype=np.float64), [META])
    assert x.dtype == np.float32 and x.shape == (5, 3)


def test_list_in_model_order_and_dict_by_name_give_the_same_arrays():
    image, meta = np.random.rand(2, 4, 4, 1), np.random.rand(2, 3)
    by_list = prepare_arrays([image, meta], TWO)
    by_dict = prepare_arrays({"meta": meta, "image": image, "unused": np.zeros(2)}, TWO)
    for a, b in zip(by_list, by_dict, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dataframe_columns_map_to_inputs_by_name_and_extra_columns_are_ignored():
    frame = pd.DataFrame({"size": [1.5, 2.5, 3.5], "color": [0, 2, 1], "target": [1, 0, 1]})
    color, size = prepare_arrays(frame, (COLOR, SIZE))
    assert color.dtype == np.int32 and color.shape == (3, 1) and color[:, 0].tolist() == [0, 2, 1]
    assert size.dtype == np.float32 and size[:, 0].tolist() == [1.5, 2.5, 3.5]


def test_dataframe_for_a_single_input_uses_every_column():
    frame = pd.DataFrame(np.arange(6.0).reshape(2, 3), columns=["f1", "f2", "f3"])
    (x,) = prepare_arrays(frame, [META])
    np.testing.assert_array_equal(x, np.arange(6.0, dtype=np.float32).reshape(2, 3))


def test_dataframe_with_missing_columns_names_the_expected_columns():
    frame = pd.DataFrame({"colour": [1, 2], "size": [1.0, 2.0]})
    with pytest.raises(InputDataError) as info:
        prepare_arrays(frame, (COLOR, SIZE))
    assert "['color', 'size']" in str(info.value) and "['color']" in str(info.value)
    assert "colour" in info.value.received
    _expects_everything(info.value, (COLOR, SIZE))


def test_trailing_axis_of_one_is_added_or_removed():
    (a,) = prepare_arrays(np.array([1, 2, 3]), [COLOR])
    assert a.shape == (3, 1)
    (b,) = prepare_arrays(np.ones((3, 3, 1)), [META])
    assert b.shape == (3, 3)


def test_nested_python_lists_are_the_rows_of_a_single_input():
    (x,) = prepare_arrays([[1, 2, 3], [4, 5, 6]], [META])
    assert x.shape == (2, 3) and x.dtype == np.float32


def test_integer_valued_floats_are_accepted_for_integer_inputs():
    (x,) = prepare_arrays(np.array([[1.0], [2.0]]), [COLOR])
    assert x.dtype == np.int32 and x[:, 0].tolist() == [1, 2]


def test_string_inputs_keep_their_strings():
    (x,) = prepare_arrays(np.array([["a"], ["b"]]), [InputSpec("word", (None, 1), "string")])
    assert x[:, 0].tolist() == ["a", "b"]


# ------------------------------------------------------------------------------ refused data
@pytest.mark.parametrize("data, needle", [
    (np.ones((2, 4, 4, 1)), "single array"),                                     # one array, two inputs
    ([np.ones((2, 4, 4, 1))] * 3, "Got 3 arrays"),                               # wrong count
    ({"image": np.ones((2, 4, 4, 1)), "metadata": np.ones((2, 3))}, "['meta']"),  # wrong names
    ([np.ones((2, 4, 4, 1)), np.ones((2, 5))], "has shape (2, 5)"),              # wrong shape
    ([np.ones((2, 16)), np.ones((2, 3))], "has shape (2, 16)"),                   # wrong rank
    ([np.ones((2, 4, 4, 1)), np.array([["a", "b", "c"]] * 2)], "dtype <U1"),     # wrong dtype
    ([np.ones((2, 4, 4, 1)), np.ones((3, 3))], "different numbers of samples"),  # lengths differ
    ([np.ones((2, 4, 4, 1)), np.float32(1.0)], "scalar"),                       # a scalar
    ([np.ones((2, 4, 4, 1)), [[1, 2, 3], [4, 5]]], "meta"),                      # ragged
])
def test_bad_data_names_every_expected_input_and_what_was_received(data, needle):
    with pytest.raises(InputDataError) as info:
        prepare_arrays(data, TWO)
    assert needle in str(info.value)
    assert info.value.received
    _expects_everything(info.value, TWO)


def test_single_input_dict_needs_the_input_name_except_an_unnamed_npz(tmp_path: Path):
    with pytest.raises(InputDataError, match=r"No data for input\(s\) \['meta'\]"):
        prepare_arrays({"metadata": np.ones((2, 3))}, [META])
    np.savez(tmp_path / "x.npz", np.ones((2, 3)))  # stored as 'arr_0'
    assert prepare_arrays(tmp_path / "x.npz", [META])[0].shape == (2, 3)


def test_non_integer_floats_are_refused_for_integer_inputs():
    with pytest.raises(InputDataError, match="expects integers"):
        prepare_arrays(np.array([[1.5], [2.0]]), [COLOR])


def test_expected_text_lists_every_input():
    assert expected_text(TWO) == ("the model's 2 inputs: 'image' shape (None, 4, 4, 1) dtype float32; "
                                  "'meta' shape (None, 3) dtype float32")


def test_describe_data_covers_the_common_containers():
    assert describe_data(np.zeros((2, 3), np.int8)) == "an array of shape (2, 3) and dtype int8"
    assert "DataFrame of 2 rows" in describe_data(pd.DataFrame({"a": [1, 2]}))
    assert describe_data([np.zeros(2)]) == "a list of 1 items: array (2,) float64"


# ------------------------------------------------------------------------------ NaN / Inf
def test_nonfinite_values_are_reported_per_input():
    meta = np.ones((4, 3))
    meta[1, 0] = np.nan
    meta[3, 2] = -np.inf
    messages = nonfinite_messages([np.ones((4, 4, 4, 1)), meta], TWO)
    assert messages == ["Input 'meta' holds 1 NaN and 1 Inf value(s) in 2 of 4 samples (first: sample 1)."]
    with pytest.warns(NonFiniteInputWarning, match="1 NaN"):
        warn_nonfinite(messages, stacklevel=2)


def test_finite_data_reports_nothing():
    assert nonfinite_messages([np.ones((2, 3)), np.arange(3)], [META, COLOR]) == []


# ------------------------------------------------------------------------------ files
def test_npy_npz_and_csv_files_load(tmp_path: Path):
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    np.savez(tmp_path / "xs.npz", image=np.zeros((2, 4, 4, 1)), meta=np.ones((2, 3)))
    pd.DataFrame({"color": [1, 2], "size": [0.5, 0.25]}).to_csv(tmp_path / "t.csv", index=False)
    assert prepare_arrays(tmp_path / "x.npy", [META])[0].shape == (2, 3)
    image, meta = prepare_arrays(str(tmp_path / "xs.npz"), TWO)
    assert image.shape == (2, 4, 4, 1) and meta.sum() == 6
    color, size = prepare_arrays(tmp_path / "t.csv", (COLOR, SIZE))
    assert color[:, 0].tolist() == [1, 2] and size.dtype == np.float32


def test_csv_with_missing_columns_names_the_expected_columns(tmp_path: Path):
    pd.DataFrame({"size": [1.0], "label": [0]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputDataError) as info:
        prepare_arrays(tmp_path / "t.csv", (COLOR, SIZE))
    assert "expected columns ['color', 'size']" in str(info.value)
    assert "['size', 'label']" in info.value.received


def test_csv_missing_values_become_reported_nans(tmp_path: Path):
    (tmp_path / "t.csv").write_text("f1,f2,f3\n1,2,3\n4,,6\n")
    arrays = prepare_arrays(tmp_path / "t.csv", [META])
    assert nonfinite_messages(arrays, [META]) == [
        "Input 'meta' holds 1 NaN and 0 Inf value(s) in 1 of 2 samples (first: sample 1)."]


@pytest.mark.parametrize("name, fix", [("x.txt", ".npy, .npz or .csv"), ("missing.npy", "does not exist")])
def test_unsupported_or_missing_files_are_refused(tmp_path: Path, name, fix):
    (tmp_path / "x.txt").write_text("1,2,3")
    with pytest.raises(InputDataError, match=fix):
        load_data_file(tmp_path / name)


def test_npy_header_size_is_checked_before_reading(tmp_path: Path, small_limits):
    # a header declaring 8 GB followed by 16 bytes: refused from the header alone
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
        f.write(b"\0" * 16)
    with pytest.raises(LimitExceededError, match="max_data_bytes") as info:
        load_data_file(path)
    assert format_bytes(8 * 10**9) in str(info.value) and "(1000000000,)" in info.value.received
    small_limits(max_data_bytes=100)
    np.save(tmp_path / "small.npy", np.zeros(20))  # 160 bytes
    with pytest.raises(LimitExceededError, match=format_bytes(160)):
        load_data_file(tmp_path / "small.npy")


def test_npz_total_declared_size_is_checked(tmp_path: Path, small_limits):
    np.savez(tmp_path / "two.npz", a=np.zeros(10), b=np.zeros(10))  # 80 + 80 bytes
    small_limits(max_data_bytes=120)
    with pytest.raises(LimitExceededError, match="declare " + format_bytes(160)):
        load_data_file(tmp_path / "two.npz")


def test_csv_size_on_disk_is_checked(tmp_path: Path, small_limits):
    (tmp_path / "t.csv").write_text("a\n" + "1\n" * 100)
    small_limits(max_data_bytes=50)
    with pytest.raises(LimitExceededError, match="CSV file is " + format_bytes(202)):
        load_data_file(tmp_path / "t.csv")


def test_pickled_npy_is_refused_and_never_executes(tmp_path: Path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.npy"
    np.save(path, np.array([CreatesMarker(marker)], dtype=object), allow_pickle=True)
    assert not marker.exists()
    with pytest.raises(InputDataError, match="never loaded") as info:
        prepare_arrays(path, [META])
    assert "dtype object" in info.value.received
    assert not marker.exists()


def test_pickled_npz_member_is_refused_and_never_executes(tmp_path: Path):
    marker = tmp_path / "PWNED"
    np.savez(tmp_path / "evil.npz", x=np.array([CreatesMarker(marker)], dtype=object))
    with pytest.raises(InputDataError, match="never loaded"):
        load_data_file(tmp_path / "evil.npz")
    assert not marker.exists()


def test_a_raw_pickle_named_npy_is_refused_and_never_executes(tmp_path: Path):
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.npy").write_bytes(pickle.dumps(CreatesMarker(marker)))
    with pytest.raises(InputDataError, match="not a readable .npy"):
        load_data_file(tmp_path / "evil.npy")
    assert not marker.exists()


def test_truncated_npy_is_an_input_error(tmp_path: Path):
    np.save(tmp_path / "x.npy", np.zeros(100))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:200])
    with pytest.raises(InputDataError, match="could not be read"):
        load_data_file(tmp_path / "x.npy")


# ------------------------------------------------------------------------------ batching and streams
def test_in_memory_batches_are_views_of_the_validated_arrays():
    stream = batch_stream(np.arange(10.0, dtype=np.float32).reshape(5, 2), [InputSpec("x", (None, 2), "float32")],
                          batch_size=2)
    batches = list(stream)
    assert [b[0].shape[0] for b in batches] == [2, 2, 1] and stream.n_batches == 3 and stream.n_samples == 5
    assert np.shares_memory(batches[0][0], batches[1][0].base if batches[1][0].base is not None else batches[1][0])


def test_streams_strip_targets_split_large_batches_and_count_nonfinite():
    def batches():
        yield np.ones((3, 3)), np.zeros(3)                     # (x, y)
        x = np.ones((5, 3))
        x[4, 1] = np.inf
        yield x, np.zeros(5), np.ones(5)                       # (x, y, sample_weight)
    stream = batch_stream(batches(), [META], batch_size=2)
    assert is_stream(batches()) and stream.n_samples is None and not stream.in_memory
    sizes = [b[0].shape[0] for b in stream]
    assert sizes == [2, 1, 2, 2, 1]
    assert stream.n_samples == 8
    assert stream.warnings == ["Input 'meta' holds 0 NaN and 1 Inf value(s) in 1 of 8 streamed samples."]


def test_a_bad_streamed_batch_says_which_batch():
    def batches():
        yield {"image": np.ones((2, 4, 4, 1)), "meta": np.ones((2, 3))}
        yield {"image": np.ones((2, 4, 4, 1)), "meta": np.ones((2, 4))}
    with pytest.raises(InputDataError, match="^batch 1: Input 'meta' has shape") as info:
        list(batch_stream(batches(), TWO, batch_size=8))
    _expects_everything(info.value, TWO)


def test_multi_input_stream_batches_as_tuples_of_inputs_and_targets():
    def batches():
        yield (np.ones((2, 4, 4, 1)), np.ones((2, 3))), np.zeros(2)
    (batch,) = list(batch_stream(batches(), TWO, batch_size=8))
    assert [a.shape for a in batch] == [(2, 4, 4, 1), (2, 3)]


def test_batch_size_must_be_positive():
    with pytest.raises(InputDataError, match="positive"):
        batch_stream(np.ones((2, 3)), [META], batch_size=0)


def test_no_warning_for_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert batch_stream(np.ones((2, 3)), [META], batch_size=1).warnings == []
