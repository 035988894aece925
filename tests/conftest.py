"""Shared test fixtures: quiet TensorFlow, the real-models folder, temporary model files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
REAL_MODELS = REPO.parent / "shared" / "real_models"


@pytest.fixture(scope="session")
def real_models() -> Path:
    """The folder of real saved models from public repositories (beside the repo)."""
    if not (REAL_MODELS / "MANIFEST.md").exists():
        pytest.skip(f"real models folder absent: {REAL_MODELS} (it is shared material, not part of the repo)")
    return REAL_MODELS
