"""Naming the real cause of a Keras load failure, however deep in Keras's message it sits.

Keras wraps the error that stopped it in others (``raise ... from e``) and
prints whole layer configs around it, so the cause can be thousands of
characters in — past any excerpt shown to the user.  :func:`failure_cause`
reads the whole exception chain and returns a sentence for the causes users
can act on: a class from a package that is not installed (QKeras, ...), a
Lambda holding bytecode of another Python version, a subclassed model saved
without a config.

Example:
    >>> what, fix = failure_cause(TypeError("... Could not locate class 'QDense'. Make sure custom classes ..."))
    >>> what
    "The model uses the class 'QDense' from the QKeras package, which this Keras cannot rebuild without that package's code."
"""

from __future__ import annotations

import re
import sys
from typing import Any

from inspector.errors import without_terminal_codes

__all__ = ["failure_cause", "chained_text"]

# packages of third-party layers seen in real files, by the class names they define
_PACKAGES = {  # name: (pip name, *classes)
    "QKeras": ("qkeras", "QDense", "QConv1D", "QConv2D", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D",
               "QActivation", "QBatchNormalization", "QAveragePooling2D", "QGlobalAveragePooling2D", "QSimpleRNN",
               "QLSTM", "QGRU", "QBidirectional", "QConv2DBatchnorm", "QDepthwiseConv2DBatchnorm",
               "QAdaptiveActivation"),
    "HGQ": ("HGQ", "HDense", "HConv1D", "HConv2D", "HQuantize", "HActivation", "HAdd", "PMaxPooling2D", "PFlatten",
            "PReshape", "PConcatenate"),
    "TensorFlow Hub": ("tensorflow-hub", "KerasLayer"),
    "TensorFlow Addons": ("tensorflow-addons", "WeightNormalization", "GroupNormalization", "InstanceNormalization",
                          "SpectralNormalization"),
}
# layers of Keras 2 (and tf.keras 2) that Keras 3 removed: no package brings them back (LocallyConnected1D/2D load:
# inspector.model.locally_connected computes them)
_REMOVED_IN_KERAS3 = ("CuDNNLSTM", "CuDNNGRU", "DenseFeatures")
_BYTECODE_ERRORS = ("bad marshal data", "unknown opcode", "code() argument", "code expected", "code() takes",
                    "unmarshallable object", "EOF read where object expected", "marshal data too short")


