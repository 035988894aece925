"""The trust scan judges what Keras would reach, by resolving names as Keras does (inspector.model.scan)."""

from __future__ import annotations

import inspect
import json
import sys
import types
import zipfile

import keras
import pytest

import inspector
from inspector.model.keras_internals import resolve_serialized, why_not_a_model_part
from inspector.model.scan import code_references, config_objects


def _keras_classes(base: type) -> list[type]:
    found, stack = set(), [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("keras.src.") and sub not in found:
                found.add(sub)
                stack.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__name__}")


def test_every_dict_is_seen_under_any_key():
    hidden = {"class_name": "Lambda", "config": {}}
    config = {"class_name": "Functional", "config": {"layers": [{"class_name": "Dense", "name": "d", "config": {
        "name": "d"}, "inbound_nodes": [{"args": [], "kwargs": {"layers": [{"layers": [hidden]}]}}]}]},
        "layers": [{"class_name": "Dense", "config": {"name": "decoy"}}]}
    seen = list(config_objects(config))
    text = json.dumps(config)
    assert len(seen) == text.count("{")  # an independent count: every object of the JSON text
    assert ("d", hidden) in seen
    assert code_references(config, resolve=False)[0][0] == "d"


def test_operations_that_call_functions_need_trust():
    from keras.src.layers import Layer
    from keras.src.ops.operation import Operation

    flagged = {op.__name__ for op in _keras_classes(Operation) if not issubclass(op, Layer) and why_not_a_model_part(op)}
    assert {"Switch", "Cond", "Map", "Scan", "WhileLoop", "ForiLoop", "VectorizedMap", "AssociativeScan"} <= flagged
    # and nothing else: the arithmetic a functional model records (numpy/nn/math ops) stays a model part
    for op in _keras_classes(Operation):
        if op.__name__ not in flagged and not issubclass(op, Layer):
            for method in (op.__init__, op.call):
                params = set(inspect.signature(method).parameters)
                assert not params & {"f", "fn", "branches", "body", "cond", "function"}, op


def test_exported_functions_are_model_parts_only_in_activations_losses_and_metrics():
    from keras.src import activations, api_export, losses, metrics

    registered = {id(v) for m in (activations, losses, metrics) for v in m.ALL_OBJECTS_DICT.values()}
    functions = [(name, obj) for name, obj in api_export.REGISTERED_NAMES_TO_OBJS.items()
                 if isinstance(obj, types.FunctionType)]
    assert len(functions) > 500
    for name, obj in functions:
        assert (why_not_a_model_part(obj) == "") == (id(obj) in registered), name
        module, _, short = name.rpartition(".")
        for reference in ({"module": module, "class_name": short, "config": {}},
                          {"module": module, "class_name": "function", "config": short}):
            assert bool(code_references({"class_name": "Sequential", "config": {"layers": [
                {"class_name": "Dense", "module": "keras.layers", "config": {"name": "d", "activation": reference}}
            ]}})) == (id(obj) not in registered), (name, reference)


def test_keras_model_parts_pass():
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if isinstance(obj, type):
            expected = name in {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"}
            assert bool(why_not_a_model_part(obj)) == expected, name
    for module in (keras.initializers, keras.regularizers, keras.constraints, keras.optimizers, keras.losses,
                   keras.metrics, keras.dtype_policies):
        for name in dir(module):
            obj = getattr(module, name)
            if isinstance(obj, type):
                assert why_not_a_model_part(obj) == "", f"{module.__name__}.{name}"


def test_bare_names_resolve_like_the_legacy_loader():
    assert [o.__name__ for o in resolve_serialized("Dense", None, None, None)[0]] == ["Dense"]
    assert why_not_a_model_part(resolve_serialized("deserialize", None, None, None)[0][0])
    assert resolve_serialized("NoSuchLayer", None, None, None) == ([], "")


def test_a_module_is_never_imported_because_a_file_names_it():
    module = "keras.src.layers.preprocessing.image_preprocessing.bounding_boxes.formats"
    sys.modules.pop(module, None)
    assert resolve_serialized("XYXY", module, None, None) == ([], module)
    assert module not in sys.modules


def test_keras_drops_the_top_level_compile_config(tmp_path, monkeypatch):
    """Why the scan may skip it: with compile=False Keras never deserializes the model's own compile_config."""
    from keras.src.saving import serialization_lib

    x = keras.Input((3,))
    keras.Model(x, keras.layers.Dense(2)(x)).save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    gadget = {"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": "function"}
    config["compile_config"] = {"loss": gadget, "optimizer": gadget}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "c.keras", "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    seen = []
    original = serialization_lib.deserialize_keras_object

    def recording(config, *args, **kwargs):
        seen.append(json.dumps(config, default=str))
        return original(config, *args, **kwargs)

    monkeypatch.setattr(serialization_lib, "deserialize_keras_object", recording)
    assert inspector.load_model(tmp_path / "c.keras").count_params() == 8
    assert seen and not any("get_file" in s for s in seen)


@pytest.mark.parametrize("path", ["sample_models/nested_gan/model.keras", "sample_models/masked_text/model.keras",
                                  "sample_models/otto_mlp/model.h5"])
def test_real_models_need_no_trust(path):
    from inspector.io.files import read_model_file
    from inspector.model.loading import needs_trust

    assert needs_trust(read_model_file(path)) == []


def test_keras_applications_need_no_trust(tmp_path):
    from inspector.io.files import read_model_file
    from inspector.model.loading import needs_trust

    for build in (keras.applications.ConvNeXtTiny, keras.applications.EfficientNetV2B0):
        path = tmp_path / f"{build.__name__}.keras"
        build(weights=None).save(path)
        assert needs_trust(read_model_file(path)) == [], build.__name__
