"""Bad input everywhere: one table, each row a mistake a user makes.

Each row must raise the expected error type, with a message naming the argument and what was
expected, and leave an existing model untouched (its weights, bit for bit, and its file: the
``save-*`` rows try to write over ``existing.glassnet``, which must keep its bytes).
"""

import os
import re
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import ModelFileError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = (X[:, 0] > 0).astype(int)
Y3 = np.arange(40) % 3


def fitted_net():
    net = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(2), gn.Softmax()],
                        random_state=0)
    net.fit(X, Y, epochs=1, verbose=0)
    return net


def fitted_clf():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, Y3)


def fitted_reg():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gn.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, X[:, 0])


def with_nan(A, value=np.nan):
    A = np.array(A, dtype=float)
    A[3, ...] = value
    return A


def beyond(A, value, at):
    A = np.array(A, dtype=float)
    A[at] = value
    return A


def regressor():
    return gn.Sequential([gn.Dense(1)], loss="mse", random_state=0)


def model_file(tmp, name="m.glassnet"):
    path = os.path.join(tmp, name)
    fitted_net().save(path)
    return path


EXISTING = "existing.glassnet"  # in each test's folder, written before the call


def existing(tmp):
    return os.path.join(tmp, EXISTING)


def clf_with_callbacks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0,
                                callbacks=[gn.EarlyStopping(monitor="loss")]).fit(X, Y3)


def truncated(tmp):
    path = model_file(tmp)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])
    return path


def foreign(tmp, content=b"sepal_length,sepal_width\n5.1,3.5\n", name="data.csv"):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def other_zip(tmp):
    import zipfile

    path = os.path.join(tmp, "model.keras")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", '{"class_name": "Sequential"}')
        zf.writestr("model.weights.h5", b"\x89HDF\r\n")
    return path


