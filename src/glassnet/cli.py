"""The command line: ``glassnet demo | train | predict | info | explain | export``.

Argument parsing and printing only; the work is the library's. Results go to stdout,
progress and notes to stderr. A user's mistake prints one line
(``glassnet <command>: error: ...``, naming the flag or the column) and exits with
status 2, never a traceback; every flag is checked before any work starts.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from ._version import __version__

FLOAT32_MAX = float(np.finfo(np.float32).max)
SEED_MAX = 2**32 - 1  # scikit-learn's and NumPy's seeds


class CLIError(Exception):
    """A mistake to report in one line."""


def _note(command, text):
    print(f"glassnet {command}: {text}", file=sys.stderr, flush=True)


# -- flag types: each refuses a bad value, and argparse names the flag ---------------------

def _whole(low, high=math.inf):
    def whole(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            where = f">= {low}" if high == math.inf else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"expected a whole number {where}, got {text!r}")
        return value
    return whole


def _real(low, high=math.inf, high_open=False):
    """A finite number in ``(low, high]`` (``[low, high)`` with ``high_open``)."""
    def real(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (low <= value < high) if high_open else (low < value <= high)
        if not (math.isfinite(value) and inside):
            where = f"from {low} up to (not including) {high}" if high_open else f"> {low}"
            raise argparse.ArgumentTypeError(f"expected a number {where}, got {text!r}")
        return value
    return real


def _sizes(least=1):
    def sizes(text):
        parts = text.split(",")
        if not all(p.strip().isdecimal() and int(p) > 0 for p in parts) or len(parts) < least:
            what = "a size" if least == 1 else f"at least {least} sizes"
            raise argparse.ArgumentTypeError(
                f"expected {what} of positive whole numbers like 4,3,2, got {text!r}")
        return [int(p) for p in parts]
    return sizes


def _names(text):
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names like a,b,c, got {text!r}")
    return names


def _writable_folder(folder, text):
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {str(folder)!r} of {text!r} does not "
                                         "exist; create it first or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into the folder {str(folder)!r}")


def _out_file(text):
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name in it")
    _writable_folder(path.parent, text)
    return text


def _out_dir(text):
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    existing = next(p for p in [path, *path.parents] if p.exists())
    _writable_folder(existing, text)
    return text


# -- demo -------------------------------------------------------------------------------

def cmd_demo(args):
    from sklearn.datasets import load_digits
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import train_test_split

    import glassnet as gn

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    net = gn.Sequential([gn.Dense(64, activation="relu"), gn.Dense(10, activation="softmax")],
                        optimizer=gn.Adam(3e-3), random_state=0)
    _note("demo", f"training a 64-64-10 network on scikit-learn's digits ({len(X_tr)} images "
          f"of 8x8 pixels; {len(X_te)} held out)")
    view = _live_view(gn, args, "demo")
    history = _train(gn, net, X_tr, y_tr, args.epochs, progress=args.model == "dense",
                     view=view if args.model == "dense" else None)
    dense = net.evaluate(X_te, y_te)
    print(f"test accuracy: {dense['accuracy']:.4f}   test loss: {dense['loss']:.4f}")
    if args.model == "cnn":
        net = gn.Sequential([
            gn.Conv2D(16, 3, padding="same", activation="relu"),
            gn.Conv2D(32, 3, padding="same", activation="relu"), gn.MaxPooling2D(2),
            gn.Flatten(), gn.Dense(10, activation="softmax"),
        ], optimizer=gn.Adam(3e-3), random_state=0)
        X_tr, X_te = X_tr.reshape(-1, 8, 8, 1), X_te.reshape(-1, 8, 8, 1)  # (n, h, w, channels)
        _note("demo", "training a CNN on the same images as (8, 8, 1) arrays: conv 16 3x3, "
              "conv 32 3x3, max pool 2, softmax 10")
        history = _train(gn, net, X_tr, y_tr, args.epochs, progress=True, view=view)
        result = net.evaluate(X_te, y_te)
        print(f"test accuracy: {result['accuracy']:.4f} (CNN) vs {dense['accuracy']:.4f} "
              f"(dense)   test loss: {result['loss']:.4f}")
    matrix = confusion_matrix(y_te, net.predict(X_te).argmax(axis=1))
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("     " + " ".join(f"{d:>3}" for d in range(10)))
    for digit, row in enumerate(matrix):
        print(f"  {digit}: " + " ".join(f"{v:>3}" for v in row))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = "digits" if args.model == "dense" else "digits-cnn"
    model_path, png_path = out / f"{name}.glassnet", out / "training-curve.png"
    gn.save(net, model_path)
    import matplotlib

    matplotlib.use("Agg")
    gn.plot_history(history).savefig(png_path, dpi=100, bbox_inches="tight")
    print(f"saved the model to {model_path} and the training curve to {png_path}")
    if args.model == "cnn":
        filters_path = out / "filters.png"
        gn.plot_filters(net, 0).savefig(filters_path, dpi=100, bbox_inches="tight")
        print(f"saved the first layer's filters to {filters_path}")
    _keep_page(view, "demo")


def _train(gn, net, X, y, epochs, progress, view=None):
    callbacks = [gn.EarlyStopping(patience=5)]
    if progress:
        callbacks.append(gn.ProgressBar())
    if view is not None:
        callbacks.append(view)
    return net.fit(X, y, epochs=epochs, batch_size=32, validation_split=0.1,
                   callbacks=callbacks, verbose=0)


# -- the live page ----------------------------------------------------------------------------

def _live_view(gn, args, command):
    """A ``LiveView`` for ``--live`` (or ``--open``), its address said on stderr; or None."""
    if not (args.live or args.open):
        return None
    view = gn.LiveView(open_browser=args.open)
    _note(command, f"watch the run live at {view.url}")
    return view


def _keep_page(view, command):
    """Keep the finished run's page up until Enter (or Ctrl-C, or the end of the input)."""
    if view is None:
        return
    _note(command, f"the page stays up at {view.url}; press Enter to close it")
    try:
        input()
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        view.close()


