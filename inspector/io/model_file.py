"""What reading a model file gives: :class:`ModelFile`, its stored weights' shapes, and a reading in progress.

Plain data, no reading: the readers of each format (``keras_zip``, ``hdf5``) fill these in, and
:func:`~inspector.io.files.read_model_file` hands them out.

Example:
    >>> StoredWeight("dense/kernel:0", (3, 2), "float32").shape
    (3, 2)
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import IO, Any, NamedTuple

__all__ = ["ALL_WEIGHTS", "ModelSource", "ModelFile", "ModelFileReading", "StoredWeight", "WeightsWalk"]

ModelSource = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]

ALL_WEIGHTS = "*"  # key of ModelFile.weights listing every stored array, whoever owns it


@dataclass(frozen=True)
class StoredWeight:
    """The shape of one weight array as stored in the file (its data is not read)."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ModelFile:
    """A validated model file: format, architecture config and stored weight shapes.

    ``weights`` maps a layer's path (``"dense"``, ``"generator/dense_2"``) to its
    stored weights; for legacy ``.h5`` files the weights of a nested model's layers
    are listed under the nested model's own name as well (Keras 2 stored them there).
    """

    name: str
    format: str  # "keras" or "h5" (also a SavedModel, see converted_from)
    data: bytes = field(repr=False)
    config: dict[str, Any] = field(repr=False)
    weights: dict[str, tuple[StoredWeight, ...]] = field(repr=False)
    keras_version: str | None = None
    sha256: str = ""
    outside_data: tuple[str, ...] = ()  # HDF5 links and datasets whose data lives in other files on this machine
    weights_format: str = "h5"  # how the weights are stored: "h5", "npz" (never read) or "" (none)
    arrays_vetted: bool = True  # every stored array was read once in the HDF5 child (see vet_arrays)
    notes: tuple[str, ...] = ()  # what reading found that the graph should say (values no layer owns, ...)
    converted_from: str = ""  # "SavedModel": ``data`` is the legacy .h5 tf.keras 2 would have written for it
    windows_weight_paths: bool = False  # a .keras whose weight groups have Windows names (io.keras_zip.portable_weights)

    @property
    def suffix(self) -> str:
        """File suffix Keras needs to pick its loader."""
        return ".keras" if self.format == "keras" else ".h5"


class WeightsWalk(NamedTuple):
    """What the HDF5 child's walk of a file's stored weights finds (the result of a :class:`ModelFileReading`'s
    future): the :class:`ModelFile` fields it fills in."""

    weights: dict[str, tuple[StoredWeight, ...]]
    outside_data: tuple[str, ...]
    notes: tuple[str, ...] = ()
    windows_weight_paths: bool = False


@dataclass(frozen=True)
class ModelFileReading:
    """A model file whose config is read and checked while the HDF5 child still walks its stored weights.

    ``file`` has everything but ``weights`` and ``outside_data`` (empty until :meth:`result`), so a
    caller can work on the config meanwhile; :func:`~inspector.model.static.static_graph` builds the
    graph's structure then.  From :func:`start_reading`.
    """

    file: ModelFile
    _shapes: Future | None = field(default=None, repr=False)

    def done(self) -> bool:
        """Whether the stored weights' walk has ended (:meth:`result` returns without waiting)."""
        return self._shapes is None or self._shapes.done()

    def result(self) -> ModelFile:
        """The whole :class:`ModelFile`, once the HDF5 child has answered (its error, if the weights are bad)."""
        if self._shapes is None:
            return self.file
        walk = WeightsWalk(*self._shapes.result())
        return replace(self.file, weights=walk.weights, outside_data=walk.outside_data,
                       notes=self.file.notes + walk.notes, windows_weight_paths=walk.windows_weight_paths)
