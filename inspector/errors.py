"""One exception hierarchy for everything Keras Inspector refuses.

Every error says three things: what went wrong, what was received, and what to
do about it.  The app and the CLI catch only :class:`InspectorError`; anything
else escaping the library is a bug.

Example:
    >>> from inspector.errors import ModelFormatError
    >>> err = ModelFormatError("Not a Keras model file.", received="12 bytes of text",
    ...                        fix="Upload a .keras or .h5 file.")
    >>> print(err)
    Not a Keras model file.
      Received: 12 bytes of text
      Fix: Upload a .keras or .h5 file.
"""

from __future__ import annotations

import re

__all__ = [
    "InspectorError",
    "ModelFormatError",
    "WeightsOnlyError",
    "SavedModelError",
    "UnsafeModelError",
    "ModelLoadError",
    "LimitExceededError",
    "InputDataError",
    "LayerNotFoundError",
    "MissingDependencyError",
    "ClusterError",
    "without_terminal_codes",
]

_TERMINAL_CODES = re.compile(r"\x1b?\[[0-9;]*m")


def without_terminal_codes(text: str) -> str:
    r"""``text`` without terminal colour codes (Keras colours its error messages).

    Example:
        >>> without_terminal_codes("\x1b[1mred\x1b[0m and [0mplain")
        'red and plain'
    """
    return _TERMINAL_CODES.sub("", text)


class InspectorError(Exception):
    """Base class of every error Keras Inspector raises on purpose.

    Attributes:
        what: one sentence saying what went wrong.
        received: a short description of the input that caused it.
        fix: what the user can do about it.
    """

    def __init__(self, what: str, *, received: str = "", fix: str = "") -> None:
        self.what = what
        self.received = received
        self.fix = fix
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [self.what]
        if self.received:
            lines.append(f"  Received: {self.received}")
        if self.fix:
            lines.append(f"  Fix: {self.fix}")
        return "\n".join(lines)

    def __reduce__(self):  # keep picklable across worker processes
        return (_rebuild, (type(self), self.what, self.received, self.fix))


def _rebuild(cls: type[InspectorError], what: str, received: str, fix: str) -> InspectorError:
    return cls(what, received=received, fix=fix)


class ModelFormatError(InspectorError):
    """The file is not a readable Keras model (empty, truncated, wrong format, bad JSON)."""


class WeightsOnlyError(ModelFormatError):
    """The file holds weights but no architecture (`model.save_weights` output)."""


class SavedModelError(ModelFormatError):
    """A TensorFlow SavedModel directory, which Keras 3 cannot load as a model."""


class UnsafeModelError(InspectorError):
    """The model needs code from the file (Lambda, custom class) or other local files, and the file is not trusted."""


class ModelLoadError(InspectorError):
    """Keras could not build the model from a well-formed file (version skew, bad weights)."""


class LimitExceededError(InspectorError):
    """A configured resource limit (size, points, samples, memory) would be exceeded."""


class InputDataError(InspectorError):
    """User data does not match what the model expects (shape, dtype, count, names, values)."""


class LayerNotFoundError(InspectorError):
    """A layer index, name, path or node id does not exist in the model."""


class MissingDependencyError(InspectorError):
    """An optional tool (such as the Graphviz `dot` binary) is not installed."""


class ClusterError(InspectorError):
    """A Ray cluster could not be reached, or lost the work beyond its retries (``engine="ray"``)."""