# -- reading a CSV file ---------------------------------------------------------------------

def _read_csv(path):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such data file: {path}")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise CLIError(f"{path} is empty; it needs a header line and rows of data") from None
    except Exception as exc:  # pandas raises many types for a bad file
        raise CLIError(f"cannot read {path} as CSV: {exc}") from None
    if frame.empty:
        raise CLIError(f"{path} has a header but no rows of data")
    return frame


def _columns(frame, args, path, command, target=None):
    """The feature columns: ``--features``, or all but ``--target`` and ``--drop``. A first
    column without a header (pandas' ``to_csv`` writes its index so) is left out, with a note.
    """
    for flag, names in (("--features", args.features), ("--drop", args.drop)):
        unknown = [n for n in names or [] if n not in frame.columns]
        if unknown:
            raise CLIError(f"{flag}: no column(s) {unknown} in {path}; its columns are: "
                           f"{', '.join(map(str, frame.columns))}")
    if args.features:
        if target in args.features:
            raise CLIError(f"--features: {target!r} is the --target column; leave it out")
        return list(args.features)
    columns = [c for c in frame.columns if c != target and c not in (args.drop or [])]
    if columns and columns[0] == frame.columns[0] == "Unnamed: 0":
        _note(command, f"note: left out the first column of {path}, which has no header (an "
              "index written by pandas' to_csv); give --features to choose columns yourself")
        columns = columns[1:]
    if not columns:
        raise CLIError(f"no feature columns left in {path}; choose them with --features")
    return columns


def _first_bad(values, bad, columns):
    """(column, row, value, count) of the first True cell of ``bad``; rows count from 1."""
    row, col = np.argwhere(bad)[0]
    return columns[col], row + 1, values[row, col], int(bad.sum())


def _numbers(frame, columns, path, what="column"):
    """``frame[columns]``, checked: numeric, no empty cells, within float32's range."""
    data = frame[list(columns)]
    bad = [c for c in columns if data[c].dtype.kind not in "biuf"]
    if bad:
        raise CLIError(f"column(s) {bad} of {path} are not numeric; encode them as numbers "
                       "or leave them out with --drop")
    values = data.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        column, row, _, count = _first_bad(values, np.isnan(values), columns)
        raise CLIError(f"{what} {column!r} of {path} has no value in row {row} ({count} empty "
                       "cell(s) in all); drop those rows or fill them in (impute) first")
    beyond = ~(np.abs(values) <= FLOAT32_MAX)
    if beyond.any():
        column, row, value, count = _first_bad(values, beyond, columns)
        raise CLIError(f"{what} {column!r} of {path} holds {value:g} in row {row} ({count} "
                       f"such cell(s)), beyond the float32 range (±{FLOAT32_MAX:.4g}) the "
                       "network computes in; rescale the column or leave it out with --drop")
    return data


# -- train ----------------------------------------------------------------------------------

