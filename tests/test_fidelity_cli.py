"""The command line as a new user meets it: every flag checked up front and named in the
error, data mistakes named by column and row, results alone on stdout, Ctrl-C reported.

Mistakes run in-process (``main`` must exit 2 with one line, whatever the cause); the rest
runs as a user runs it, a subprocess per command.
"""

import contextlib
import importlib.metadata
import io
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import train_test_split

import glassnet as gn
from glassnet.cli import build_parser, main

COLUMNS = list(load_iris(as_frame=True).frame.columns[:4])


def run(*args):
    return subprocess.run([sys.executable, "-m", "glassnet", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def cli(*args):
    """``glassnet args...`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fidelity")
    iris = load_iris(as_frame=True).frame
    iris["target"] = iris["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    iris.to_csv(folder / "iris.csv", index=False)
    iris.to_csv(folder / "indexed.csv")  # pandas' default: the index as a nameless column
    iris.head(0).to_csv(folder / "header_only.csv", index=False)
    (folder / "empty.csv").write_text("")
    holes = iris.copy()
    holes.loc[6, "petal width (cm)"] = np.nan  # row 7 of the data
    holes.to_csv(folder / "feature_hole.csv", index=False)
    holes = iris.copy()
    holes.loc[3, "target"] = np.nan  # row 4
    holes.to_csv(folder / "label_hole.csv", index=False)
    for name, value in [("big39", 1e39), ("big308", -1e308), ("inf", np.inf)]:
        big = iris.copy()
        big["sepal width (cm)"] = big["sepal width (cm)"].astype(float)
        big.loc[9, "sepal width (cm)"] = value  # row 10
        big.to_csv(folder / f"{name}.csv", index=False)
    halves = iris[COLUMNS[1:]].assign(half=(iris[COLUMNS[0]] * 2).round() / 2)
    halves.to_csv(folder / "halves.csv", index=False)  # 8 values, 4.5 to 8 in steps of 0.5
    diabetes = load_diabetes(as_frame=True).frame
    diabetes.to_csv(folder / "diabetes.csv", index=False)
    iris.drop(columns="target").head(5).to_csv(folder / "rows.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def classifier(data):
    path = data / "clf.glassnet"
    assert run("train", data / "iris.csv", "--target", "target", "--hidden", "8", "--epochs",
               "30", "--learning-rate", "0.01", "--out", path).returncode == 0
    return path


@pytest.fixture(scope="module")
def regressor(data):
    path = data / "reg.glassnet"
    assert run("train", data / "diabetes.csv", "--target", "target", "--hidden", "8",
               "--epochs", "3", "--out", path).returncode == 0
    return path


# -- 1. lbfgs ------------------------------------------------------------------------------

def test_lbfgs_trains_saves_and_scores_the_held_out_part_once(data, tmp_path):
    path = tmp_path / "lbfgs.glassnet"
    out = run("train", data / "iris.csv", "--target", "target", "--optimizer", "lbfgs",
              "--hidden", "8", "--random-state", "3", "--out", path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and path.exists()
    shown = float(out.stdout.split("validation accuracy: ")[1].split()[0])
    # the 10% held out (stratified, seeded by --random-state), scored by the saved model
    frame = pd.read_csv(data / "iris.csv")
    X, y = frame[COLUMNS], frame["target"]
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=3, stratify=y)
    assert gn.load(path).score(X_val, y_val) == pytest.approx(shown, abs=1e-4)
    out = run("train", data / "iris.csv", "--target", "target", "--optimizer", "lbfgs",
              "--validation-split", "0", "--hidden", "8", "--out", path)
    assert out.returncode == 0 and "validation" not in out.stdout


# -- 2, 3, 4, 9. flags: refused up front, in one line naming the flag ----------------------

def _numeric_flags():
    """(subcommand, flag) for every option whose value is a number, read from the parser."""
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    return [(name, action.option_strings[-1]) for name, sub in commands.items()
            for action in sub._actions
            if getattr(action.type, "__name__", "") in ("whole", "real")]


REQUIRED = {"train": ["data.csv", "--target", "y"], "demo": [], "explain": [],
            "export": ["model.glassnet", "model.onnx"]}


def test_every_numeric_flag_is_found():
    assert {("train", "--epochs"), ("train", "--learning-rate"), ("train", "--batch-size"),
            ("train", "--validation-split"), ("train", "--random-state"), ("demo", "--epochs"),
            ("explain", "--steps"), ("explain", "--learning-rate"), ("explain", "--digits"),
            ("explain", "--random-state")} <= set(_numeric_flags())


@pytest.mark.parametrize("command,flag", _numeric_flags())
@pytest.mark.parametrize("value", ["nan", "-1", "-3.5", "inf", "1e999", "abc", ""])
def test_every_numeric_flag_refuses_nonsense(command, flag, value):
    code, out, err = cli(command, *REQUIRED[command], f"{flag}={value}")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"glassnet {command}: error: argument {flag}:")


BAD = [  # (arguments, what the one line must contain)
    (["train", "{iris}", "--target", "target", "--epochs", "0"], "--epochs"),
    (["train", "{iris}", "--target", "target", "--epochs", "1.5"], "--epochs"),
    (["train", "{iris}", "--target", "target", "--batch-size", "0"], "--batch-size"),
    (["train", "{iris}", "--target", "target", "--learning-rate", "0"], "--learning-rate"),
    (["train", "{iris}", "--target", "target", "--validation-split", "1"], "--validation-split"),
    (["train", "{iris}", "--target", "target", "--validation-split", "0.001"],
     "--validation-split 0.001 holds out 1 of 150 rows"),
    (["train", "{iris}", "--target", "target", "--hidden", "64,,32"], "--hidden: expected"),
    (["train", "{iris}", "--target", "target", "--hidden", "64,,32"], "'64,,32'"),
    (["train", "{iris}", "--target", "target", "--hidden", "0"], "--hidden"),
    (["train", "{iris}", "--target", "target", "--out", "{folder}/no/such/m.glassnet"],
     "argument --out: the folder"),
    (["train", "{iris}", "--target", "target", "--out", "{folder}"], "argument --out:"),
    (["train", "{iris}", "--target", "target", "--features", "a,,b"], "--features"),
    (["train", "{iris}", "--target", "target", "--features", "nope"], "--features: no column"),
    (["train", "{iris}", "--target", "target", "--features", "target"],
     "--features: 'target' is the --target column"),
    (["train", "{iris}", "--target", "target", "--drop", "nope"], "--drop: no column"),
    (["train", "{iris}", "--target", "target", "--features", "a", "--drop", "b"],
     "not allowed with argument"),
    (["train", "{iris}", "--target", "nope"], "--target: no column 'nope'"),
    (["train", "{iris}"], "--target"),
    (["predict", "{clf}", "{rows}", "--out", "{folder}/no/such/p.csv"], "argument --out:"),
    (["predict", "{clf}", "{rows}", "--features", "petal length (cm)"], "--features: the model"),
    (["predict", "{reg}", "{rows}", "--proba"], "--proba"),
    (["explain", "--learning-rate", "nan"], "--learning-rate"),
    (["explain", "--learning-rate", "-1"], "--learning-rate"),
    (["explain", "--steps", "0"], "--steps"),
    (["explain", "--steps", "-3"], "--steps"),
    (["explain", "--digits", "99"], "--digits"),
    (["explain", "--network", "64,,32"], "--network: expected"),
    (["explain", "--network", "4"], "--network"),
    (["explain", "--example", "2-3-1", "--network", "4,3,2"], "--example"),
    (["explain", "--loss", "cross_entropy"], "--loss shape(s) a --network"),
    (["explain", "--random-state", "3"], "--random-state"),
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--out-dir", "{iris}"], "argument --out-dir:"),
]


@pytest.mark.parametrize("args,named", BAD)
def test_bad_invocations_print_one_line_naming_the_flag(data, classifier, regressor, args,
                                                        named):
    args = [a.format(iris=data / "iris.csv", rows=data / "rows.csv", folder=data,
                     clf=classifier, reg=regressor) for a in args]
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"glassnet {args[0]}: error: ")
    assert named in lines[0] and "Traceback" not in err


def test_a_bad_flag_in_a_subprocess_is_one_line_and_no_traceback(data, tmp_path):
    out = run("train", data / "iris.csv", "--target", "target", "--epochs", "0",
              "--out", tmp_path / "m.glassnet")
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert out.stderr.splitlines() == [
        "glassnet train: error: argument --epochs: expected a whole number >= 1, got '0'"]
    assert not (tmp_path / "m.glassnet").exists()


# -- 7. data mistakes: the column, the row, the fix ----------------------------------------

DATA_MISTAKES = [
    (["train", "feature_hole.csv", "--target", "target"],
     ["'petal width (cm)'", "row 7", "drop those rows or fill them in"]),
    (["train", "label_hole.csv", "--target", "target"],
     ["--target column 'target'", "row 4", "drop those rows"]),
    (["train", "header_only.csv", "--target", "target"], ["header but no rows"]),
    (["train", "empty.csv", "--target", "target"], ["empty.csv is empty"]),
    (["train", "iris.csv", "--target", "sepal length (cm)", "--task", "classify"],
     ["continuous numbers such as", "--task regress"]),
    (["train", "big39.csv", "--target", "target"], ["'sepal width (cm)'", "row 10", "1e+39"]),
    (["train", "big308.csv", "--target", "target"], ["'sepal width (cm)'", "row 10", "-1e+308"]),
    (["train", "inf.csv", "--target", "target"], ["'sepal width (cm)'", "row 10", "inf"]),
    (["predict", "{clf}", "big39.csv"], ["'sepal width (cm)'", "row 10", "1e+39"]),
    (["predict", "{clf}", "feature_hole.csv"], ["'petal width (cm)'", "row 7"]),
]


@pytest.mark.parametrize("args,parts", DATA_MISTAKES)
def test_data_mistakes_name_the_column_and_row(data, classifier, args, parts):
    args = [str(data / a) if a.endswith(".csv") else a.format(clf=classifier) for a in args]
    code, out, err = cli(*args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"glassnet {args[0]}: error: ")
    for part in parts:
        assert part in err
    assert "http" not in err and "Traceback" not in err


def test_a_few_distinct_fractional_targets_are_guessed_as_regression(data, tmp_path):
    code, out, err = cli("train", data / "halves.csv", "--target", "half", "--epochs", "2",
                         "--out", tmp_path / "m.glassnet")
    assert code == 0, err
    assert type(gn.load(tmp_path / "m.glassnet")).__name__ == "MLPRegressor"
    assert out.startswith("validation R²: ")


# -- 5. which columns are features ---------------------------------------------------------

def test_a_pandas_index_column_is_left_out_with_a_note(data, tmp_path):
    path = tmp_path / "m.glassnet"
    out = run("train", data / "indexed.csv", "--target", "target", "--epochs", "3",
              "--out", path)
    assert out.returncode == 0, out.stderr
    assert "left out the first column" in out.stderr
    assert list(gn.load(path).feature_names_in_) == COLUMNS
    out = run("predict", path, data / "indexed.csv")  # the model picks its own columns
    assert out.returncode == 0 and len(pd.read_csv(io.StringIO(out.stdout))) == 150


def test_features_and_drop_choose_the_columns(data, tmp_path):
    path = tmp_path / "m.glassnet"
    chosen = COLUMNS[2:]
    code, _, err = cli("train", data / "iris.csv", "--target", "target", "--epochs", "3",
                       "--features", ",".join(chosen), "--out", path)
    assert code == 0, err
    assert list(gn.load(path).feature_names_in_) == chosen
    code, _, err = cli("train", data / "iris.csv", "--target", "target", "--epochs", "3",
                       "--drop", COLUMNS[0], "--out", path)
    assert code == 0, err
    assert list(gn.load(path).feature_names_in_) == COLUMNS[1:]
    code, out, err = cli("predict", path, data / "iris.csv", "--drop", f"{COLUMNS[0]},target")
    assert code == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 150


# -- 6. --proba ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sequentials(data):
    frame = pd.read_csv(data / "iris.csv")
    X, y = frame[COLUMNS].to_numpy(), frame["target"].astype("category").cat.codes.to_numpy()
    paths = {}
    for name, out, loss, target in [("softmax", gn.Dense(3, activation="softmax"), None, y),
                                    ("linear", gn.Dense(1), "mse", y.astype(float))]:
        net = gn.Sequential([gn.Dense(8, activation="relu"), out], loss=loss, random_state=0)
        net.fit(X, target, epochs=5, verbose=0)
        paths[name] = data / f"seq-{name}.glassnet"
        net.save(paths[name])
    return paths


def test_proba_on_a_regressor_or_a_linear_network_is_refused(data, regressor, sequentials):
    for model, rows in [(regressor, "diabetes.csv"), (sequentials["linear"], "rows.csv")]:
        code, out, err = cli("predict", model, data / rows, "--proba")
        assert code == 2 and out == "" and len(err.splitlines()) == 1
        assert err.startswith("glassnet predict: error: --proba: ")


def test_a_softmax_network_gives_probabilities_and_classes(data, sequentials):
    X = pd.read_csv(data / "rows.csv").to_numpy()
    P = gn.load(sequentials["softmax"]).predict(X)
    code, out, err = cli("predict", sequentials["softmax"], data / "rows.csv", "--proba")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["proba_0", "proba_1", "proba_2"]
    np.testing.assert_allclose(table.to_numpy(), P, rtol=1e-6)
    code, out, err = cli("predict", sequentials["softmax"], data / "rows.csv")
    assert code == 0, err
    assert pd.read_csv(io.StringIO(out))["prediction"].tolist() == P.argmax(axis=1).tolist()


# -- 8. --version, help, info, stdout ------------------------------------------------------

def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"glassnet {importlib.metadata.version('glassnet')}"


def test_every_option_has_help_and_shows_its_default():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        text = " ".join(sub.format_help().split())
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, (name, action.dest)
            if action.option_strings and action.default not in (None, False):
                assert f"(default: {action.default})" in text, (name, action.dest)


def test_info_lists_columns_classes_and_activations(classifier):
    out = run("info", classifier)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"input columns (4): {', '.join(COLUMNS)}" in lines
    assert "classes (3): setosa, versicolor, virginica" in lines
    assert "  1. Dense, output (8,), activation relu" in lines
    assert "  2. Dense, output (3,), activation softmax" in lines
    assert "{" not in out.stdout  # no raw dict


def test_predict_writes_only_the_table_to_stdout(data, classifier):
    out = run("predict", classifier, data / "indexed.csv")
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(io.StringIO(out.stdout))
    assert list(table.columns) == ["prediction"] and len(table) == 150
    assert out.stderr == ""  # the model takes the columns it was trained on, by name


def test_train_writes_only_results_to_stdout(data, tmp_path):
    out = run("train", data / "iris.csv", "--target", "target", "--epochs", "3",
              "--out", tmp_path / "m.glassnet")
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == [
        "validation", "accuracy", "saved"]


# -- 8. Ctrl-C -----------------------------------------------------------------------------

# Runs `glassnet train` with a hook after each epoch's progress: it reports the epoch and its
# val_loss, saves the weights, and waits on stdin; the test answers, or sends SIGINT there.
CTRL_C = textwrap.dedent("""
    import sys, numpy as np
    from glassnet import cli
    from glassnet.callbacks import ProgressBar

    folder = sys.argv[1]
    shown = ProgressBar.on_epoch_end

    def hook(self, epoch, logs=None):
        shown(self, epoch, logs)
        np.save(f"{folder}/epoch{epoch + 1}.npy", self.model.params)
        print("@epoch", epoch + 1, logs["val_loss"], file=sys.__stdout__, flush=True)
        sys.stdin.readline()

    ProgressBar.on_epoch_end = hook
    sys.exit(cli.main(sys.argv[2:]))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_training_and_says_which_epoch_is_saved(data, tmp_path):
    path = tmp_path / "m.glassnet"
    args = ["train", data / "iris.csv", "--target", "target", "--hidden", "16", "--batch-size",
            "8", "--learning-rate", "0.3", "--epochs", "1000", "--out", path]
    proc = subprocess.Popen(  # SIGINT at its default even if ignored here (nohup, CI)
        [sys.executable, "-c", CTRL_C, str(tmp_path), *map(str, args)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    val_loss = []
    try:
        for line in proc.stdout:
            if line.startswith("@epoch"):
                val_loss.append(float(line.split()[2]))
                # Ctrl-C at the first epoch that is not the best so far, or give up at 100
                if len(val_loss) >= 100 or np.argmin(val_loss) < len(val_loss) - 1:
                    proc.send_signal(signal.SIGINT)
                    break
                proc.stdin.write("\n")
                proc.stdin.flush()
        out, err = proc.communicate(timeout=120)  # closes stdin: the hook returns
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    stop, best = len(val_loss), int(np.argmin(val_loss)) + 1
    assert best < stop < 100
    note = next(line for line in err.splitlines() if "stopped early" in line)
    assert "Ctrl-C" in note and f"during epoch {stop};" in note
    assert f"weights of epoch {best} " in note
    assert f"(best epoch {best} of {stop})" in out and f"saved the model to {path}" in out
    # the saved network holds that epoch's weights (the output layer's, which the folding
    # of the input scaling into the first layer leaves as they were)
    saved = gn.load(path).model_.params
    n_out = 16 * 3 + 3
    np.testing.assert_array_equal(saved[-n_out:], np.load(tmp_path / f"epoch{best}.npy")[-n_out:])
    assert not os.path.exists(tmp_path / f"epoch{stop + 1}.npy")
