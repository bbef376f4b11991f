"""``to_onnx``: a ``Sequential`` or a fitted ``MLPClassifier``/``MLPRegressor`` as an ONNX
model, for ONNX Runtime and the other ONNX servers. The network's graph is
:mod:`glassnet.interop.onnx`'s; this module adds the estimators' outputs, as skl2onnx names
them with its zipmap off, and the file."""

from __future__ import annotations

import numpy as np

from ..estimators import MLPClassifier, MLPRegressor
from ..interop import onnx as graphs
from ..io.container import check_target, replace_atomic
from ..network import Network


def to_onnx(model, path=None, opset=None):
    """The ONNX model of ``model``, written to ``path`` when given.

    Parameters
    ----------
    model : Sequential (built), MLPClassifier or MLPRegressor (fitted)
    path : str or os.PathLike, optional
        Where to write the model (atomically: a temporary file, then a rename).
    opset : int, optional
        The ONNX opset (default 17); one too low for the operators used is refused.

    Returns
    -------
    onnx.ModelProto
        Checked by ``onnx.checker``. Inputs and outputs, ``N`` the batch dimension and all
        floats of the network's dtype (float32, or float64):

        - ``Sequential``: input ``input``, shaped as the network's samples (channels-last,
          ``(N, h, w, c)`` as glassnet's); output ``output``, as ``predict``.
        - ``MLPClassifier``: input ``X`` ``(N, n_features)``; ``label`` as ``predict``
          (``(N,)`` of the learned classes: int64 for integer classes, strings, bool or the
          classes' float type; a multilabel estimator's ``(N, n_labels)`` 0/1 int64 matrix)
          and ``probabilities`` as ``predict_proba`` (``[1 - p, p]`` for two classes).
        - ``MLPRegressor``: input ``X``; output ``variable`` as ``predict`` (``(N,)`` for one
          target, else ``(N, n_targets)``).

        ONNX Runtime's CPU provider has no float64 Conv or AveragePool: export a float64
        convolutional network as ``net.copy(dtype="float32")`` to serve it there.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from onnx.reference import ReferenceEvaluator
    >>> net = gn.Sequential([gn.Dense(2, activation="softmax")], random_state=0).build(3)
    >>> model = gn.to_onnx(net)  # or gn.to_onnx(net, "net.onnx") to write it too
    >>> [o.name for o in model.graph.output]
    ['output']
    >>> X = np.ones((1, 3), dtype=np.float32)
    >>> bool(abs(ReferenceEvaluator(model).run(None, {"input": X})[0] - net.predict(X)).max()
    ...      < 1e-6)
    True
    """
    if path is not None:
        path = check_target(path, "model.onnx")  # a missing folder named before any work
    if isinstance(model, (MLPClassifier, MLPRegressor)):
        proto = _estimator(model, opset)
    elif isinstance(model, Network):
        proto = graphs.to_onnx(model, opset)
    else:
        raise TypeError(f"to_onnx takes a Sequential, MLPClassifier or MLPRegressor, got "
                        f"{type(model).__name__}.")
    graphs.load_onnx().checker.check_model(proto, full_check=True)
    if path is not None:
        data = proto.SerializeToString()
        replace_atomic(path, lambda f: f.write(data), example="model.onnx")
    return proto


def _estimator(est, opset):
    name = type(est).__name__
    if not hasattr(est, "model_"):
        raise ValueError(f"This {name} is not fitted yet: call fit(X, y) before to_onnx.")
    net = graphs.check_network(est.model_)
    g = graphs.Graph(net.dtype)
    P = g.network(net, g.input("X", (est.n_features_in_,)))
    k = est.n_outputs_
    if isinstance(est, MLPRegressor):
        if k == 1:
            P = g.node("Reshape", [P, g.constant([-1], dtype=np.int64)])
        g.output(P, "variable", () if k == 1 else (k,))
        outputs = "'variable' (as predict)"
    elif est.out_activation_ == "logistic" and k > 1:  # multilabel: 0/1 at 0.5, as predict
        label = g.node("Cast", [g.node("Greater", [P, g.constant(0.5)])],
                       to=g.onnx.TensorProto.INT64)
        g.output(label, "label", (k,), g.onnx.TensorProto.INT64)
        g.output(P, "probabilities", (k,))
        outputs = "'label' (as predict, int64 0/1), 'probabilities' (as predict_proba)"
    else:
        classes = _classes(est)
        if k == 1:  # binary: [1 - p, p]; argmax picks classes_[1] exactly when p > 0.5
            P = g.node("Concat", [g.node("Sub", [g.constant(1.0), P]), P], axis=1)
            if len(classes) == 1:  # fitted on one class: every prediction is that class
                classes = np.repeat(classes, 2)
        index = g.node("ArgMax", [P], axis=1, keepdims=0)
        label = g.node("Gather", [g.constant(classes, "classes", classes.dtype), index], axis=0)
        g.output(label, "label", (), g.initializers[-1].data_type)
        g.output(P, "probabilities", (max(k, 2),))
        outputs = ("'label' (as predict, the classes learned), 'probabilities' (as "
                   "predict_proba)")
    return g.model(opset, graphs.describe(name, net, "X", outputs))


def _classes(est):
    """``classes_`` as a tensor ONNX holds: int64 for integers, strings, bool or floats."""
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64)
    if classes.dtype.kind in "bf":
        return classes
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes):
        return np.array([str(c) for c in classes], dtype=object)
    kinds = sorted({type(c).__name__ for c in classes})
    raise ValueError(f"Cannot export the classes of this {type(est).__name__}: they are "
                     f"{', '.join(kinds)} values, and ONNX labels are numbers or strings; "
                     "fit it on labels of one of those.")