def _target(frame, args):
    """The ``--target`` column and the task it is fit for (``--task``, or guessed)."""
    if args.target not in frame.columns:
        raise CLIError(f"--target: no column {args.target!r} in {args.data}; columns: "
                       f"{', '.join(map(str, frame.columns))}")
    column = frame[args.target]
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0]) + 1
        raise CLIError(f"--target column {args.target!r} of {args.data} has no value in row "
                       f"{row} ({int(column.isna().sum())} in all); drop those rows or fill "
                       "in their targets")
    numeric = column.dtype.kind in "biuf"
    if numeric:
        _numbers(frame, [args.target], args.data, what="--target column")
    y = column.to_numpy()
    whole = not numeric or column.dtype.kind in "biu" or bool(np.all(y == np.round(y)))
    task = args.task
    if task == "auto":
        task = "classify" if whole and (not numeric or len(np.unique(y)) <= 20) else "regress"
    if task == "regress" and not numeric:
        raise CLIError(f"--target column {args.target!r} is not numeric; use --task classify")
    if task == "classify" and not whole:
        example = next(v for v in y if v != round(v))
        raise CLIError(f"--target column {args.target!r} holds continuous numbers such as "
                       f"{example:g}, not class labels; use --task regress")
    if task == "classify" and len(np.unique(y)) < 2:
        raise CLIError(f"--target column {args.target!r} holds one class only ({y[0]!r}); "
                       "a classifier needs two or more")
    return y, task


def _check_split(n, split):
    held = math.ceil(split * n)
    if split and held < 2:
        raise CLIError(f"--validation-split {split:g} holds out {held} of {n} rows; validation "
                       "needs at least 2: raise it, or give 0 for no validation")
    if n - held < 1:
        raise CLIError(f"--validation-split {split:g} leaves none of the {n} rows to train on")


def cmd_train(args):
    import glassnet as gn

    frame = _read_csv(args.data)
    y, task = _target(frame, args)
    X = _numbers(frame, _columns(frame, args, args.data, "train", args.target), args.data)
    _check_split(len(X), args.validation_split)
    lbfgs = args.optimizer == "lbfgs"
    if lbfgs and (args.live or args.open):
        raise CLIError("--live needs --optimizer adam or sgd: lbfgs does not train in epochs")
    X_fit, y_fit, val = X, y, None
    if lbfgs and args.validation_split:  # lbfgs does no early stopping: score the part once
        X_fit, y_fit, val = _hold_out(X, y, args.validation_split, args.random_state, task)
    params = dict(hidden_layer_sizes=tuple(args.hidden), activation=args.activation,
                  solver=args.optimizer, max_iter=args.epochs, batch_size=args.batch_size,
                  learning_rate_init=args.learning_rate, random_state=args.random_state,
                  early_stopping=args.validation_split > 0 and not lbfgs,
                  early_stopping_monitor="val_loss",
                  validation_fraction=args.validation_split or 0.1,
                  callbacks=None if lbfgs else [gn.ProgressBar()])
    view = _live_view(gn, args, "train")
    if view is not None:
        params["callbacks"].append(view)
    est = gn.MLPClassifier(**params) if task == "classify" else gn.MLPRegressor(**params)
    # Train on standardized features, then fold the scaling into the first layer
    # (x - mu) / sigma @ W + b = x @ (W / sigma) + (b - (mu / sigma) @ W), so the saved
    # model takes the raw columns.
    mu = np.array(X_fit.mean(), dtype=float)
    sigma = np.array(X_fit.std(ddof=0), dtype=float)
    sigma[sigma == 0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stop reason is reported below
        est.fit((X_fit - mu) / sigma, y_fit)
    est.set_params(callbacks=None)  # the file holds data only
    W, b = est.coefs_[0], est.intercepts_[0]
    b -= ((mu / sigma) @ W).astype(b.dtype)
    W /= sigma[:, None].astype(W.dtype)
    stop = getattr(est.model_, "stop_reason", None)
    if stop:
        if "Ctrl-C" in stop and not est.n_iter_:
            raise KeyboardInterrupt  # no epoch finished: nothing worth saving
        _note("train", f"stopped early: {stop}")
    what = "accuracy" if task == "classify" else "R²"
    if est.early_stopping:
        best = int(np.argmin(est.validation_loss_curve_))
        print(f"validation {what}: {est.validation_scores_[best]:.4f}, loss "
              f"{est.validation_loss_curve_[best]:.4f} (best epoch {best + 1} of {est.n_iter_})")
    elif val is not None:
        print(f"validation {what}: {est.score(*val):.4f} (the held-out "
              f"{args.validation_split:.0%}, scored once: lbfgs does no early stopping)")
    print(f"{what} on all {len(X)} rows: {est.score(X, y):.4f}")
    gn.save(est, args.out)
    print(f"saved the model to {args.out}")
    _keep_page(view, "train")


def _hold_out(X, y, split, seed, task):
    from sklearn.model_selection import train_test_split

    try:
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=split, random_state=seed, stratify=y if task == "classify" else None)
    except ValueError:  # a class too rare to stratify: split at random
        X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=split, random_state=seed)
    return X_fit, y_fit, (X_val, y_val)


