"""The command line: ``glassnet demo | train | predict | info | explain``.

Argument parsing and printing only; the work is the library's. A user's mistake
prints one line (``glassnet: error: ...``) and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np


class CLIError(Exception):
    """A mistake to report in one line."""


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 64,32, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 64,32, got {text!r}")
    return sizes


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
    print(f"Training a 64-64-10 network on scikit-learn's digits ({len(X_tr)} images of 8x8 "
          f"pixels; {len(X_te)} held out)")
    history = _train(gn, net, X_tr, y_tr, args.epochs, progress=args.model == "dense")
    dense = net.evaluate(X_te, y_te)
    print(f"test accuracy: {dense['accuracy']:.4f}   test loss: {dense['loss']:.4f}")
    if args.model == "cnn":
        net = gn.Sequential([
            gn.Conv2D(16, 3, padding="same", activation="relu"),
            gn.Conv2D(32, 3, padding="same", activation="relu"), gn.MaxPooling2D(2),
            gn.Flatten(), gn.Dense(10, activation="softmax"),
        ], optimizer=gn.Adam(3e-3), random_state=0)
        X_tr, X_te = X_tr.reshape(-1, 8, 8, 1), X_te.reshape(-1, 8, 8, 1)  # (n, h, w, channels)
        print("Training a CNN on the same images as (8, 8, 1) arrays: conv 16 3x3, conv 32 "
              "3x3, max pool 2, softmax 10")
        history = _train(gn, net, X_tr, y_tr, args.epochs, progress=True)
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
    ax = gn.plot_history(history)
    ax.figure.savefig(png_path, dpi=100, bbox_inches="tight")
    print(f"saved the model to {model_path} and the training curve to {png_path}")
    if args.model == "cnn":
        filters_path = out / "filters.png"
        gn.plot_filters(net, 0).savefig(filters_path, dpi=100, bbox_inches="tight")
        print(f"saved the first layer's filters to {filters_path}")


def _train(gn, net, X, y, epochs, progress):
    callbacks = [gn.EarlyStopping(patience=5)]
    if progress:
        callbacks.append(gn.ProgressBar(file=sys.stdout))
    return net.fit(X, y, epochs=epochs, batch_size=32, validation_split=0.1,
                   callbacks=callbacks, verbose=0)


# -- train / predict / info ---------------------------------------------------------------

def _read_csv(path):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such data file: {path}")
    try:
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for a bad file
        raise CLIError(f"cannot read {path} as CSV: {exc}") from None


def _features(frame, columns, path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CLIError(f"{path} lacks the column(s) the model was trained on: {missing}")
    data = frame[list(columns)]
    bad = [c for c in columns if data[c].dtype.kind not in "biuf"]
    if bad:
        raise CLIError(f"column(s) {bad} of {path} are not numeric; encode them as numbers")
    return data


def cmd_train(args):
    import glassnet as gn

    frame = _read_csv(args.data)
    if args.target not in frame.columns:
        raise CLIError(f"no column {args.target!r} in {args.data}; columns: "
                       f"{', '.join(map(str, frame.columns))}")
    y = frame[args.target].to_numpy()
    X = _features(frame, [c for c in frame.columns if c != args.target], args.data)
    task = args.task
    if task == "auto":
        task = "classify" if y.dtype.kind in "OUSb" or len(np.unique(y)) <= 20 else "regress"
    params = dict(hidden_layer_sizes=tuple(args.hidden), activation=args.activation,
                  solver=args.optimizer, max_iter=args.epochs, batch_size=args.batch_size,
                  learning_rate_init=args.learning_rate, random_state=args.random_state,
                  early_stopping=args.validation_split > 0, early_stopping_monitor="val_loss",
                  validation_fraction=args.validation_split or 0.1, verbose=True)
    est = gn.MLPClassifier(**params) if task == "classify" else gn.MLPRegressor(**params)
    if task == "regress" and y.dtype.kind not in "biuf":
        raise CLIError(f"target {args.target!r} is not numeric; use --task classify")
    # Train on standardized features, then fold the scaling into the first layer
    # (x - mu) / sigma @ W + b = x @ (W / sigma) + (b - (mu / sigma) @ W), so the saved
    # model takes the raw columns.
    mu = np.array(X.mean(), dtype=float)
    sigma = np.array(X.std(ddof=0), dtype=float)
    sigma[sigma == 0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit((X - mu) / sigma, y)
    W, b = est.coefs_[0], est.intercepts_[0]
    b -= ((mu / sigma) @ W).astype(b.dtype)
    W /= sigma[:, None].astype(W.dtype)
    what = "accuracy" if task == "classify" else "R²"
    if est.early_stopping:
        best = int(np.argmin(est.validation_loss_curve_))
        print(f"validation {what}: {est.validation_scores_[best]:.4f}, loss "
              f"{est.validation_loss_curve_[best]:.4f} (best epoch {best + 1} of {est.n_iter_})")
    print(f"training {what}: {est.score(X, y):.4f}")
    gn.save(est, args.out)
    print(f"saved the model to {args.out}")


def _load(path):
    import glassnet as gn

    if not Path(path).exists():
        raise CLIError(f"no such model file: {path}")
    return gn.load(path)


def cmd_predict(args):
    model = _load(args.model)
    frame = _read_csv(args.data)
    columns = getattr(model, "feature_names_in_", None)
    if columns is None:
        columns = list(frame.columns)
    X = _features(frame, columns, args.data)
    if hasattr(model, "predict_proba") and args.proba:
        out = np.asarray(model.predict_proba(X))
        names = [f"proba_{c}" for c in model.classes_]
    elif hasattr(model, "model_"):
        out, names = np.asarray(model.predict(X)), ["prediction"]
    else:  # a Sequential: its raw outputs
        out = model.predict(X.to_numpy(dtype=float))
        names = [f"output_{i}" for i in range(out.shape[1])] if out.ndim == 2 else ["output"]
    import pandas as pd

    table = pd.DataFrame(out.reshape(len(X), -1), columns=names)
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {len(table)} predictions to {args.out}")
    else:
        print(table.to_csv(index=False), end="")


def cmd_info(args):
    model = _load(args.model)
    if hasattr(model, "model_"):
        print(f"{type(model).__name__}: {model.get_params()}")
        model.model_.summary()
    else:
        model.summary()


# -- explain ------------------------------------------------------------------------------

def cmd_explain(args):
    import glassnet as gn
    from glassnet.examples import EXAMPLES

    if args.network:
        sizes = args.network
        if len(sizes) < 2:
            raise CLIError("--network needs at least an input and an output size, e.g. 4,3,2")
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
        make_net, make_data = EXAMPLES[args.example]
        net, (X, y) = make_net(), make_data()
    render = {"text": "to_text", "markdown": "to_markdown", "html": "to_html"}[args.format]
    trace = gn.trace_step(net, X, y, learning_rate=args.learning_rate)
    print(getattr(trace, render)(digits=args.digits))
    if args.steps > 1:
        print("The error over the steps of gradient descent:")
        for step in range(1, args.steps + 1):
            trace = gn.trace_step(net, X, y, learning_rate=args.learning_rate, apply=True)
            print(f"  step {step:>4}: J = {trace.loss:.10g}")


def build_parser():
    parser = argparse.ArgumentParser(prog="glassnet", description="A neural network in which "
                                     "every step of learning can be seen.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train on scikit-learn's digits and show the result")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--model", default="dense", choices=["dense", "cnn"],
                   help="dense: a 64-64-10 network; cnn: also a small convolutional one")
    p.add_argument("--out-dir", default="glassnet-demo")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train on a CSV file and save the model")
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--hidden", type=_sizes, default=[64, 32])
    p.add_argument("--activation", default="relu",
                   choices=["relu", "tanh", "logistic", "identity", "leaky_relu"])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd", "lbfgs"])
    p.add_argument("--validation-split", type=float, default=0.1)
    p.add_argument("--task", default="auto", choices=["auto", "classify", "regress"])
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--out", default="model.glassnet")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict for the rows of a CSV file")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--proba", action="store_true")
    p.add_argument("--out")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("info", help="the summary table of a saved model")
    p.add_argument("model")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("explain", help="one training step, number by number")
    p.add_argument("--example", default="3-2-2", choices=["3-2-2", "2-3-1"])
    p.add_argument("--network", type=_sizes, help="sizes of a small network, e.g. 4,3,2")
    p.add_argument("--activation", default="sigmoid",
                   choices=["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
    p.add_argument("--loss", default="mse",
                   choices=["mse", "binary_cross_entropy", "cross_entropy"])
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--format", default="text", choices=["text", "markdown", "html"])
    p.add_argument("--digits", type=int, default=4)
    p.add_argument("--random-state", type=int, default=0)
    p.set_defaults(func=cmd_explain)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CLIError as exc:
        parser.exit(2, f"glassnet: error: {exc}\n")
    except (ValueError, TypeError, OSError) as exc:
        parser.exit(2, f"glassnet: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, "glassnet: interrupted\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
