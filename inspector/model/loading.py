"""Loading saved models safely, and building their graph either way.

``load_model`` never runs code from an untrusted file: before Keras sees the
file, its config is scanned for Lambda layers, classes from modules outside
Keras and serialized functions (refused unless ``trust=True``), and for declared
sizes beyond the limits; then Keras loads it with ``safe_mode`` on and
``compile=False``.  The weight arrays are read once in the HDF5 child process
(bounded by ``max_parse_seconds``) before Keras reads them: by ``read_model_file``
(its default), or by ``load_model`` for a file read with ``vet_arrays=False`` (the
static view's fast path).  Legacy configs are normalised (see :mod:`inspector.model.legacy`)
and the loaded input shapes are checked against the stored ones.

``build_graph`` walks a loaded model, or — when the model cannot be loaded
safely — falls back to the static parse, so a graph is always shown.

Example:
    >>> import inspector
    >>> model = inspector.load_model("sample_models/otto_mlp/model.keras")
    >>> graph = inspector.build_graph("sample_models/lambda_merge/model.keras")  # never runs code from the file
    >>> model.count_params(), graph.source.value
    (10309, 'static')
"""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inspector.errors import (
    InspectorError,
    LimitExceededError,
    ModelFormatError,
    ModelLoadError,
    UnsafeModelError,
    without_terminal_codes,
)
from inspector.graph import ModelGraph
from inspector.io.files import (
    ALL_WEIGHTS,
    NPZ_WEIGHTS,
    ModelFile,
    ModelSource,
    StoredWeight,
    iter_layer_configs,
    portable_weights,
    read_model_file,
    vet_arrays,
)
from inspector.limits import Limits, format_bytes, get_limits
from inspector.model import keras1, old_semantics
from inspector.model.build_cost import BuildCost, asset_costs, build_cost, expanded_calls
from inspector.model.channels_first import compute_channels_last
from inspector.model.first_build import build_in_child
from inspector.model.keras_internals import quiet_warnings
from inspector.model.legacy import normalize_config
from inspector.model.load_causes import failure_cause
from inspector.model.scan import config_objects

__all__ = ["LoadInfo", "load_model", "build_graph", "load_or_view", "load_info", "needs_trust", "limit_refusal"]

# config keys that declare a dimension; a hostile file can make Keras allocate terabytes with them
_SIZE_KEYS = ("units", "filters", "input_dim", "output_dim", "num_heads", "key_dim", "value_dim", "max_tokens",
              "num_tokens", "depth_multiplier", "intermediate_dim", "hidden_dim", "num_embeddings")


@dataclass(frozen=True)
class LoadInfo:
    """How a model was loaded: attached to the model, read with :func:`load_info`."""

    source_name: str
    format: str
    sha256: str
    trusted: bool
    keras_version: str | None
    notes: tuple[str, ...] = ()  # legacy rewrites and shape checks, for the user to read


def load_info(model: Any) -> LoadInfo | None:
    """The :class:`LoadInfo` of a model returned by :func:`load_model` (``None`` for other models)."""
    return getattr(model, "_inspector_load_info", None)


