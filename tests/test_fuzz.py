"""Fuzzing the loader: mutated .keras/.h5 files end in success or an InspectorError, never a crash or hang.

The default run is sized for CI; set KERAS_INSPECTOR_FUZZ_CASES=1000 for the full run.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from fuzz_worker import FAMILIES

CASES = int(os.environ.get("KERAS_INSPECTOR_FUZZ_CASES", "300"))
TIMEOUT = 30


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    x = keras.Input((6,), name="x")
    h = keras.layers.Dense(4, activation="relu", name="hidden")(x)
    h = keras.layers.BatchNormalization(name="bn")(h)
    model = keras.Model(x, keras.layers.Dense(2, name="out")(h), name="fuzzed")
    seq = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="seq")
    paths = [folder / "f.keras", folder / "f.h5", folder / "s.keras", folder / "s.h5"]
    for path, m in zip(paths, [model, model, seq, seq], strict=True):
        m.save(path)
    return paths


@pytest.mark.slow
def test_mutated_files_never_crash_or_hang(originals):
    worker = Path(__file__).with_name("fuzz_worker.py")
    proc = subprocess.run([sys.executable, str(worker), "0", str(CASES), str(TIMEOUT), *map(str, originals)],
                          capture_output=True, text=True, timeout=CASES * TIMEOUT)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    done = [r for r in lines if "outcome" in r]
    started = [r for r in lines if r.get("start")]
    assert proc.returncode == 0, f"worker died (code {proc.returncode}) on case {started[-1] if started else None}: " \
                                 f"{proc.stderr[-2000:]}"
    assert len(done) == CASES
    bad = [r for r in done if r["outcome"] == "HANG" or r["outcome"].startswith("ESCAPED")]
    assert not bad, bad[:10]
    wrong = [r for r in done if r["kind"].startswith("family-")
             and r["outcome"] not in FAMILIES[r["kind"].removeprefix("family-")]]
    assert not wrong, wrong[:10]
    outcomes = collections.Counter(r["outcome"] for r in done)
    assert outcomes["ok"] > 0 and sum(outcomes.values()) - outcomes["ok"] > 0, outcomes
