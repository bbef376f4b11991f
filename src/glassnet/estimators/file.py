"""The estimators' section of a ``.glassnet`` file: ``get_params()``, the fitted architecture,
``classes_`` and the fitted attributes, as tagged JSON beside the network; and the estimator
rebuilt from it, every value checked (type, range, agreement with the network in the file)
before its network is built.
"""

from __future__ import annotations

import math

import numpy as np

from ..io import Decoder, ModelFileError, architecture, encode, transplant
from ..layers import Dense
from ..optimizers import get_optimizer


def _count(low):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v < 2**62


def _number(v):  # nan and the infinities included: a loss may be either
    return isinstance(v, float) or isinstance(v, int) and not isinstance(v, bool) and \
        abs(v) < 2**53


def _optional(check):
    return lambda v: v is None or check(v)


def _numbers(v):
    return isinstance(v, list) and all(_number(x) for x in v)


def _labels(v):
    return isinstance(v, np.ndarray) and v.ndim == 1 and len(v) >= 1 and \
        np.array_equal(np.unique(v), v)


def _names(v):
    return isinstance(v, np.ndarray) and v.dtype == object  # of strings: the codec's rule


#: The fitted attributes stored besides the network (those the estimator has), with the
#: check of each value read back and what it must be.
FITTED = {
    "classes_": (_labels, "a 1-D array of sorted, distinct labels"),
    "n_iter_": (_count(0), "an int >= 0"),
    "t_": (_count(0), "an int >= 0"),
    "loss_": (_number, "a number"),
    "best_loss_": (_optional(_number), "a number or null"),
    "loss_curve_": (_numbers, "a list of numbers"),
    "validation_scores_": (_optional(_numbers), "a list of numbers or null"),
    "validation_loss_curve_": (_numbers, "a list of numbers"),
    "best_validation_score_": (_optional(_number), "a number or null"),
    "n_layers_": (_count(2), "an int >= 2"),
    "n_outputs_": (_count(1), "an int >= 1"),
    "out_activation_": (lambda v: isinstance(v, str), "a string"),
    "n_features_in_": (_count(1), "an int >= 1"),
    "feature_names_in_": (_names, "a 1-D array of strings"),
    "_no_improvement_count": (_count(0), "an int >= 0"),
}
#: What a classifier's number of outputs is, by the kind of its targets.
OUTPUTS = {"binary": (lambda n, out: out == 1 and n <= 2, "1 output for 1 or 2 classes"),
           "multiclass": (lambda n, out: out == n, "one output per class"),
           "multilabel-indicator": (lambda n, out: out == n, "one output per label")}


def estimator_config(est) -> dict:
    """The ``estimator`` section of a fitted ``MLPClassifier``/``MLPRegressor``'s config."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    params = {}
    for name, value in est.get_params(deep=False).items():
        try:
            params[name] = encode(value)
        except TypeError:
            fix = "None" if name == "callbacks" else "a number, string, list or None"
            raise ValueError(
                f"{type(est).__name__}({name}={value!r:.60}) cannot be stored in a .glassnet "
                f"file, which holds data only (no code or objects); call "
                f"set_params({name}={fix}) before saving."
            ) from None
    attributes = {k: encode(getattr(est, k)) for k in FITTED if hasattr(est, k)}
    section = {"params": params, "attributes": attributes}
    if hasattr(est, "_fitted_architecture"):  # set by fit: the layers of the network saved,
        section["fitted"] = encode(est._fitted_architecture)  # whatever set_params did since
    lb = getattr(est, "_label_binarizer", None)
    if lb is not None:
        section["label_binarizer"] = {"params": encode(lb.get_params()),
                                      "y_type_": lb.y_type_,
                                      "sparse_input_": bool(lb.sparse_input_)}
    return {"estimator": section}


def _checked_params(est, what):
    """``est`` once scikit-learn's constraints table accepts its parameters."""
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        est._validate_params()
    except InvalidParameterError as exc:
        raise ModelFileError(f"config.json: {what}: {exc}") from None
    huge = [k for k, v in est.get_params(deep=False).items()
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**62]
    if huge:
        raise ModelFileError(f"config.json: {what}: {huge[0]} is {getattr(est, huge[0])!r:.40}, "
                             "too large a number for any parameter.")
    if est.callbacks not in (None, []):
        raise ModelFileError(f"config.json: {what}: callbacks must be null (a file holds data "
                             f"only), got {est.callbacks!r:.60}.")
    return est


def _estimator(cls, spec, decode):
    """The estimator of the section's ``params``, with its fitted attributes, checked."""
    params = {str(k): decode(v) for k, v in spec["params"].items()}
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ModelFileError(f"config.json: unknown {cls.__name__} parameters {unknown[:5]}.")
    est = _checked_params(cls(**params), "estimator.params")
    for name, value in spec["attributes"].items():
        if name not in FITTED:
            raise ModelFileError(f"config.json: unknown fitted attribute {name!r}.")
        value = decode(value)
        check, must = FITTED[name]
        if not check(value):
            raise ModelFileError(f"config.json: estimator.attributes.{name} must be {must}, "
                                 f"got {value!r:.80}.")
        setattr(est, name, value)
    missing = [k for k in ("n_features_in_", "n_outputs_", "out_activation_", "n_layers_")
               if not hasattr(est, k)]
    if missing:
        raise ModelFileError(f"config.json: the {cls.__name__} lacks the fitted attributes "
                             f"{missing}.")
    names = getattr(est, "feature_names_in_", None)
    if names is not None and len(names) != est.n_features_in_:
        raise ModelFileError(f"config.json: feature_names_in_ names {len(names)} features, but "
                             f"n_features_in_ is {est.n_features_in_}.")
    return est


