"""What ``MLPClassifier`` and ``MLPRegressor`` share: the network, the solvers, the bookkeeping.

scikit-learn's objective, reproduced exactly: the data loss (log-loss and half
Poisson deviance summed over outputs, categorical log-loss; half squared error
averaged over outputs in the reported value but summed in the gradient, as
scikit-learn does) plus ``alpha / (2 sum w) * sum_l ||W_l||^2`` on the kernels (not
the biases), each a weighted mean over the batch; initial weights and biases are
``U(-sqrt(f / (fan_in + fan_out)), +...)`` with ``f = 2`` for logistic units, 6 otherwise.
The update rules are scikit-learn's too (the optimizers' ``convention="sklearn"``), and each
``fit`` (warm start included) starts a fresh optimizer, as scikit-learn's does. The engine
side (the penalized network, the per-epoch bookkeeping) is in ``engine``.

Each first fit records ``_fitted_architecture`` (``_architecture()``: the hidden layers'
sizes, activations and dropout rates, one entry per layer), the network ``model_`` holds
whatever ``set_params`` changes later; warm starts and ``partial_fit`` go on with it.
"""

from __future__ import annotations

import functools
import numbers
import sys
import types

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    validate_data,
)

from ..backend import all_finite
from ..callbacks import ProgressBar
from ..data.dask import as_dask_array, is_dask_collection, split_last_chunks
from ..io import save_network, transplant
from ..layers import Dense, Dropout
from ..optimizers import SGD, Adam
from ..training import DivergenceError
from .engine import (
    _check_size,
    _PenalizedNet,
    _ravel_column,
    _SklearnIterations,
    _UniformInit,
    _warn,
)
from .file import estimator_config

