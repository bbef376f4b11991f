"""scikit-learn drop-in: ``MLPClassifier`` and ``MLPRegressor`` on the glassnet engine.

Same constructor parameters, defaults, fitted attributes and behaviour as
``sklearn.neural_network`` (1.9), so changing the import is enough, plus what
scikit-learn's frozen module lacks: per-layer and leaky-ReLU activations,
dropout, ``class_weight``, early stopping on the validation loss, a validation
loss curve, the engine's full ``History`` and glassnet callbacks. The math is
the engine's (:class:`glassnet.Sequential`); what the two estimators share
(building the network with scikit-learn's objective and initialization, the
solvers, the per-epoch bookkeeping) is in ``solver`` and ``engine``; this module holds the
two public classes and what differs between them: targets and outputs.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from .engine import _ravel_column
from .solver import _BaseMLP, _stochastic_only, _store_params


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, on glassnet.

    Parameters are scikit-learn 1.9's, with the same names, defaults and meaning
    (``hidden_layer_sizes=(100,)``, ``activation='relu'``, ``solver='adam'``,
    ``alpha=1e-4``, ``batch_size='auto'``, ``learning_rate='constant'``,
    ``learning_rate_init=1e-3``, ``power_t=0.5``, ``max_iter=200``, ``shuffle=True``,
    ``random_state=None``, ``tol=1e-4``, ``verbose=False``, ``warm_start=False``,
    ``momentum=0.9``, ``nesterovs_momentum=True``, ``early_stopping=False``,
    ``validation_fraction=0.1``, ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-8``,
    ``n_iter_no_change=10``, ``max_fun=15000``), plus:

    activation : str or list of str
        Also ``'leaky_relu'``; a list gives one activation per hidden layer.
    dropout : float or list of float, default 0.0
        Inverted dropout after each hidden layer (a rate, or one per layer).
    class_weight : dict, 'balanced' or None
        Weights of the classes in the loss (multiplied into ``sample_weight``).
    early_stopping_monitor : {'val_score', 'val_loss'}, default 'val_score'
        What early stopping watches: scikit-learn's validation accuracy, or the
        validation loss.
    callbacks : list of glassnet callbacks, optional
        Called by the engine during stochastic training.
    verbose : bool or int
        As scikit-learn's: with a stochastic solver, ``True`` prints scikit-learn's lines
        to stdout (``Iteration 1, loss = 0.69314718``, ``Validation score: ...``, why it
        stopped); ``2`` also shows a progress bar over the epochs with the latest losses
        on stderr (tqdm) during ``fit``.

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_,
    t_, coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_,
    n_outputs_, out_activation_ :
        As in scikit-learn (``coefs_`` and ``intercepts_`` are views of ``model_``).
    validation_loss_curve_ : list of float
        The validation loss per epoch, whenever there is a validation set.
    history_ : glassnet.History
        The engine's record of the last stochastic fit.
    model_ : glassnet.Sequential
        The fitted network.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from glassnet import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=500,
    ...                     random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95
    True
    """

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, class_weight=None, early_stopping_monitor="val_score",
                 callbacks=None):
        _store_params(self, locals())

    def _set_out_activation(self):
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        self.out_activation_ = "softmax" if multiclass else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        y = _ravel_column(y)
        if type_of_target(y).startswith("continuous"):
            # scikit-learn's message would list every value of y.
            value = y[y != np.round(y)].flat[0]
            raise ValueError(f"Unknown label type: y looks continuous (float values such as "
                             f"{value:.3g}); {type(self).__name__} needs class labels: use "
                             "MLPRegressor for regression.")
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            # One class is fitted too (as in scikit-learn): every prediction is that class.
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        if self._label_binarizer.y_type_ == "multiclass":
            # Class indices for cross-entropy (classes_ is sorted and holds every label of y).
            return X, np.searchsorted(self.classes_, y), y, len(self.classes_)
        Y = self._label_binarizer.transform(y)
        return X, Y.astype(X.dtype), y, Y.shape[1]

    def _stratify(self, y):
        # scikit-learn stratifies single-output (binary) targets only.
        return y if self.n_outputs_ == 1 else None

    def _apply_class_weight(self, y, sample_weight, dtype):
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(self.class_weight, y).astype(dtype)
        return weights if sample_weight is None else weights * sample_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y; returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @_stochastic_only
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over ``(X, y)``; ``classes`` (all labels) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """The predicted classes (label arrays for multilabel targets)."""
        P = self._forward(X)
        if self.n_outputs_ == 1:
            P = P.ravel()
        return self._label_binarizer.inverse_transform(P)

    def predict_proba(self, X):
        """Probability of each class, columns in the order of ``classes_``."""
        P = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        P = self.predict_proba(X)
        return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, on glassnet.

    Parameters and attributes are those of :class:`MLPClassifier` (without
    ``class_weight`` and ``classes_``), plus ``loss`` ('squared_error' or 'poisson',
    which uses an exponential output and needs ``y >= 0``), as in scikit-learn 1.9.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor((32,), activation="tanh", solver="lbfgs", max_iter=2000,
    ...                    random_state=0).fit(X, np.sin(3 * X[:, 0]))
    >>> reg.score(X, np.sin(3 * X[:, 0])) > 0.99
    True
    """

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, early_stopping_monitor="val_score", callbacks=None):
        _store_params(self, locals())

    def _set_out_activation(self):
        self.out_activation_ = "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        y = _ravel_column(y)
        if self.loss == "poisson" and y.size and y.min() < 0:
            raise ValueError("loss='poisson' requires non-negative y, got a minimum of "
                             f"{y.min()}.")
        T = y.astype(X.dtype, copy=False)
        return X, T, y, 1 if T.ndim == 1 else T.shape[1]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y; returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @_stochastic_only
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One pass of the stochastic solver over ``(X, y)``."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """The predicted values, ``(n_samples,)`` for one output."""
        P = self._forward(X)
        return P.ravel() if P.shape[1] == 1 else P

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
