"""inspector.compare and `keras-inspector diff`: two real models differing by one width, one added Dropout and
+0.01 on one kernel; weight deltas checked against NumPy on the saved weights themselves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

import inspector
from inspector.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_models"


def base_model(mid: int = 8, dropout: bool = False, prefix: str = "") -> keras.Model:
    x = keras.Input((6,), name="features")
    h = keras.layers.Dense(16, activation="relu", name=prefix + "hidden")(x)
    if dropout:
        h = keras.layers.Dropout(0.2, name="dropout")(h)
    h = keras.layers.Dense(mid, activation="relu", name=prefix + "mid")(h)
    return keras.Model(x, keras.layers.Dense(3, name=prefix + "out")(h), name="mlp")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, keras.Model, keras.Model]:
    keras.utils.set_random_seed(1)
    a = base_model()
    b = base_model(mid=12, dropout=True)  # one width changed, one Dropout added
    kernel, bias = a.get_layer("hidden").get_weights()
    b.get_layer("hidden").set_weights([kernel + np.float32(0.01), bias])  # the nudge
    folder = tmp_path_factory.mktemp("diff")
    a.save(folder / "a.keras")
    b.save(folder / "b.keras")
    return folder / "a.keras", folder / "b.keras", a, b


def test_statuses_and_weight_delta_of_the_issue_case(pair) -> None:
    path_a, path_b, a, b = pair
    diff = inspector.compare(path_a, path_b)
    frame = diff.frame.set_index("name")
    assert dict(frame["status"]) == {"features": "same", "hidden": "changed", "dropout": "added",
                                     "mid": "changed", "out": "changed"}
    assert diff.counts() == {"same": 1, "added": 1, "removed": 0, "changed": 3}
    # the nudged kernel: deltas from the two models' own weights, with NumPy
    wa = [w.astype(np.float64) for w in a.get_layer("hidden").get_weights()]
    wb = [w.astype(np.float64) for w in b.get_layer("hidden").get_weights()]
    expected_max = max(np.abs(y - x).max() for x, y in zip(wa, wb, strict=True))
    expected_rel = np.sqrt(sum(((y - x) ** 2).sum() for x, y in zip(wa, wb, strict=True))) / np.sqrt(
        sum((x ** 2).sum() for x in wa))
    assert frame.loc["hidden", "weight_max_abs_diff"] == expected_max
    assert frame.loc["hidden", "weight_max_abs_diff"] == pytest.approx(0.01, abs=1e-6)
    assert frame.loc["hidden", "weight_rel_diff"] == pytest.approx(expected_rel, rel=1e-12)
    assert "weights moved" in frame.loc["hidden", "changes"]
    # the widened layer and the one after it: shapes differ, so no weight delta
    assert (frame.loc["mid", "output_shape_a"], frame.loc["mid", "output_shape_b"]) == ("(None, 8)", "(None, 12)")
    assert (frame.loc["mid", "params_a"], frame.loc["mid", "params_b"]) == (16 * 8 + 8, 16 * 12 + 12)
    assert math.isnan(frame.loc["mid", "weight_max_abs_diff"]) and math.isnan(frame.loc["out", "weight_rel_diff"])
    assert "units 8 → 12" in frame.loc["mid", "changes"]
    assert frame.loc["out", "output_shape_a"] == frame.loc["out", "output_shape_b"] == "(None, 3)"
    # the added layer: nothing on the a side
    assert frame.loc["dropout", "id_a"] == "" and math.isnan(frame.loc["dropout", "params_a"])
    assert list(diff.frame["name"]) == ["features", "hidden", "dropout", "mid", "out"]


def test_models_in_memory_give_the_same_answer_and_identical_models_are_same(pair) -> None:
    path_a, path_b, a, b = pair
    from_files = inspector.compare(path_a, path_b).frame
    in_memory = inspector.compare(a, b).frame
    assert from_files["status"].tolist() == in_memory["status"].tolist()
    assert from_files["weight_max_abs_diff"].equals(in_memory["weight_max_abs_diff"])
    same = inspector.compare(path_a, a)
    assert set(same.frame["status"]) == {"same"}
    assert (same.frame["weight_max_abs_diff"].dropna() == 0).all() and same.marks == {}


def test_removed_is_the_mirror_of_added(pair) -> None:
    path_a, path_b, _, _ = pair
    frame = inspector.compare(path_b, path_a).frame.set_index("name")
    assert frame.loc["dropout", "status"] == "removed" and frame.loc["dropout", "id_b"] == ""
    assert list(frame.index) == ["features", "hidden", "dropout", "mid", "out"]  # removed row where it was


def test_renamed_layers_are_matched_by_position(pair) -> None:
    _, _, a, _ = pair
    renamed = base_model(prefix="v2_")
    renamed.set_weights(a.get_weights())
    frame = inspector.compare(a, renamed).frame
    assert frame["status"].tolist() == ["same"] * 4
    assert frame["id_a"].tolist() == ["features", "hidden", "mid", "out"]
    assert frame["id_b"].tolist() == ["features", "v2_hidden", "v2_mid", "v2_out"]
    assert (frame["weight_max_abs_diff"].dropna() == 0).all()


def test_a_model_that_cannot_load_is_compared_statically_with_nan_weights() -> None:
    path = inspector.get_sample("lambda_merge").path
    diff = inspector.compare(path, path)
    assert inspector.build_graph(path).source.value == "static"
    assert set(diff.frame["status"]) == {"same"}
    assert diff.frame["weight_max_abs_diff"].isna().all()
    assert diff.frame.attrs["source_a"] == "static"


def test_the_difference_is_drawn_on_one_graph(pair) -> None:
    path_a, path_b, _, _ = pair
    diff = inspector.compare(path_a, path_b)
    assert [n.id for n in diff.graph.nodes] == ["features", "hidden", "dropout", "mid", "out"]
    assert diff.marks == {"hidden": "changed", "dropout": "added", "mid": "changed", "out": "changed"}
    dot = diff.to_dot()
    from inspector.rendering.dot import MARK_COLOURS

    dropout_line = next(line for line in dot.splitlines() if 'tooltip="added: dropout"' in line)
    assert MARK_COLOURS["added"][0] in dropout_line
    features_line = next(line for line in dot.splitlines() if 'tooltip="features"' in line)
    assert not any(fill in features_line for fill, _ in MARK_COLOURS.values())
    page = diff.to_html(engine="builtin")
    assert page.count(f'fill="{MARK_COLOURS["changed"][0]}"') == 3 and "</span>added " in page
    # removed layers are drawn too, dashed, wired to the kept layers around them
    back = inspector.compare(path_b, path_a)
    assert back.graph.predecessors("dropout") == ["hidden"] and back.graph.successors("dropout") == ["mid"]
    assert "dashed" in next(line for line in back.to_dot().splitlines() if 'removed: dropout' in line)


def test_cli_diff_table_csv_json_and_drawing(pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path_a, path_b, _, _ = pair
    assert main(["diff", str(path_a), str(path_b), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mlp → mlp" in out and "1 added" in out and "3 changed" in out and "dropout" in out
    assert main(["diff", str(path_a), str(path_b), "--format", "csv", "--changed-only"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",")[:2] == ["name", "status"] and len(lines) == 1 + 4
    assert main(["diff", str(path_a), str(path_b), "--format", "json", "-o", str(tmp_path / "d.html"),
                 "--quiet"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["counts"]["added"] == 1 and len(document["layers"]) == 5
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["diff", str(path_a), str(tmp_path / "missing.keras")]) == 3
    assert "error:" in capsys.readouterr().err
    assert main(["diff", str(path_a), str(path_b), "-o", str(tmp_path / "d.txt")]) == 2


def test_a_change_inside_a_nested_model_marks_the_model_changed() -> None:
    def build() -> keras.Model:
        inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="block")
        x = keras.Input((4,), name="x")
        return keras.Model(x, keras.layers.Dense(1, name="head")(inner(x)), name="outer")

    keras.utils.set_random_seed(2)
    a, b = build(), build()
    b.set_weights(a.get_weights())
    kernel, bias = b.get_layer("block").get_layer("inner_dense").get_weights()
    b.get_layer("block").get_layer("inner_dense").set_weights([kernel - np.float32(0.5), bias])
    frame = inspector.compare(a, b).frame.set_index("id_b")
    assert frame.loc["block/inner_dense", "status"] == "changed"
    assert frame.loc["block/inner_dense", "weight_max_abs_diff"] == pytest.approx(0.5, abs=1e-6)
    assert frame.loc["block", "status"] == "changed" and "inside" in frame.loc["block", "changes"]
    assert frame.loc["head", "status"] == frame.loc["x", "status"] == "same"