def load_model(source: ModelSource | ModelFile, *, trust: bool = False, limits: Limits | None = None,
               custom_objects: dict[str, Any] | None = None) -> Any:
    """Load a ``.keras`` or legacy ``.h5`` model from a path, bytes or binary file object.

    With ``trust=False`` (the default) no code from the file runs: a model that
    needs it (Lambda, custom classes) raises :class:`~inspector.errors.UnsafeModelError`
    — its graph is still available from :func:`build_graph`.  Pass ``trust=True``
    only for files you made yourself.  ``custom_objects`` (``{"ClassName": cls}``,
    as in ``keras.saving.load_model``) gives Keras your own classes; it needs
    ``trust=True``, since the file then decides which of them run and with what.

    Example:
        >>> import inspector
        >>> inspector.load_model(b"not a model")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: This is not a Keras model file: it is neither a .keras archive (zip) nor a legacy HDF5 (.h5) file.
          Received: 11 bytes, starting with text 'not a model'
          Fix: Save the model with model.save('model.keras') (or 'model.h5') and upload that file.
    """
    limits = limits or get_limits()
    _check_custom_objects(custom_objects, trust)
    model_file = source if isinstance(source, ModelFile) else read_model_file(source, limits=limits)
    config, notes = _normalized(model_file)
    if not trust:
        _refuse_code(model_file, config)
    _check_declared_sizes(model_file, config, limits)
    _check_bidirectional_sizes(model_file, config)
    # the build budget bounds what a file we know nothing of makes this process allocate; a trusted file is the
    # user's own model, opened at whatever size they saved it (trust already lets it run any code)
    cost = None if trust else _check_build_cost(model_file, config, limits)
    if model_file.weights_format == "npz":
        raise ModelLoadError(
            f"The model's weights are stored as {NPZ_WEIGHTS}, which Keras writes as pickled arrays and cannot read "
            "back without running pickles; this tool never reads them.", received=_received(model_file),
            fix="Re-save the model with model.save('model.keras') (HDF5 weights, the default). The graph is still "
                "shown from the file's config (static view).")
    # a file read for the static view only (read_model_file(vet_arrays=False)) has its arrays read in the
    # HDF5 child now, after the scan and before Keras reads them in this process
    model_file = vet_arrays(model_file, limits=limits)
    data = _with_config(model_file, config) if notes else model_file.data
    if model_file.windows_weight_paths:  # groups named layers\conv1d: copied under the names Keras 3 looks for
        data = portable_weights(data, _received(model_file), limits)
    if model_file.format == "h5" and keras1.is_keras1(model_file.config, model_file.keras_version):
        data = keras1.convert_weights(data, model_file.config)  # per-gate RNN weights, Theano kernels
    if cost is not None and cost.unknown:  # what cannot be predicted is built first where it is bounded
        build_in_child(data, model_file.suffix, _received(model_file), limits)
    model = _keras_load(data, model_file, trust, custom_objects)
    compute_channels_last(model)  # TensorFlow's CPU convolutions refuse NCHW without oneDNN
    notes += _check_input_shapes(model, config)
    info = LoadInfo(model_file.name, model_file.format, model_file.sha256, trust, model_file.keras_version,
                    (*model_file.notes, *notes))  # what reading found (a SavedModel's optimizer state), then loading
    object.__setattr__(model, "_inspector_load_info", info)
    return model


def build_graph(model_or_source: Any, *, expand_nested: bool = True, trust: bool = False,
                limits: Limits | None = None, custom_objects: dict[str, Any] | None = None) -> ModelGraph:
    """The :class:`~inspector.graph.ModelGraph` of a keras.Model, or of a file (path, bytes, file object).

    A file that cannot be loaded safely (Lambda, custom classes, version skew)
    still gets a graph from the static parse of its config; ``graph.warnings``
    says why and ``graph.source`` is ``Source.STATIC``.  A file is loaded with Keras
    (seconds for a large model); when only the drawing is needed, :func:`~inspector.static_graph`
    returns the same layers without waiting for Keras or reading the weight arrays.

    Example:
        >>> import inspector
        >>> model = inspector.load_model("sample_models/nested_gan/model.keras")
        >>> g = inspector.build_graph(model)
        >>> g.total_params == model.count_params()
        True
    """
    if isinstance(model_or_source, ModelGraph):
        return model_or_source if expand_nested else replace(model_or_source, nested={})
    if _is_keras_model(model_or_source):
        from inspector.model.keras_internals import walk_model

        graph = walk_model(model_or_source, expand_nested=expand_nested)
        info = load_info(model_or_source)
        return replace(graph, warnings=graph.warnings + (info.notes if info else ()))
    model_file = read_model_file(model_or_source, limits=limits, vet_arrays=False) if not isinstance(
        model_or_source, ModelFile) else model_or_source
    model, graph, _ = load_or_view(model_file, trust=trust, limits=limits, custom_objects=custom_objects)
    if model is not None and not expand_nested:
        return build_graph(model, expand_nested=False)
    return graph if expand_nested else replace(graph, nested={})


