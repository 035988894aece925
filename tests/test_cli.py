"""The command line, run for real: ``python -m inspector ...`` as a subprocess on model files in tmp_path.

Each sub-command is checked on what it writes (files that parse, with the expected
shape and content) and on its exit code: 0 success, 2 usage error, 3 an explained
error without a traceback.  Keras is imported only by the fixture that builds the
models, so the TensorFlow-free tests (help, usage errors, missing and broken files)
run in well under a second each.  Every model-running subprocess imports TensorFlow
(5-15 s), so each sub-command runs a model as a subprocess once or twice, checking
several outputs per run, and the variants (formats, flags, errors) call
``inspector.cli.main`` in this process, where Keras is already imported.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inspector
from inspector.cli import main
from inspector.rendering.summary import SUMMARY_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_models"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SUBCOMMANDS = ["summary", "graph", "activations", "profile", "project", "explain", "diff", "app"]


def run_cli(*args: object, timeout: float = 240, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m inspector ARGS`` with stdout and stderr captured (so stdout is a pipe, not a terminal)."""
    return subprocess.run([sys.executable, "-m", "inspector", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd, stdin=subprocess.DEVNULL)


def run_main(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``inspector.cli.main(ARGS)`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    # TensorFlow's native start-up lines (absl, oneDNN, CUDA) are hidden; Python tracebacks never shown
    for noise in ("Traceback", "absl::InitializeLog", "oneDNN", "cuda"):
        assert noise not in result.stderr, result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str], *, code: int = 3) -> str:
    """The stderr of a run that must fail with ``code`` and a message, never a traceback."""
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    if code == 3:
        assert result.stderr.startswith("error: "), result.stderr
        assert "Fix:" in result.stderr, result.stderr
    return result.stderr


# ------------------------------------------------------------------------------ models
@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny real models and data files, saved once for the module."""
    import keras
    import zoo

    folder = tmp_path_factory.mktemp("cli_models")
    paths: dict[str, Path] = {}
    for name in ("lambda_abs", "masking", "nested_3_levels"):
        paths[name] = folder / f"{name}.keras"
        zoo.ZOO[name]().save(paths[name])
    paths["sequential_mlp"] = folder / "sequential_mlp.keras"
    _mlp(keras).save(paths["sequential_mlp"])
    paths["branches"] = folder / "branches.keras"
    _branches_and_nested(keras).save(paths["branches"])
    rng = np.random.default_rng(0)
    paths["x_mlp.npy"] = folder / "x_mlp.npy"
    np.save(paths["x_mlp.npy"], rng.normal(size=(10, 8)).astype("float32"))
    paths["x_mlp.csv"] = folder / "x_mlp.csv"
    np.savetxt(paths["x_mlp.csv"], rng.normal(size=(7, 8)), delimiter=",", comments="",
               header=",".join(f"f{i}" for i in range(8)))
    paths["x_abs.npy"] = folder / "x_abs.npy"
    np.save(paths["x_abs.npy"], -np.arange(12, dtype="float32").reshape(4, 3))
    return paths


def _mlp(keras):
    """8 features → Dense(16, relu) → Dense(3, softmax); every layer named, so ids do not depend on test order."""
    return keras.Sequential([keras.Input((8,), name="features"), keras.layers.Dense(16, "relu", name="hidden"),
                             keras.layers.Dense(3, "softmax", name="probs")], name="sequential_mlp")


def _branches_and_nested(keras):
    """Four identical parallel branches (folded into one ×4 node by default) and a nested model."""
    x = keras.Input((6,), name="x")
    branches = [keras.layers.Dense(2, name=f"branch_{i}")(x) for i in range(4)]
    joined = keras.layers.Concatenate(name="join")(branches)
    head = keras.Sequential([keras.Input((8,), name="head_in"), keras.layers.Dense(3, name="inner_dense")],
                            name="head")
    return keras.Model(x, head(joined), name="branches_and_nested")


# ------------------------------------------------------------------------------ no TensorFlow needed
def test_version():
    import inspector

    result = ok(run_cli("--version"))
    assert result.stdout.strip() == f"keras-inspector {inspector.__version__}"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_every_subcommand_shows_an_example(command):
    result = ok(run_cli(command, "--help"))
    assert result.stdout.startswith(f"usage: keras-inspector {command}")
    assert "examples:" in result.stdout
    assert f"keras-inspector {command} " in result.stdout.split("examples:")[1]
    for flag in ("--quiet", "--debug", "--trust"):
        assert flag in result.stdout


def test_top_level_help_lists_commands_and_exit_codes():
    result = ok(run_cli("--help"))
    for command in SUBCOMMANDS:
        assert command in result.stdout
    assert "exit codes" in result.stdout


def test_cli_public_names():
    import inspector.cli
    from inspector.cli import parser, program

    assert inspector.cli.__all__ == ["main"] and inspector.cli.main is program.main
    assert program.__all__ == ["ExitCode", "main"]
    assert parser.__all__ == ["PROG", "TableFormat", "GraphFormat", "DiffGraphFormat", "build_parser"]
    assert [int(code) for code in program.ExitCode] == [0, 1, 2, 3, 130]
    assert all(callable(getattr(parser, name)) for name in parser.__all__ if name != "PROG")


def test_importing_the_cli_does_not_import_tensorflow():
    code = ("import sys, inspector.cli.program, inspector.__main__; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'pandas', 'streamlit') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [
    ["summary"],  # MODEL missing
    ["summary", "m.keras", "--no-such-flag"],
    ["summary", "m.keras", "--format", "xml"],
    ["graph", "m.keras"],  # -o missing
    ["graph", "m.keras", "-o", "graph.gif"],  # suffix names no format
    ["graph", "m.keras", "-o", "g.svg", "--rankdir", "up"],
    ["graph", "m.keras", "-o", "g.svg", "--expand-depth", "-1"],
    ["activations", "m.keras", "--input", "x.npy", "-o", "a.npy"],  # --layer missing
    ["activations", "m.keras", "--layer", "0", "--input", "x.npy", "-o", "a.txt"],
    ["activations", "m.keras", "--layer", "0", "--input", "x.npy", "--batch-size", "0", "--stats"],
    ["project", "m.keras", "--layer", "e", "--dims", "4", "-o", "c.csv"],
    ["project", "m.keras", "--layer", "e", "--method", "tsne", "-o", "c.csv"],
    ["app", "--port", "70000"],
    [],  # no sub-command
    ["frobnicate"],
])
def test_usage_errors_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert "usage: keras-inspector" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [
    ["summary", "{missing}"],
    ["graph", "{missing}", "-o", "{tmp}/g.svg"],
    ["activations", "{missing}", "--layer", "0", "--input", "{data}", "--stats"],
    ["project", "{missing}", "--layer", "embed", "-o", "{tmp}/c.csv"],
    ["app", "{missing}"],
])
def test_missing_model_file_exits_3(command, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 8), "float32"))
    values = {"missing": tmp_path / "nope.keras", "tmp": tmp_path, "data": tmp_path / "x.npy"}
    stderr = refused(run_cli(*[part.format(**values) for part in command]))
    assert "nope.keras" in stderr


@pytest.mark.parametrize("content", [b"", b"this is not a model\n", b"PK\x03\x04 truncated zip",
                                     b"\x89HDF\r\n\x1a\n truncated hdf5"], ids=["empty", "text", "zip", "hdf5"])
@pytest.mark.parametrize("command", ["summary", "graph"])
def test_broken_model_file_exits_3_without_traceback(content, command, tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(content)
    args = [command, broken] + (["-o", tmp_path / "g.svg"] if command == "graph" else [])
    stderr = refused(run_cli(*args))
    assert "Received:" in stderr
    assert not (tmp_path / "g.svg").exists()


def test_missing_data_file_exits_3_before_loading_the_model(tmp_path):
    broken_model = tmp_path / "never_read.keras"
    broken_model.write_bytes(b"")  # data is checked first: the model file is not even opened
    stderr = refused(run_cli("activations", broken_model, "--layer", "0", "--input", tmp_path / "nope.npy",
                             "--stats"))
    assert "data file does not exist" in stderr


def test_output_folder_must_exist(tmp_path):
    stderr = refused(run_cli("graph", tmp_path / "m.keras", "-o", tmp_path / "no" / "such" / "g.svg"))
    assert "output folder does not exist" in stderr


def test_activations_refuses_npy_for_several_layers(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 8), "float32"))
    stderr = refused(run_cli("activations", tmp_path / "m.keras", "--layer", "a", "--layer", "b",
                             "--input", tmp_path / "x.npy", "-o", tmp_path / "a.npy"))
    assert ".npz" in stderr


def test_activations_needs_an_output_or_stats(tmp_path):
    stderr = refused(run_cli("activations", tmp_path / "m.keras", "--layer", "0", "--input", tmp_path / "x.npy"))
    assert "--stats" in stderr and "-o" in stderr


def test_debug_shows_the_traceback_of_a_refusal(tmp_path):
    result = run_cli("summary", tmp_path / "nope.keras", "--debug")
    assert result.returncode == 3
    assert "Traceback" in result.stderr and "ModelFormatError" in result.stderr
    assert result.stderr.rstrip().splitlines()[-3].startswith("error: No model file")


def test_an_unexpected_error_exits_1_with_one_line_and_a_hint(monkeypatch, capsys):
    from inspector.cli import program

    def broken_command(args):  # a bug inside a command: something that is not an InspectorError
        raise KeyError("layer_count")

    monkeypatch.setitem(program._COMMANDS, "summary", broken_command)
    code, out, err = run_main(capsys, "summary", "m.keras")
    assert (code, out) == (1, "")
    assert "Traceback" not in err and "unexpected KeyError: 'layer_count'" in err and "--debug" in err
    code, _, err = run_main(capsys, "summary", "m.keras", "--debug")
    assert code == 1 and "Traceback" in err and "broken_command" in err


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("keras-inspector")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable} (package not installed with pip)")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("keras-inspector ")


# ------------------------------------------------------------------------------ summary
def test_summary_table_when_piped_is_plain_text_with_totals(models):
    import keras

    result = ok(run_cli("summary", models["sequential_mlp"]))
    assert not ANSI.search(result.stdout), repr(result.stdout[:200])
    lines = result.stdout.splitlines()
    assert lines[0] == "Model: sequential_mlp"
    assert lines[1].split() == ["Layer", "Type", "Output", "shape", "Params", "Connected", "to"]
    rows = {line.split()[0]: line for line in lines[3:] if line and not line.startswith("Total")}
    assert set(rows) == {"features", "hidden", "probs"}
    assert rows["hidden"].split()[-2:] == ["144", "features"]
    count = keras.saving.load_model(models["sequential_mlp"]).count_params()
    assert lines[-1].startswith(f"Total params: {count:,} ")
    assert lines[-1].endswith(f"MACs per sample: {8 * 16 + 16 * 3}")
    assert result.stderr == ""


def test_summary_in_a_terminal_is_a_rich_table(models):
    main, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "inspector", "summary", str(models["sequential_mlp"])],
                               stdout=secondary, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(main)
    assert process.wait(timeout=60) == 0, process.stderr.read()
    text = output.decode("utf-8", "replace")
    assert ANSI.search(text), "a terminal gets colour"
    plain = ANSI.sub("", text)
    assert "━" in plain or "─" in plain, plain  # rich's box drawing
    assert "probs" in plain and "Total params: 195" in plain


def test_summary_json_parses_and_adds_up(models, capsys):
    import keras

    code, out, err = run_main(capsys, "summary", models["nested_3_levels"], "--format", "json", "--load")
    assert code == 0, err
    document = json.loads(out)
    model = keras.saving.load_model(models["nested_3_levels"])
    assert document["model"] == "nested_3_levels" and document["source"] == "keras"
    assert document["total_params"] == model.count_params()
    assert document["total_macs"] == 6 * 4 + 4 + 4 * 2  # deep_dense, deep_bn, mid_dense
    top = [row for row in document["layers"] if row["depth"] == 0]
    assert sum(row["params"] for row in top) == model.count_params()
    assert sum(row["macs"] for row in top) == document["total_macs"]
    assert {"level2/level3/deep_bn", "level2/mid_dense"} <= {row["id"] for row in document["layers"]}
    assert set(document["layers"][0]) == set(SUMMARY_COLUMNS)


def test_summary_csv_has_every_column_and_one_row_per_node(models, capsys):
    code, out, err = run_main(capsys, "summary", models["branches"], "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    assert [r["id"] for r in rows] == ["x", "branch_0", "branch_1", "branch_2", "branch_3", "join", "head",
                                       "head/head_in", "head/inner_dense"]
    assert [int(r["params"]) for r in rows] == [0, 14, 14, 14, 14, 0, 27, 0, 27]
    assert rows[5]["connected_to"] == "branch_0, branch_1, branch_2, branch_3"


def test_summary_markdown_is_a_table(models, capsys):
    code, out, err = run_main(capsys, "summary", models["branches"], "--format", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| Layer | Type | Output shape | Params | Connected to |"
    assert table[1] == "| --- | --- | --- | ---: | --- |"
    assert any(line.startswith("| branch_3 | Dense | (None, 2) | 14 | x |") for line in table)
    assert "| join | Concatenate | (None, 8) | 0 | branch_0, branch_1, branch_2, branch_3 |" in table
    assert lines[-1].startswith(f"Total params: {4 * (6 * 2 + 2) + 8 * 3 + 3} ")


def test_summary_of_a_lambda_model_without_trust_is_the_static_view(models):
    result = ok(run_cli("summary", models["lambda_abs"]))
    assert "Model: lambda_abs (static view)" in result.stdout
    assert "abs" in result.stdout and "Lambda" in result.stdout
    assert "note: Static view" in result.stderr and "trust" in result.stderr
    assert ok(run_cli("summary", models["lambda_abs"], "--quiet")).stderr == ""


# ------------------------------------------------------------------------------ graph
def test_graph_writes_every_format_from_one_run(models, tmp_path):
    outputs = {fmt: tmp_path / f"graph.{fmt}" for fmt in ("svg", "png", "pdf", "dot", "json", "html")}
    args = [x for path in outputs.values() for x in ("-o", path)]
    result = ok(run_cli("graph", models["branches"], *args, "--rankdir", "lr", "--expand-depth", "0"))
    for path in outputs.values():
        assert f"wrote {path}" in result.stderr
    svg = ET.parse(outputs["svg"]).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert outputs["png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert outputs["pdf"].read_bytes().startswith(b"%PDF-")
    dot = outputs["dot"].read_text()
    assert dot.startswith('digraph "branches_and_nested"') and "rankdir=LR" in dot
    assert "inner_dense" not in dot  # --expand-depth 0: the nested model is one box
    assert "×4" in dot  # the four parallel branches are folded by default
    document = json.loads(outputs["json"].read_text())
    assert document["schema"] == "keras-inspector/model-graph"
    assert document["graph"]["total_params"] == 4 * (6 * 2 + 2) + 8 * 3 + 3
    assert any(node["kind"] == "group" and len(node["members"]) == 4 for node in document["nodes"])
    assert "inner_dense" in json.dumps(document["nested"])  # JSON keeps the nested graph whole
    html = outputs["html"].read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "branches_and_nested" in html


def test_graph_no_fold_draws_every_branch(models, tmp_path, capsys):
    code, out, err = run_main(capsys, "graph", models["branches"], "-o", tmp_path / "g.dot", "-o",
                              tmp_path / "g.json", "--no-fold", "--quiet")
    assert (code, out, err) == (0, "", "")
    dot = (tmp_path / "g.dot").read_text()
    assert all(f"branch_{i}" in dot for i in range(4)) and "×4" not in dot
    assert "inner_dense" in dot  # expand-depth defaults to all levels
    nodes = json.loads((tmp_path / "g.json").read_text())["nodes"]
    assert [n["id"] for n in nodes] == ["x", "branch_0", "branch_1", "branch_2", "branch_3", "join", "head"]


def test_graph_opens_or_closes_one_nested_model(models, tmp_path, capsys):
    out = tmp_path / "g.dot"
    code, _, err = run_main(capsys, "graph", models["branches"], "-o", out, "--expand-depth", "0",
                            "--expand-model", "head", "--quiet")
    assert (code, err) == (0, "")
    assert "inner_dense" in out.read_text() and "subgraph cluster_0" in out.read_text()
    code, _, _ = run_main(capsys, "graph", models["branches"], "-o", out, "--collapse-model", "head", "--quiet")
    assert code == 0 and "inner_dense" not in out.read_text()
    code, _, err = run_main(capsys, "graph", models["branches"], "-o", out, "--expand-model", "join")
    assert code == 3 and "a layer, not a nested model" in err and "'head'" in err


# ------------------------------------------------------------------------------ activations
def test_activations_of_one_layer_to_npy(models, tmp_path, capsys):
    out = tmp_path / "hidden.npy"
    code, _, err = run_main(capsys, "activations", models["sequential_mlp"], "--layer", "hidden", "--input",
                            models["x_mlp.npy"], "-o", out)
    assert code == 0 and f"wrote {out}: hidden (10, 16) float32" in err, err
    values = np.load(out, allow_pickle=False)
    assert values.shape == (10, 16) and values.dtype == np.float32
    assert (values >= 0).all() and (values > 0).any()  # relu


def test_activations_of_all_layers_to_npz_with_stats_from_csv(models, tmp_path):
    out = tmp_path / "all.npz"
    result = ok(run_cli("activations", models["sequential_mlp"], "--layer", "all", "--input", models["x_mlp.csv"],
                        "-o", out, "--stats", "--batch-size", "3", "--format", "csv"))
    with np.load(out, allow_pickle=False) as arrays:
        shapes = {key: arrays[key].shape for key in arrays.files}
        probabilities = arrays["probs"]
    assert shapes == {"hidden": (7, 16), "probs": (7, 3)}
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)  # softmax rows
    stats = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["layer"] for row in stats] == ["hidden", "probs"]
    assert {"mean", "std", "min", "max", "zero_fraction", "dead_fraction"} <= set(stats[0])
    assert int(stats[0]["count"]) == 7 * 16
    assert float(stats[1]["min"]) >= 0 and float(stats[1]["max"]) <= 1


def test_activations_of_a_lambda_model_need_trust(models, tmp_path):
    args = ["activations", models["lambda_abs"], "--layer", "abs", "--input", models["x_abs.npy"]]
    stderr = refused(run_cli(*args, "-o", tmp_path / "abs.npy"))
    assert "--trust" in stderr and "not trusted" in stderr
    assert not (tmp_path / "abs.npy").exists()
    ok(run_cli(*args, "-o", tmp_path / "abs.npy", "--trust", "--quiet"))
    np.testing.assert_array_equal(np.load(tmp_path / "abs.npy"), np.arange(12, dtype="float32").reshape(4, 3))


def test_activations_explain_a_wrong_layer_and_wrong_data(models, capsys):
    code, _, err = run_main(capsys, "activations", models["sequential_mlp"], "--layer", "no_such_layer",
                            "--input", models["x_mlp.npy"], "--stats")
    assert code == 3 and err.startswith("error: ") and "Traceback" not in err
    assert "no_such_layer" in err and "'hidden'" in err  # the valid choices are listed
    code, _, err = run_main(capsys, "activations", models["sequential_mlp"], "--layer", "hidden",
                            "--input", models["x_abs.npy"], "--stats")
    assert code == 3 and "(4, 3)" in err and "(None, 8)" in err  # received vs expected shape


# ------------------------------------------------------------------------------ project


def test_project_embedding_with_umap_to_a_standalone_html_page(models, tmp_path):
    out = tmp_path / "plot.html"
    result = ok(run_cli("project", models["masking"], "--layer", "embed", "--dims", "3", "-o", out))
    assert f"wrote {out} (UMAP, 3 dimensions)" in result.stderr
    html = out.read_text()
    assert html.lstrip().lower().startswith("<html") or html.lstrip().lower().startswith("<!doctype html")
    assert '"type":"scatter3d"' in html.replace(" ", ""), "a 3-D scatter"
    external = re.findall(r"<script[^>]*\bsrc=[^>]*>", html)
    assert external == [] and len(html) > 1_000_000  # plotly.js is inlined: the page works offline


def test_project_embedding_with_pca_to_csv(models, tmp_path, capsys):
    out = tmp_path / "coords.csv"
    code, _, err = run_main(capsys, "project", models["masking"], "--layer", "embed", "--method", "pca",
                            "--dims", "3", "-o", out)
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["index", "label", "x", "y", "z", "is_padding"]
    assert [int(r["index"]) for r in rows] == list(range(20))  # Embedding(20, 4): one point per index
    assert rows[0]["is_padding"] == "True" and rows[1]["is_padding"] == "False"  # mask_zero


def test_project_embedding_with_umap_learn_gives_the_librarys_map(models, tmp_path, capsys):
    pytest.importorskip("umap", reason="umap-learn (the optional extra) is not installed")
    out = tmp_path / "coords.csv"
    code, _, err = run_main(capsys, "project", models["masking"], "--layer", "embed", "--method", "umap-learn",
                            "-o", out)
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    expected = inspector.project_embedding(inspector.load_model(models["masking"]), "embed", method="umap-learn")
    np.testing.assert_allclose([[float(r["x"]), float(r["y"])] for r in rows], expected.frame[["x", "y"]].to_numpy(),
                               rtol=1e-5, atol=1e-5)


def test_project_activations_from_an_input_file(models, tmp_path, capsys):
    out = tmp_path / "hidden.csv"
    code, _, err = run_main(capsys, "project", models["sequential_mlp"], "--layer", "hidden", "--method", "pca",
                            "--input", models["x_mlp.npy"], "-o", out)
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10 and {"x", "y", "label"} <= set(rows[0])
    assert {r["label"] for r in rows} <= {"0", "1", "2"}  # labelled by the predicted class of 3


def test_project_refuses_a_layer_that_is_not_an_embedding(models, tmp_path, capsys):
    code, _, err = run_main(capsys, "project", models["sequential_mlp"], "--layer", "hidden", "-o",
                            tmp_path / "c.csv")
    assert code == 3 and err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "c.csv").exists()


# ------------------------------------------------------------------------------ sample models
@pytest.mark.skipif(not (SAMPLES / "otto_mlp" / "model.keras").exists(), reason="sample_models/otto_mlp absent")
def test_sample_model_summary_and_activations(models, tmp_path, capsys):
    metadata = json.loads((SAMPLES / "otto_mlp" / "metadata.json").read_text())
    code, out, err = run_main(capsys, "summary", SAMPLES / "otto_mlp" / "model.h5", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["total_params"] == metadata["params"]
    out = tmp_path / "hidden.npy"
    code, _, err = run_main(capsys, "activations", SAMPLES / "otto_mlp" / "model.keras", "--layer", "hidden",
                            "--input", SAMPLES / "otto_mlp" / "inputs.npz", "-o", out)
    assert code == 0, err
    assert np.load(out).shape == (200, 100)  # 200 sample rows through Dense(100)


# ------------------------------------------------------------------------------ --custom-objects
_SIAMESE_MODULE = """\
import pathlib

import keras

pathlib.Path({marker!r}).write_text("imported")  # a side effect: proves whether the module ran


class L1Dist(keras.layers.Layer):
    def call(self, anchor, validation_embed=None):
        return keras.ops.abs(anchor - validation_embed)


def _helper():  # private: not offered to Keras
    return None
"""


@pytest.fixture(scope="module")
def siamese(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A Siamese model whose user layer gets a tensor by keyword (``L1Dist()(a, validation_embed=b)``), saved."""
    import keras

    class L1Dist(keras.layers.Layer):  # the user's class; the CLI gets it from the module file, never from here
        def call(self, anchor, validation_embed=None):
            return keras.ops.abs(anchor - validation_embed)

    folder = tmp_path_factory.mktemp("siamese")
    a, b = keras.Input((5,), name="input_a"), keras.Input((5,), name="input_b")
    embed = keras.layers.Dense(4, name="embed")
    distance = L1Dist(name="l1")(embed(a), validation_embed=embed(b))
    out = keras.layers.Dense(1, activation="sigmoid", name="out")(distance)
    model = keras.Model([a, b], out, name="siamese")
    model.save(folder / "siamese.keras")
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(6, 5)).astype("float32"), rng.normal(size=(6, 5)).astype("float32")
    np.savez(folder / "pairs.npz", input_a=xa, input_b=xb)
    marker = folder / "module_ran.txt"
    (folder / "siamese_layers.py").write_text(_SIAMESE_MODULE.format(marker=str(marker)))
    w, c = (np.asarray(v) for v in model.get_layer("embed").weights)
    w2, c2 = (np.asarray(v) for v in model.get_layer("out").weights)
    distance = np.abs((xa @ w + c) - (xb @ w + c))  # NumPy, from the weights of the model before it was saved
    return {"folder": folder, "model": folder / "siamese.keras", "data": folder / "pairs.npz",
            "module": folder / "siamese_layers.py", "marker": marker, "l1": distance,
            "out": 1 / (1 + np.exp(-(distance @ w2 + c2)))}


@pytest.mark.parametrize("command", ["summary", "graph", "activations", "profile", "project", "diff"])
def test_custom_objects_module_is_never_imported_without_trust(siamese, command, capsys):
    siamese["marker"].unlink(missing_ok=True)
    model, data = siamese["model"], siamese["data"]
    args = {"summary": [model], "graph": [model, "-o", siamese["folder"] / "g.svg"],
            "activations": [model, "--layer", "l1", "--input", data, "--stats"],
            "profile": [model, "--input", data], "project": [model, "--layer", "l1", "-o", siamese["folder"] / "p.csv"],
            "diff": [model, model]}[command]
    code, out, err = run_main(capsys, command, *args, "--custom-objects", siamese["module"])
    assert code == 3, err
    assert "needs --trust" in err and "was not imported" in err and "Fix:" in err
    assert not siamese["marker"].exists()  # the module's code never ran
    assert out == ""


def test_custom_objects_module_loads_a_user_class_called_with_a_keyword_tensor(siamese, tmp_path):
    siamese["marker"].unlink(missing_ok=True)
    output = tmp_path / "acts.npz"
    ok(run_cli("activations", siamese["model"], "--layer", "l1", "--layer", "out", "--input", siamese["data"],
               "-o", output, "--trust", "--custom-objects", siamese["module"]))
    assert siamese["marker"].read_text() == "imported"
    with np.load(output) as arrays:
        np.testing.assert_allclose(arrays["l1"], siamese["l1"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(arrays["out"], siamese["out"], rtol=1e-5, atol=1e-6)


def test_custom_objects_summary_is_the_loaded_model_not_the_static_view(siamese, capsys):
    code, out, err = run_main(capsys, "summary", siamese["model"], "--format", "json", "--trust",
                              "--custom-objects", siamese["module"])
    assert code == 0, err
    document = json.loads(out)
    assert document["source"] == "keras"
    assert {"l1": "L1Dist"}.items() <= {row["id"]: row["class_name"] for row in document["layers"]}.items()
    code, out, err = run_main(capsys, "summary", siamese["model"], "--format", "json", "--trust")
    assert json.loads(out)["source"] == "static"  # without the module Keras cannot rebuild L1Dist


def test_custom_objects_dict_chooses_the_names(siamese, tmp_path, capsys):
    module = tmp_path / "chosen.py"
    module.write_text(siamese["module"].read_text().replace("class L1Dist", "class Distance")
                      + "\nCUSTOM_OBJECTS = {'L1Dist': Distance}\n")
    code, out, err = run_main(capsys, "summary", siamese["model"], "--format", "json", "--trust",
                              "--custom-objects", module)
    assert code == 0, err
    assert json.loads(out)["source"] == "keras"


@pytest.mark.parametrize(("content", "message"), [
    ("x = 1\n", "defines no public class or function"),
    ("CUSTOM_OBJECTS = [1]\n", "must be a dict"),
    ("raise RuntimeError('broken module')\n", "RuntimeError: broken module"),
])
def test_custom_objects_module_errors_are_explained(siamese, tmp_path, capsys, content, message):
    module = tmp_path / "bad.py"
    module.write_text(content)
    code, _, err = run_main(capsys, "summary", siamese["model"], "--trust", "--custom-objects", module)
    assert code == 3 and message in err and "Traceback" not in err, err


# ------------------------------------------------------------------------------ app
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("trust", [False, True], ids=["untrusted", "trusted"])
def test_app_serves_with_a_preloaded_model(models, tmp_path, trust):
    port = _free_port()
    log = (tmp_path / "app.log").open("w")
    # an inherited permission must not leak into the server: only --trust grants it
    env = {**os.environ, "KERAS_INSPECTOR_ALLOW_TRUST": "1"}
    process = subprocess.Popen([sys.executable, "-m", "inspector", "app", str(models["sequential_mlp"]),
                                "--port", str(port), *(["--trust"] if trust else [])], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 90
        status = ""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as response:
                    status = response.read().decode()
                if status == "ok":
                    break
            except OSError:
                time.sleep(0.5)
        assert status == "ok", (tmp_path / "app.log").read_text()
        environ = Path(f"/proc/{process.pid}/environ")  # the CLI became the server (exec), same pid
        if environ.exists():
            variables = dict(v.split("=", 1) for v in environ.read_text().split("\0") if "=" in v)
            assert variables["KERAS_INSPECTOR_PRELOAD"] == str(models["sequential_mlp"].resolve())
            assert variables.get("KERAS_INSPECTOR_ALLOW_TRUST") == ("1" if trust else None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()

