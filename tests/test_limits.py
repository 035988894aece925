"""Limits from environment variables: the forms a person writes, and a clear refusal for the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import inspector
from inspector import limits
from inspector.errors import InspectorError
from inspector.limits import parse_limit

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_models" / "otto_mlp" / "model.keras"


@pytest.mark.parametrize(("text", "value"), [
    ("100000", 100_000), ("100_000", 100_000), ("1e5", 100_000), ("1E5", 100_000), ("2.5e5", 250_000),
    (" 42\n", 42), ("+7", 7), ("1e18", 10**18), ("9223372036854775808", 2**63),
])
def test_accepted_forms(text: str, value: int) -> None:
    assert parse_limit("KERAS_INSPECTOR_MAX_POINTS", text) == value


@pytest.mark.parametrize("text", ["lots", "500MB", "1.5", "0", "-3", "1e-3", "inf", "nan", "1e400", "0x10",
                                  "2**30", "_1", "1_", "1e19", "1e999999999", "9223372036854775809"])
def test_refused_forms_say_what_and_how(text: str) -> None:
    with pytest.raises(InspectorError) as info:
        parse_limit("KERAS_INSPECTOR_MAX_POINTS", text)
    err = info.value
    assert "KERAS_INSPECTOR_MAX_POINTS" in err.what and "positive whole number" in err.what
    assert repr(text) in err.received
    assert "1e5" in err.fix and "(100,000)" in err.fix  # the default of that limit


def test_environment_is_read_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "_current", None)
    monkeypatch.setenv("KERAS_INSPECTOR_MAX_POINTS", "2e3")
    monkeypatch.setenv("KERAS_INSPECTOR_MAX_UPLOAD_BYTES", "1_048_576")
    got = inspector.get_limits()
    assert (got.max_points, got.max_upload_bytes) == (2000, 2**20)
    assert got.max_samples == inspector.Limits().max_samples
    previous = inspector.set_limits(max_points=5)
    assert previous.max_points == 2000 and inspector.get_limits().max_points == 5


def test_bad_environment_is_an_inspector_error_not_an_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "_current", None)
    monkeypatch.setenv("KERAS_INSPECTOR_MAX_SAMPLES", "ten")
    with pytest.raises(InspectorError, match="KERAS_INSPECTOR_MAX_SAMPLES"):
        inspector.get_limits()
    with pytest.raises(InspectorError):
        inspector.set_limits(max_points=10)  # still refused: nothing half-applied
    monkeypatch.setenv("KERAS_INSPECTOR_MAX_SAMPLES", "10")
    assert inspector.get_limits().max_samples == 10


def run_summary(value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KERAS_INSPECTOR_MAX_POINTS": value, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "inspector", "summary", str(SAMPLE), "--format", "csv"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO, stdin=subprocess.DEVNULL)


def test_cli_takes_1e5_and_refuses_garbage_with_exit_3() -> None:
    good = run_summary("1e5")
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("id,name,class_name") and "softmax,Activation" in good.stdout
    bad = run_summary("100k")
    assert bad.returncode == 3, bad.stderr
    assert "KERAS_INSPECTOR_MAX_POINTS" in bad.stderr and "'100k'" in bad.stderr
    assert "unexpected" not in bad.stderr and "Traceback" not in bad.stderr
