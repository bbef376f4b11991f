"""ONNX export: every exported model passes onnx's checker, and onnx's reference evaluator
(pure Python, an independent implementation of each operator) and ONNX Runtime give what
glassnet's own predict / predict_proba give, on 1,000 samples."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import glassnet as gn

onnx = pytest.importorskip("onnx")
from onnx.reference import ReferenceEvaluator  # noqa: E402

N = 1000
TOL = 1e-5  # absolute, and relative for values beyond 1 (exp of exp reaches 4e4 in float32)


def run_onnx(model, feeds):
    """The outputs of ``model`` by name, from the reference evaluator and (when installed)
    ONNX Runtime, after the full check."""
    onnx.checker.check_model(model, full_check=True)
    names = [o.name for o in model.graph.output]
    results = [dict(zip(names, ReferenceEvaluator(model).run(None, feeds)))]
    try:
        import onnxruntime as ort
    except ImportError:
        return results
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    results.append(dict(zip(names, session.run(None, feeds))))
    return results


def assert_net_matches(net, shape, seed=0, tol=TOL, opset=None):
    X = np.random.default_rng(seed).normal(size=(N, *shape)).astype(net.dtype)
    model = gn.to_onnx(net, opset=opset)
    assert model.producer_name == "glassnet" and model.producer_version == gn.__version__
    assert model.doc_string and model.graph.doc_string
    want = net.predict(X)
    for got in run_onnx(model, {"input": X}):
        assert got["output"].shape == want.shape and got["output"].dtype == want.dtype
        np.testing.assert_allclose(got["output"], want, rtol=tol, atol=tol)
    return model


# -- dense networks -------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity", "linear",
                                        "leaky_relu", {"name": "leaky_relu", "alpha": 0.3},
                                        "exp", "softmax"])
def test_dense_network_each_activation(activation):
    net = gn.Sequential([gn.Dense(8, activation=activation), gn.Dropout(0.3),
                         gn.Dense(3, activation=activation)], loss="mse",
                        random_state=0).build(5)
    assert_net_matches(net, (5,))


def test_activation_layers_and_float64():
    layers = [gn.Dense(6), gn.ReLU(), gn.Dense(6), gn.LeakyReLU(0.2), gn.Dense(6), gn.Tanh(),
              gn.Dense(6), gn.Sigmoid(), gn.Identity(), gn.Dense(4), gn.Softmax()]
    net = gn.Sequential(layers, random_state=1, dtype="float64").build(5)
    model = assert_net_matches(net, (5,), tol=1e-9)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 5  # a dynamic batch


# -- convolutional networks ------------------------------------------------------------

CONV_NETS = {
    # "same" with stride 2 pads unevenly (the odd pad at the end); Flatten after it sees
    # (h, w, c) order, so the Dense rows would be wrong under a channels-first flatten
    "conv2d-same-stride-maxpool-flatten": ((7, 6, 2), lambda: [
        gn.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        gn.MaxPooling2D(2, padding="same"), gn.Flatten(), gn.Dense(3, activation="softmax")]),
    "conv2d-int-pad-dilation-avgpool-same": ((8, 7, 3), lambda: [
        gn.Conv2D(3, (2, 3), padding=1, dilation_rate=(2, 1), activation="tanh"),
        gn.AveragePooling2D(3, strides=1, padding="same"), gn.Flatten(), gn.Dense(2)]),
    "conv2d-valid-strides-globalmax": ((9, 8, 2), lambda: [
        gn.Conv2D(5, 3, strides=(1, 2), activation="leaky_relu", use_bias=False),
        gn.AveragePooling2D((2, 3), strides=(2, 1)), gn.GlobalMaxPooling2D(), gn.Dense(2)]),
    "conv2d-globalavg-and-channels-last-output": ((6, 6, 2), lambda: [
        gn.Conv2D(3, 2, padding="same"), gn.MaxPooling2D(2, strides=1), gn.ReLU()]),
    "conv2d-globalaverage": ((6, 5, 1), lambda: [
        gn.Conv2D(3, 3, padding="same", activation="sigmoid"), gn.GlobalAveragePooling2D(),
        gn.Dense(2, activation="softmax")]),
    "conv1d-same-stride-pools-flatten": ((11, 2), lambda: [
        gn.Conv1D(4, 3, strides=2, padding="same", activation="relu"), gn.MaxPooling1D(2),
        gn.Conv1D(3, 2, dilation_rate=2, padding=2),
        gn.AveragePooling1D(3, padding="same"), gn.Flatten(), gn.Dense(2, activation="sigmoid")]),
    "conv1d-valid-globals": ((10, 3), lambda: [
        gn.Conv1D(4, 4, strides=3), gn.GlobalMaxPooling1D(), gn.Dense(2)]),
    "conv1d-globalaverage": ((10, 3), lambda: [
        gn.Conv1D(4, 3, padding="same", activation="tanh"), gn.MaxPooling1D(3, padding="same"),
        gn.GlobalAveragePooling1D()]),
}


@pytest.mark.parametrize("opset", [11, 17])
def test_softmax_over_a_maps_channels(opset):
    """glassnet's softmax on a map normalizes each position's channels (the last axis); before
    opset 13 ONNX's Softmax flattens from its axis on, so it is taken channels-last."""
    net = gn.Sequential([gn.Conv2D(3, 2, activation="softmax"), gn.MaxPooling2D(2),
                         gn.Conv2D(4, 2, padding="same"), gn.Softmax(), gn.Flatten(),
                         gn.Dense(2)], random_state=0).build((7, 7, 2))
    assert_net_matches(net, (7, 7, 2), opset=opset)


