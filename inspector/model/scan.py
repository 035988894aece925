"""The trust scan: what in a model config would make Keras run code or read other files.

Keras builds a model by walking its config: every dict with a ``class_name`` names a class or a
function that Keras looks up and calls (``from_config``, ``build_from_config``; a function that stands
where a layer does is called with the node's arguments).  So the scan must see exactly what Keras
reads — every dict reachable from the parsed config, under any key, in both formats — and judge each
one by *what it names*, not by where it sits:

* **syntactic rules** (no Keras import, also used to mark layers ``opaque`` in the static view):
  code-carrying layers (``Lambda``, ``TFSMLayer``...), tf.keras 2 TensorFlow-op layers but those
  :mod:`inspector.model.tf_ops` computes with Keras ops, serialized lambdas and type specs, functions
  without a module, modules outside Keras, custom registered names, operations that take functions,
  lookup layers whose vocabulary is a path on this machine;
* **resolution** (Keras imported, nothing else): the ``module``/``class_name``/``registered_name`` is
  resolved the way Keras resolves it (:func:`inspector.model.keras_internals.resolve_serialized`) and the object
  must be a model part (:func:`inspector.model.keras_internals.why_not_a_model_part`).  A module Keras would have
  to import is refused, never imported.

The one key not scanned is the top level's ``compile_config``: we always load with ``compile=False``
and Keras then drops it before deserializing (``saving_lib._model_from_config``); nested models'
``compile_config`` *is* deserialized by Keras, and scanned.

Example:
    >>> cfg = {"class_name": "Sequential", "config": {"layers": [
    ...     {"class_name": "Lambda", "config": {"name": "l"}}]}}
    >>> code_references(cfg, resolve=False)
    [('l', 'a Lambda layer carries Python code (marshalled bytecode) that runs only in trusted mode')]
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from inspector.io.files import _layer_name, _model_layers
from inspector.model.tf_ops import OP_LAYER_CLASSES, op_layer_reason

__all__ = ["code_references", "config_objects", "reference_reason", "CODE_LAYERS"]

CODE_LAYERS = {
    "Lambda": "a Lambda layer carries Python code (marshalled bytecode) that runs only in trusted mode",
    "TFSMLayer": "a TFSMLayer loads and runs a TensorFlow SavedModel from a path on this machine, only in trusted mode",
    "TorchModuleWrapper": "a TorchModuleWrapper carries a pickled PyTorch module, whose unpickling runs code, "
                          "only in trusted mode",
    "JaxLayer": "a JaxLayer calls Python functions named in the file, only in trusted mode",
    "FlaxLayer": "a FlaxLayer calls Python functions named in the file, only in trusted mode",
}
# Keras operations that call functions they receive (the branches of Switch, the body of WhileLoop, ...): a
# file holding one can make Keras call any function it names while the model is built
_CALLING_OPERATIONS = frozenset({"Switch", "Cond", "Map", "Scan", "WhileLoop", "ForiLoop", "VectorizedMap",
                                 "AssociativeScan", "JVP"})
# serialized objects that Keras turns into calls of registry lookups (TF type specs, composite tensors)
_TYPE_SPECS = frozenset({"__typespec__", "TypeSpec", "CompositeTensor"})
# layers that read a vocabulary file when their config holds a path instead of the words
_VOCABULARY_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization", "IndexLookup"})
# The parts of Keras a config may name by module (``keras.layers.Dense``, ``keras.src.initializers...``).  Anything
# else in Keras (``keras.utils.get_file``, ``keras.config.enable_unsafe_deserialization``) is not a model part and
# has been used to abuse loading (CVE-2025-8747, -9906).  Resolution then checks what the name really is.
_MODEL_PART_NAMESPACES = frozenset({
    "layers", "initializers", "regularizers", "constraints", "activations", "optimizers", "losses", "metrics",
    "models", "engine", "applications", "ops", "dtype_policies", "mixed_precision", "quantizers", "random"})
_FUNCTION_NAMESPACES = frozenset({"activations", "losses", "metrics"})
_FUNCTION_CLASSES = frozenset({"function", "__function__"})
_MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})


def config_objects(config: Any) -> Iterator[tuple[str, dict]]:
    """Every dict reachable from a config, under any key, with the path of the layer it belongs to.

    A model's layers (``config.layers``) are named ``outer/inner``; every other dict carries the path
    of the layer holding it ('' for the model itself).  Iterative, so depth cannot overflow the stack.

    Example:
        >>> cfg = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Dense", "config": {"name": "d", "kernel_initializer": {"class_name": "Zeros"}}}]}}
        >>> [(where, d.get("class_name")) for where, d in config_objects(cfg) if "class_name" in d]
        [('', 'Sequential'), ('d', 'Dense'), ('d', 'Zeros')]
    """
    layer_paths: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(config, "")] if isinstance(config, (dict, list)) else []
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            where = layer_paths.pop(id(item), where)
            yield where, item
            for child in _layer_list(item):
                name = _layer_name(child)
                layer_paths[id(child)] = f"{where}/{name}" if where else name
            values: Any = item.values()
        else:
            values = item
        stack.extend((value, where) for value in reversed(list(values)) if isinstance(value, (dict, list)))


def code_references(config: dict, *, resolve: bool = True) -> list[tuple[str, str]]:
    """What in a config would run code or read files when Keras builds it, as ``(layer path, why)``.

    ``resolve=False`` applies the syntactic rules only (no Keras import).  A ``"layers"`` list
    beside ``"config"`` is never built by Keras, but it is scanned all the same (it is reported
    against the model itself).

    Example:
        >>> code_references({"class_name": "Functional", "config": {"layers": []},
        ...                  "layers": [{"class_name": "Lambda", "config": {"name": "decoy"}}]}, resolve=False)
        [('', 'a Lambda layer carries Python code (marshalled bytecode) that runs only in trusted mode')]
    """
    found: dict[str, str] = {}  # the first reason per layer is enough to say why
    for where, item in config_objects({k: v for k, v in config.items() if k != "compile_config"}):
        if where in found:
            continue
        reason = reference_reason(item)
        if not reason and resolve and isinstance(item.get("class_name"), str):
            reason = _resolved_reason(*_names(item)) or _legacy_string_reason(item)
        if reason:
            found[where] = reason
    return list(found.items())


def _names(item: dict) -> tuple[str, str | None, str | None, str | None]:
    """The names Keras resolves an object by (hashable, for the cache)."""
    module, registered, inner = item.get("module"), item.get("registered_name"), item.get("config")
    return (item["class_name"], module if isinstance(module, str) else None,
            registered if isinstance(registered, str) else None, inner if isinstance(inner, str) else None)


def reference_reason(item: dict) -> str:
    """Why this one serialized object (not its children) needs trust, by its names alone ('' when it does not).

    Example:
        >>> print(reference_reason({"module": "keras.utils", "class_name": "get_file"}))
        it names keras.utils.get_file, which is not a model part (layer, initializer, activation, ...) and runs only in trusted mode
    """
    module, registered, cls = item.get("module"), item.get("registered_name"), item.get("class_name")
    cls = cls if isinstance(cls, str) else ""  # a damaged config may hold anything here
    if cls in CODE_LAYERS:
        return CODE_LAYERS[cls]
    if cls in OP_LAYER_CLASSES:  # tf.keras 2's TensorFlow-op layers: judged by the operation they name
        return op_layer_reason(item)
    if cls == "Merge":  # Keras 1: a merge mode (or output shape) may be a marshalled function
        from inspector.model.keras1 import merge_runs_code

        why = merge_runs_code(item)
        if why:
            return f"{why}, which runs only in trusted mode"
    if cls in _TYPE_SPECS:
        return f"it holds a serialized {cls}, which Keras rebuilds by calling code it looks up by name"
    config = item.get("config")
    if cls in _VOCABULARY_LAYERS and isinstance(config, dict) and isinstance(config.get("vocabulary"), str):
        return (f"a {cls} layer reads its vocabulary from the path {config['vocabulary']!r} on this machine, "
                "which happens only in trusted mode")
    if cls == "__lambda__" or (cls in _FUNCTION_CLASSES and not module):
        return "it contains a serialized Python function, which runs only in trusted mode"
    if "module" in item and module is None and isinstance(config, dict) and cls and not cls.startswith("__"):
        # tf.keras 2 wrote module null for a class of the script that saved the model (module __main__)
        return (f"its class {cls!r} was saved without a module (module: null): a class of the script that saved "
                "the model, whose code is not in the file and runs only in trusted mode")
    namespace = _keras_namespace(module) if isinstance(module, str) and module else ""
    if namespace is None:
        return f"it names code outside Keras (module {module!r}, class {cls!r}), which runs only in trusted mode"
    if isinstance(registered, str) and ">" in registered:
        return f"it is a custom registered class {registered!r}, whose code runs only in trusted mode"
    if cls in _CALLING_OPERATIONS and namespace in ("", "ops"):
        return f"a {cls} operation calls the functions it is given, which runs only in trusted mode"
    if not isinstance(module, str) or not module:
        return ""
    is_function = cls in _FUNCTION_CLASSES
    target = config if is_function else cls
    allowed = namespace in _FUNCTION_NAMESPACES if is_function else (
        namespace in _MODEL_PART_NAMESPACES or (namespace == "" and cls[:1].isupper()))
    if allowed:
        return ""
    return (f"it names {module}.{target}, which is not a model part (layer, initializer, activation, ...) and runs "
            "only in trusted mode")


@functools.lru_cache(maxsize=4096)
def _resolved_reason(cls: str, module: str | None, registered: str | None, function_name: str | None) -> str:
    """Resolve the names as Keras would, and judge the objects they reach (cached: a model repeats them)."""
    from inspector.model.keras_internals import resolve_serialized, why_not_a_model_part

    if cls.startswith("__"):
        return ""  # Keras's own markers (__keras_tensor__, __numpy__, __tuple__ ...) build plain values
    objects, to_import = resolve_serialized(cls, module, registered, function_name)
    if to_import:
        return (f"it names {to_import}.{cls}, a module that is not loaded: Keras would import it, which happens "
                "only in trusted mode")
    for obj in objects:
        why = why_not_a_model_part(obj)
        if why:
            return f"{why}; Keras would call it while building the model, which happens only in trusted mode"
    return ""


def _legacy_string_reason(item: dict) -> str:
    """A layer written without a module goes through Keras's legacy loader (``.h5``, old ``.keras``), which
    replaces any string in its config naming a ``keras.layers`` function by that function."""
    from inspector.model.keras_internals import legacy_function_names

    config = item.get("config")
    if "class_name" not in item or "module" in item or not isinstance(config, dict):
        return ""
    functions = legacy_function_names()
    for key, value in config.items():
        if key != "name" and isinstance(value, str) and value in functions:
            return (f"its {key!r} names the function keras.layers.{value}, which Keras's legacy loader would "
                    "call; this happens only in trusted mode")
    return ""


def _keras_namespace(module: str) -> str | None:
    """The part of Keras a module path belongs to ('' for the top level), ``None`` outside Keras.

    Example:
        >>> [_keras_namespace(m) for m in ("keras.layers", "keras.src.ops.numpy", "keras", "kerasx.layers")]
        ['layers', 'ops', '', None]
    """
    parts = module.split(".")
    if parts[0] != "keras":
        return None
    rest = parts[2:] if len(parts) > 1 and parts[1] == "src" else parts[1:]
    return rest[0] if rest else ""


def _layer_list(item: dict) -> list[dict]:
    """The layers a model object dict holds, as Keras reads them (``config.layers``, or an old bare list)."""
    return _model_layers(item) if "class_name" in item and "config" in item else []