# (id, model factory, call(model, tmp), error type, message pattern)
CASES = [
    # -- Sequential.fit ---------------------------------------------------------------
    ("fit-nan-X", fitted_net, lambda m, t: m.fit(with_nan(X), Y, verbose=0), ValueError,
     "X contains NaN or infinity"),
    ("fit-inf-X", fitted_net, lambda m, t: m.fit(with_nan(X, np.inf), Y, verbose=0), ValueError,
     "X contains NaN or infinity"),
    ("fit-nan-y", fitted_net, lambda m, t: m.fit(X, with_nan(Y), verbose=0), ValueError,
     "y contains NaN"),
    ("fit-1d-X", fitted_net, lambda m, t: m.fit(X[:, 0], Y, verbose=0), ValueError,
     "X must be 2-D.*reshape"),
    ("fit-zero-samples", lambda: None,
     lambda m, t: gn.Sequential([gn.Dense(2), gn.Softmax()]).fit(X[:0], Y[:0], verbose=0),
     ValueError, "X has 0 samples"),
    ("fit-split-one-sample", lambda: None,
     lambda m, t: gn.Sequential([gn.Dense(2), gn.Softmax()]).fit(
         X[:1], Y[:1], validation_split=0.5, verbose=0),
     ValueError, "validation_split=0.5 leaves an empty training or validation set"),
    ("fit-length-mismatch", fitted_net, lambda m, t: m.fit(X, Y[:-1], verbose=0), ValueError,
     "X and y must have the same number of samples, got 40 and 39"),
    ("fit-strings-X", fitted_net, lambda m, t: m.fit(np.full((40, 3), "a"), Y, verbose=0),
     ValueError, "X must hold numbers"),
    ("fit-objects-X", fitted_net,
     lambda m, t: m.fit(np.array([[object()] * 3] * 40), Y, verbose=0), ValueError,
     "X must hold numbers"),
    ("fit-class-out-of-range", fitted_net, lambda m, t: m.fit(X, Y3, verbose=0), ValueError,
     r"class labels y in \[0, 1\]"),
    ("fit-feature-count", fitted_net, lambda m, t: m.fit(X[:, :2], Y, verbose=0), ValueError,
     r"X has samples of shape \(2,\), but the network was built for \(3,\)"),
    ("fit-batch-size-0", fitted_net, lambda m, t: m.fit(X, Y, batch_size=0, verbose=0),
     ValueError, "batch_size must be an integer >= 1"),
    ("fit-epochs-0", fitted_net, lambda m, t: m.fit(X, Y, epochs=0, verbose=0), ValueError,
     "epochs must be an integer >= 1"),
    ("fit-verbose", fitted_net, lambda m, t: m.fit(X, Y, verbose=5), ValueError,
     "verbose must be 0, 1 or 2"),
    ("fit-on-divergence", fitted_net, lambda m, t: m.fit(X, Y, on_divergence="ignore"),
     ValueError, "on_divergence must be 'raise' or 'warn'"),
    ("fit-resume-missing", fitted_net,
     lambda m, t: m.fit(X, Y, resume_from=os.path.join(t, "nope.glassnet"), verbose=0),
     ModelFileError, "resume_from=.*No model file"),
    ("fit-callback-not-callback", fitted_net, lambda m, t: m.fit(X, Y, callbacks=[print]),
     ValueError, "callbacks must be glassnet Callback instances"),
    # Finite in float64 but not in the network's float32: refused before the cast makes inf.
    ("fit-beyond-float32-X", fitted_net, lambda m, t: m.fit(beyond(X, 1e39, (7, 2)), Y,
                                                            verbose=0), ValueError,
     r"^X\[:, 2\] has 1e\+39 at row 7, beyond float32's range \(3\.4e\+38\); scale the "
     r"data or use dtype='float64'\.$"),
    ("fit-1e308-X", fitted_net, lambda m, t: m.fit(beyond(X, -1e308, (0, 1)), Y, verbose=0),
     ValueError, r"^X\[:, 1\] has -1e\+308 at row 0, beyond float32's range"),
    ("fit-beyond-float32-y", lambda: None,
     lambda m, t: regressor().fit(X, beyond(X[:, 0], 1e39, 5), verbose=0), ValueError,
     r"^y has 1e\+39 at row 5, beyond float32's range \(3\.4e\+38\)"),
    ("fit-beyond-float32-validation-X", fitted_net,
     lambda m, t: m.fit(X, Y, validation_data=(beyond(X, 1e39, (1, 0)), Y), verbose=0),
     ValueError, r"^X\[:, 0\] has 1e\+39 at row 1, beyond float32's range"),
    ("fit-zero-features", lambda: None,
     lambda m, t: gn.Sequential([gn.Dense(2), gn.Softmax()]).fit(np.zeros((10, 0)), Y[:10],
                                                                 verbose=0),
     ValueError, r"^X has 0 features \(shape \(10, 0\)\); at least 1 is needed\.$"),
    ("fit-ce-2d-string-targets", lambda: None,
     lambda m, t: gn.Sequential([gn.Dense(2), gn.Softmax()]).fit(
         X, np.array([["a", "b"]] * 40), verbose=0),
     ValueError, "needs (integer class labels|numeric targets).*got dtype <U1"),
    # -- constructing -----------------------------------------------------------------
    ("optimizer-negative-lr", lambda: None, lambda m, t: gn.SGD(learning_rate=-0.1), ValueError,
     "learning_rate must be a finite number > 0, got -0.1"),
    ("optimizer-zero-lr", lambda: None, lambda m, t: gn.Adam(learning_rate=0), ValueError,
     "learning_rate must be a finite number > 0, got 0"),
    ("unknown-optimizer", lambda: None, lambda m, t: gn.Sequential([gn.Dense(1)],
                                                                   optimizer="adamax"),
     ValueError, "Unknown optimizer 'adamax'. Valid optimizer names are: .*'adam'"),
    ("unknown-loss", lambda: None, lambda m, t: gn.Sequential([gn.Dense(1)], loss="hinge"),
     ValueError, "Unknown loss 'hinge'. Valid loss names are"),
    ("unknown-activation", lambda: None, lambda m, t: gn.Dense(3, activation="swishy"),
     ValueError, "Unknown activation 'swishy'. Valid activation names are"),
    ("units-zero", lambda: None, lambda m, t: gn.Dense(0), ValueError,
     "units must be a positive integer, got 0"),
    ("dtype-float16", lambda: None, lambda m, t: gn.Sequential([gn.Dense(1)], dtype="float16"),
     ValueError, "dtype must be one of"),
    ("checkpoint-every-0", lambda: None, lambda m, t: gn.Checkpoint("m.glassnet", every=0),
     ValueError, "every must be an integer >= 1"),
    ("input-dim-bool", lambda: None, lambda m, t: gn.Dense(2, input_dim=True), ValueError,
     "input_dim must be a positive integer or None, got True"),
    ("initializer-bool", lambda: None, lambda m, t: gn.Dense(2, kernel_initializer=True),
     ValueError, "initializer.*got True"),
    # 10 * 10**12 + 10**12 weights: refused at build in one line, before numpy's MemoryError.
    ("dense-too-many-weights", lambda: None,
     lambda m, t: gn.Sequential([gn.Dense(10**12)]).build(10), ValueError,
     r"^Layer 1 \(dense\) needs 11,000,000,000,000 weights: .* 80\.0 TiB as float32"),
    # -- Sequential.predict -----------------------------------------------------------
    ("predict-feature-count", fitted_net, lambda m, t: m.predict(X[:, :2]), ValueError,
     r"X has samples of shape \(2,\), but the network was built for \(3,\)"),
    ("predict-nan", fitted_net, lambda m, t: m.predict(with_nan(X)), ValueError,
     "X contains NaN or infinity"),
    ("predict-beyond-float32", fitted_net, lambda m, t: m.predict(beyond(X, 3e38 * 2, (9, 1))),
     ValueError, r"^X\[:, 1\] has 6e\+38 at row 9, beyond float32's range"),
    ("predict-zero-features", fitted_net, lambda m, t: m.predict(np.zeros((5, 0))), ValueError,
     r"^X has 0 features \(shape \(5, 0\)\)"),
    ("predict-unbuilt", lambda: None,
     lambda m, t: gn.Sequential([gn.Dense(2)]).predict(X), ValueError, "not built yet"),
    # -- the estimators ---------------------------------------------------------------
    ("clf-nan-X", fitted_clf, lambda m, t: m.fit(with_nan(X), Y3), ValueError,
     "(?i)input (X )?contains NaN"),
    ("clf-unseen-class-partial-fit", fitted_clf,
     lambda m, t: m.partial_fit(X, np.arange(40) % 5), ValueError,
     "`y` has classes not in `self.classes_`"),
    ("clf-predict-features", fitted_clf, lambda m, t: m.predict(X[:, :2]), ValueError,
     "X has 2 features, but MLPClassifier is expecting 3 features"),
    ("clf-lr-negative", fitted_clf,
     lambda m, t: m.set_params(learning_rate_init=-1.0).fit(X, Y3), ValueError,
     r"learning_rate_init.*must be a float in the range \(0.0, inf\)"),
    ("clf-batch-size-0", fitted_clf, lambda m, t: m.set_params(batch_size=0).fit(X, Y3),
     ValueError, "batch_size"),
    ("clf-unknown-activation", fitted_clf,
     lambda m, t: m.set_params(activation="swish").fit(X, Y3), ValueError, "activation"),
    ("clf-strings-X", fitted_clf, lambda m, t: m.fit(np.full((40, 3), "a"), Y3), ValueError,
     "(?i)string|could not convert"),
    ("reg-inf-y", fitted_reg, lambda m, t: m.fit(X, with_nan(X[:, 0], np.inf)), ValueError,
     "(?i)input (y )?contains infinity|contains NaN, infinity"),
    ("reg-max-iter-0", fitted_reg, lambda m, t: m.set_params(max_iter=0).fit(X, X[:, 0]),
     ValueError, "max_iter"),
    # -- load -------------------------------------------------------------------------
    ("load-missing", lambda: None, lambda m, t: gn.load(os.path.join(t, "none.glassnet")),
     ModelFileError, "No model file at"),
    ("load-directory", lambda: None, lambda m, t: gn.load(t), ModelFileError,
     "is a directory, not a .glassnet model file"),
    ("load-truncated", lambda: None, lambda m, t: gn.load(truncated(t)), ModelFileError,
     "not a .glassnet model file.*truncated"),
    ("load-csv", lambda: None, lambda m, t: gn.load(foreign(t)), ModelFileError,
     "not a zip archive"),
    ("load-other-zip", lambda: None, lambda m, t: gn.load(other_zip(t)), ModelFileError,
     "unexpected members.*expected"),
    ("load-empty-file", lambda: None, lambda m, t: gn.load(foreign(t, b"", "e.glassnet")),
     ModelFileError, "not a .glassnet model file"),
    ("load-not-a-path", lambda: None, lambda m, t: gn.load(42), TypeError,
     "path must be a str or os.PathLike"),
    ("save-into-directory", fitted_net, lambda m, t: m.save(t), ModelFileError,
     "is a directory; give a file name"),
    # -- save over an existing file: refused before it is touched -----------------------
    ("save-unbuilt-over-existing", lambda: None,
     lambda m, t: gn.save(gn.Sequential([gn.Dense(2)]), existing(t)), ValueError,
     "not built yet"),
    ("save-callbacks-over-existing", clf_with_callbacks, lambda m, t: m.save(existing(t)),
     ValueError, r"callbacks=.*data only.*set_params\(callbacks=None\)"),
    ("save-unfitted-over-existing", lambda: None,
     lambda m, t: gn.MLPRegressor().save(existing(t)), ValueError, "not fitted yet"),
    ("save-not-a-model-over-existing", lambda: None,
     lambda m, t: gn.save({"W": X}, existing(t)), TypeError,
     "model must be a glassnet Sequential, MLPClassifier or MLPRegressor, got dict"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c[0]) for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(case, tmp_path):
    _, factory, call, error, pattern = case
    model = factory()
    net = None if model is None else getattr(model, "model_", model)
    before = None if net is None else net.params.copy()
    path = existing(str(tmp_path))
    with open(path, "wb") as f:
        f.write(KNOWN_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=pattern):
            call(model, str(tmp_path))
    if net is not None:
        assert np.array_equal(getattr(model, "model_", model).params, before)
    with open(path, "rb") as f:
        assert f.read() == KNOWN_BYTES
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]  # no temp file left


# Another model's file (a successful save of any row's model would change these bytes).
KNOWN_BYTES = b""


@pytest.fixture(scope="module", autouse=True)
def _known_bytes(tmp_path_factory):
    global KNOWN_BYTES
    path = tmp_path_factory.mktemp("known") / "other.glassnet"
    net = gn.Sequential([gn.Dense(3), gn.Softmax()], random_state=5)
    net.fit(X, Y3, epochs=1, verbose=0)
    net.save(path)
    KNOWN_BYTES = path.read_bytes()


def test_the_existing_file_check_can_fail(tmp_path):
    # The check above has teeth: a save that succeeds over the file does change its bytes.
    path = existing(str(tmp_path))
    with open(path, "wb") as f:
        f.write(KNOWN_BYTES)
    fitted_net().save(path)
    with open(path, "rb") as f:
        assert f.read() != KNOWN_BYTES


def test_each_row_names_its_problem():
    # (Replaces a count of the rows, which pinned nothing.) Ids are unique, and every
    # pattern says something specific: it matches neither an empty message nor the bare
    # name of the error type, so a row cannot pass on any message at all.
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    for id_, _, _, error, pattern in CASES:
        assert re.search(pattern, "") is None, id_
        assert re.search(pattern, error.__name__) is None, id_
