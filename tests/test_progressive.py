"""Progressive open (issue 14): the static graph at once, the arrays vetted and Keras loaded in the background.

The library part: ``read_model_file(vet_arrays=False)`` reads shapes only and ``load_model`` vets the
arrays before Keras; HDF5 calls of two sessions do not wait for each other; ``start_opening`` hands
back the static view before the load ends.  The app part (AppTest): the graph is drawn while a slow
load is held back, the pages that need the model say it is loading and fill in after, and a load
that fails keeps the static view with its message.
"""

from __future__ import annotations

import math
import shutil
import threading
import time
from pathlib import Path

import h5py
import pytest
from test_app import TIMEOUT, assert_clean, charts, drawn_ids, new_app, texts

import inspector
from inspector.app import settings
from inspector.errors import LimitExceededError, ModelFormatError
from inspector.io import files, hdf5_child
from inspector.io.files import read_model_file, vet_arrays
from inspector.limits import Limits
from inspector.model import loading, opening

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def damaged_array_file(folder: Path) -> Path:
    """The otto_mlp .h5 with one weight stored gzip-compressed and its compressed bytes zeroed.

    Its config and shapes read fine; reading that array's data fails inside the HDF5 library.
    """
    path = folder / "damaged_array.h5"
    shutil.copy(inspector.get_sample("otto_mlp").h5_path, path)
    with h5py.File(path, "r+") as f:
        names: list[str] = []
        f["model_weights"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        name = "model_weights/" + names[0]
        values = f[name][()]
        del f[name]
        chunk = f.create_dataset(name, data=values, compression="gzip", chunks=values.shape).id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[chunk.byte_offset:chunk.byte_offset + chunk.size] = bytes(chunk.size)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------ library
def test_shapes_only_read_matches_the_full_read() -> None:
    for path in (inspector.get_sample("nested_gan").path, inspector.get_sample("otto_mlp").h5_path):
        full, fast = read_model_file(path), read_model_file(path, vet_arrays=False)
        assert full.arrays_vetted and not fast.arrays_vetted
        assert fast.weights == full.weights and fast.outside_data == full.outside_data
        assert vet_arrays(fast).arrays_vetted


def test_arrays_are_vetted_before_keras_when_the_read_skipped_them(tmp_path: Path) -> None:
    path = damaged_array_file(tmp_path)
    with pytest.raises(ModelFormatError):
        read_model_file(path)  # the default read vets, as before
    fast = read_model_file(path, vet_arrays=False)
    graph = inspector.static_graph(path)  # the static view never reads the arrays
    expected = sum(math.prod(w.shape) for w in fast.weights[files.ALL_WEIGHTS])
    assert graph.total_params == expected == inspector.load_model(inspector.get_sample("otto_mlp").path).count_params()
    with pytest.raises(ModelFormatError, match="weight arrays cannot be read"):
        inspector.load_model(fast)  # refused in the HDF5 child, before Keras reads the file


def test_a_slow_hdf5_call_does_not_hold_up_another() -> None:
    slow = threading.Thread(target=hdf5_child._HDF5_CHILDREN.call, args=(time.sleep, (3,), "test", Limits()))
    slow.start()
    time.sleep(0.3)  # the sleeping call holds a child
    started = time.monotonic()
    assert read_model_file(inspector.get_sample("otto_mlp").h5_path).format == "h5"
    took = time.monotonic() - started
    slow.join()
    assert took < 2.5, f"the second call waited for the first ({took:.1f} s)"


def test_start_opening_returns_the_static_view_before_the_load_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = loading.load_or_view

    def held(*args, **kwargs):
        gate.wait(TIMEOUT)
        return real(*args, **kwargs)

    monkeypatch.setattr(loading, "load_or_view", held)
    data = inspector.get_sample("nested_gan").path.read_bytes()
    started = opening.start_opening(data, name="gan.keras")
    assert not started.done() and started.current() is started.static
    static = started.static
    assert static.loading and not static.can_run and static.graph.source.value == "static"
    gate.set()
    opened = started.result(timeout=TIMEOUT)
    assert opened.can_run and not opened.loading and opened.graph.source.value != "static"
    assert opened.graph.total_params == static.graph.total_params == opened.model.count_params()


def test_a_refused_load_keeps_the_static_view_with_its_message(tmp_path: Path) -> None:
    started = opening.start_opening(damaged_array_file(tmp_path).read_bytes(), name="damaged.h5")
    opened = started.result(timeout=TIMEOUT)
    assert not opened.can_run and not opened.loading
    assert opened.graph is started.static.graph
    assert "weight arrays cannot be read" in opened.static_reason


# ------------------------------------------------------------------ app
def _hold_load(monkeypatch: pytest.MonkeyPatch, name: str, failure: Exception | None = None) -> threading.Event:
    """Hold the background load of the file called ``name`` until the returned event is set."""
    gate = threading.Event()
    real = loading.load_or_view

    def held(model_file, *args, **kwargs):
        if model_file.name == name:
            gate.wait(TIMEOUT)
            if failure is not None:
                raise failure
        return real(model_file, *args, **kwargs)

    monkeypatch.setattr(loading, "load_or_view", held)
    return gate


def _upload_unsettled(at, name: str, data: bytes):
    import streamlit as st

    st.cache_resource.clear()  # another test may have opened the same bytes: this one must load them
    at.sidebar.get("file_uploader")[0].set_value((name, data, "application/octet-stream"))
    return at.run()


def test_the_graph_is_drawn_before_the_load_ends_and_pages_fill_in(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = _hold_load(monkeypatch, "held_gan.keras")
    at = new_app()
    graph = inspector.static_graph(inspector.get_sample("nested_gan").path)
    at = _upload_unsettled(at, "held_gan.keras", inspector.get_sample("nested_gan").path.read_bytes())
    assert_clean(at)
    assert at.title[0].value == f"Overview · {settings.literal(graph.name)}"
    assert any("Loading the model" in c for c in texts(at.sidebar.caption))
    assert not any(w.startswith("**Static view") for w in texts(at.warning)), "loading is not a static view"

    at.switch_page("views/graph.py").run()
    assert_clean(at)
    assert at.title[0].value == f"Graph · {settings.literal(graph.name)}"
    assert set(drawn_ids(at)) and set(drawn_ids(at)) <= {n.id for n, _ in graph.walk()} | set(
        graph.expanded().clusters)

    at.switch_page("views/activations.py").run()
    assert_clean(at)
    assert any("Loading the model" in i for i in texts(at.info)) and not charts(at)
    at.session_state["selected_layer"] = next(n.id for n, _ in graph.walk() if n.class_name == "Dense")
    at.switch_page("views/layer.py").run()
    assert any("Loading the model" in i for i in texts(at.info)) and not charts(at)

    gate.set()
    at.session_state["loaded_model"].result(timeout=TIMEOUT)
    at.run()  # what the sidebar's polling fragment does when the load ends
    assert_clean(at)
    assert not any("Loading the model" in c for c in texts(at.sidebar.caption) + texts(at.info))
    assert charts(at), "the weight histograms fill in"
    at.switch_page("views/activations.py").run()
    assert_clean(at)
    assert charts(at), "the activations fill in"


def test_a_failed_background_load_keeps_the_static_view_with_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    failure = LimitExceededError("Keras ran out of memory building this model.", received="held_mlp.keras",
                                 fix="Lower the model's size.")
    gate = _hold_load(monkeypatch, "held_mlp.keras", failure)
    at = new_app()
    graph = inspector.static_graph(inspector.get_sample("otto_mlp").path)
    at = _upload_unsettled(at, "held_mlp.keras", inspector.get_sample("otto_mlp").path.read_bytes())
    at.switch_page("views/graph.py").run()
    before = drawn_ids(at)
    gate.set()
    at.session_state["loaded_model"].result(timeout=TIMEOUT)
    at.run()
    assert_clean(at)
    assert at.title[0].value == f"Graph · {settings.literal(graph.name)}" and drawn_ids(at) == before
    banner = next(w for w in texts(at.warning) if w.startswith("**Static view"))
    assert "ran out of memory" in banner
    at.switch_page("views/activations.py").run()
    assert any("Activations are unavailable" in w and "ran out of memory" in w for w in texts(at.warning))


def test_an_opening_given_the_files_digest_does_not_hash_the_bytes_again(monkeypatch) -> None:
    """The app hashes an upload once (its cache key) and hands the digest on: a 36 MB file took 70 ms per hash."""
    import hashlib

    from inspector.model import opening

    data = inspector.get_sample("otto_mlp").path.read_bytes()
    digest = opening.file_digest(data)
    hashed: list[int] = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *args, **kw: hashed.append(len(args[0]) if args else 0) or real(*args, **kw))
    started = opening.start_opening(data, name="otto.keras", defer=True, sha256=digest)
    assert started.static.sha256 == digest and len(data) not in hashed
    assert opening.start_opening(data, name="otto.keras", defer=True).static.sha256 == digest
    assert len(data) in hashed