def chained_text(error: BaseException, limit: int = 20) -> str:
    """The messages of an exception and of every exception it was raised from, outermost first.

    Example:
        >>> try:
        ...     try:
        ...         raise KeyError("inner")
        ...     except KeyError as e:
        ...         raise ValueError("outer") from e
        ... except ValueError as e:
        ...     chained_text(e)
        "ValueError: outer\\nKeyError: 'inner'"
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(parts) < limit:
        seen.add(id(current))
        parts.append(without_terminal_codes(f"{type(current).__name__}: {current}"))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def failure_cause(error: BaseException, config: Any = None) -> tuple[str, str] | None:
    """``(what, fix)`` naming why Keras could not load a model, or ``None`` when the cause is not one we know.

    ``config`` is the file's model config: it tells a subclassed model (its
    top-level class, with no layers) from a missing layer class.
    """
    text = chained_text(error) if isinstance(error, BaseException) else str(error)
    # .keras files: "Could not locate class 'QDense'"; legacy .h5: "Unknown layer: 'QDense'"
    missing = re.search(r"(?:Could not locate (?:class|function)|Unknown (?:layer|object)(?: type)?:) '([\w.>]+)'",
                        text)
    removed = re.search(r"(?:Could not locate (?:class|function)|Unknown (?:layer|object)(?: type)?:|Could not "
                        r"deserialize) '(?:keras\.layers\.)?(" + "|".join(_REMOVED_IN_KERAS3) + ")'", text)
    if removed:
        return (f"The model uses {removed.group(1)!r}, a layer of Keras 2 that Keras 3 removed: this Keras cannot "
                "rebuild it, and no package brings it back.",
                "The graph and parameter counts are still shown from the file's config (static view). To compute "
                "with the model, load it with tf.keras 2 (pip install tf_keras).")
    if missing:
        name = missing.group(1)
        if _is_subclassed_model(config, name):
            return (f"This model is a subclassed keras.Model ({name!r}) saved with an empty config: only its weights "
                    "and class name are in the file, so rebuilding it needs the Python code of that class.",
                    "Load it in the code base that defines the class (import it, then keras.saving.load_model), or "
                    "save a Functional/Sequential version of the model. The static view shows what the file records.")
        if _is_keras_layer(name):
            return (f"Keras could not find its own class {name!r} where this file names it: the file was written by "
                    "another Keras version, in a layout this Keras does not read there (such as a wrapped layer "
                    "without its module). No package is missing.",
                    "Load the model in the Keras version that wrote it and re-save it as .keras. The graph is still "
                    "shown from the file's config (static view).")
        if _saved_without_module(config, name):
            return (f"The model uses the class {name!r}, defined in the script that saved it (the file records no "
                    "module for it: module null): its code is not in the file.",
                    f"Load it where that class is defined: inspector.load_model(path, trust=True, "
                    f"custom_objects={{{name!r}: {name}}}) (CLI: --trust --custom-objects layers.py). The graph is still "
                    "shown from the file's config (static view).")
        package, pip_name = _package_of(name, text)
        source = f" from the {package} package" if package else ""
        install = f"Install it (pip install {pip_name})" if pip_name else "Install the package that defines it"
        return (f"The model uses the class {name!r}{source}, which this Keras cannot rebuild without that package's "
                "code.",
                f"{install} and load the file with trust=True (its code then runs) — only for files you trust. The "
                "graph is still shown from the file's config (static view).")
    if any(marker in text for marker in _BYTECODE_ERRORS) and ("lambda" in text.lower() or "marshal" in text):
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        return (f"A Lambda layer holds Python bytecode written by a different Python version than this one ({here}): "
                "bytecode only runs on the version that wrote it.",
                "Load the file with the Python version that saved it and re-save it with the Lambda replaced by a "
                "layer (or rebuild the Lambda in code). The graph is still shown from the file's config (static view).")
    if "Unable to revive model from config" in text or "get_config()" in text and "from_config" in text:
        return ("This model's class could not be rebuilt from the config saved in the file (a subclassed model whose "
                "get_config does not return its constructor arguments).",
                "Load it in the code base that defines the class, or give the class a complete get_config. The "
                "static view shows what the file records.")
    return None


def _package_of(name: str, text: str) -> tuple[str | None, str | None]:
    """(package, pip name) of a class: known third-party layers, else the module Keras's message names."""
    short = name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]
    for package, (pip_name, *classes) in _PACKAGES.items():
        if short in classes:
            return package, pip_name
    module = re.search(r"'module': '([\w.]+)', 'class_name': '" + re.escape(short) + "'", text)
    if module and not module.group(1).startswith("keras"):
        return module.group(1).split(".")[0], None
    return None, None


def _saved_without_module(config: Any, name: str) -> bool:
    """Whether the config names ``name`` with ``module: null`` (tf.keras 2's mark of a class of the saving script)."""
    from inspector.model.scan import config_objects

    short = name.rsplit(">", 1)[-1]
    return any(item.get("class_name") == short and "module" in item and item["module"] is None
               for _, item in config_objects(config))


def _is_keras_layer(name: str) -> bool:
    """Whether ``name`` is one of Keras's own layer classes (Keras is loaded: it raised the error)."""
    keras = sys.modules.get("keras")
    layers = getattr(keras, "layers", None)
    return isinstance(getattr(layers, name, None), type) if layers is not None and name.isidentifier() else False


def _is_subclassed_model(config: Any, name: str) -> bool:
    if not isinstance(config, dict) or config.get("class_name") != name.rsplit(">", 1)[-1]:
        return False
    inner = config.get("config")
    return not (isinstance(inner, dict) and inner.get("layers")) and not isinstance(inner, list)
