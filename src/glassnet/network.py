"""``Sequential``: a stack of layers, trained by backpropagation.

Forward: ``A⁰ = X``, ``Aˡ = layerˡ(Aˡ⁻¹)``. Backward is the chain rule run from
the loss back to the input: each layer receives ``dL/dAˡ`` and returns
``dL/dAˡ⁻¹``, filling its parameter gradients on the way. All parameters live in
one flat buffer (``W1, b1, W2, b2, ...``; each layer's ``W`` and ``b`` are views
into it), and so do their gradients, so the optimizer updates them all at once.
"""

from __future__ import annotations

import numbers

import numpy as np

from .backend import all_finite, check_random_state, resolve_dtype, xp
from .layers import Activation, Dense, Dropout, Flatten, Layer, layer_from_config
from .ops.activations import Identity
from .ops.losses import get_loss
from .optimizers import get_optimizer


def check_features(X, name="X", n_features=None, allow_images=False):
    """Validate a feature array without copying it; return it as an ndarray."""
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise ValueError(
            f"{name} is a sparse matrix; Sequential takes dense arrays: pass {name}.toarray() "
            "(glassnet.MLPClassifier / MLPRegressor accept sparse input directly)."
        )
    try:
        X = xp.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold numbers (int or float), got dtype {X.dtype}; "
            "convert strings or objects to numbers first."
        )
    if X.ndim < 2 or (X.ndim > 2 and not allow_images):
        hint = (
            " Reshape it with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample."
            if X.ndim == 1
            else " For image input start the network with glassnet.Flatten()."
        )
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got {X.ndim}-D with shape {X.shape}."
            + hint
        )
    if len(X) == 0:
        raise ValueError(f"{name} has 0 samples; at least 1 is needed.")
    if n_features is not None and X.shape[1:] != tuple(n_features):
        raise ValueError(
            f"{name} has samples of shape {X.shape[1:]}, but the network was built for "
            f"{tuple(n_features)}."
        )
    if not all_finite(X):
        raise ValueError(f"{name} contains NaN or infinity; clean or impute it first.")
    return X


