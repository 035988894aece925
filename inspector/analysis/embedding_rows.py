"""An Embedding explained on its own weights: looking up row ``i`` is multiplying a one-hot vector by ``W``.

An ``Embedding(input_dim, output_dim)`` holds a matrix ``W`` of shape
``(input_dim, output_dim)``.  Looking up index ``i`` returns ``W[i]``, which is
exactly what a ``Dense`` layer without bias would return for the one-hot vector
of ``i``: ``one_hot(i) @ W`` (every other row is multiplied by zero).
:func:`embedding_lookup` computes the row, the product and what the layer itself
returns for ``i`` on the model's real weights, and says whether they agree.

Example:
    >>> import inspector
    >>> model = inspector.load_model(inspector.get_sample("entity_embeddings").path)
    >>> look = inspector.embedding_lookup(model, 0, 1)
    >>> bool((look.row == look.one_hot @ model.get_layer(look.layer).get_weights()[0]).all())
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.errors import InputDataError

__all__ = ["EmbeddingLookup", "embedding_lookup"]


@dataclass(frozen=True, eq=False)
class EmbeddingLookup:
    """Row ``index`` of an Embedding's matrix, computed three ways.

    Attributes:
        layer: the Embedding's path (its graph node id).
        index: the vocabulary index looked up.
        label: its token or label (the index as text when the model has no vocabulary).
        label_source: where the label came from (``StringLookup vocabulary``, ``given labels``, ``index``…).
        row: ``W[index]``.
        one_hot: the one-hot vector of ``index`` (length ``input_dim``).
        product: ``one_hot @ W``.
        layer_output: what the Embedding layer returns when called on ``[index]``.
        equal: ``row``, ``product`` and ``layer_output`` are exactly equal.
        max_abs_diff: the largest absolute difference between any two of them.
        shape: the shape of ``W``.
    """

    layer: str
    index: int
    label: str
    label_source: str
    row: np.ndarray = field(repr=False)
    one_hot: np.ndarray = field(repr=False)
    product: np.ndarray = field(repr=False)
    layer_output: np.ndarray = field(repr=False)
    equal: bool = False
    max_abs_diff: float = 0.0
    shape: tuple[int, int] = (0, 0)


def embedding_lookup(model: Any, layer: Any, item: int | str, *, labels: Any = None) -> EmbeddingLookup:
    """Look up ``item`` (a vocabulary index, or a token/label of the vocabulary) in an Embedding of ``model``.

    ``layer`` is picked as in :func:`inspector.project_embedding` (path, name,
    position in :func:`inspector.embedding_layers`); labels come from ``labels=``
    (a list, ``{index: label}`` or the samples' ``{layer: [labels]}``) or from the
    vocabulary of a ``StringLookup``/``IntegerLookup``/``TextVectorization`` feeding it.
    A string that is a label is looked up by label; otherwise a whole number is an index.

    Raises:
        LayerNotFoundError: no such Embedding.
        InputDataError: the index is outside the vocabulary, or the token is not in it.

    Example:
        >>> import inspector
        >>> sample = inspector.get_sample("entity_embeddings")
        >>> model = inspector.load_model(sample.path)
        >>> look = embedding_lookup(model, 0, 3)
        >>> look.equal, look.row.shape == look.product.shape, float(look.one_hot.sum())
        (True, True, 1.0)
    """
    from inspector.analysis.embedding_tables import (
        _LOOKUP_CLASSES,
        _embedding_entries,
        _embedding_matrix,
        _layer_labels,
        _pick,
        _vocabulary,
    )
    from inspector.analysis.projection_inputs import _labels

    entry = _pick(model, _embedding_entries(model), layer)
    table = _embedding_matrix(entry)
    n = len(table)
    chosen, per_layer = _layer_labels(entry, labels)
    label_list, label_source = None, "index"
    if chosen is not None:
        label_list, _ = _labels(chosen, n, np.arange(n))
        label_source = "sample metadata" if per_layer else "given labels"
    elif entry.lookup is not None and _vocabulary(entry.lookup):
        vocabulary = _vocabulary(entry.lookup) or []
        label_list = vocabulary[:n] + [str(i) for i in range(len(vocabulary), n)]
        label_source = _LOOKUP_CLASSES.get(type(entry.lookup).__name__, "vocabulary")
    index = _index(item, n, label_list, entry.path)
    row = table[index]
    one_hot = np.zeros(n, dtype=table.dtype)
    one_hot[index] = 1
    product = one_hot @ table
    import keras

    called = keras.ops.convert_to_numpy(entry.layer(np.array([[index]], dtype="int32")))
    layer_output = np.asarray(called, dtype=table.dtype).reshape(-1)
    trio = (row, product, layer_output)
    diffs = [float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in ((row, product), (row, layer_output))]
    return EmbeddingLookup(
        layer=entry.path, index=index, label=label_list[index] if label_list else str(index),
        label_source=label_source, row=row, one_hot=one_hot, product=product, layer_output=layer_output,
        equal=all(np.array_equal(trio[0], t) for t in trio[1:]), max_abs_diff=max(diffs),
        shape=(int(table.shape[0]), int(table.shape[1])))


def _index(item: Any, n: int, label_list: list[str] | None, path: str) -> int:
    if isinstance(item, (bool, np.bool_)):
        raise InputDataError("An Embedding is looked up by index or token, not a bool.", received=repr(item),
                             fix=f"Give an index 0..{n - 1}.")
    if isinstance(item, str):
        if label_list is not None and item in label_list:
            return label_list.index(item)
        try:
            item = int(item.strip())
        except ValueError:
            hint = f"a token of its vocabulary (e.g. {label_list[:3]})" if label_list else "an index"
            raise InputDataError(f"{item!r} is not in the vocabulary of Embedding {path!r}.", received=repr(item),
                                 fix=f"Give {hint} or an index 0..{n - 1}.") from None
    if not isinstance(item, (int, np.integer)):
        raise InputDataError("An Embedding is looked up by index or token.", received=f"a {type(item).__name__}",
                             fix=f"Give an index 0..{n - 1}.")
    if not 0 <= int(item) < n:
        raise InputDataError(f"Index {int(item)} is outside Embedding {path!r}'s vocabulary of {n:,} rows.",
                             received=repr(item), fix=f"Give an index 0..{n - 1}.")
    return int(item)
