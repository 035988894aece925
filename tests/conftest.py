"""Shared test fixtures: quiet TensorFlow, the real-models folder, the hostile corpus."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hostile_corpus import CORPUS_LIMITS, build_corpus

import inspector

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


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The hostile/malformed corpus of ``hostile_corpus.py``, written once per session."""
    folder = tmp_path_factory.mktemp("hostile")
    return folder, build_corpus(folder)


@pytest.fixture
def corpus(corpus_files: tuple[Path, dict]):
    """The corpus with the limits it is built for, and its evil module importable (to prove it never is)."""
    folder, cases = corpus_files
    previous = inspector.set_limits(**CORPUS_LIMITS)
    sys.path.insert(0, str(folder))
    try:
        yield folder, cases
    finally:
        sys.path.remove(str(folder))
        inspector.set_limits(**vars(previous))