def _fitted_architecture(cls, spec, est, decode):
    """The hidden layers fitted: the section's ``fitted`` record, checked as parameters are
    (files before it: the parameters' own, which then described the network)."""
    if "fitted" not in spec:
        arch = {}
    else:
        arch = decode(spec["fitted"])
        keys = {"hidden_layer_sizes", "activation", "dropout"}
        if not isinstance(arch, dict) or set(arch) != keys:
            raise ModelFileError(f"config.json: estimator.fitted must hold {sorted(keys)}.")
    probe = _checked_params(cls(**{**est.get_params(deep=False), **arch}), "estimator.fitted")
    try:
        arch = probe._architecture()
    except (ValueError, TypeError) as exc:  # TypeError: an unhashable activation
        raise ModelFileError(f"config.json: the {cls.__name__}'s layers are invalid "
                             f"({exc})") from None
    if est.n_layers_ != len(arch["hidden_layer_sizes"]) + 2:
        raise ModelFileError(f"config.json: n_layers_ is {est.n_layers_}, but the fitted "
                             f"network has {len(arch['hidden_layer_sizes'])} hidden layers.")
    return arch


def _label_binarizer(spec, est, decode):
    """The classifier's ``LabelBinarizer``, its classes checked against the outputs."""
    from sklearn.preprocessing import LabelBinarizer

    lb_spec = spec.get("label_binarizer")
    if not isinstance(lb_spec, dict) or not hasattr(est, "classes_"):
        raise ModelFileError("config.json: a classifier needs classes_ and label_binarizer.")
    params = decode(lb_spec.get("params"))
    if not isinstance(params, dict) or set(params) - set(LabelBinarizer._get_param_names()):
        raise ModelFileError(f"config.json: label_binarizer.params must be LabelBinarizer's "
                             f"parameters, got {params!r:.80}.")
    lb = LabelBinarizer(**params)
    y_type, sparse_input = lb_spec.get("y_type_"), lb_spec.get("sparse_input_")
    if not isinstance(y_type, str) or y_type not in OUTPUTS or \
            not isinstance(sparse_input, bool):
        raise ModelFileError(f"config.json: label_binarizer.y_type_ must be one of "
                             f"{list(OUTPUTS)} and sparse_input_ a bool, got {y_type!r:.40} "
                             f"and {sparse_input!r:.20}.")
    try:
        lb._validate_params()
        if not (_number(lb.neg_label) and _number(lb.pos_label)) or \
                lb.neg_label >= lb.pos_label or lb.sparse_output:
            raise ValueError("neg_label < pos_label and sparse_output=False, as glassnet fits.")
    except ValueError as exc:
        raise ModelFileError(f"config.json: label_binarizer.params: {exc}") from None
    fits, rule = OUTPUTS[y_type]
    n, out = len(est.classes_), est.n_outputs_
    if not fits(n, out):
        raise ModelFileError(f"config.json: classes_ holds {n} classes and n_outputs_ is "
                             f"{out}, but a {y_type} classifier has {rule}.")
    lb.classes_, lb.y_type_, lb.sparse_input_ = est.classes_, y_type, sparse_input
    return lb


def estimator_from_config(cls, config, net):
    """The fitted estimator of class ``cls`` described by ``config``, with ``net``'s weights
    and optimizer (its current learning rate included)."""
    kind = cls.__name__
    spec = config.get("estimator")
    if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict) or \
            not isinstance(spec.get("attributes"), dict):
        raise ModelFileError("config.json: 'estimator' must hold 'params' and 'attributes'.")
    decode = Decoder()  # one budget for all the section's arrays
    est = _estimator(cls, spec, decode)
    arch = _fitted_architecture(cls, spec, est, decode)
    if kind == "MLPClassifier":
        est._label_binarizer = _label_binarizer(spec, est, decode)
        expected = est.out_activation_
        est._set_out_activation()
        if est.out_activation_ != expected:
            raise ModelFileError(f"config.json: out_activation_ is {expected!r:.40}, but a "
                                 f"{est._label_binarizer.y_type_} classifier has "
                                 f"{est.out_activation_!r}.")
    # Before building: the sizes come from the file, and only the network's were bounded by
    # the data actually read (hidden_layer_sizes=(10**6, 10**6) would allocate terabytes).
    sizes = [est.n_features_in_, *arch["hidden_layer_sizes"], est.n_outputs_]
    file_sizes = [math.prod(net.input_shape)] + [
        layer.units for layer in net.layers if isinstance(layer, Dense)]
    if sizes != file_sizes:
        raise ModelFileError(
            f"config.json: the {kind}'s n_features_in_, hidden_layer_sizes and n_outputs_ "
            f"give layers {sizes[:8]}, but the network in the file has {file_sizes[:8]}."
        )
    try:
        model = est._build(est.n_features_in_, est.n_outputs_, net.dtype, architecture=arch)
    except KeyError:  # the only lookup: the output layer of out_activation_
        raise ModelFileError(f"config.json: out_activation_ {est.out_activation_!r:.40} is "
                             f"not an output of the {kind}.") from None
    except ValueError as exc:  # larger than this machine's memory
        raise ModelFileError(f"config.json: {exc}") from None
    if architecture(model) != architecture(net):
        raise ModelFileError(
            f"the network in the file does not match the {kind} its parameters describe."
        )
    try:  # the file's optimizer, with the rule the estimators train with
        model.optimizer = get_optimizer({**net.optimizer.get_config(), "convention": "sklearn"})
    except TypeError:
        raise ModelFileError(f"config.json: {type(net.optimizer).__name__} has no "
                             f"scikit-learn rule, so it cannot train an {kind}.") from None
    transplant(net, model)
    est.model_, est._fitted_architecture = model, arch
    return est