def load_or_view(model_file: ModelFile, *, trust: bool = False, limits: Limits | None = None,
                 custom_objects: dict[str, Any] | None = None) -> tuple[Any, ModelGraph, InspectorError | None]:
    """Load a file, or fall back to its static view: ``(model or None, graph, why it is static or None)``.

    The static view's first warning says why it is static (refused code, or what Keras could not do).

    Example:
        >>> from inspector.io.files import read_model_file
        >>> model, graph, why = load_or_view(read_model_file("sample_models/lambda_merge/model.keras"))
        >>> model is None, type(why).__name__, graph.warnings[0][:40]
        (True, 'UnsafeModelError', 'Static view (no code run, some shapes un')
    """
    from inspector.model.static import static_graph

    try:
        model = load_model(model_file, trust=trust, limits=limits, custom_objects=custom_objects)
    except (UnsafeModelError, ModelLoadError, LimitExceededError) as e:  # the config is read: it can be shown
        code = dict(needs_trust(model_file)) if isinstance(e, UnsafeModelError) else {}
        graph = static_graph(model_file, code=code)
        reason = f"Static view (no code run, some shapes unknown): {e.what}"
        return None, replace(graph, warnings=(reason, *graph.warnings)), e
    return model, build_graph(model), None


# --------------------------------------------------------------------------- checks
def needs_trust(model_file: ModelFile, config: dict | None = None) -> list[tuple[str, str]]:
    """What in a file would run code or read other local files when Keras loads it, as ``(where, why)``.

    Scans every object of the config Keras will read (``config``: the file's config normalised for
    Keras, computed when not given), resolving each name as Keras would (:mod:`inspector.model.scan`),
    and the weights' outside data.

    Example:
        >>> import inspector
        >>> from inspector.io.files import read_model_file
        >>> needs_trust(read_model_file(inspector.get_sample("lambda_merge").path))[0][0]
        'abs'
    """
    from inspector.model.scan import code_references

    outside = [("the weights", f"{ref}: Keras would read that file from this machine, only in trusted mode")
               for ref in model_file.outside_data]
    return code_references(_normalized(model_file)[0] if config is None else config) + outside


def _refuse_code(model_file: ModelFile, config: dict) -> None:
    unsafe = needs_trust(model_file, config)
    if not unsafe:
        return
    listed = "; ".join(f"{path or 'the model itself'}: {reason}" for path, reason in unsafe[:5])
    more = f" (and {len(unsafe) - 5} more)" if len(unsafe) > 5 else ""
    raise UnsafeModelError(
        "Loading this model would run code from the file or read other files on this machine, and the file is "
        f"not trusted — {listed}{more}.",
        received=_received(model_file),
        fix="Its graph and summary are still shown from the file's config (inspector.build_graph). To run its code, "
            "load it with trust=True (CLI: --trust; app: start the server with KERAS_INSPECTOR_ALLOW_TRUST=1) — only "
            "for files you wrote yourself.")


def _normalized(model_file: ModelFile) -> tuple[dict, list[str]]:
    """The config Keras will read (legacy dialects rewritten, see :mod:`inspector.model.legacy`) and notes on the rewrites."""
    try:
        return normalize_config(model_file.config, keras_version=model_file.keras_version)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as e:
        raise ModelFormatError("The model's architecture config is malformed.", received=_received(model_file),
                               fix="Re-save the model with model.save(...).") from e


def _check_custom_objects(custom_objects: dict[str, Any] | None, trust: bool) -> None:
    if custom_objects is None:
        return
    if not isinstance(custom_objects, dict) or not all(isinstance(k, str) for k in custom_objects):
        raise TypeError(f"custom_objects must map class names to classes or functions, got {type(custom_objects)}")
    if custom_objects and not trust:
        raise UnsafeModelError(
            "custom_objects were given without trust=True: with them, the file chooses which of your classes and "
            "functions run, and with which arguments.", received=f"custom_objects with {sorted(custom_objects)[:5]}",
            fix="Pass trust=True as well, for a file you wrote yourself (CLI: --trust).")


