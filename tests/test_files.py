"""Malformed model files get a typed InspectorError that says what, received and fix (no TensorFlow)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import h5py
import pytest

import inspector
from inspector.io.files import read_model_file
from inspector.limits import Limits

SEQUENTIAL = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 3]}},
    {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return buf.getvalue()


def _h5(attrs: dict, groups: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for g in groups:
            f.create_group(g)
    return buf.getvalue()


def _assert_clear(error: inspector.InspectorError) -> None:
    assert error.what and error.received and error.fix
    assert "Received:" in str(error) and "Fix:" in str(error)


CASES = {
    "empty": (b"", inspector.ModelFormatError, "empty"),
    "random bytes": (bytes(range(256)) * 4, inspector.ModelFormatError, "not a Keras model file"),
    "text renamed .h5": (b"hello, I am a text file\n", inspector.ModelFormatError, "text"),
    "truncated zip": (_zip({"config.json": json.dumps(SEQUENTIAL).encode()})[:40], inspector.ModelFormatError,
                      "damaged"),
    "zip without config.json": (_zip({"model.weights.h5": b"x"}), inspector.ModelFormatError, "no config.json"),
    "invalid json": (_zip({"config.json": b"{not json"}), inspector.ModelFormatError, "not valid JSON"),
    "json list": (_zip({"config.json": b"[1, 2]"}), inspector.ModelFormatError, "not a Keras model config"),
    "wrong shape": (_zip({"config.json": b'{"hello": 1}'}), inspector.ModelFormatError, "wrong shape"),
    "layers not a list": (_zip({"config.json": b'{"class_name": "Sequential", "config": {"layers": 3}}'}),
                          inspector.ModelFormatError, "not a list"),
    "deeply nested json": (_zip({"config.json": b"[" * 5000 + b"]" * 5000}), inspector.LimitExceededError,
                           "nested"),
    "hdf5 without model_config": (_h5({"foo": 1}), inspector.ModelFormatError, "no model_config"),
    "weights-only hdf5": (_h5({"layer_names": [b"dense"]}, ("dense",)), inspector.WeightsOnlyError,
                          "only weights"),
    "truncated hdf5": (_h5({"model_config": json.dumps(SEQUENTIAL)})[:600], inspector.ModelFormatError,
                       "damaged"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_gets_typed_clear_error(case):
    data, error_type, phrase = CASES[case]
    with pytest.raises(error_type) as info:
        read_model_file(data)
    assert phrase.lower() in str(info.value).lower()
    _assert_clear(info.value)


def test_truncated_keras_file_on_disk_is_not_file_not_found(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(_zip({"config.json": json.dumps(SEQUENTIAL).encode()})[:50])
    with pytest.raises(inspector.ModelFormatError) as info:
        read_model_file(path)
    assert "not found" not in str(info.value).lower() and "model.keras" in str(info.value)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(inspector.ModelFormatError, match="No model file"):
        read_model_file(tmp_path / "nope.keras")
    saved = tmp_path / "exported"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(inspector.SavedModelError, match="TFSMLayer"):
        read_model_file(saved)


def test_zip_bomb_refused_by_declared_size():
    data = _zip({"config.json": json.dumps(SEQUENTIAL).encode(), "padding.bin": b"\0" * 5_000_000})
    with pytest.raises(inspector.LimitExceededError, match="max_uncompressed_bytes"):
        read_model_file(data, limits=Limits(max_uncompressed_bytes=1_000_000))


def test_zip_bomb_refused_by_actual_size_when_header_lies():
    payload = json.dumps(SEQUENTIAL).encode() + b" " * 3_000_000
    data = bytearray(_zip({"config.json": payload}))
    # rewrite both size headers to claim a tiny member: only counting real bytes catches this
    local = data.find(b"PK\x03\x04")
    data[local + 22:local + 26] = (100).to_bytes(4, "little")
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = (100).to_bytes(4, "little")
    with pytest.raises((inspector.LimitExceededError, inspector.ModelFormatError)):
        read_model_file(bytes(data), limits=Limits(max_uncompressed_bytes=1_000_000))


def test_weights_that_inflate_past_the_budget_are_refused_while_copied_for_the_child(monkeypatch):
    """The weights member goes to the HDF5 child's file a megabyte at a time: counted as it inflates (a header
    that lies cannot make it write more than the budget), and the partial copy is removed."""
    import copy
    import glob
    import tempfile

    from inspector.io import keras_zip

    def copies() -> set[str]:
        return {*glob.glob("/dev/shm/keras-inspector-*"), *glob.glob(f"{tempfile.gettempdir()}/keras-inspector-*")}

    before = copies()
    written: list[int] = []
    real_chunks = keras_zip._member_chunks

    def counted(archive, member, budget, received, limits):
        for chunk in real_chunks(archive, member, budget, received, limits):
            written.append(len(chunk))
            yield chunk

    monkeypatch.setattr(keras_zip, "_member_chunks", counted)
    config = json.dumps(SEQUENTIAL).encode()
    data = _zip({"config.json": config, "model.weights.h5": bytes(3_000_000)})
    real_infolist = zipfile.ZipFile.infolist

    def lying(archive):  # the sizes the headers declare, as a crafted archive could (zipfile reads the real ones)
        infos = [copy.copy(info) for info in real_infolist(archive)]
        for info in infos:
            info.file_size = 100
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying)
    with pytest.raises(inspector.LimitExceededError, match="inflates beyond"):
        read_model_file(data, limits=Limits(max_uncompressed_bytes=len(config) + 1_500_000))
    assert sum(written) <= 1_500_000 + len(config) + (1 << 20), "stopped within a chunk of the budget"
    assert copies() == before


def test_upload_size_limit_is_stated():
    data = _zip({"config.json": json.dumps(SEQUENTIAL).encode()})
    with pytest.raises(inspector.LimitExceededError, match="max_upload_bytes"):
        read_model_file(data, limits=Limits(max_upload_bytes=10))


def test_file_object_like_streamlit_upload():
    upload = io.BytesIO(_zip({"config.json": json.dumps(SEQUENTIAL).encode()}))
    upload.name = "folder/upload.h5"  # the name lies; the content decides
    model_file = read_model_file(upload)
    assert model_file.format == "keras" and model_file.name == "upload.h5"
    with pytest.raises(inspector.ModelFormatError, match="text mode"):
        read_model_file(io.StringIO("abc"))
    with pytest.raises(inspector.ModelFormatError, match="Cannot read"):
        read_model_file(12345)  # type: ignore[arg-type]


def test_errors_pickle_and_share_one_base():
    import pickle

    error = inspector.WeightsOnlyError("what", received="r", fix="f")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is inspector.WeightsOnlyError and str(again) == str(error)
    for name in ("ModelFormatError", "WeightsOnlyError", "SavedModelError", "UnsafeModelError", "ModelLoadError",
                 "LimitExceededError", "InputDataError", "LayerNotFoundError", "MissingDependencyError"):
        assert issubclass(getattr(inspector, name), inspector.InspectorError)


def test_hdf5_is_parsed_in_a_child_process_with_a_time_limit():
    """A crafted HDF5 can make the C library loop forever (tests/data/hdf5_hang.h5 does): parsing is bounded by
    max_parse_seconds, the stuck child is replaced, and the next files, .h5 and .keras, open normally.  (A limit
    of 0 s on a good file stood for the hang once: a child that answered before the parent looked passed.)"""
    import os
    import time

    from hostile_corpus import HDF5_HANG

    from inspector.io import hdf5_child

    sample = inspector.get_sample("otto_mlp")
    assert read_model_file(sample.h5_path).weights["hidden"]
    child = hdf5_child._HDF5._process
    assert child is not None and child.poll() is None and child.pid != os.getpid()
    began = time.monotonic()
    with pytest.raises(inspector.LimitExceededError, match="max_parse_seconds"):
        read_model_file(HDF5_HANG, limits=Limits(max_parse_seconds=1))
    assert time.monotonic() - began < 30
    assert child.poll() is not None, "the stuck child was killed"
    for path in (sample.h5_path, sample.path):
        assert read_model_file(path).weights["hidden"]
    assert hdf5_child._HDF5._process.poll() is None and hdf5_child._HDF5._process.pid != child.pid


def test_the_child_reads_a_private_copy_that_is_removed_after_every_call(tmp_path, monkeypatch):
    """The HDF5 child opens the bytes by path: a file only this user can read, gone after the call, also when the
    call times out; when the in-memory folder cannot take it (full), the temporary folder does."""
    import glob
    import stat
    import tempfile

    from inspector.io import hdf5_child

    def ours() -> set[str]:
        return {*glob.glob("/dev/shm/keras-inspector-*"), *glob.glob(f"{tempfile.gettempdir()}/keras-inspector-*")}

    before = ours()
    seen: list[tuple[str, int]] = []
    real_call = hdf5_child._HDF5_CHILDREN.call

    def spy(function, args, received, limits):
        seen.append((args[0], stat.S_IMODE(os.stat(args[0]).st_mode)))
        return real_call(function, args, received, limits)

    monkeypatch.setattr(hdf5_child._HDF5_CHILDREN, "call", spy)
    sample = inspector.get_sample("otto_mlp")
    for path in (sample.path, sample.h5_path):
        assert read_model_file(path).weights["hidden"]
    from hostile_corpus import HDF5_HANG

    with pytest.raises(inspector.LimitExceededError):
        read_model_file(HDF5_HANG, limits=Limits(max_parse_seconds=1))
    assert len(seen) == 3 and all(mode == 0o600 for _, mode in seen)  # the .keras, the .h5, the timed-out one
    assert ours() == before

    real_fdopen = os.fdopen

    def full_shm(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        if os.readlink(f"/proc/self/fd/{fd}").startswith("/dev/shm/"):
            handle.close()
            raise OSError(28, "No space left on device")
        return handle

    monkeypatch.setattr(os, "fdopen", full_shm)
    seen.clear()
    assert read_model_file(sample.path).weights["hidden"]
    assert seen and not any(path.startswith("/dev/shm/") for path, _ in seen)
    assert ours() == before


def test_a_process_that_exits_while_a_copy_waits_for_the_child_leaves_nothing(tmp_path):
    """A server stopped while a background load's copy is written or waits for the child (its thread is a
    daemon: never finished) removes the copy as it exits."""
    import subprocess
    import sys

    script = (
        "import sys, threading\n"
        "from inspector.io import hdf5_child\n"
        "path = hdf5_child._scratch_file(lambda out: out.write(b'x' * 1000), 'test')\n"
        "print(path, flush=True)\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()  # the call that never returns\n"
        "sys.exit(0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    path = done.stdout.strip()
    assert done.returncode == 0 and path.endswith(".h5"), done.stderr
    assert not os.path.exists(path)


def test_the_copy_loses_its_name_once_opened_and_stale_copies_are_removed(tmp_path):
    """A server stopped in the middle of a long read leaves nothing behind: the child removes the copy's name as
    soon as it has opened it (the open file stays readable), and the first copy a process makes removes this
    user's copies older than an hour, left by a process killed before its child opened them."""
    import time

    from inspector.io import hdf5_child

    sample = inspector.get_sample("otto_mlp")
    path = hdf5_child._scratch_file(lambda out: out.write(sample.h5_path.read_bytes()), "test")
    with hdf5_child._open_hdf5(path) as f:
        assert not os.path.exists(path)
        assert f["model_weights"] is not None and f.attrs["model_config"]

    folder = str(tmp_path)
    old, fresh = (tmp_path / f"keras-inspector-{n}.h5" for n in ("old", "fresh"))
    for made in (old, fresh):
        made.write_bytes(b"x")
    (tmp_path / "other.h5").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(tmp_path / "other.h5", (two_hours_ago, two_hours_ago))
    hdf5_child._remove_stale_copies((folder,))
    assert not old.exists() and fresh.exists() and (tmp_path / "other.h5").exists()