# -- predict / info -------------------------------------------------------------------------

def _load(path):
    import glassnet as gn

    if not Path(path).exists():
        raise CLIError(f"no such model file: {path}")
    return gn.load(path)


def _predict_columns(model, frame, args):
    """The columns the model takes: those it was trained on (when the file names them),
    else those ``--features``/``--drop`` leave, as many as the model takes."""
    trained = getattr(model, "feature_names_in_", None)
    if trained is None:
        columns = _columns(frame, args, args.data, "predict")
        n_in = math.prod(model.input_shape) if hasattr(model, "input_shape") \
            else model.n_features_in_
        if len(columns) != n_in:
            raise CLIError(f"the model takes {n_in} columns but {args.data} gives "
                           f"{len(columns)} ({', '.join(map(str, columns))}); choose them "
                           "with --features or --drop")
        return columns
    trained = [str(c) for c in trained]
    if args.features or args.drop:
        chosen = _columns(frame, args, args.data, "predict")
        if set(chosen) != set(trained):
            flag = "--features" if args.features else "--drop"
            raise CLIError(f"{flag}: the model was trained on the columns {trained}, and takes "
                           "those; leave out the flag or choose exactly them")
    missing = [c for c in trained if c not in frame.columns]
    if missing:
        raise CLIError(f"{args.data} lacks the column(s) the model was trained on: {missing}")
    return trained


def _named(out, prefix, labels=None):
    out = np.asarray(out).reshape(len(out), -1)
    if labels is None:
        labels = range(out.shape[1]) if out.shape[1] > 1 else [None]
    return out, [prefix if c is None else f"{prefix}_{c}" for c in labels]


def cmd_predict(args):
    model = _load(args.model)
    estimator = hasattr(model, "model_")  # MLPClassifier / MLPRegressor, else a Sequential
    if args.proba and not (hasattr(model, "predict_proba") if estimator
                           else model.loss.is_classification):
        what = f"regressor ({type(model).__name__})" if estimator \
            else f"network trained with the {model.loss.name!r} loss"
        raise CLIError(f"--proba: {args.model} holds a {what}, which predicts numbers, not "
                       "class probabilities; leave out --proba")
    frame = _read_csv(args.data)
    X = _numbers(frame, _predict_columns(model, frame, args), args.data)
    if estimator:
        out, names = _named(model.predict_proba(X), "proba", model.classes_) if args.proba \
            else _named(model.predict(X), "prediction")
    else:  # a Sequential gives probabilities when its loss is a classification loss
        loss = model.loss
        P = model.predict(X.to_numpy(dtype=model.dtype).reshape(len(X), *model.input_shape))
        if args.proba:
            out, names = _named(P, "proba")
        elif loss.name == "cross_entropy":
            out, names = _named(P.argmax(axis=1), "prediction")
        else:
            out, names = _named((P > 0.5).astype(int) if loss.is_classification else P,
                                "prediction")
    import pandas as pd

    table = pd.DataFrame(out, columns=names)
    if args.out:
        table.to_csv(args.out, index=False)
        _note("predict", f"wrote {len(table)} predictions to {args.out}")
    else:
        print(table.to_csv(index=False), end="")


def cmd_info(args):
    model = _load(args.model)
    if hasattr(model, "model_"):
        net = model.model_
        p = model.get_params()
        print(f"{type(model).__name__}, trained with {p['solver']} for {model.n_iter_} "
              f"epoch(s); hidden layers {tuple(p['hidden_layer_sizes'])}, learning rate "
              f"{p['learning_rate_init']:g}, alpha {p['alpha']:g}, random_state "
              f"{p['random_state']}")
        names = getattr(model, "feature_names_in_", None)
        print(f"input columns ({model.n_features_in_}): " +
              ("(names not recorded)" if names is None else ", ".join(map(str, names))))
        if hasattr(model, "classes_"):
            print(f"classes ({len(model.classes_)}): " + ", ".join(map(str, model.classes_)))
    else:
        net = model
        print(f"Sequential network, trained {getattr(net, 'epochs_done', 0)} epoch(s)")
        print(f"input: {math.prod(net.input_shape)} values per row, shape {net.input_shape} "
              "(column names are not recorded in the file)")
    print(f"loss: {net.loss.name}")
    print("layers:")
    for i, layer in enumerate(net.layers, 1):
        act = getattr(layer, "activation", None)
        print(f"  {i}. {type(layer).__name__}, output {layer.output_shape}"
              + ("" if act is None else f", activation {act.name}"))
    net.summary()