def limit_refusal(model_file: ModelFile, *, limits: Limits | None = None) -> LimitExceededError | None:
    """The limit :func:`load_model` would refuse this file on before Keras builds anything (declared sizes, build
    cost), or ``None``: the static view builds nothing and is never refused, so a front end can say it.

    Example:
        >>> import inspector
        >>> from inspector.io.files import read_model_file
        >>> print(limit_refusal(read_model_file(inspector.get_sample("otto_mlp").path)))
        None
    """
    limits = limits or get_limits()
    try:
        config = _normalized(model_file)[0]
    except ModelFormatError:  # a load would fail on the config itself, not on a limit
        return None
    try:
        _check_declared_sizes(model_file, config, limits)
        _check_build_cost(model_file, config, limits)
    except LimitExceededError as e:
        return e
    return None


def _check_build_cost(model_file: ModelFile, config: dict, limits: Limits) -> BuildCost:
    """Refuse a model whose build would pass the limits, known from its config before Keras builds anything."""
    calls = expanded_calls(config, stop_after=limits.max_graph_nodes)
    if calls > limits.max_graph_nodes:
        raise LimitExceededError(
            f"The model's nested models call the level below so often that Keras would trace more than "
            f"{limits.max_graph_nodes:,} layer calls (max_graph_nodes) to build it.", received=_received(model_file),
            fix="Its graph is still shown from the file's config, each nested model's later calls folded (static "
                "view). If the model is genuine, raise max_graph_nodes with inspector.set_limits.")
    assets = asset_costs(model_file.data, limits.max_uncompressed_bytes) if model_file.format == "keras" else {}
    cost = build_cost(config, assets=assets, budget=limits.max_weight_bytes)
    stored = _stored_bytes(model_file.weights)
    if max(cost.total, stored) > limits.max_weight_bytes:
        what = f"largest: {'; '.join(cost.largest)}" if cost.total >= stored else "as stored in the file"
        raise LimitExceededError(
            f"Building this model would take {format_bytes(max(cost.total, stored))} for its weights, arrays and "
            f"vocabularies ({what}), over the limit of {format_bytes(limits.max_weight_bytes)} (max_weight_bytes).",
            received=_received(model_file),
            fix="Its graph is still shown from the file's config (static view). If the model is genuine and fits in "
                "memory, raise max_weight_bytes with inspector.set_limits (CLI and app: the environment variable "
                "KERAS_INSPECTOR_MAX_WEIGHT_BYTES).")
    return cost


def _stored_bytes(weights: dict[str, tuple[StoredWeight, ...]]) -> int:
    """The bytes of the stored weights, each once: a .keras lists them by layer and all together (``ALL_WEIGHTS``),
    a legacy .h5 a nested model's under the model and under each of its layers.

    Example:
        >>> w = StoredWeight("kernel", (2, 3), "float64")
        >>> _stored_bytes({"m": (w,), "m/d": (w,)}), _stored_bytes({"d": (w,), ALL_WEIGHTS: (w,)})
        (48, 48)
    """
    if ALL_WEIGHTS in weights:
        chosen = [weights[ALL_WEIGHTS]]
    else:
        parents = {path.rsplit("/", depth)[0] for path in weights for depth in range(1, path.count("/") + 1)}
        chosen = [ws for path, ws in weights.items() if path not in parents]
    return sum(_count(w.shape) * _itemsize(w.dtype) for ws in chosen for w in ws)


def _itemsize(dtype: str) -> int:
    import numpy as np

    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 2 if "16" in dtype else 8 if "64" in dtype else 4  # bfloat16 and other names NumPy lacks


def _check_declared_sizes(model_file: ModelFile, config: dict, limits: Limits) -> None:
    for path, item in config_objects(config):
        cfg = item.get("config")
        if not isinstance(cfg, dict):
            continue
        for key in _SIZE_KEYS:
            value = cfg.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limits.max_declared_dim:
                where = f"Layer {path!r}" if path else "The model"
                raise LimitExceededError(
                    f"{where} declares {key}={int(value):,}, over the limit of {limits.max_declared_dim:,} "
                    "(max_declared_dim): building it would try to allocate an enormous weight.",
                    received=_received(model_file),
                    fix="Do not load this file; if it is genuine, raise max_declared_dim with inspector.set_limits.")


