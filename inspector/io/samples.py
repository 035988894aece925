"""The bundled sample models: classic Keras tutorials, trained briefly on synthetic data.

Each sample is a folder ``sample_models/<slug>/`` holding ``model.keras`` (some also a legacy
``model.h5``), ``inputs.npz`` (up to 200 rows keyed by model input name, plus ``labels`` when the
task has them) and ``metadata.json``.  ``sample_models/build.py`` writes them; this module only
reads them, without TensorFlow, so listing the samples is instant.  Set
``KERAS_INSPECTOR_SAMPLES`` to read the folders from somewhere else.

The folder is at the top of the repository, beside ``inspector/``; the wheel ships it inside the
package as ``inspector/sample_models/`` (a ``package-dir`` mapping in ``pyproject.toml``), so a
clone and an editable install read the repository's folder and an installed wheel its own copy.

Metadata keys: ``slug``, ``title``, ``description``, ``trusted_only`` (loading needs
code from the file: a ``Lambda``), ``inputs`` (``name``, ``shape`` with ``None`` for the
batch, ``dtype``), ``outputs``, ``embedding_labels`` (Embedding layer name -> one label
per vocabulary index), ``embedding_groups`` (same shape: the hidden group each index was
generated from, for colouring projections), ``input_columns`` (input name -> column of
the original data), ``source``, ``params``, ``files``.

Example:
    >>> from inspector.io.samples import get_sample, list_samples
    >>> [s.slug for s in list_samples()][:3]
    ['entity_embeddings', 'otto_mlp', 'tanh_hinge']
    >>> sample = get_sample("masked_text")
    >>> sample.path.name, sample.trusted_only
    ('model.keras', False)
    >>> sample.embedding_labels("word_embedding")[:3]
    ['[PAD]', '[UNK]', 'great']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.errors import InputDataError, InspectorError, ModelFormatError

__all__ = ["SAMPLE_ORDER", "Sample", "samples_dir", "list_samples", "get_sample"]

# The order the app lists them in; folders not named here follow alphabetically.
SAMPLE_ORDER: tuple[str, ...] = (
    "entity_embeddings",
    "otto_mlp",
    "tanh_hinge",
    "lambda_merge",
    "nested_gan",
    "masked_text",
)

_ENVIRONMENT_VARIABLE = "KERAS_INSPECTOR_SAMPLES"
_LABELS_KEY = "labels"
_REBUILD = "python sample_models/build.py"
_PACKAGE = Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    """The folder holding the sample folders.

    ``$KERAS_INSPECTOR_SAMPLES`` when set; else the wheel's ``inspector/sample_models/`` when the package
    holds one; else the repository's top-level ``sample_models/`` (a clone or an editable install).

    Example:
        >>> samples_dir().name
        'sample_models'
    """
    override = os.environ.get(_ENVIRONMENT_VARIABLE)
    if override:
        return Path(override).expanduser().resolve()
    installed = _PACKAGE / "sample_models"
    return installed if installed.is_dir() else _PACKAGE.parent / "sample_models"


@dataclass(frozen=True)
class Sample:
    """One bundled sample model and the files that go with it."""

    slug: str
    title: str
    description: str
    trusted_only: bool
    path: Path  # model.keras
    inputs_path: Path  # inputs.npz
    metadata: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def h5_path(self) -> Path | None:
        """The legacy ``model.h5`` written next to ``model.keras``, if this sample has one."""
        candidate = self.path.with_name("model.h5")
        return candidate if candidate.is_file() else None

    @property
    def input_names(self) -> list[str]:
        """Model input names, in the model's order.

        Example:
            >>> get_sample("lambda_merge").input_names
            ['a', 'b']
        """
        return [spec["name"] for spec in self.metadata.get("inputs", [])]

    def load_inputs(self) -> dict[str, np.ndarray]:
        """The input sample, keyed by model input name, in the model's input order.

        Labels are not a model input: read them with :meth:`load_labels`.

        Example:
            >>> x = get_sample("tanh_hinge").load_inputs()
            >>> list(x), x["x"].shape
            (['x'], (200, 5))
        """
        arrays = self._read_npz()
        missing = [name for name in self.input_names if name not in arrays]
        if missing:
            raise InputDataError(
                f"The input sample of {self.slug!r} has no array for model input(s) {missing}.",
                received=f"{self.inputs_path} with arrays {sorted(arrays)}",
                fix=f"Rebuild the samples with `{_REBUILD}`.",
            )
        return {name: arrays[name] for name in self.input_names}

    def load_labels(self) -> np.ndarray | None:
        """The labels of the input sample, or ``None`` when the task has none (the GAN).

        Example:
            >>> get_sample("tanh_hinge").load_labels()[:3].tolist()
            [-1.0, 1.0, 1.0]
        """
        return self._read_npz().get(_LABELS_KEY)

    def embedding_labels(self, layer_name: str) -> list[str] | None:
        """One label per vocabulary index of the Embedding layer ``layer_name``, or ``None``.

        Example:
            >>> get_sample("entity_embeddings").embedding_labels("emb_group_1")[:2]
            ['group 1', 'group 2']
            >>> get_sample("otto_mlp").embedding_labels("hidden") is None
            True
        """
        labels = self.metadata.get("embedding_labels", {}).get(layer_name)
        return list(labels) if labels is not None else None

    def embedding_groups(self, layer_name: str) -> list[str] | None:
        """The hidden group each vocabulary index of ``layer_name`` was generated from, or ``None``.

        Example:
            >>> sorted(set(get_sample("masked_text").embedding_groups("word_embedding")))
            ['negative', 'neutral', 'positive', 'special']
        """
        groups = self.metadata.get("embedding_groups", {}).get(layer_name)
        return list(groups) if groups is not None else None

    def _read_npz(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.inputs_path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (OSError, ValueError) as e:
            raise InputDataError(
                f"Cannot read the input sample of {self.slug!r}.",
                received=f"{self.inputs_path}: {e}",
                fix=f"Rebuild the samples with `{_REBUILD}`.",
            ) from e


def _read_sample(folder: Path) -> Sample:
    metadata_path = folder / "metadata.json"
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        return Sample(
            slug=str(metadata["slug"]),
            title=str(metadata["title"]),
            description=str(metadata["description"]),
            trusted_only=bool(metadata["trusted_only"]),
            path=folder / "model.keras",
            inputs_path=folder / "inputs.npz",
            metadata=metadata,
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelFormatError(
            f"The sample metadata in {folder.name!r} is unreadable.",
            received=f"{metadata_path}: {type(e).__name__}: {e}",
            fix=f"Rebuild the samples with `{_REBUILD}`.",
        ) from e


def list_samples() -> list[Sample]:
    """Every sample found, in the fixed order of :data:`SAMPLE_ORDER` (others after, by name).

    A folder counts as a sample when it holds a ``metadata.json``.

    Example:
        >>> list_samples()[0].title
        'Entity embeddings (Kaggle Red Hat)'
    """
    root = samples_dir()
    if not root.is_dir():
        raise InspectorError(
            "The sample models folder does not exist.",
            received=str(root),
            fix=f"Run `{_REBUILD}` in a clone of the repository, or point {_ENVIRONMENT_VARIABLE} at a folder of samples.",
        )
    folders = [p for p in root.iterdir() if (p / "metadata.json").is_file()]
    rank = {slug: i for i, slug in enumerate(SAMPLE_ORDER)}
    folders.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
    return [_read_sample(p) for p in folders]


def get_sample(slug: str) -> Sample:
    """The sample called ``slug``.

    Raises:
        InspectorError: no sample has that slug (the message lists the valid ones).

    Example:
        >>> get_sample("otto_mlp").title
        'Otto product classifier (MLP)'
    """
    samples = list_samples()
    for sample in samples:
        if sample.slug == slug:
            return sample
    valid = ", ".join(s.slug for s in samples) or "none found"
    raise InspectorError(
        f"There is no sample model called {slug!r}.",
        received=repr(slug),
        fix=f"Use one of: {valid}.",
    )