@pytest.mark.parametrize("name", list(CONV_NETS))
def test_conv_networks(name):
    shape, layers = CONV_NETS[name]
    net = gn.Sequential(layers(), loss="mse", random_state=2).build(shape)
    assert_net_matches(net, shape)


def test_consecutive_conv_layers_stay_channels_first():
    shape, layers = CONV_NETS["conv2d-same-stride-maxpool-flatten"]
    net = gn.Sequential([gn.Conv2D(2, 3, padding="same"), gn.BatchNormalization(), gn.ReLU(),
                         *layers()], random_state=0).build(shape)
    model = assert_net_matches(net, shape)
    # one Transpose in (before the first conv), one out (before Flatten)
    assert [n.op_type for n in model.graph.node].count("Transpose") == 2


# -- batch normalization, trained so that its moving statistics are not the initial ones ---

def _trained(layers, shape, **kwargs):
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(256, *shape)) * 3 + 1).astype(np.float32)
    y = rng.integers(0, 3, size=256)
    net = gn.Sequential(layers, optimizer=gn.Adam(1e-2), random_state=0, **kwargs)
    net.fit(X, y, epochs=3, batch_size=32, verbose=0)
    for layer in net.layers:
        if isinstance(layer, gn.BatchNormalization):
            mean, var = layer.state
            assert np.abs(mean).max() > 0.05 and np.abs(var - 1).max() > 0.05
    return net


def test_batch_norm_dense_network_after_training():
    net = _trained([gn.Dense(8), gn.BatchNormalization(momentum=0.5), gn.ReLU(),
                    gn.Dense(8), gn.BatchNormalization(momentum=0.5, center=False,
                                                       scale=False, epsilon=0.01),
                    gn.Dense(3, activation="softmax")], (6,))
    assert_net_matches(net, (6,))


def test_batch_norm_conv_network_after_training():
    net = _trained([gn.BatchNormalization(momentum=0.5), gn.Conv2D(4, 3, padding="same"),
                    gn.BatchNormalization(momentum=0.5), gn.ReLU(), gn.MaxPooling2D(2),
                    gn.Flatten(), gn.Dense(3, activation="softmax")], (6, 6, 2))
    assert_net_matches(net, (6, 6, 2))


# -- the estimators --------------------------------------------------------------------

def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few iterations to converge: fine here
        return est.fit(X, y)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(N, 5)).astype(np.float32)
    k = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return X, k


