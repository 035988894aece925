"""HDF5 files: one walk of a file's links (never followed outside it), its arrays vetted, and legacy ``.h5`` models.

The functions here run in the HDF5 child (``hdf5_child``): :class:`_HDF5Index` lists every array through
hard links only and names the data kept in other files; :func:`_read_hdf5` reads a legacy ``.h5`` (Keras
1/2 ``model.save``): its ``model_config`` attribute, parsed as Keras parses it, and the weights stored per layer.

Example:
    >>> import inspector
    >>> config, weights, version, outside = _read_hdf5(
    ...     inspector.get_sample("otto_mlp").h5_path.read_bytes(), "test", Limits())
    >>> config["class_name"], weights["hidden"][0].shape
    ('Sequential', (93, 100))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inspector.errors import InspectorError, ModelFormatError, WeightsOnlyError
from inspector.io.config_json import _layer_name, _model_layers, _parse_json, iter_layer_configs
from inspector.io.hdf5_child import _call_on_file, _open_hdf5
from inspector.io.model_file import ALL_WEIGHTS, StoredWeight
from inspector.limits import Limits

__all__: list[str] = []


def _own(group: Any, path: str) -> Any:
    """``group[path]`` if every step is a hard link inside this file, else ``None`` (links are never followed)."""
    import h5py

    for part in (p for p in path.split("/") if p):
        if not isinstance(group, h5py.Group) or not isinstance(group.get(part, getlink=True), h5py.HardLink):
            return None
        group = group[part]
    return group


@dataclass(frozen=True)
class _HDF5Index:
    """What one walk of an HDF5 file finds, through hard links only, with h5py's low-level API.

    h5py's ``visititems`` builds a Python object for every item, which took 1 s on NASNetMobile's
    1,126 arrays; the low-level visits below take a tenth of that.  ``datasets`` are named by the
    path ``visititems`` would give (each object once); ``hard`` holds every link path whose every
    step is a hard link (what :func:`_own` accepts); ``outside`` describes the links and arrays
    whose data lives in other files.
    """

    datasets: tuple[StoredWeight, ...]
    outside: tuple[str, ...]
    outside_names: frozenset[str]
    hard: frozenset[str]
    children: dict[str, tuple[str, ...]]
    kinds: dict[str, int]  # the object type of each path visited (h5o.TYPE_GROUP, h5o.TYPE_DATASET)

    @classmethod
    def of(cls, f: Any) -> _HDF5Index:
        from h5py import h5d, h5g, h5l, h5o

        links: list[tuple[str, int, Any]] = []
        f.id.links.visit(lambda name, info: links.append((name.decode("utf-8", "replace"), info.type, info.u)),
                         info=True)
        hard = frozenset(name for name, kind, _ in links if kind == h5l.TYPE_HARD)
        children: dict[str, list[str]] = {}
        for name in hard:
            parent, _, leaf = name.rpartition("/")
            children.setdefault(parent, []).append(leaf)
        # a path with links below it is a group; only the leaves are opened to learn what they are (an object
        # visit read every object's header: 0.2 s of 0.3 s on the 1,600-column model's 11,214 objects)
        kinds: dict[str, int] = {}
        outside: list[str] = []
        datasets: list[StoredWeight] = []
        outside_names: set[str] = set()
        seen: set[Any] = set()  # each object once, by the first path to it (as h5py's visititems names it)
        dtype_names: dict[Any, str] = {}
        for name, kind, address in links:
            if kind == h5l.TYPE_EXTERNAL:
                target = f.id.links.get_val(name.encode())
                outside.append(f"{name} links to {_attr_text(target[0])}")
                continue
            if kind != h5l.TYPE_HARD or address in seen:
                continue
            seen.add(address)
            if name in children:
                kinds[name] = h5o.TYPE_GROUP
                continue
            item = h5o.open(f.id, name.encode())
            kinds[name] = (h5o.TYPE_GROUP if isinstance(item, h5g.GroupID) else
                           h5o.TYPE_DATASET if isinstance(item, h5d.DatasetID) else h5o.TYPE_NAMED_DATATYPE)
            if not isinstance(item, h5d.DatasetID):
                continue
            plist = item.get_create_plist()
            if plist.get_external_count():
                outside.append(f"{name} keeps its data in {_attr_text(plist.get_external(0)[0])}")
                outside_names.add(name)
            elif plist.get_layout() == h5d.VIRTUAL:
                outside.append(f"{name} maps data from {_attr_text(plist.get_virtual_filename(0))}")
                outside_names.add(name)
            dtype = item.dtype
            if dtype not in dtype_names:  # naming a dtype takes numpy 20 µs: NASNetMobile's 1,126 arrays share 2
                dtype_names[dtype] = str(dtype)
            datasets.append(StoredWeight(name, tuple(int(d) for d in item.shape), dtype_names[dtype]))
        return cls(tuple(datasets), tuple(outside), frozenset(outside_names), hard,
                   {k: tuple(v) for k, v in children.items()}, kinds)

    def is_group(self, f: Any, path: str) -> bool:
        """Whether ``path`` is a group reached through hard links only."""
        from h5py import h5o

        if path not in self.hard:
            return False
        kind = self.kinds.get(path)
        if kind is None:  # a second hard link to an object visited under another name
            kind = h5o.get_info(f.id, path.encode()).type
        return kind == h5o.TYPE_GROUP


def _datasets_by_group(datasets: Iterable[StoredWeight]) -> dict[str, list[StoredWeight]]:
    """Every group's datasets at any depth, named relative to it, keyed by the group's path ("" for the root).

    The same lists as a ``visititems`` walk from each group would give, from one walk of the file.
    """
    found: dict[str, list[StoredWeight]] = {}
    for dataset in datasets:
        parts = dataset.name.split("/")
        for i in range(len(parts)):
            found.setdefault("/".join(parts[:i]), []).append(StoredWeight("/".join(parts[i:]), dataset.shape,
                                                                          dataset.dtype))
    return found


def _vet_blob(path: str, received: str, limits: Limits) -> None:
    """In the child: open an HDF5 file and read each of its arrays once (:func:`vet_arrays`)."""
    try:
        with _open_hdf5(path) as f:
            _vet_hdf5(f, limits)
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError("The model's weight arrays cannot be read.", received=f"{received}: {e}",
                               fix="The file is corrupted; re-save the model with model.save(...).") from e


def _vet_hdf5(f: Any, limits: Limits, *, read: bool = True, index: _HDF5Index | None = None) -> tuple[str, ...]:
    """List the links and arrays of ``f`` whose data lives in other files; read every other array once.

    Outside data is what Keras would read from this machine when loading the weights —
    a way to leak files through weights, or to hang on a device file — so it is listed
    (and refused before Keras) but never read here.  The arrays inside the file are read
    when their declared total is within ``max_weight_bytes``, so the reads Keras later
    makes of the same bytes have already been seen to finish.
    """
    index = index or _HDF5Index.of(f)
    inside = [d for d in index.datasets if d.name not in index.outside_names]
    if read:
        arrays = [f[d.name] for d in inside]
        if sum(int(a.size) * a.dtype.itemsize for a in arrays) <= limits.max_weight_bytes:
            for array in arrays:
                array[()]
    return index.outside


# ------------------------------------------------------------------ legacy HDF5
def _read_hdf5(data: bytes, received: str, limits: Limits,
               vet: bool = True) -> tuple[dict, dict, str | None, tuple[str, ...]]:
    """Parse a legacy .h5 in the HDF5 child process."""
    return _call_on_file(_read_hdf5_inline, data, (received, limits, vet), received, limits)


def _read_hdf5_inline(path: str, received: str, limits: Limits,
                      vet: bool = True) -> tuple[dict, dict, str | None, tuple[str, ...]]:
    try:
        f = _open_hdf5(path)
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError(
            "The HDF5 (.h5) file is damaged and cannot be opened (often a truncated upload or download).",
            received=f"{received}: {e}", fix="Copy or download the file again, or re-save it with model.save(...).") from e
    with f:
        try:
            raw = f.attrs.get("model_config")
            version = _attr_text(f.attrs.get("keras_version"))
            if raw is None:
                if "layer_names" in f.attrs or "model_weights" in f or "layers" in f or "vars" in f:
                    raise WeightsOnlyError(
                        "This file holds only weights (written by model.save_weights), not a model: it has no "
                        "architecture (model_config) to show.",
                        received=f"{received}, HDF5 with groups {sorted(f.keys())[:6]}",
                        fix="Upload the file written by model.save('model.keras'), or rebuild the model in code "
                            "and call model.load_weights(this_file).")
                raise ModelFormatError(
                    "This HDF5 file is not a Keras model: it has no model_config attribute.",
                    received=f"{received}, HDF5 with groups {sorted(f.keys())[:6]}",
                    fix="Upload a file written by Keras model.save(...).")
            try:  # as Keras reads it: bytes are decoded as UTF-8, then parsed as text
                text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            except UnicodeDecodeError as e:
                raise ModelFormatError("The file's model_config is not UTF-8 text; Keras writes UTF-8 only.",
                                       received=f"{received}: {e}",
                                       fix="Do not open this file; re-save the model with model.save(...).") from e
            config = _parse_json(text, "model_config", received, limits)
            weights: dict[str, tuple[StoredWeight, ...]] = {}
            index = _HDF5Index.of(f)
            outside = _vet_hdf5(f, limits, read=vet, index=index)
            group = _own(f, "model_weights")
            _collect_h5_weights(f if group is None else group, config, weights)
            weights[ALL_WEIGHTS] = tuple(_datasets_by_group(index.datasets).get(
                "" if group is None else "model_weights", []))
        except InspectorError:
            raise
        except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
            raise ModelFormatError("The HDF5 (.h5) file is damaged: its contents cannot be read.",
                                   received=f"{received}: {e}",
                                   fix="Copy or download the file again, or re-save it with model.save(...).") from e
    return config, weights, version, outside


def _attr_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _collect_h5_weights(group: Any, config: dict, out: dict[str, tuple[StoredWeight, ...]]) -> None:
    import h5py

    def walk(layers: list[dict], prefix: str, stored: dict[str, list[StoredWeight]]) -> None:
        for lc in layers:
            name = _layer_name(lc)
            own = stored.get(name, [])
            out[prefix + name] = tuple(own)
            children = _model_layers(lc.get("config"))
            if children:
                # Keras 2 lists a nested model's weights under its own group, named after the
                # layer that holds them at any depth ("Conv1/kernel:0"): find the child holding it
                holders = {_layer_name(c): {p.rsplit("/", 1)[-1] for p, _ in iter_layer_configs(c["config"])} | {_layer_name(c)}
                           for c in children if isinstance(c.get("config"), (dict, list))}
                split: dict[str, list[StoredWeight]] = {}
                for w in own:
                    parts = set(w.name.split("/")[:-1])
                    owner = next((c for c, names in holders.items() if c in parts), None) or next(
                        (c for c, names in holders.items() if parts & names), None)
                    if owner is not None:
                        split.setdefault(owner, []).append(w)
                walk(children, prefix + name + "/", split)

    top: dict[str, list[StoredWeight]] = {}
    for layer_name in group.keys():
        g = _own(group, layer_name)
        if not isinstance(g, h5py.Group):
            continue
        names = [_attr_text(n) for n in g.attrs.get("weight_names", [])]
        found = []
        for n in names:
            ds = _own(g, n) if n else None
            if isinstance(ds, h5py.Dataset):
                found.append(StoredWeight(n, tuple(int(d) for d in ds.shape), str(ds.dtype)))
        top[layer_name] = found
    walk(_model_layers(config), "", top)
