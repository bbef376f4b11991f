"""Parity with scikit-learn's MLP: same parameters, same data, same splits.

    python -m benchmarks.parity_sklearn [--seeds 5]

For each bundled data set (digits, iris, breast cancer, wine; diabetes and a
synthetic make_regression) and each solver (lbfgs, sgd, adam), fits
glassnet's and scikit-learn's estimator with identical parameters inside the
same Pipeline (StandardScaler; targets standardized for regression) on the
same train/test split, for several seeds, and compares the mean test score
(accuracy or R²). The claim checked: glassnet >= scikit-learn - 0.01.
Writes the table into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from glassnet import MLPClassifier, MLPRegressor

from .results import write_section

BEGIN, END = "<!-- parity:begin -->", "<!-- parity:end -->"

DATASETS = {
    "digits": (lambda: load_digits(return_X_y=True), "clf"),
    "iris": (lambda: load_iris(return_X_y=True), "clf"),
    "breast_cancer": (lambda: load_breast_cancer(return_X_y=True), "clf"),
    "wine": (lambda: load_wine(return_X_y=True), "clf"),
    "diabetes": (lambda: load_diabetes(return_X_y=True), "reg"),
    "make_regression": (lambda: make_regression(n_samples=1000, n_features=20, noise=10.0,
                                                random_state=0), "reg"),
}
PARAMS = {"hidden_layer_sizes": (64,), "max_iter": 300, "alpha": 1e-4}


def model(library, kind, solver, seed):
    params = dict(PARAMS, solver=solver, random_state=seed)
    if kind == "clf":
        est = (MLPClassifier if library == "glassnet" else SkClassifier)(**params)
        return make_pipeline(StandardScaler(), est)
    est = (MLPRegressor if library == "glassnet" else SkRegressor)(**params)
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), est),
                                      transformer=StandardScaler())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parity_sklearn")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    rows, ok_all = [], True
    for name, (load, kind) in DATASETS.items():
        X, y = load()
        for solver in ("lbfgs", "sgd", "adam"):
            scores = {"glassnet": [], "sklearn": []}
            times = {"glassnet": 0.0, "sklearn": 0.0}
            for seed in range(args.seeds):
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.25, random_state=seed,
                    stratify=y if kind == "clf" else None)
                for library in scores:
                    est = model(library, kind, solver, seed)
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        est.fit(X_tr, y_tr)
                    times[library] += time.perf_counter() - start
                    scores[library].append(est.score(X_te, y_te))
            ours, theirs = np.mean(scores["glassnet"]), np.mean(scores["sklearn"])
            ok = ours >= theirs - 0.01
            ok_all &= ok
            rows.append(f"| {name} | {solver} | {ours:.4f} ± {np.std(scores['glassnet']):.4f} | "
                        f"{theirs:.4f} ± {np.std(scores['sklearn']):.4f} | {ours - theirs:+.4f} | "
                        f"{'yes' if ok else 'NO'} | {times['glassnet']:.1f} s / "
                        f"{times['sklearn']:.1f} s |")
            print(rows[-1], flush=True)
    text = "\n".join([
        BEGIN,
        "## Parity with scikit-learn's MLP (issue 3)",
        "",
        f"Command: `python -m benchmarks.parity_sklearn --seeds {args.seeds}`, run "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Parameters for both: "
        f"{PARAMS} and the solver; StandardScaler on X (and on y for regression); 25% "
        f"test split per seed (stratified for classification); seeds 0-{args.seeds - 1}. "
        "Score: accuracy (classification) or R² (regression), mean ± std over seeds.",
        "",
        "| data set | solver | glassnet | scikit-learn | difference | ≥ sklearn − 0.01 | "
        "fit time (all seeds) glassnet / sklearn |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"All within the bound: {'yes' if ok_all else 'NO'}.",
        END,
    ])
    write_section(BEGIN, END, text)
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
