"""`keras-inspector explain`: run for real on a model file and data files in tmp_path, results checked against
the library and the PNG decoded with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inspector
from inspector.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import keras

    keras.utils.set_random_seed(2)
    folder = tmp_path_factory.mktemp("explain")
    x = keras.Input((12, 12, 3), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    keras.Model(x, keras.layers.Dense(3, name="head")(h), name="small_cnn").save(folder / "cnn.keras")
    features = keras.Input((5,), name="features")
    keras.Model(features, keras.layers.Dense(2, activation="tanh")(features)).save(folder / "mlp.keras")
    np.save(folder / "X.npy", np.random.default_rng(0).random((4, 12, 12, 3), dtype=np.float32))
    np.save(folder / "F.npy", np.random.default_rng(1).random((3, 5), dtype=np.float32))
    return {"cnn": folder / "cnn.keras", "mlp": folder / "mlp.keras", "X": folder / "X.npy", "F": folder / "F.npy",
            "folder": folder}


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_gradcam_png_and_npy(files, capsys):
    png = files["folder"] / "cam.png"
    code, _, err = run(capsys, "explain", files["cnn"], "--input", files["X"], "--method", "gradcam", "--target", 2,
                       "-o", png, "--sample", 1)
    assert code == 0, err
    assert "Grad-CAM on layer 'conv'" in err
    assert Image.open(png).size == (12, 12)
    code, _, err = run(capsys, "explain", files["cnn"], "--input", files["X"], "--target", 2, "-o",
                       files["folder"] / "cam.npy")
    assert code == 0, err
    model = inspector.load_model(files["cnn"])
    expected = inspector.grad_cam(model, np.load(files["X"]), target=2).heatmap
    np.testing.assert_allclose(np.load(files["folder"] / "cam.npy"), expected, rtol=1e-6, atol=1e-9)


def test_saliency_html_and_integrated_gradients_npy(files, capsys):
    code, _, err = run(capsys, "explain", files["cnn"], "--input", files["X"], "--method", "saliency",
                       "--smoothgrad", 3, "--target", 0, "-o", files["folder"] / "sal.html")
    assert code == 0, err
    assert "SmoothGrad, 3 samples" in err and (files["folder"] / "sal.html").read_text().count("plotly") > 1
    out = files["folder"] / "ig.npy"
    code, _, err = run(capsys, "explain", files["mlp"], "--input", files["F"], "--method", "ig", "--steps", 40,
                       "--target", 1, "-o", out)
    assert code == 0, err
    assert "completeness passed" in err
    model = inspector.load_model(files["mlp"])
    expected = inspector.integrated_gradients(model, np.load(files["F"]), target=1, steps=40).attributions
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)


def test_refusals_exit_3(files, capsys):
    code, _, err = run(capsys, "explain", files["mlp"], "--input", files["F"], "--method", "saliency", "--target", 0,
                       "-o", files["folder"] / "x.png")
    assert code == 3 and "not one" in err and ".html" in err
    code, _, err = run(capsys, "explain", files["mlp"], "--input", files["F"], "--target", 0, "-o",
                       files["folder"] / "x.npy")
    assert code == 3 and "feature-map" in err
    code, _, err = run(capsys, "explain", files["cnn"], "--input", files["X"], "--target", 9, "-o",
                       files["folder"] / "x.npy")
    assert code == 3 and "out of range" in err
    code, _, err = run(capsys, "explain", files["cnn"], "--input", files["X"], "--target", 0, "--sample", 7, "-o",
                       files["folder"] / "x.png")
    assert code == 3 and "Sample 7" in err