# -- export -------------------------------------------------------------------------------

def cmd_export(args):
    import glassnet as gn

    model = _load(args.model)
    _note("export", f"exporting the {type(model).__name__} of {args.model} to ONNX")
    try:
        proto = gn.to_onnx(model, args.out, opset=args.opset)
    except ImportError as exc:  # the onnx extra is not installed
        raise CLIError(str(exc)) from None
    outputs = ", ".join(o.name for o in proto.graph.output)
    print(f"saved the ONNX model (opset {proto.opset_import[0].version}; input "
          f"{proto.graph.input[0].name}, outputs {outputs}) to {args.out}")


# -- explain ------------------------------------------------------------------------------

NETWORK_ONLY = {"activation": "sigmoid", "loss": "mse", "random_state": 0}


def cmd_explain(args):
    import glassnet as gn
    from glassnet.examples import EXAMPLES

    if args.network:
        for name, default in NETWORK_ONLY.items():
            setattr(args, name, default if getattr(args, name) is None else getattr(args, name))
        sizes = args.network
        rng = np.random.default_rng(args.random_state)
        out_act = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(
            args.loss, "identity")
        layers = [gn.Dense(n, activation=args.activation) for n in sizes[1:-1]]
        layers.append(gn.Dense(sizes[-1], activation=out_act))
        net = gn.Sequential(layers, loss=args.loss, optimizer=gn.SGD(args.learning_rate or 0.1),
                            random_state=args.random_state, dtype="float64").build(sizes[0])
        X = rng.normal(size=(1, sizes[0])).round(2)
        if args.loss == "cross_entropy":
            y = rng.integers(0, sizes[-1], size=1)
        elif args.loss == "binary_cross_entropy":
            y = rng.integers(0, 2, size=(1, sizes[-1]))
        else:
            y = rng.normal(size=(1, sizes[-1])).round(2)
    else:
        given = [f"--{n.replace('_', '-')}" for n in NETWORK_ONLY if getattr(args, n) is not None]
        if given:
            raise CLIError(f"{', '.join(given)} shape(s) a --network; the --example networks "
                           "are fixed: add --network SIZES or leave out " + ", ".join(given))
        make_net, make_data = EXAMPLES[args.example or "3-2-2"]
        net, (X, y) = make_net(), make_data()
    render = {"text": "to_text", "markdown": "to_markdown", "html": "to_html"}[args.format]
    trace = gn.trace_step(net, X, y, learning_rate=args.learning_rate)
    print(getattr(trace, render)(digits=args.digits))
    if args.steps > 1:
        print("The error over the steps of gradient descent:")
        for step in range(1, args.steps + 1):
            trace = gn.trace_step(net, X, y, learning_rate=args.learning_rate, apply=True)
            print(f"  step {step:>4}: J = {trace.loss:.10g}")


# -- the parser -----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless it has none (None, a switch or required)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.required:
            return action.help
        return super()._get_help_string(action)


def _live_flags(p):
    p.add_argument("--live", action="store_true",
                   help="watch the run on a live page (a local server on 127.0.0.1; its "
                   "address is printed, and it stays up after training until Enter)")
    p.add_argument("--open", action="store_true",
                   help="open the live page in the browser (implies --live)")


def _data_flags(p):
    group = p.add_mutually_exclusive_group()
    group.add_argument("--features", type=_names, metavar="A,B,C",
                       help="the columns to use as features")
    group.add_argument("--drop", type=_names, metavar="A,B",
                       help="columns to leave out of the features")