_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                "leaky_relu": "leaky_relu"}
_OUTPUT = {"softmax": ("softmax", "cross_entropy"), "logistic": ("sigmoid", "binary_cross_entropy"),
           "identity": ("identity", "mse"), "exp": ("exp", "poisson")}


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: building the network and the solvers."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS)), list, tuple],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left"), list, tuple],
        "early_stopping_monitor": [StrOptions({"val_score", "val_loss"})],
        "callbacks": [list, None],
    }

    # -- parameters that may be lists --------------------------------------------------
    def _per_layer(self, name, value, n_hidden):
        values = list(value) if isinstance(value, (list, tuple)) else [value] * n_hidden
        if len(values) != n_hidden:
            raise ValueError(f"{name} has {len(values)} entries but hidden_layer_sizes has "
                             f"{n_hidden} layers; give one per hidden layer or a single value.")
        return values

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(not isinstance(s, numbers.Integral) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _architecture(self):
        """The hidden layers the parameters describe, checked, one entry per layer:
        ``{"hidden_layer_sizes": [...], "activation": [...], "dropout": [...]}``."""
        sizes = self._hidden_sizes()
        activations = self._per_layer("activation", self.activation, len(sizes))
        for a in activations:
            if a not in _ACTIVATIONS:
                raise ValueError(f"activation entries must be one of {sorted(_ACTIVATIONS)}, "
                                 f"got {a!r}.")
        dropouts = self._per_layer("dropout", self.dropout, len(sizes))
        for rate in dropouts:
            if not (isinstance(rate, numbers.Real) and 0 <= rate < 1):
                raise ValueError(f"dropout rates must be in [0, 1), got {rate!r}.")
        return {"hidden_layer_sizes": sizes, "activation": [str(a) for a in activations],
                "dropout": [float(r) for r in dropouts]}

    def _build(self, n_features, n_outputs, dtype, architecture=None):
        """The network of ``architecture`` (by default the one the parameters describe)."""
        arch = architecture or self._architecture()
        sizes, activations, dropouts = arch["hidden_layer_sizes"], arch["activation"], \
            arch["dropout"]
        out_name, loss = _OUTPUT[self.out_activation_]
        units = [n_features, *sizes, n_outputs]
        _check_size(sizes, units, dtype)
        layers = []
        for i, n_out in enumerate(units[1:]):
            hidden = i < len(sizes)
            factor = 2.0 if hidden and activations[i] == "logistic" else 6.0
            if not hidden and self._activation_list_all("logistic", activations):
                factor = 2.0
            init = _UniformInit(np.sqrt(factor / (units[i] + n_out)))
            act = _ACTIVATIONS[activations[i]] if hidden else out_name
            layers.append(Dense(n_out, activation=act, kernel_initializer=init,
                                bias_initializer=init))
            if hidden and dropouts[i] > 0:
                layers.append(Dropout(dropouts[i]))
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        # The engine's losses average over outputs; scikit-learn's log-loss and Poisson
        # deviance sum over them, and its squared error is halved and, in the value only,
        # averaged (its gradient is that of the sum): (value scale, gradient scale).
        scale, value_scale = {"mse": (n_outputs / 2.0, 0.5),
                              "binary_cross_entropy": (float(n_outputs),) * 2,
                              "poisson": (float(n_outputs),) * 2}.get(loss, (1.0, 1.0))
        net = _PenalizedNet(layers, loss, self._optimizer(), seed, dtype, alpha=self.alpha,
                            scale=scale, value_scale=value_scale)
        net.build(n_features)
        return net

    def _optimizer(self):
        """A fresh optimizer with scikit-learn's update rule (see ``_sklearn_sgd_update``)."""
        if self.solver == "adam":
            return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon,
                        convention="sklearn")
        nesterov = self.nesterovs_momentum and self.momentum > 0
        return SGD(self.learning_rate_init, momentum=self.momentum, nesterov=nesterov,
                   convention="sklearn")

    @staticmethod
    def _activation_list_all(name, activations):
        return all(a == name for a in activations)

    def _init_fit_state(self):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(self._fitted_architecture["hidden_layer_sizes"]) + 2
        self._no_improvement_count = 0
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            if self.early_stopping:
                self.validation_scores_ = []
                self.validation_loss_curve_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # -- fitting -----------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        if is_dask_collection(X) or is_dask_collection(y):
            X, T, y, n_outputs = self._validate_dask(X, y, incremental, reset=first_pass)
            if sample_weight is not None:
                sample_weight = _dask_rows(sample_weight, X, "sample_weight").astype(X.dtype)
        else:
            X, T, y, n_outputs = self._validate_input(X, y, incremental, reset=first_pass)
            if hasattr(X, "toarray"):
                X = X.toarray()
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        sample_weight = self._apply_class_weight(y, sample_weight, X.dtype)
        if first_pass:
            self.n_outputs_ = n_outputs
            self._set_out_activation()
            # What was fitted, for predicting and saving whatever set_params changes later.
            self._fitted_architecture = self._architecture()
            self.model_ = self._build(X.shape[1], n_outputs, X.dtype)
            self._init_fit_state()
        else:
            self._go_on_with(self._architecture(), n_outputs, incremental)
            if self.model_.dtype != X.dtype:
                X = X.astype(self.model_.dtype)
            if not incremental and self.solver != "lbfgs":
                # scikit-learn starts a new optimizer on every fit, warm start included
                # (learning rate, velocity and Adam's moments afresh); partial_fit keeps it.
                self.model_.optimizer = self._optimizer()
                self.model_.optimizer.build(self.model_.params)
        self.model_.alpha = self.alpha  # read afresh on every fit, as scikit-learn does
        start = self.model_.params.copy()
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, T, sample_weight)
            else:
                self._fit_stochastic(X, T, y, sample_weight, incremental)
            what = None if all_finite(self.model_.params) else ": the weights became non-finite"
        except DivergenceError as exc:
            what = f" in iteration {exc.epoch}: {exc.what}"
        if what:
            self.model_.params[...] = start  # finite weights that predict finite numbers
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                f"large values and need to be preprocessed. Training diverged{what}. Lower "
                f"learning_rate_init (now {self.learning_rate_init:g}) or scale X "
                "(StandardScaler); the weights are back to those this fit started from."
            )
        return self

    def _go_on_with(self, architecture, n_outputs, incremental):
        """warm_start and partial_fit go on training the fitted network: with other layer
        sizes they cannot; with other activations or dropout (scikit-learn reads
        ``activation`` afresh on every fit) the fitted weights go on in the network that
        the parameters now describe."""
        fitted = getattr(self, "_fitted_architecture", architecture)
        how = "partial_fit" if incremental else "warm_start=True"
        fix = (f"{how} goes on training the fitted network: give it the same, or fit with "
               "warm_start=False to start afresh.")
        if architecture["hidden_layer_sizes"] != fitted["hidden_layer_sizes"]:
            raise ValueError(f"hidden_layer_sizes is {architecture['hidden_layer_sizes']} but "
                             f"the fitted network has {fitted['hidden_layer_sizes']}; {fix}")
        if n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} output(s) but the fitted network has "
                             f"{self.n_outputs_}; {fix}")
        if architecture != fitted:
            old = self.model_
            self.model_ = self._build(old.input_shape[0], self.n_outputs_, old.dtype)
            transplant(old, self.model_)
            self.model_.optimizer = old.optimizer  # partial_fit's learning rate and moments
            self._fitted_architecture = architecture

    def _apply_class_weight(self, y, sample_weight, dtype):
        return sample_weight

    # -- Dask input: checked from its metadata, never computed whole ----------------------
    def _validate_dask(self, X, y, incremental, reset):
        """``(X, T, y, n_outputs)`` for a Dask array or dataframe ``X`` (and ``y``), checked
        from their metadata (the classifier finds its classes from ``da.unique(y)``): the
        arrays stay lazy, and the network's Dask source computes them a few chunks at a time."""
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' needs all of X in memory at once and does not "
                             "take Dask input: use solver='adam' or 'sgd', or pass X.compute().")
        X = self._dask_features(X, reset)
        y = _dask_rows(y, X, "y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = _ravel_column(y)
        T, n_outputs = self._dask_targets(y, X.dtype, incremental)
        return X, T, y, n_outputs

    def _dask_features(self, X, reset):
        """A Dask ``X`` as a 2-D floating Dask array with whole rows in each chunk, its
        shape, dtype and (for a dataframe) column names checked as scikit-learn checks
        them, without computing it."""
        if hasattr(X, "columns"):  # a Dask dataframe: its names, then its values
            _check_feature_names(self, X._meta, reset=reset)
            if not all(np.dtype(d).kind in "biuf" for d in X.dtypes):
                raise ValueError("X has non-numeric columns; encode them as numbers first.")
        else:
            _check_feature_names(self, X, reset=reset)
        X = _dask_rows(X)
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D Dask array for X, got {X.ndim}-D of shape "
                             f"{X.shape}; reshape it to (n_samples, n_features).")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got a Dask array of dtype {X.dtype}.")
        _check_n_features(self, X, reset=reset)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        return X.rechunk({1: -1}) if X.numblocks[1] > 1 else X

    def _map_dask(self, X, post, n_columns, dtype):
        """``post`` of the network's output, block by block of a Dask ``X``: a Dask array
        of ``n_columns`` columns (``None``: 1-D), as dask-ml's wrappers predict."""
        check_is_fitted(self)
        X = self._dask_features(X, reset=False)
        fn = functools.partial(_predict_block, self, post)
        if n_columns is None:
            return X.map_blocks(fn, drop_axis=1, chunks=(X.chunks[0],), dtype=dtype,
                                meta=np.empty((0,), dtype))
        return X.map_blocks(fn, chunks=(X.chunks[0], (n_columns,)), dtype=dtype,
                            meta=np.empty((0, 0), dtype))

    def _stratify(self, y):
        return None

    def _fit_lbfgs(self, X, T, sample_weight):
        net = self.model_
        X, T, sample_weight = net.prepare(X, T, sample_weight)
        X = net.as_input(X)

        def loss_and_grad(x):
            net.params[...] = x
            loss = net.loss_and_gradients(X, T, sample_weight, training=False)
            return loss, net.grads.astype(np.float64)

        iprint = _get_additional_lbfgs_options_dict("iprint", 1 if self.verbose else -1)
        result = scipy.optimize.minimize(
            loss_and_grad, net.params.astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                     **iprint},
        )
        net.params[...] = result.x
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            _warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                  f"(status={result.status}): {result.message}. Increase max_iter or "
                  "max_fun, or scale the data.", ConvergenceWarning)
        self.loss_ = float(result.fun)

    def _split(self, X, T, y, sample_weight):
        """The training and validation arrays of early stopping: ``validation_fraction`` of
        the rows, stratified by class for single-output classifiers (as scikit-learn); of a
        Dask ``X``, its last chunks of rows (not stratified), left lazy."""
        if is_dask_collection(X):
            try:
                (X, T, sample_weight), (X_val, T_val, sw_val) = split_last_chunks(
                    X, T, sample_weight, self.validation_fraction)
            except ValueError:
                raise ValueError(
                    f"early_stopping=True holds out the last validation_fraction="
                    f"{self.validation_fraction} of X's chunks of rows to validate on, and X "
                    f"has {X.numblocks[0]} chunk(s): rechunk X into more chunks "
                    "(X.rechunk({0: rows})) or set early_stopping=False.") from None
        else:
            X, X_val, T, T_val, sample_weight, sw_val = self._split_rows(X, T, y, sample_weight)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        val = (X_val, T_val) if sw_val is None else (X_val, T_val, sw_val)
        return X, T, sample_weight, val

    def _split_rows(self, X, T, y, sample_weight):
        arrays = [X, T] + ([] if sample_weight is None else [sample_weight])
        stratify = self._stratify(y)
        seed = int(self.model_.rng.integers(2**31 - 1))
        try:
            parts = train_test_split(*arrays, random_state=seed, stratify=stratify,
                                     test_size=self.validation_fraction)
        except ValueError as exc:
            by = ", stratified by class," if stratify is not None else ""
            raise ValueError(f"{exc} (early_stopping=True holds out validation_fraction="
                             f"{self.validation_fraction} of the samples{by} to validate on: "
                             "give it more samples or set early_stopping=False.)") from None
        return (*parts[:4], *(parts[4:6] if sample_weight is not None else (None, None)))

    def _fit_stochastic(self, X, T, y, sample_weight, incremental):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        net = self.model_
        val = None
        if self.early_stopping:
            X, T, sample_weight, val = self._split(X, T, y, sample_weight)
            if not hasattr(self, "_best_params"):
                self._best_params = net.params.copy()
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                _warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                      "to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n))
        self.n_iter_ = 0
        tracker = _SklearnIterations(self, n, val is not None)
        epochs = 1 if incremental else self.max_iter
        bar = [ProgressBar(file=sys.stderr)] if self.verbose >= 2 and not incremental else []
        try:
            self.history_ = net.fit(X, T, epochs=epochs, batch_size=batch_size,
                                    shuffle=self.shuffle, validation_data=val,
                                    callbacks=[tracker, *bar, *(self.callbacks or [])],
                                    verbose=0, sample_weight=sample_weight)
        except KeyboardInterrupt:
            _warn("Training interrupted by user.")
        except DivergenceError as exc:
            if not self.early_stopping:
                raise
            # scikit-learn's early stopping keeps the best weights seen on the validation set.
            self.history_ = net.history
            best = self.best_validation_score_
            kept = f"of the best validation score ({best:g})" if best > -np.inf else \
                "it started from"
            _warn(f"Training diverged in iteration {exc.epoch}: {exc.what}; the weights "
                  f"kept are those {kept}. Lower learning_rate_init or scale X "
                  "(StandardScaler).", ConvergenceWarning)
        if not incremental and self.n_iter_ == self.max_iter and not net.stop_training:
            _warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                  "optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping:
            net.params[...] = self._best_params

    # -- the fitted network as scikit-learn's attributes --------------------------------
    @property
    def model_(self):
        """The fitted network; setting it sets ``coefs_`` (the kernels ``W`` of shape
        ``(n_in, n_out)``) and ``intercepts_`` (the biases), one per layer, views of its
        weights. They are plain attributes, as scikit-learn's, so that what copies fitted
        attributes from ``vars()`` (dask-ml's wrappers) finds them."""
        try:
            return self.__dict__["model_"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} is not fitted: it has no model_.") \
                from None

    @model_.setter
    def model_(self, net):
        dense = [layer for layer in net.layers if isinstance(layer, Dense)]
        self.__dict__.update(model_=net, coefs_=[layer.W for layer in dense],
                             intercepts_=[layer.b for layer in dense])

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object's is the live __dict__
        state.pop("coefs_", None)  # views of model_'s weights: bound again on loading
        state.pop("intercepts_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "model_" in state:
            self.model_ = state["model_"]

    def _forward(self, X):
        check_is_fitted(self)
        if type(X) is np.ndarray and X.ndim == 2 and X.dtype.kind == "f" \
                and not hasattr(self, "feature_names_in_"):
            # The common case, checked here in a few microseconds (validate_data takes
            # ~80 µs, more than the network itself for a few samples).
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                                 f"expecting {self.n_features_in_} features as input.")
            return self._forward_checked(X)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        if hasattr(X, "toarray"):
            X = X.toarray()
        return self.model_.forward(X.astype(self.model_.dtype, copy=False))

    def _forward_checked(self, X):
        """The network's output for a 2-D float array of the right width, after the check
        for NaN and infinity (the fast path, and each block of a Dask ``X``)."""
        if not all_finite(X):
            raise ValueError("Input X contains NaN or infinity.")
        return self.model_.forward(X.astype(self.model_.dtype, copy=False))

    def save(self, path):
        """Write the fitted estimator to a ``.glassnet`` file; see :func:`glassnet.save`."""
        extra = estimator_config(self)  # refuses an estimator that is not fitted
        save_network(self.model_, path, kind=type(self).__name__, extra=extra)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _predict_block(est, post, X):
    """One block of a Dask prediction (a module function: it pickles to the workers)."""
    return post(est._forward_checked(X))


def _dask_rows(a, X=None, name="X"):
    """``a`` (NumPy, a Dask array, dataframe or series) as a Dask array of known chunks;
    given ``X``, one row per sample of ``X``, in chunks of ``X``'s rows."""
    import dask.array as da

    a = as_dask_array(a if is_dask_collection(a) else da.asarray(a), name)
    if X is None:
        return a
    if a.ndim == 0 or a.shape[0] != X.shape[0]:
        raise ValueError(f"{name} must have one row per sample of X ({X.shape[0]}), got "
                         f"shape {a.shape}.")
    return a.rechunk((X.chunks[0], *a.chunks[1:])) if a.chunks[0] != X.chunks[0] else a


def _store_params(est, values):
    """``__init__`` only stores its keyword arguments (scikit-learn's contract)."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


class _stochastic_only:  # noqa: N801 (a decorator, named as scikit-learn's available_if)
    """``partial_fit`` for the stochastic solvers: with lbfgs the attribute is missing
    (``hasattr`` is False) and looking it up raises scikit-learn's reason as the message."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        if obj.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 f"{obj.solver} is not stochastic.")
        return types.MethodType(self.fn, obj)
