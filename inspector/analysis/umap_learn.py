"""umap-learn, the optional extra, for the two things our UMAP does not do.

``method="umap-learn"`` in :func:`~inspector.analysis.projection.project_matrix`,
:func:`~inspector.analysis.projection.project_embedding` and
:func:`~inspector.analysis.projection.project_activations` fits ``umap.UMAP`` (its defaults; ``random_state``
is the seed, so a run repeats) and keeps the fitted reducer in the result, which gives:

- **placing new points into an existing map**: ``onto=`` an earlier umap-learn projection calls the reducer's
  ``transform`` (a new batch of activations onto the map of the training set); the map itself does not move;
- **supervised UMAP**: ``y=`` (one target per point) is passed to ``fit``: class labels (any values; missing
  ones are ``None``/NaN and count as unlabelled) or, for floating-point targets that are not whole numbers, a
  continuous target (``target_metric="l2"``).

Our UMAP (:mod:`inspector.analysis.umap`) stays the default: about four times faster on the same points at the
same trustworthiness (docs/performance.md; tests/test_projection.py holds ours to ≥ 0.95× umap-learn's).
umap-learn is installed with ``pip install "keras-inspector[umap-learn]"``; without it these calls raise a
:class:`~inspector.errors.MissingDependencyError` saying so, before any work is done.

Example:
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    >>> coords, used, reducer = fit(X, n_components=2, metric="euclidean", seed=0, target=targets(["a", "b"] * 30, 60))
    >>> coords.shape, used["target_metric"], transform(reducer, X[:3]).shape
    ((60, 2), 'categorical', (3, 2))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from inspector.errors import InputDataError, MissingDependencyError

__all__ = ["INSTALL", "require", "fit", "transform", "targets"]

INSTALL = 'pip install "keras-inspector[umap-learn]"  (or: pip install umap-learn)'


def require() -> Any:
    """The ``umap`` module of umap-learn.

    Raises:
        MissingDependencyError: umap-learn is not installed (the message says how to install it).
    """
    try:
        import umap
    except ImportError as e:
        raise MissingDependencyError(
            "method='umap-learn' (supervised y=, placing points onto= a map) needs the umap-learn package, "
            "which is not installed.", received=f"import umap: {e}",
            fix=f"Install it: {INSTALL}; or use method='umap' (ours, no extra) or 'pca', without y= and onto=.") from e
    return umap


def targets(y: Any, n: int) -> tuple[np.ndarray, str]:
    """``y`` as umap-learn's ``fit`` takes it, and its ``target_metric``.

    Class labels of any type become integer codes (missing ones -1: unlabelled); floating-point values that
    are not all whole numbers stay a continuous target ("l2").

    Example:
        >>> targets(["cat", None, "dog", "cat"], 4)
        (array([ 0, -1,  1,  0]), 'categorical')
        >>> targets([0.5, 1.25, 3.0], 3)[1]
        'l2'
    """
    values = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if values.ndim != 1 or len(values) != n:
        raise InputDataError(f"y must give one target per point: {n:,} expected.", received=f"shape {values.shape}",
                             fix="Pass a list or array with one class label (or number) per projected point.")
    if values.dtype.kind == "f" and np.isfinite(values).all() and not np.equal(np.round(values), values).all():
        return values.astype(np.float64), "l2"
    codes, _ = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64), "categorical"


def fit(X: np.ndarray, *, n_components: int, metric: str, seed: int,
        target: tuple[np.ndarray, str] | None = None) -> tuple[np.ndarray, dict[str, Any], Any]:
    """Fit ``umap.UMAP`` on the rows of ``X`` (supervised by ``target``, from :func:`targets`): coordinates,
    settings used, the fitted reducer."""
    umap = require()
    used: dict[str, Any] = {"implementation": f"umap-learn {getattr(umap, '__version__', '')}".strip(),
                            "n_neighbors": min(15, len(X) - 1), "min_dist": 0.1, "supervised": target is not None}
    options: dict[str, Any] = {}
    if target is not None:
        used["target_metric"] = options["target_metric"] = target[1]
    reducer = umap.UMAP(n_components=n_components, metric=metric, random_state=seed, n_jobs=1,  # seeded: 1 thread
                        n_neighbors=used["n_neighbors"], min_dist=used["min_dist"], **options)
    coords = reducer.fit_transform(X, y=None if target is None else target[0])
    return np.asarray(coords, dtype=np.float64), used, reducer


def transform(reducer: Any, X: np.ndarray) -> np.ndarray:
    """Place the rows of ``X`` into the map ``reducer`` was fitted to (the map does not move)."""
    return np.asarray(reducer.transform(X), dtype=np.float64)