def build_parser():  # noqa: PLR0915 (one flag a line)
    from .interop.onnx import DEFAULT_OPSET

    parser = _Parser(prog="glassnet", description="A neural network in which every step of "
                     "learning can be seen.", formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{demo,train,predict,info,explain,export}")
    p = sub.add_parser("demo", help="train on scikit-learn's digits and show the result",
                       formatter_class=_Help)
    p.add_argument("--epochs", type=_whole(1), default=40, help="passes over the data")
    p.add_argument("--model", default="dense", choices=["dense", "cnn"],
                   help="dense: a 64-64-10 network; cnn: also a small convolutional one")
    p.add_argument("--out-dir", type=_out_dir, default="glassnet-demo",
                   help="folder for the model and the plots (created if missing)")
    _live_flags(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train on a CSV file and save the model",
                       formatter_class=_Help)
    p.add_argument("data", help="a CSV file with a header line")
    p.add_argument("--target", required=True, help="the column to predict")
    _data_flags(p)
    p.add_argument("--hidden", type=_sizes(), default="64,32", metavar="SIZES",
                   help="units of each hidden layer")
    p.add_argument("--activation", default="relu",
                   choices=["relu", "tanh", "logistic", "identity", "leaky_relu"],
                   help="activation of the hidden layers")
    p.add_argument("--epochs", type=_whole(1), default=200,
                   help="most passes over the data (lbfgs: most iterations)")
    p.add_argument("--batch-size", type=_whole(1), default=32, help="rows per step")
    p.add_argument("--learning-rate", type=_real(0), default=1e-3, help="the step size")
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd", "lbfgs"],
                   help="adam, sgd: mini-batches; lbfgs: full-batch quasi-Newton")
    p.add_argument("--validation-split", type=_real(0, 1, high_open=True), default=0.1,
                   help="fraction of rows held out: adam and sgd keep the epoch with the best "
                   "validation loss and stop when it no longer improves; lbfgs scores it "
                   "once at the end; 0 for none")
    p.add_argument("--task", default="auto", choices=["auto", "classify", "regress"],
                   help="auto: classify text labels and up to 20 distinct whole numbers")
    p.add_argument("--random-state", type=_whole(0, SEED_MAX), default=0, help="seed")
    p.add_argument("--out", type=_out_file, default="model.glassnet",
                   help="the model file to write")
    _live_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict for the rows of a CSV file",
                       formatter_class=_Help)
    p.add_argument("model", help="a .glassnet file")
    p.add_argument("data", help="a CSV file with a header line")
    _data_flags(p)
    p.add_argument("--proba", action="store_true",
                   help="class probabilities instead of classes (classifiers only)")
    p.add_argument("--out", type=_out_file, help="write a CSV file (default: to stdout)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("info", help="what a saved model takes, holds and gives",
                       formatter_class=_Help)
    p.add_argument("model", help="a .glassnet file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("explain", help="one training step, number by number",
                       formatter_class=_Help)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--example", choices=["3-2-2", "2-3-1"],
                       help="a worked example (default: 3-2-2)")
    which.add_argument("--network", type=_sizes(2), metavar="SIZES",
                       help="sizes of a small network of your own, e.g. 4,3,2")
    p.add_argument("--activation", choices=["sigmoid", "tanh", "relu", "leaky_relu", "identity"],
                   help="hidden activation of a --network (default: sigmoid)")
    p.add_argument("--loss", choices=["mse", "binary_cross_entropy", "cross_entropy"],
                   help="loss of a --network (default: mse)")
    p.add_argument("--learning-rate", type=_real(0),
                   help="the step size (default: the example's; 0.1 for a --network)")
    p.add_argument("--steps", type=_whole(1), default=1,
                   help="steps of gradient descent; more than 1 also lists the error")
    p.add_argument("--format", default="text", choices=["text", "markdown", "html"],
                   help="how to print the numbers")
    p.add_argument("--digits", type=_whole(0, 16), default=4, help="digits after the point")
    p.add_argument("--random-state", type=_whole(0, SEED_MAX),
                   help="seed of a --network's weights and data (default: 0)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("export", help="write a saved model as an ONNX file, for serving",
                       formatter_class=_Help)
    p.add_argument("model", help="a .glassnet file")
    p.add_argument("out", type=_out_file, help="the .onnx file to write")
    p.add_argument("--opset", type=_whole(1), metavar="N",
                   help=f"the ONNX opset (default: {DEFAULT_OPSET})")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"glassnet {args.command}"
    try:
        args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CLIError, ValueError, TypeError, OSError) as exc:  # a mistake, or the library's
        parser.exit(2, f"{prog}: error: {' '.join(str(exc).split())}\n")
    except KeyboardInterrupt:
        saved = "; nothing was saved" if args.command == "train" else ""
        parser.exit(130, f"{prog}: interrupted{saved}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
