"""`keras-inspector profile` and `graph --color-by`: run for real on a model file and data files in tmp_path."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inspector.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import keras

    folder = tmp_path_factory.mktemp("profile")
    x = keras.Input((8, 8, 3), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    h = keras.layers.Flatten(name="flat")(h)
    model = keras.Model(x, keras.layers.Dense(2, name="head")(h), name="small_cnn")
    model.save(folder / "cnn.keras")
    np.save(folder / "X.npy", np.random.default_rng(0).random((16, 8, 8, 3), dtype=np.float32))
    return {"model": folder / "cnn.keras", "X": folder / "X.npy", "folder": folder}


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_profile_csv_then_graph_coloured_by_seconds_as_a_user_would(files):
    """Two real processes: the timing table to a CSV file, then the graph coloured by it."""
    table = files["folder"] / "time.csv"
    done = subprocess.run([sys.executable, "-m", "inspector", "profile", files["model"], "--input", files["X"],
                           "--repeats", "2", "--format", "csv"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "plain model(X)" in done.stderr
    table.write_text(done.stdout)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["id"] for r in rows] == ["conv", "flat", "head"]
    assert sum(float(r["share"]) for r in rows) == pytest.approx(1.0)
    page, svg = files["folder"] / "time.html", files["folder"] / "time.svg"
    outputs = ["-o", page] + (["-o", svg] if shutil.which("dot") else [])
    done = subprocess.run([sys.executable, "-m", "inspector", "graph", files["model"], *outputs,
                           "--color-by", "seconds", "--values", table], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert 'id="ki-scale" data-column="seconds"' in page.read_text()
    if shutil.which("dot"):
        assert "colour: seconds (log scale)" in svg.read_text()


def test_profile_table(files, capsys):
    code, out, _ = run(capsys, "profile", files["model"], "--input", files["X"], "--repeats", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Profile: small_cnn"
    assert lines[1].split() == ["Layer", "Type", "Time", "(ms)", "Share", "(%)"]
    assert [line.split()[0] for line in lines[3:6]] == ["conv", "flat", "head"]
    assert "plain model(X)" in lines[-1] and "16 samples, median of 1, inference mode" in lines[-1]


def test_graph_color_by_macs(files, capsys):
    # .dot: in this process `inspector.rendering` may already be the subpackage rather than the function (see
    # the report of issue 17), so the Graphviz formats are checked in the subprocess test and test_colour.py
    dot = files["folder"] / "macs.dot"
    code, _, err = run(capsys, "graph", files["model"], "-o", dot, "--color-by", "macs")
    assert code == 0, err
    text = dot.read_text()
    assert "colour: macs (log scale)" in text
    # conv: 6·6 positions × 4 filters × 27 = 3,888 MACs, head: 144 × 2 = 288: conv is the darkest
    conv = next(line for line in text.splitlines() if 'tooltip="conv · macs: 3.89 K"' in line)
    head = next(line for line in text.splitlines() if 'tooltip="head · macs: 288"' in line)
    assert 'fillcolor="#bd0026"' in conv and 'fillcolor="#bd0026"' not in head


def test_graph_color_by_errors_exit_3(files, capsys, tmp_path):
    out = tmp_path / "g.dot"
    code, _, err = run(capsys, "graph", files["model"], "-o", out, "--color-by", "seconds")
    assert code == 3 and "values=" in err
    table = tmp_path / "t.csv"
    table.write_text("id,seconds\nconv,0.1\n")
    code, _, err = run(capsys, "graph", files["model"], "-o", out, "--values", table)
    assert code == 3 and "--color-by" in err
    code, _, err = run(capsys, "graph", files["model"], "-o", out, "--color-by", "share", "--values", table)
    assert code == 3 and "'share' column" in err
    code, _, _ = run(capsys, "graph", files["model"], "-o", out, "--color-by", "seconds", "--values", table)
    assert code == 0 and 'fillcolor="#bd0026"' in out.read_text()
    code, _, err = run(capsys, "profile", files["model"], "--input", files["X"], "--repeats", "0")
    assert code == 2
