"""The command line, run as a user runs it: a subprocess per command, errors included."""

import subprocess
import sys
from math import exp

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "glassnet", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame.to_csv(folder / "iris.csv", index=False)
    frame.drop(columns="target").head(4).to_csv(folder / "rows.csv", index=False)
    (folder / "text.csv").write_text("a,b\nx,1\ny,0\n")
    return folder


def test_demo_trains_reports_and_saves(tmp_path):
    out = run("demo", "--out-dir", str(tmp_path / "demo"))
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("test accuracy: ")[1].split()[0])
    assert accuracy >= 0.97
    assert "confusion matrix" in out.stdout
    # progress goes to stderr: stdout holds the results only
    assert "epoch" not in out.stdout.lower() and "training a 64-64-10" in out.stderr
    assert "epoch" in out.stderr.lower()
    assert (tmp_path / "demo" / "digits.glassnet").stat().st_size > 1000
    assert (tmp_path / "demo" / "training-curve.png").stat().st_size > 5000


def test_demo_cnn_beats_the_dense_network_on_the_same_split(tmp_path):
    out = run("demo", "--model", "cnn", "--out-dir", str(tmp_path / "demo"))
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if "(CNN) vs" in l)
    cnn, dense = float(line.split()[2]), float(line.split()[5])
    assert cnn > dense >= 0.97
    assert (tmp_path / "demo" / "digits-cnn.glassnet").stat().st_size > 1000
    assert (tmp_path / "demo" / "filters.png").stat().st_size > 5000


def test_train_predict_info(csvs):
    model = csvs / "iris.glassnet"
    out = run("train", str(csvs / "iris.csv"), "--target", "target", "--hidden", "16",
              "--learning-rate", "0.01", "--out", str(model))
    assert out.returncode == 0, out.stderr
    assert "validation accuracy:" in out.stdout and model.exists()
    # trained on standardized columns, saved with the scaling folded into the first layer:
    # the file scores well on the raw columns
    import glassnet as gn

    frame = pd.read_csv(csvs / "iris.csv")
    loaded = gn.load(model)
    assert loaded.score(frame.drop(columns="target"), frame["target"]) > 0.9
    out = run("predict", str(model), str(csvs / "rows.csv"), "--proba")
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(table.columns) == ["proba_setosa", "proba_versicolor", "proba_virginica"]
    np.testing.assert_allclose(table.sum(axis=1), 1, rtol=1e-6)
    out = run("predict", str(model), str(csvs / "rows.csv"), "--out", str(csvs / "p.csv"))
    assert out.returncode == 0 and pd.read_csv(csvs / "p.csv").shape == (4, 1)
    assert out.stdout == "" and "wrote 4 predictions" in out.stderr
    out = run("info", str(model))
    assert out.returncode == 0 and "Total params: " in out.stdout


def test_explain_prints_the_hand_computed_numbers():
    out = run("explain", "--steps", "3")
    assert out.returncode == 0, out.stderr
    a1 = [1 / (1 + exp(-4.3)), 1 / (1 + exp(-5.3))]  # σ(z¹), z¹ = [4.3, 5.3] by hand
    assert f"a¹ = σ(z¹) = [[{a1[0]:.4f} {a1[1]:.4f}]]" in out.stdout
    losses = [float(line.split("J = ")[1]) for line in out.stdout.splitlines()
              if line.strip().startswith("step")]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2]
    out = run("explain", "--network", "4,3,2", "--activation", "tanh", "--loss",
              "cross_entropy", "--format", "markdown")
    assert out.returncode == 0 and "\\begin{bmatrix}" in out.stdout


@pytest.mark.parametrize("args,message", [
    (["train", "missing.csv", "--target", "y"], "no such data file: missing.csv"),
    (["train", "{iris}", "--target", "nope"], "--target: no column 'nope' in"),
    (["train", "{text}", "--target", "b"], "column(s) ['a'] of"),
    (["predict", "missing.glassnet", "{rows}"], "no such model file: missing.glassnet"),
    (["info", "{iris}"], "is not a .glassnet model file"),
    (["explain", "--network", "4"], "argument --network: expected at least 2 sizes"),
    (["info", "{folder}"], "is a directory"),
    (["predict", "{truncated}", "{rows}"], "Cannot load"),
])
def test_mistakes_print_one_clear_line_and_exit_non_zero(csvs, args, message):
    model = csvs / "iris.glassnet"
    if not model.exists():
        run("train", str(csvs / "iris.csv"), "--target", "target", "--hidden", "4",
            "--epochs", "5", "--out", str(model))
    truncated = csvs / "truncated.glassnet"
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    args = [a.format(iris=csvs / "iris.csv", text=csvs / "text.csv", rows=csvs / "rows.csv",
                     folder=csvs, truncated=truncated) for a in args]
    out = run(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"glassnet {args[0]}: error: ")
    assert message in lines[0]
    assert "Traceback" not in out.stderr