class Network:
    """A neural network: layers applied one after another, trained by gradient descent.

    Parameters
    ----------
    layers : list of Layer
        ``Dense``, activation layers, ``Dropout``, ``Flatten``, in order.
    loss : str or Loss, optional
        ``"mse"``, ``"binary_cross_entropy"`` or ``"cross_entropy"``. When omitted it
        follows the output: softmax -> cross-entropy, sigmoid -> binary
        cross-entropy, anything else -> mean squared error.
    optimizer : str or Optimizer, default "adam"
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` or an instance.
    random_state : int, Generator or None
        Seeds weight initialization, shuffling, dropout and validation splits.
    dtype : {"float32", "float64"}
        The dtype of parameters and computations.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    >>> y = np.array([0, 1, 1, 0])
    >>> net = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(1, activation="sigmoid")],
    ...                     optimizer=gn.Adam(0.05), random_state=0)
    >>> history = net.fit(X, y, epochs=300, batch_size=None, verbose=0)
    >>> (net.predict(X)[:, 0] > 0.5).astype(int)
    array([0, 1, 1, 0])
    """

    def __init__(self, layers=None, loss=None, optimizer="adam", random_state=None,
                 dtype="float32"):
        self.layers = []
        for layer in layers or []:
            self.add(layer)
        self.loss = None if loss is None else get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        self.random_state = random_state
        self.dtype = resolve_dtype(dtype)
        self.built = False
        self.stop_training = False
        self.history = None

    def add(self, layer: Layer):
        """Append a layer (before the network is built)."""
        if not isinstance(layer, Layer):
            raise ValueError(
                f"layers must be glassnet layers (Dense, ReLU, Dropout, ...), got {layer!r}."
            )
        if getattr(self, "built", False):
            raise ValueError("Cannot add a layer to a network that is already built.")
        self.layers.append(layer)

    # -- building ----------------------------------------------------------------------
    def build(self, input_shape):
        """Create the parameters for samples of ``input_shape`` (an int or a tuple)."""
        input_shape = (input_shape,) if isinstance(input_shape, numbers.Integral) else input_shape
        input_shape = tuple(int(d) for d in input_shape)
        if not self.layers:
            raise ValueError("The network has no layers; pass layers=[gn.Dense(...), ...].")
        if len(input_shape) > 1 and not isinstance(self.layers[0], Flatten):
            raise ValueError(
                f"X has samples of shape {input_shape} (not vectors): start the network with "
                "glassnet.Flatten() to turn each into a vector of "
                f"{int(np.prod(input_shape))} features."
            )
        self._rng = check_random_state(self.random_state)
        n_in, layout, counts = int(np.prod(input_shape)), [], {}
        for layer in self.layers:
            if layer.input_dim is not None and layer.input_dim != n_in:
                raise ValueError(
                    f"Layer {layer!r} was declared with input_dim={layer.input_dim}, but it "
                    f"receives {n_in} features."
                )
            index = counts.get(layer.kind, 0)
            counts[layer.kind] = index + 1
            layer.name = layer.kind if index == 0 else f"{layer.kind}_{index}"
            layout.append(layer.param_shapes(n_in))
            n_in = layer.output_dim(n_in)
        self._layout = layout
        size = sum(int(np.prod(shape)) for shapes in layout for _, shape in shapes)
        self._params = xp.zeros(size, dtype=self.dtype)
        self._grads = xp.zeros(size, dtype=self.dtype)
        self._bind_views()
        for layer in self.layers:
            layer.initialize(self._rng, self.dtype)
            if isinstance(layer, Dropout):
                layer.rng = self._rng
        self.input_shape = input_shape
        self.n_outputs = n_in
        self._resolve_loss()
        self.optimizer.build(self._params)
        self.built = True
        return self

    def _bind_views(self):
        offset = 0
        for layer, shapes in zip(self.layers, self._layout):
            params, grads = [], []
            for _, shape in shapes:
                n = int(np.prod(shape))
                params.append(self._params[offset : offset + n].reshape(shape))
                grads.append(self._grads[offset : offset + n].reshape(shape))
                offset += n
            layer.bind(params, grads)
            layer._in_network = True
        self._first_trainable = next(
            (i for i, shapes in enumerate(self._layout) if shapes), len(self.layers)
        )

    def output_activation(self):
        """The activation function of the last layer (identity when it has none)."""
        last = self.layers[-1]
        if isinstance(last, (Activation, Dense)) and last.activation is not None:
            return last.activation
        return Identity()

    def _resolve_loss(self):
        out = self.output_activation().name
        if self.loss is None:
            name = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(out, "mse")
            self.loss = get_loss(name)
        if self.loss.is_classification and out not in ("softmax", "sigmoid"):
            raise ValueError(
                f"loss={self.loss.name!r} needs outputs in (0, 1), but the network ends with "
                f"{out!r}. End it with a Softmax (one unit per class) or a Sigmoid output."
            )
        self._fused = self.loss.fused_activation == out

    def _ensure_built(self, X):
        if not self.built:
            self.build(X.shape[1:])

    # -- parameters ----------------------------------------------------------------------
    def parameters(self):
        """The parameter arrays ``[W1, b1, W2, b2, ...]`` (views: writing them changes the net)."""
        self._check_built()
        return [p for layer in self.layers for p in layer.params]

    def parameter_names(self):
        """``["dense.W", "dense.b", "dense_1.W", ...]``, in the order of ``parameters()``."""
        self._check_built()
        return [
            f"{layer.name}.{name}"
            for layer, shapes in zip(self.layers, self._layout)
            for name, _ in shapes
        ]

    def get_weights(self):
        """Copies of the parameters, in the order of ``parameters()``."""
        return [p.copy() for p in self.parameters()]

    def set_weights(self, weights):
        """Set every parameter from a list like the one ``get_weights`` returns."""
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(f"weights must hold {len(params)} arrays, got {len(weights)}.")
        for name, p, w in zip(self.parameter_names(), params, weights):
            w = xp.asarray(w)
            if w.shape != p.shape:
                raise ValueError(f"weights for {name} must have shape {p.shape}, got {w.shape}.")
        for p, w in zip(params, weights):
            p[...] = w

    def copy(self, dtype=None) -> Network:
        """A new network with the same layers, loss and weights (optionally another dtype);
        the optimizer starts fresh.
        """
        self._check_built()
        twin = type(self)(
            [layer_from_config(layer.get_config()) for layer in self.layers],
            loss=self.loss.get_config(), optimizer=self.optimizer.get_config(),
            random_state=self.random_state, dtype=dtype or self.dtype,
        )
        twin.build(self.input_shape)
        twin._params[...] = self._params
        return twin

    def count_params(self) -> int:
        return int(self._params.size) if self.built else 0

    def _check_built(self):
        if not self.built:
            raise ValueError("The network is not built yet: call fit(X, y) or build(n_features).")

    # -- the forward and backward pass ---------------------------------------------------
    def forward(self, X, training=False):
        """The network's output for a batch ``X`` already of the network's dtype."""
        A = X
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    def _forward_to_loss(self, X, training):
        """Forward pass; with a fused output, stops before the output activation."""
        A, last = X, len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last and self._fused:
                if isinstance(layer, Dense):
                    A = layer.forward(A, training, activate=False)
            else:
                A = layer.forward(A, training)
        return A

    def _backward(self, dA):
        """Chain rule from ``dL/d(output)`` back to the first layer with parameters."""
        last = len(self.layers) - 1
        for i in range(last, self._first_trainable - 1, -1):
            layer, need = self.layers[i], i > self._first_trainable
            if i == last and self._fused:
                if isinstance(layer, Dense):
                    dA = layer.backward(dA, need, activate=False)
            else:
                dA = layer.backward(dA, need)

    def _loss_and_gradients(self, X, T, sample_weight=None, training=True):
        """Forward, loss, backward: fills ``self._grads`` and returns the loss."""
        out = self._forward_to_loss(X, training)
        if self._fused:
            logits = self._logits_buffer(out)
            loss, delta = self.loss.fused(logits, T, self.output_activation(), sample_weight)
        else:
            loss = self.loss.value(out, T, sample_weight)
            delta = self.loss.gradient(out, T, sample_weight)
        self._backward(delta)
        return loss

    def _logits_buffer(self, Z):
        # The fused loss overwrites its input with dL/dZ; Z may be a buffer another
        # layer still needs, so it works on a copy (small: n_samples x n_outputs).
        buf = getattr(self, "_logits", None)
        if buf is None or buf.shape != Z.shape:
            buf = self._logits = xp.empty_like(Z)
        buf[...] = Z
        return buf

    def train_on_batch(self, X, T, sample_weight=None) -> float:
        """One gradient-descent step on a prepared batch; returns the batch loss (before it)."""
        loss = self._loss_and_gradients(X, T, sample_weight)
        self.optimizer.step(self._params, self._grads)
        return loss

    # -- public computations -------------------------------------------------------------
    def _prepare(self, X, y, sample_weight=None):
        X = check_features(X, n_features=self.input_shape if self.built else None,
                           allow_images=True)
        self._ensure_built(X)
        y = xp.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X and y must have the same number of samples, got {len(X)} and "
                             f"{len(y)}.")
        if y.dtype.kind in "fc" and not all_finite(y):
            raise ValueError("y contains NaN or infinity; clean it first.")
        T = self.loss.prepare_targets(y, self.n_outputs, self.dtype)
        if sample_weight is not None:
            sample_weight = xp.asarray(sample_weight, dtype=self.dtype)
            if sample_weight.shape != (len(X),) or not all_finite(sample_weight) \
                    or (sample_weight < 0).any():
                raise ValueError(
                    f"sample_weight must be {len(X)} finite non-negative numbers, one per sample."
                )
        return X, T, sample_weight

    def _as_dtype(self, X):
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    def compute_gradients(self, X, y, sample_weight=None, training=False):
        """The loss on ``(X, y)`` and its gradient for each of ``parameters()``.

        Returns
        -------
        loss : float
        grads : list of ndarray
            ``[dL/dW1, dL/db1, dL/dW2, ...]``, copies, in the order of ``parameters()``.
        """
        X, T, sample_weight = self._prepare(X, y, sample_weight)
        loss = self._loss_and_gradients(self._as_dtype(X), T, sample_weight, training)
        return loss, [g.copy() for layer in self.layers for g in layer.grads]

    def predict(self, X, batch_size=None):
        """The network's output for ``X``: class probabilities for a softmax or sigmoid output.

        ``batch_size`` (an int >= 1) bounds the rows sent through the network at once, to
        save memory; the rows come back in order, equal to one full pass up to the last
        bit or two of rounding (BLAS rounds a product differently for different row counts).
        """
        self._check_built()
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}.")
        X = check_features(X, n_features=self.input_shape, allow_images=True)
        if batch_size is None or batch_size >= len(X):
            return self.forward(self._as_dtype(X))
        return xp.concatenate([
            self.forward(self._as_dtype(X[i : i + batch_size]))
            for i in range(0, len(X), batch_size)
        ])

    def __repr__(self):
        return (f"{type(self).__name__}({self.layers!r}, loss={self.loss!r}, "
                f"optimizer={self.optimizer!r})")

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_logits", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.built:
            self._bind_views()