def test_a_child_that_dies_is_a_typed_error_and_is_replaced():
    import os

    from inspector.io import hdf5_child

    path = inspector.get_sample("otto_mlp").h5_path
    read_model_file(path)
    hdf5_child._HDF5._process.kill()  # as if the HDF5 library had crashed it between files
    hdf5_child._HDF5._process.wait()
    assert read_model_file(path).format == "h5", "a dead child is noticed before sending and replaced"
    with pytest.raises(inspector.ModelFormatError, match="crashed"):
        hdf5_child._HDF5.call(os._exit, (1,), "test", Limits())  # dies mid-call, as a segfault in HDF5 would
    assert read_model_file(path).format == "h5"


def test_the_reader_started_ahead_is_the_one_the_next_read_uses_and_a_busy_reader_is_left_alone():
    """The app starts the HDF5 reader when a run begins (``opening.start_reader``): the next read uses that child;
    a second call while it runs changes nothing, and a call while a read holds the child returns at once."""
    import threading
    import time

    from inspector.io import hdf5_child
    from inspector.model import opening

    hdf5_child._HDF5._stop()
    assert hdf5_child._HDF5._process is None
    opening.start_reader()
    child = hdf5_child._HDF5._process
    assert child is not None and child.poll() is None
    opening.start_reader()
    assert hdf5_child._HDF5._process is child
    assert read_model_file(inspector.get_sample("otto_mlp").h5_path).format == "h5"
    assert hdf5_child._HDF5._process is child, "the read used the child started ahead"

    busy = threading.Thread(target=hdf5_child._HDF5.call, args=(time.sleep, (2,), "test", Limits()))
    busy.start()
    time.sleep(0.3)
    began = time.perf_counter()
    opening.start_reader()
    assert time.perf_counter() - began < 0.5, "start_reader waited for the read in progress"
    busy.join()
    assert hdf5_child._HDF5._process is child


def test_the_child_does_not_rerun_the_main_script(tmp_path, monkeypatch):
    """Streamlit runs the app as __main__; a child started by re-running __main__ would run the app again."""
    import sys
    import types

    from inspector.io import hdf5_child

    script = tmp_path / "app_main.py"
    script.write_text(f"open({str(tmp_path / 'ran')!r}, 'w')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    hdf5_child._HDF5._stop()
    assert read_model_file(inspector.get_sample("otto_mlp").h5_path).format == "h5"
    assert not (tmp_path / "ran").exists()
