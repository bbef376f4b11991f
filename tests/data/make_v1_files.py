"""Write the version-1 ``.glassnet`` files of tests/data/ and what they predicted.

Run once, with glassnet at commit 5dddd31 (the last to write format version 1), from the
repository root: ``python tests/data/make_v1_files.py``. The files are kept so that every
later version of the loader is tested against files an old glassnet really wrote.
"""

from pathlib import Path

import numpy as np

import glassnet as gn

HERE = Path(__file__).resolve().parent


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y_cls = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)  # three classes
    y_reg = np.sin(X[:, 0]) + 0.5 * X[:, 1]

    net = gn.Sequential([
        gn.Dense(8, activation="relu"), gn.Dropout(0.25), gn.Dense(6), gn.Tanh(),
        gn.Dense(3, activation="softmax"),
    ], optimizer=gn.Adam(0.01), random_state=0)
    net.fit(X, y_cls, epochs=3, batch_size=16, verbose=0)
    net.save(HERE / "v1_sequential.glassnet")

    clf = gn.MLPClassifier(hidden_layer_sizes=(7,), max_iter=20, random_state=0).fit(X, y_cls)
    gn.save(clf, HERE / "v1_classifier.glassnet")

    reg = gn.MLPRegressor(hidden_layer_sizes=(6, 4), solver="lbfgs", max_iter=30,
                          random_state=0).fit(X, y_reg)
    gn.save(reg, HERE / "v1_regressor_lbfgs.glassnet")

    X_test = rng.normal(size=(10, 5))
    np.savez(
        HERE / "v1_predictions.npz", X=X_test, sequential=net.predict(X_test),
        classifier_proba=clf.predict_proba(X_test), classifier=clf.predict(X_test),
        regressor=reg.predict(X_test),
    )


if __name__ == "__main__":
    main()
