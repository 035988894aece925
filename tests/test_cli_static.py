"""The static path: reading, drawing and tabulating a file never imports TensorFlow (issue 26).

Fresh processes check ``sys.modules`` after the library's static functions and the CLI's ``summary``
and ``graph`` ran on the bundled samples (.keras, legacy .h5, a Lambda model); in this process the
CLI's static tables are compared with the ones of the model Keras builds (``--load``), and a file
whose shapes only Keras computes imports it, with a note.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import keras
import pytest

from inspector.cli import main

SAMPLES = ["sample_models/nested_gan/model.keras", "sample_models/otto_mlp/model.h5",
           "sample_models/lambda_merge/model.keras", "sample_models/masked_text/model.keras"]


def test_static_functions_and_commands_leave_tensorflow_out(tmp_path):
    outputs = [tmp_path / f"g.{suffix}" for suffix in ("svg", "html", "json", "dot")]
    code = f"""
import sys
import inspector
from inspector.cli import main
for path in {SAMPLES!r}:
    graph = inspector.static_graph(path)
    inspector.summary_frame(graph)
    inspector.to_html(graph)
    assert main(["summary", path, "--quiet"]) == 0
    assert main(["summary", path, "--quiet", "--format", "json"]) == 0
    assert main(["graph", path, "--quiet", *[a for o in {[str(o) for o in outputs]!r} for a in ("-o", o)]]) == 0
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules), file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"
    assert all(o.stat().st_size > 0 for o in outputs)


def _rows(capsys, *args: str) -> list[dict[str, str]]:
    assert main(["summary", *args, "--format", "csv", "--quiet"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


@pytest.mark.parametrize("path", SAMPLES[:2])
def test_the_static_summary_is_the_loaded_models(path, capsys):
    static, loaded = _rows(capsys, path), _rows(capsys, path, "--load")
    columns = ["id", "class_name", "output_shape", "dtype", "params", "trainable_params", "connected_to", "macs",
               "output_bytes"]
    assert [[r[c] for c in columns] for r in static] == [[r[c] for c in columns] for r in loaded]
    assert main(["summary", path, "--format", "json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "static"
    assert main(["summary", path, "--format", "json", "--load", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "keras"


def test_a_shape_only_keras_computes_imports_it_with_a_note(tmp_path):
    # EinsumDense's output shape is not computed without Keras, and as the last layer no consumer records it
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2),
                              keras.layers.EinsumDense("ab,bc->ac", output_shape=5)])
    path = tmp_path / "einsum.keras"
    model.save(path)
    result = subprocess.run([sys.executable, "-m", "inspector", "summary", str(path), "--format", "json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "needed Keras's own arithmetic" in result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == "static"
    assert [row["output_shape"] for row in document["layers"]][-2:] == ["(None, 2)", "(None, 5)"]
    assert document["total_params"] == model.count_params()
