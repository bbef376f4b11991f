"""The estimators' section of a ``.glassnet`` file: ``get_params()``, ``classes_`` and the
fitted attributes, as tagged JSON beside the network; and the estimator rebuilt from it.
"""

from __future__ import annotations

import math

from ..io import ModelFileError, architecture, decode, encode, transplant
from ..layers import Dense

#: Fitted attributes stored besides the network (those that exist on the estimator).
FITTED = ("classes_", "n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
          "validation_loss_curve_", "best_validation_score_", "n_layers_", "n_outputs_",
          "out_activation_", "n_features_in_", "feature_names_in_", "_no_improvement_count")


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
    lb = getattr(est, "_label_binarizer", None)
    if lb is not None:
        section["label_binarizer"] = {"params": encode(lb.get_params()),
                                      "y_type_": lb.y_type_,
                                      "sparse_input_": bool(lb.sparse_input_)}
    return {"estimator": section}


def estimator_from_config(cls, config, net):
    """The fitted estimator of class ``cls`` described by ``config``, with ``net``'s weights."""
    kind = cls.__name__

    spec = config.get("estimator")
    if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict) or \
            not isinstance(spec.get("attributes"), dict):
        raise ModelFileError("config.json: 'estimator' must hold 'params' and 'attributes'.")
    est = cls(**{str(k): decode(v) for k, v in spec["params"].items()})
    for name, value in spec["attributes"].items():
        if name not in FITTED:
            raise ModelFileError(f"config.json: unknown fitted attribute {name!r}.")
        setattr(est, name, decode(value))
    if kind == "MLPClassifier":
        from sklearn.preprocessing import LabelBinarizer

        lb_spec = spec.get("label_binarizer")
        if not isinstance(lb_spec, dict) or not hasattr(est, "classes_"):
            raise ModelFileError("config.json: a classifier needs classes_ and label_binarizer.")
        lb = LabelBinarizer(**decode(lb_spec.get("params")))
        lb.classes_, lb.y_type_ = est.classes_, str(lb_spec.get("y_type_"))
        lb.sparse_input_ = bool(lb_spec.get("sparse_input_"))
        est._label_binarizer = lb
    # Before building: the sizes come from the file, and only the network's were bounded by
    # the data actually read (hidden_layer_sizes=(10**6, 10**6) would allocate terabytes).
    try:
        sizes = [int(est.n_features_in_), *est._hidden_sizes(), int(est.n_outputs_)]
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelFileError(f"config.json: the {kind}'s layer sizes are invalid ({exc}).") \
            from None
    file_sizes = [math.prod(net.input_shape)] + [
        layer.units for layer in net.layers if isinstance(layer, Dense)]
    if sizes != file_sizes:
        raise ModelFileError(
            f"config.json: the {kind}'s n_features_in_, hidden_layer_sizes and n_outputs_ "
            f"give layers {sizes[:8]}, but the network in the file has {file_sizes[:8]}."
        )
    model = est._build(est.n_features_in_, est.n_outputs_, net.dtype)
    if architecture(model) != architecture(net) or type(model.optimizer) is not type(net.optimizer):
        raise ModelFileError(
            f"the network in the file does not match the {kind} its parameters describe."
        )
    transplant(net, model)
    est.model_ = model
    return est
