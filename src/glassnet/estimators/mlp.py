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

from ..data.dask import is_dask_collection
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

    Dask arrays and dataframes (``X``, ``y``, ``sample_weight``) train out of core with
    ``'adam'`` or ``'sgd'``: checked from their metadata, the classes found by
    ``da.unique(y)``, computed a chunk of rows at a time by the network's Dask source (whose
    shuffle mixes rows within chunks and the chunks' order: with ``shuffle=False`` the fit
    equals NumPy's), early stopping validating on the last ``validation_fraction`` of the
    chunks (not stratified); ``predict`` and ``predict_proba`` of a Dask ``X`` return Dask
    arrays, block by block. ``partial_fit`` is one pass, so dask-ml's ``Incremental`` and
    scikit-learn's searches under joblib's Dask backend work as with scikit-learn's.

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
        self._learn_classes(y, incremental)
        return X, self._encode(y, X.dtype), y, self._n_encoded()

    def _dask_targets(self, y, dtype, incremental):
        """A Dask ``y``'s classes from ``da.unique(y)`` (computed: small), its labels
        encoded block by block."""
        import dask.array as da

        if y.ndim != 1:
            raise ValueError(f"A Dask y must hold one class label per sample (1-D), got shape "
                             f"{y.shape}; multilabel targets need NumPy arrays.")
        self._learn_classes(da.unique(y).compute(), incremental)
        n = self._n_encoded()
        if self._label_binarizer.y_type_ == "multiclass":
            return y.map_blocks(self._encode, dtype, dtype=np.intp), n
        return y.map_blocks(self._encode, dtype, dtype=dtype, new_axis=1,
                            chunks=(y.chunks[0], (n,))), n

    def _learn_classes(self, y, incremental):
        """``classes_`` from the labels ``y`` (a first fit), or ``y``'s checked against them."""
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

    def _n_encoded(self):
        """The network's outputs: one per class, one for two classes (or one)."""
        return 1 if self._label_binarizer.y_type_ == "binary" else len(self.classes_)

    def _encode(self, y, dtype):
        """Labels as the network's targets: class indices for cross-entropy (``classes_`` is
        sorted and holds every label of ``y``), else the binarized labels as ``dtype``."""
        if self._label_binarizer.y_type_ == "multiclass":
            return np.searchsorted(self.classes_, y)
        return self._label_binarizer.transform(y).astype(dtype)

    def _stratify(self, y):
        # scikit-learn stratifies single-output (binary) targets only.
        return y if self.n_outputs_ == 1 else None

    def _apply_class_weight(self, y, sample_weight, dtype):
        if self.class_weight is None:
            return sample_weight
        if is_dask_collection(y):
            raise ValueError("class_weight needs y in memory and does not take a Dask y: "
                             "pass the weights as sample_weight=..., or y.compute().")
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
            if not is_dask_collection(y) and type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """The predicted classes (label arrays for multilabel targets); a Dask array for
        a Dask ``X``, computed block by block."""
        if is_dask_collection(X):
            multilabel = self._label_binarizer.y_type_.startswith("multilabel")
            return self._map_dask(X, self._labels, self.n_outputs_ if multilabel else None,
                                  self.classes_.dtype)
        return self._labels(self._forward(X))

    def _labels(self, P):
        return self._label_binarizer.inverse_transform(P.ravel() if self.n_outputs_ == 1 else P)

    def predict_proba(self, X):
        """Probability of each class, columns in the order of ``classes_`` (a Dask array
        for a Dask ``X``)."""
        if is_dask_collection(X):
            return self._map_dask(X, self._proba, max(self.n_outputs_, 2), self.model_.dtype)
        return self._proba(self._forward(X))

    def _proba(self, P):
        return np.hstack([1 - P, P]) if self.n_outputs_ == 1 else P

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        P = self.predict_proba(X)
        return np.log(P) if is_dask_collection(P) else np.log(P, out=P)

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
        T, n_outputs = self._targets(y, X.dtype)
        return X, T, y, n_outputs

    def _targets(self, y, dtype, incremental=False):
        """The targets as ``dtype`` and their number of outputs, from a NumPy or a Dask
        ``y`` (of which only the minimum is computed, for the Poisson loss)."""
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must be numeric for {type(self).__name__}, got dtype "
                             f"{y.dtype}.")
        if self.loss == "poisson" and y.size:
            low = y.min()
            low = low.compute() if is_dask_collection(low) else low
            if low < 0:
                raise ValueError(f"loss='poisson' requires non-negative y, got a minimum of {low}.")
        T = y.astype(dtype) if y.dtype != dtype else y
        return T, 1 if T.ndim == 1 else T.shape[1]

    _dask_targets = _targets

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
        """The predicted values, ``(n_samples,)`` for one output (a Dask array for a Dask
        ``X``)."""
        if is_dask_collection(X):
            return self._map_dask(X, self._values, None if self.n_outputs_ == 1 else
                                  self.n_outputs_, self.model_.dtype)
        return self._values(self._forward(X))

    @staticmethod
    def _values(P):
        return P.ravel() if P.shape[1] == 1 else P

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