def _check_bidirectional_sizes(model_file: ModelFile, config: dict) -> None:
    """Refuse a Bidirectional whose backward layer has another size than its forward layer (tf.keras 2 allows it).

    Keras 3's ``Bidirectional.compute_output_shape`` gives both directions the forward layer's size, so the next
    layer is built for the wrong input: the load fails on the weights, or, when the next layer has none, the
    model loads with a wrong shape.  Refused before Keras builds anything; the static view's shapes are right.
    """
    for path, item in config_objects(config):
        cfg = item.get("config")
        if item.get("class_name") != "Bidirectional" or not isinstance(cfg, dict):
            continue
        forward, backward = cfg.get("layer"), cfg.get("backward_layer")
        if not isinstance(forward, dict) or not isinstance(backward, dict):
            continue
        sizes = [next((c.get(key) for key in ("units", "filters") if isinstance(c, dict) and key in c), None)
                 for c in (forward.get("config"), backward.get("config"))]
        if None not in sizes and sizes[0] != sizes[1]:
            raise ModelLoadError(
                f"Keras 3 cannot build the Bidirectional layer {path!r}: its backward layer "
                f"({backward.get('class_name')}, size {sizes[1]}) is not the size of its forward layer "
                f"({forward.get('class_name')}, size {sizes[0]}), which tf.keras 2 allowed; Keras 3 would build the "
                "next layer for the wrong input.", received=_received(model_file),
                fix="The graph is shown from the file's config, with tf.keras 2's shapes (static view). To compute "
                    "with it, load it with tf.keras 2 (pip install tf_keras), or rebuild the layer with both "
                    "directions the same size.")


def _check_input_shapes(model: Any, config: dict) -> list[str]:
    """Compare Keras's input shapes with the stored ones; a mismatch means Keras misread the file."""
    from inspector.model.static import graph_from_config

    declared = graph_from_config(config, {})
    stored = [n.output_shapes[0] for n in declared.nodes if n.id in declared.inputs and n.output_shapes]
    loaded = [tuple(None if d is None else int(d) for d in t.shape) for t in getattr(model, "inputs", None) or []]
    if not stored or not loaded or len(stored) != len(loaded):
        return []
    notes = []
    for want, got in zip(stored, loaded, strict=True):
        if want is not None and tuple(want) != got:
            notes.append(f"Keras built an input of shape {got} where the file declares {tuple(want)}; the "
                         "declared shape is the right one.")
    return notes


# --------------------------------------------------------------------------- keras
def _keras_load(data: bytes, model_file: ModelFile, trust: bool, custom_objects: dict[str, Any] | None = None) -> Any:
    import keras

    with tempfile.TemporaryDirectory(prefix="keras-inspector-") as tmp:
        path = Path(tmp) / f"model{model_file.suffix}"
        path.write_bytes(data)
        try:
            with quiet_warnings():  # Keras's deprecation chatter about old configs is noise here
                # our own stand-ins for functions whose meaning Keras 3 changed, named by normalize_config; in a
                # scope too, where the layers Keras builds with its new deserializer (wrapped layers) find them
                objects = {**(custom_objects or {}), **old_semantics.custom_objects()}
                with keras.saving.custom_object_scope(objects):
                    return keras.saving.load_model(path, compile=False, safe_mode=not trust, custom_objects=objects)
        except InspectorError:
            raise
        except MemoryError as e:
            raise LimitExceededError("Keras ran out of memory building this model.", received=_received(model_file),
                                     fix="Lower the model's size or load it on a machine with more memory.") from e
        except Exception as e:  # noqa: BLE001 - Keras raises anything; translate it at the edge
            raise _explain_keras_failure(e, model_file, trust) from e