def _classifier_cases(X, k):
    return {
        "binary-int": (k > 0).astype(int) * 3 + 2,
        "binary-bool": X[:, 0] > 0,
        "multiclass-int": k,
        "multiclass-strings": np.array(["cat", "dog", "emu"])[k],
        "multiclass-object": np.array(["cat", "dog", "emu"], dtype=object)[k],
        "binary-float": np.where(k > 0, 1.0, -1.0),
        "multilabel": np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0].astype(int),
        "one-class": np.full(N, 7),
    }


@pytest.mark.parametrize("case", ["binary-int", "binary-bool", "multiclass-int",
                                  "multiclass-strings", "multiclass-object", "binary-float",
                                  "multilabel", "one-class"])
def test_classifier_label_and_probabilities(data, case):
    X, k = data
    y = _classifier_cases(X, k)[case]
    clf = _fit(gn.MLPClassifier((8,), activation=["tanh"], max_iter=20, random_state=0), X, y)
    model = gn.to_onnx(clf)
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    label, proba = clf.predict(X), clf.predict_proba(X)
    for got in run_onnx(model, {"X": X}):
        assert got["label"].shape == label.shape
        assert (got["label"] == label).all()
        if label.dtype.kind in "iu":
            assert got["label"].dtype == np.int64
        elif label.dtype.kind in "bf":
            assert got["label"].dtype == label.dtype
        else:
            assert all(isinstance(v, str) for v in got["label"].ravel())
        assert got["probabilities"].shape == proba.shape
        np.testing.assert_allclose(got["probabilities"], proba, rtol=0, atol=TOL)


def test_classifier_float64_with_dropout_and_per_layer_activations(data):
    X, k = data
    clf = _fit(gn.MLPClassifier((8, 6), activation=["relu", "leaky_relu"], dropout=0.2,
                                max_iter=20, random_state=0), X.astype(np.float64), k)
    model = gn.to_onnx(clf)
    X64 = X.astype(np.float64)
    for got in run_onnx(model, {"X": X64}):
        assert (got["label"] == clf.predict(X64)).all()
        np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X64), atol=1e-9)


