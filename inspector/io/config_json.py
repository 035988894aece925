"""A model's config as Keras parses it: bounded JSON parsing and the walks over its layer configs.

Keras parses a config with ``json.loads``; :func:`_parse_json` parses the same text the same way and refuses
what Keras would read differently or what no model holds (non-UTF-8, non-finite or huge numbers, deep nesting,
text holding a lone surrogate: valid JSON, but no output can encode it and Keras cannot save it).

Example:
    >>> cfg = _parse_json('{"class_name": "Sequential", "config": {"layers": []}}', "config.json", "test", Limits())
    >>> cfg["class_name"], nesting_depth(cfg)
    ('Sequential', 3)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from inspector.errors import LimitExceededError, ModelFormatError
from inspector.limits import Limits, format_bytes

__all__ = ["iter_layer_configs", "nesting_depth"]


def _parse_json(text: bytes | str, what: str, received: str, limits: Limits) -> dict:
    """Parse a config exactly as Keras will (``json.loads``), refusing what Keras would read differently.

    Keras parses ``config.json`` bytes with ``json.loads``, which also accepts UTF-16/32 and a BOM;
    we refuse anything but UTF-8 so the text we check is the text Keras reads.  Numbers are checked as
    they are parsed (``NaN``, ``Infinity``, ``1e999`` and integers beyond 64 bits are refused), and the
    depth is measured on the parsed object, so no encoding trick can hide it.
    """
    if len(text) > limits.max_config_bytes:
        raise LimitExceededError(
            f"The model's {what} is {format_bytes(len(text))}, over the limit of "
            f"{format_bytes(limits.max_config_bytes)} (max_config_bytes).", received=received,
            fix="Raise max_config_bytes with inspector.set_limits if the file is genuine.")
    if isinstance(text, bytes) and text and json.detect_encoding(text) != "utf-8":
        raise ModelFormatError(
            f"The model's {what} is not UTF-8 text (it looks like {json.detect_encoding(text)}); Keras writes "
            "UTF-8 only.", received=received, fix="Do not open this file; re-save the model with model.save(...).")
    try:
        config = json.loads(text, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant)
    except _BadNumber as e:
        raise ModelFormatError(
            f"The model's {what} holds the number {e.args[0][:40]}, which no Keras model has: numbers must be "
            "finite and fit in 64 bits.", received=received,
            fix="Do not open this file; re-save the model with model.save(...).") from None
    except RecursionError:
        raise _too_deep(what, f"more than {limits.max_config_depth}", received, limits) from None
    except ValueError as e:
        raise ModelFormatError(f"The model's {what} is not valid JSON.", received=f"{received}: {str(e)[:200]}",
                               fix="The file is corrupted; re-save the model with model.save(...).") from e
    depth = nesting_depth(config, stop_after=limits.max_config_depth)
    if depth > limits.max_config_depth:
        raise _too_deep(what, str(depth), received, limits)
    lone = _lone_surrogate(config) if _may_hold_surrogates(text) else None
    if lone is not None:
        raise ModelFormatError(
            f"The model's {what} holds text with a lone surrogate ({lone}), which no Keras model has: it is not "
            "text any output (terminal, CSV, JSON, SVG, HTML) can encode, and Keras cannot save it.",
            received=received, fix="Do not open this file; re-save the model with model.save(...).")
    if not isinstance(config, dict):
        raise ModelFormatError(f"The model's {what} is not a Keras model config (expected a JSON object).",
                               received=f"{received}: a JSON {type(config).__name__}",
                               fix="Re-save the model with model.save(...).")
    return config


_SURROGATE = re.compile("[\ud800-\udfff]")


def _may_hold_surrogates(text: bytes | str) -> bool:
    """Whether parsed text can hold a surrogate: an escape ``\\udXXX`` or one encoded raw (json reads bytes with
    'surrogatepass'); most configs have neither, and skip the walk."""
    if isinstance(text, str):
        return "\\u" in text or _SURROGATE.search(text) is not None
    return b"\\u" in text or re.search(rb"\xed[\xa0-\xbf]", text) is not None


def _lone_surrogate(config: Any) -> str | None:
    r"""The first text of a parsed config (key or value) holding a surrogate, shown escaped; ``None`` when none does.

    A pair of escapes (``"\ud83d\ude00"``) is parsed into one character, so a surrogate left is a lone one.

    Example:
        >>> _lone_surrogate(json.loads('{"name": "a\\ud800", "ok": "\\ud83d\\ude00"}'))
        "'a\\ud800'"
    """
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return ascii(item[:40])
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class _BadNumber(ValueError):
    """A number in a config that no model can hold (raised while parsing)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(text)
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) >= 2**63:
        raise _BadNumber(text)
    return value


def _no_constant(text: str) -> float:
    raise _BadNumber(text)


def _too_deep(what: str, depth: str, received: str, limits: Limits) -> LimitExceededError:
    return LimitExceededError(
        f"The model's {what} is nested {depth} levels deep, over the limit of {limits.max_config_depth} "
        "(max_config_depth).", received=received, fix="Real Keras configs are far shallower; do not open this file.")


def nesting_depth(obj: Any, *, stop_after: int | None = None) -> int:
    """How deeply lists and dicts nest in a parsed JSON value (iterative; stops early past ``stop_after``).

    Example:
        >>> nesting_depth({"a": [1, {"b": "[[["}]})
        3
    """
    best = 0
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        best = max(best, depth)
        if stop_after is not None and best > stop_after:
            return best
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return best


def _check_config(config: dict, received: str, limits: Limits) -> None:
    if not isinstance(config.get("class_name"), str) or "config" not in config:
        raise ModelFormatError(
            "The model config has the wrong shape: expected an object with 'class_name' and 'config'.",
            received=f"{received}: keys {sorted(config)[:8]}", fix="Re-save the model with model.save(...).")
    layers = config.get("config")
    if isinstance(layers, dict):
        layers = layers.get("layers")
    if layers is None and config["class_name"] not in ("Sequential", "Functional", "Model"):
        return  # a subclassed model: no layer list to check
    if not isinstance(layers, list) or not all(isinstance(lc, dict) for lc in layers):
        raise ModelFormatError(
            "The model config has the wrong shape: its 'layers' entry is not a list of layer configs.",
            received=f"{received}: layers is {type(layers).__name__}", fix="Re-save the model with model.save(...).")


def _model_layers(config: Any) -> list[dict]:
    """The layer configs of a model config (Sequential list form, dict form, Functional)."""
    if isinstance(config, dict) and "class_name" in config and "config" in config:
        config = config["config"]  # what Keras builds; a "layers" key beside "config" is never read
    if isinstance(config, list):
        return [lc for lc in config if isinstance(lc, dict)]
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return [lc for lc in config["layers"] if isinstance(lc, dict)]
    return []


def _layer_name(layer_config: dict) -> str:
    name = layer_config.get("name")
    if not isinstance(name, str):
        inner = layer_config.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
    return str(name) if name is not None else str(layer_config.get("class_name", "layer"))


def iter_layer_configs(config: dict) -> Iterable[tuple[str, dict]]:
    """Every layer config in a model config, nested models included, with its path.

    Example:
        >>> cfg = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
        >>> [p for p, _ in iter_layer_configs(cfg)]
        ['d']
    """
    def walk(layers: list[dict], prefix: str) -> Iterable[tuple[str, dict]]:
        for lc in layers:
            path = prefix + _layer_name(lc)
            yield path, lc
            yield from walk(_model_layers(lc.get("config")), path + "/")

    yield from walk(_model_layers(config), "")