def _explain_keras_failure(error: Exception, model_file: ModelFile, trust: bool) -> InspectorError:
    text = without_terminal_codes(f"{type(error).__name__}: {error}")
    short = text if len(text) < 400 else text[:400] + "…"
    received = f"{_received(model_file)}, written by Keras {model_file.keras_version or '(version not recorded)'}"
    static_hint = "The graph and parameter counts are still shown from the file's config (static view)."
    if "NotEqual" in text and model_file.format == "h5" and _has_masking_embedding(model_file.config):
        return ModelLoadError(
            "Keras 3 cannot read back its own legacy .h5 of a model with Embedding(mask_zero=True): the saved "
            "mask operation ('NotEqual') is not a layer it can rebuild.",
            received=f"{received} ({short})",
            fix=f"Save the model as .keras instead of .h5. {static_hint}")
    if "safe_mode" in text or "Lambda" in text and not trust:
        return UnsafeModelError("This model needs code from the file (a Lambda or custom function) to load.",
                                received=f"{received} ({short})",
                                fix=f"Load it with trust=True only if you wrote it. {static_hint}")
    if cause := failure_cause(error, model_file.config):  # the real cause, read from the whole exception chain
        return ModelLoadError(cause[0], received=f"{received} ({short})", fix=cause[1])
    if any(k in text for k in ("Could not locate", "Unknown layer", "Unknown object", "is not a valid")):
        return ModelLoadError(
            "Keras cannot rebuild a layer of this model: the file names a class this Keras version does not have "
            "(a custom layer, or one from an older/newer Keras).", received=f"{received} ({short})",
            fix=f"Load it in the code base that defines the class, or re-save it with a current Keras. {static_hint}")
    if structure := _input_structure_mismatch(text):
        return ModelLoadError(
            f"Keras 3 rebuilt this model's layers but could not connect them: {structure} Another Keras version "
            "wrote this call in a form Keras 3 reads differently (a nested model's outputs in a list or dict the next "
            "layer does not accept; a Keras 2 recurrent layer's constants passed as extra inputs). This is not a "
            "problem with the weights.", received=f"{received} ({short})",
            fix=f"Load the model in the Keras version that wrote it and re-save it as .keras. {static_hint}")
    if any(k in text.lower() for k in ("shape", "weight", "expected", "layer count", "mismatch")):
        return ModelLoadError(
            "The model's weights do not match its architecture, or a layer's arguments are not accepted by this "
            "Keras version.", received=f"{received} ({short})",
            fix=f"Re-save the model with model.save('model.keras') from a current Keras. {static_hint}")
    return ModelLoadError(
        "Keras could not load this model.",
        received=f"{received} ({short})",
        fix=f"Re-save the model with a current Keras (model.save('model.keras')). {static_hint}")


def _input_structure_mismatch(text: str) -> str:
    """The sentence of a Keras message saying a layer got a different number of inputs than it declares, or ''."""
    match = re.search(r"Layer \"?([^\s\"]+)\"? expects (\d+) (?:named )?input\(s\).*?but it received (\d+) input "
                      r"tensors?", text, flags=re.DOTALL)
    if not match:
        return ""
    layer, expected, received = match.groups()
    return f"layer {layer!r} expects {expected} input(s) but received {received}."


def _has_masking_embedding(config: dict) -> bool:
    return any(lc.get("class_name") == "Embedding" and isinstance(lc.get("config"), dict)
               and lc["config"].get("mask_zero") for _, lc in iter_layer_configs(config))


def _with_config(model_file: ModelFile, config: dict) -> bytes:
    """The file's bytes with its architecture config replaced."""
    text = json.dumps(config)
    if model_file.format == "keras":
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(model_file.data)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                payload = text.encode() if item.filename == "config.json" else src.read(item.filename)
                dst.writestr(item, payload)
        return out.getvalue()
    import h5py

    buffer = io.BytesIO(model_file.data)
    with h5py.File(buffer, "r+") as f:
        f.attrs["model_config"] = text
    return buffer.getvalue()


def _is_keras_model(obj: Any) -> bool:
    keras = sys.modules.get("keras")  # if Keras was never imported, obj cannot be a Keras model
    return keras is not None and isinstance(obj, keras.Model)


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _received(model_file: ModelFile) -> str:
    size = format_bytes(len(model_file.data))
    return f"{model_file.name!r} ({model_file.format}, {size})" if model_file.name else f"{model_file.format}, {size}"