@pytest.mark.parametrize("targets", ["single", "multi", "poisson"])
def test_regressor_variable(data, targets):
    X, _ = data
    y = {"single": X[:, 0] - X[:, 1], "multi": X[:, :2] * [1, -2],
         "poisson": np.abs(X[:, 0])}[targets]
    reg = gn.MLPRegressor(loss="poisson" if targets == "poisson" else "squared_error",
                          hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    reg = _fit(reg, X, y)
    model = gn.to_onnx(reg)
    want = reg.predict(X)
    for got in run_onnx(model, {"X": X}):
        assert got["variable"].shape == want.shape
        np.testing.assert_allclose(got["variable"], want, rtol=0, atol=TOL)


# -- what is refused, in one line ----------------------------------------------------------

class Scale(gn.Layer):
    kind = "scale"

    def forward(self, A, training=False, activate=True):
        return 2 * A


class MyDense(gn.Dense):
    """A user's Dense with its own forward: the export cannot know what it computes."""


def test_unsupported_layers_name_the_layer_and_why():
    net = gn.Sequential([gn.Dense(3), Scale()], random_state=0).build(2)
    with pytest.raises(ValueError, match=r"^Cannot export layer 2 \(scale, Scale\) to ONNX: "
                                         r"Scale is not a glassnet layer this export knows"):
        gn.to_onnx(net)
    net = gn.Sequential([MyDense(3)], random_state=0).build(2)
    with pytest.raises(ValueError, match=r"layer 1 \(dense, MyDense\)"):
        gn.to_onnx(net)


def test_opset_too_low_new_or_not_a_number():
    net = gn.Sequential([gn.Dense(3), gn.BatchNormalization(), gn.Dense(2)],
                        random_state=0).build(2)
    with pytest.raises(ValueError, match=r"^opset=8 is too low for this model: layer 2 "
                                         r"\(batch_normalization\) needs .*BatchNormalization"
                                         r".*use opset >= 9"):
        gn.to_onnx(net, opset=8)
    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(ValueError, match=f"opset={newest + 1} is newer than"):
        gn.to_onnx(net, opset=newest + 1)
    with pytest.raises(ValueError, match="opset must be a whole number >= 1, got '17'"):
        gn.to_onnx(net, opset="17")
    assert gn.to_onnx(gn.Sequential([gn.Dense(2)]).build(2), opset=7).opset_import[0].version == 7


@pytest.mark.parametrize("opset", [9, 11, 13, 15, 17, 19, 21])
def test_each_opset_from_the_lowest_checks_and_runs(opset):
    ort = pytest.importorskip("onnxruntime")
    shape, layers = CONV_NETS["conv2d-same-stride-maxpool-flatten"]
    net = gn.Sequential([gn.BatchNormalization(), *layers()], random_state=0).build(shape)
    model = gn.to_onnx(net, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    X = np.random.default_rng(0).normal(size=(50, *shape)).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    np.testing.assert_allclose(got, net.predict(X), atol=TOL)


def test_not_built_not_fitted_not_a_model():
    with pytest.raises(ValueError, match="^The network is not built yet"):
        gn.to_onnx(gn.Sequential([gn.Dense(2)]))
    with pytest.raises(ValueError, match="^This MLPClassifier is not fitted yet"):
        gn.to_onnx(gn.MLPClassifier())
    with pytest.raises(TypeError, match="takes a Sequential, MLPClassifier or MLPRegressor, "
                                        "got list"):
        gn.to_onnx([gn.Dense(2)])


# -- the file ------------------------------------------------------------------------------

def test_writes_the_model_atomically(tmp_path):
    net = gn.Sequential([gn.Dense(3, activation="softmax")], random_state=0).build(4)
    path = tmp_path / "net.onnx"
    model = gn.to_onnx(net, path)
    assert onnx.load(path) == model
    assert os.listdir(tmp_path) == ["net.onnx"]  # no temporary file left
    missing = tmp_path / "nowhere" / "net.onnx"
    with pytest.raises(FileNotFoundError, match="there is no folder .*nowhere"):
        gn.to_onnx(net, missing)


# -- the command line ------------------------------------------------------------------------

def test_cli_export_end_to_end(tmp_path, data):
    X, k = data
    clf = _fit(gn.MLPClassifier((8,), max_iter=20, random_state=0), X,
               np.array(["a", "b", "c"])[k])
    gn.save(clf, tmp_path / "clf.glassnet")
    out = subprocess.run([sys.executable, "-m", "glassnet", "export",
                          str(tmp_path / "clf.glassnet"), str(tmp_path / "clf.onnx"),
                          "--opset", "15"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "outputs label, probabilities" in out.stdout and "opset 15" in out.stdout
    assert "exporting the MLPClassifier" in out.stderr  # progress on stderr
    model = onnx.load(tmp_path / "clf.onnx")
    assert model.opset_import[0].version == 15
    (got,) = run_onnx(model, {"X": X})[:1]
    assert (got["label"] == clf.predict(X)).all()


def _cli_error(capsys, *argv):
    from glassnet import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", *map(str, argv)])
    err = capsys.readouterr().err
    # one error line, last (after the progress note, if any), no traceback
    lines = err.splitlines()
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    assert lines[-1].startswith("glassnet export: error: ") and err.count("error:") == 1
    return lines[-1]


def test_cli_export_errors(tmp_path, capsys):
    net = gn.Sequential([gn.Dense(3), gn.BatchNormalization(), gn.Dense(2)],
                        random_state=0).build(2)
    gn.save(net, tmp_path / "net.glassnet")
    assert "no such model file" in _cli_error(capsys, tmp_path / "none.glassnet",
                                              tmp_path / "o.onnx")
    assert "argument --opset: expected a whole number >= 1, got '0'" in _cli_error(
        capsys, tmp_path / "net.glassnet", tmp_path / "o.onnx", "--opset", "0")
    assert "the folder" in _cli_error(capsys, tmp_path / "net.glassnet",
                                      tmp_path / "no" / "o.onnx")
    assert "opset=8 is too low" in _cli_error(capsys, tmp_path / "net.glassnet",
                                              tmp_path / "o.onnx", "--opset", "8")
    assert not (tmp_path / "o.onnx").exists()
