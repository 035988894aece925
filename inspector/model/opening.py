"""Opening a model file as an interactive front end holds it: the Keras model when it loads, the graph always.

Example:
    >>> opened = open_model(read_model_bytes("inspector/sample_models/lambda_merge/model.keras"), name="lambda.keras")
    >>> opened.can_run, opened.needs_trust, opened.graph.source.value
    (False, True, 'static')
"""


from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.errors import (
    UnsafeModelError,
)
from inspector.graph import ModelGraph
from inspector.io.files import read_source

if TYPE_CHECKING:
    pass

__all__ = ["OpenedModel", "file_digest", "read_model_bytes", "open_model"]


@dataclass(frozen=True)
class OpenedModel:
    """A model file as the app holds it: the graph always, the Keras model when it could be loaded.

    ``model`` is ``None`` when loading needed code from an untrusted file or
    failed in Keras; then ``graph`` is the static parse (``graph.source`` is
    ``Source.STATIC``) and ``static_reason`` is the error that explains why.
    """

    name: str
    sha256: str
    format: str
    trusted: bool
    graph: ModelGraph
    model: Any = field(default=None, compare=False, repr=False)
    static_reason: str = ""
    needs_trust: bool = False  # the static view is because the file needs code (trusting would load it)

    @property
    def can_run(self) -> bool:
        """Whether activations and embeddings can be computed (a Keras model is loaded)."""
        return self.model is not None


def file_digest(data: bytes) -> str:
    """The SHA-256 of a file's bytes: the cache key of a loaded model.

    Example:
        >>> file_digest(b"")[:12]
        'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def read_model_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a model file on disk, refusing a missing file, a directory or one over ``max_upload_bytes``.

    Example:
        >>> read_model_bytes("no/such/model.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: No model file at this path.
          Received: no/such/model.keras
          Fix: Check the path; Keras models are saved as .keras (or legacy .h5) files.
    """
    return read_source(Path(path))[1]


def open_model(data: bytes, *, name: str = "", trust: bool = False) -> OpenedModel:
    """Open a model file's bytes: load it with Keras, or fall back to the static view of its config.

    A file that is not a model at all raises its :class:`~inspector.errors.InspectorError`;
    one that needs code (untrusted) or that Keras cannot rebuild opens with
    ``model=None`` and the static graph, whose first warning says why.

    Example:
        >>> open_model(b"PK\\x05\\x06" + bytes(18), name="empty.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: The zip archive has no config.json, so it is not a .keras model (a .keras file holds config.json, metadata.json and model.weights.h5).
          Received: 'empty.keras', 22 bytes containing []
          Fix: Save the whole model with model.save('model.keras'); model.save_weights() files hold no architecture.
    """
    from inspector.io.files import read_model_file
    from inspector.model.loading import load_or_view

    buffer = io.BytesIO(data)
    buffer.name = name  # so every error message names the file
    model_file = read_model_file(buffer)
    model, graph, why = load_or_view(model_file, trust=trust)
    return OpenedModel(name or model_file.name, model_file.sha256, model_file.format, trust, graph, model,
                       str(why) if why else "", needs_trust=isinstance(why, UnsafeModelError) and not trust)
