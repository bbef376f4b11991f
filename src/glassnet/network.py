"""``Network``: the engine. Layers laid out for an input shape, trained by backpropagation.

Forward: ``A⁰ = X``, ``Aˡ = layerˡ(Aˡ⁻¹)``. Backward is the chain rule run from
the loss back to the input: each layer receives ``dL/dAˡ`` and returns
``dL/dAˡ⁻¹``, filling its parameter gradients on the way. All parameters live in
one flat buffer (``W1, b1, W2, b2, ...``; each layer's ``W`` and ``b`` are views
into it), and so do their gradients and the layers' non-trainable state, so the
optimizer updates them all at once. The engine knows nothing of epochs, callbacks or
files: the fit loop (``training``) and the facade (``models.Sequential``) sit above it.
"""

from __future__ import annotations

import copy
import math
import numbers

from .backend import (
    all_finite,
    check_features,
    format_bytes,
    get_backend,
    physical_memory,
    resolve_dtype,
)
from .backend.checks import check_range
from .layers import Layer, layer_from_config
from .ops.activations import Identity
from .ops.initializers import initial_values
from .ops.losses import get_loss
from .optimizers import get_optimizer


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
    backend : str, default "numpy"
        The array library the network computes with (:func:`glassnet.backend.get_backend`).

    Attributes (once built)
    -----------------------
    params, grads, state : 1-D arrays
        Every parameter, its gradient, and every layer's non-trainable state, each in one
        flat buffer; the layers hold views into them.
    rng : numpy.random.Generator
        The one source of randomness (initialization, shuffling, dropout, splits).

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
                 dtype="float32", backend="numpy"):
        self.layers = []
        for layer in layers or []:
            self.add(layer)
        self.loss = None if loss is None else get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        self.random_state = random_state
        self.dtype = resolve_dtype(dtype)
        self.backend = get_backend(backend)
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
        """Lay the layers out for samples of ``input_shape`` (an int or a tuple) and create
        the parameters, their gradients and the layers' state."""
        input_shape = (input_shape,) if isinstance(input_shape, numbers.Integral) else input_shape
        input_shape = tuple(int(d) for d in input_shape)
        if not self.layers:
            raise ValueError("The network has no layers; pass layers=[gn.Dense(...), ...].")
        self.rng = self.backend.rng(self.random_state)
        shape, counts, self._specs = input_shape, {}, []
        for i, layer in enumerate(self.layers):
            index = counts.get(layer.kind, 0)
            counts[layer.kind] = index + 1
            layer.name = layer.kind if index == 0 else f"{layer.kind}_{index}"
            try:
                out = layer.build(shape)
            except ValueError as exc:
                where = "X has samples" if i == 0 else \
                    f"Layer {i + 1} ({layer.name}) receives samples"
                raise ValueError(f"{where} of shape {shape}: {exc}") from None
            self._specs.append((layer.param_specs(shape), layer.state_specs(shape)))
            shape = out
        self._allocate()
        self._bind_views()
        for layer, (params, states) in zip(self.layers, self._specs):
            for view, spec in zip(layer.params, params):
                view[...] = self.backend.asarray(initial_values(spec, self.rng, self.dtype))
            for view, spec in zip(layer.state, states):
                view[...] = spec.value
        self.input_shape, self.output_shape = input_shape, shape
        self.n_outputs = math.prod(shape)
        self._resolve_loss()
        self.optimizer.build(self.params)
        self.built = True
        return self

    def _allocate(self):
        """The flat buffers, refused in one line when they cannot fit in memory: checked
        against the machine's memory before allocating (where the OS says it), and a
        MemoryError of the allocation itself says the same."""
        counts = [sum(math.prod(s.shape) for s in params) for params, _ in self._specs]
        n_params = sum(counts)
        n_state = sum(math.prod(s.shape) for _, states in self._specs for s in states)
        needed = (2 * n_params + n_state) * self.dtype.itemsize  # params, grads, state
        memory = physical_memory()
        try:
            if memory is not None and needed > memory:
                raise MemoryError
            xp = self.backend.xp
            self.params = xp.zeros(n_params, dtype=self.dtype)
            self.grads = xp.zeros(n_params, dtype=self.dtype)
            self.state = xp.zeros(n_state, dtype=self.dtype)
        except MemoryError:
            self.params = self.grads = self.state = None
            biggest = max(range(len(counts)), key=counts.__getitem__)
            layer = self.layers[biggest]
            than = "" if memory is None else f", more than this machine's {format_bytes(memory)}"
            raise ValueError(
                f"Layer {biggest + 1} ({layer.name}) needs {counts[biggest]:,} weights: the "
                f"network's {n_params:,} parameters and their gradients take "
                f"{format_bytes(needed)} as {self.dtype.name}{than}. Use fewer units or filters."
            ) from None

    def _bind_views(self):
        p = s = 0
        for layer, (params, states) in zip(self.layers, self._specs):
            views = {"params": [], "grads": [], "state": []}
            for spec in params:
                n = math.prod(spec.shape)
                views["params"].append(self.params[p : p + n].reshape(spec.shape))
                views["grads"].append(self.grads[p : p + n].reshape(spec.shape))
                p += n
            for spec in states:
                n = math.prod(spec.shape)
                views["state"].append(self.state[s : s + n].reshape(spec.shape))
                s += n
            layer.bind(views["params"], views["grads"], views["state"], self.backend, self.rng)
        self._first_trainable = next(
            (i for i, (params, _) in enumerate(self._specs) if params), len(self.layers)
        )

    def output_activation(self):
        """The activation function of the last layer (identity when it has none)."""
        fn = self.layers[-1].activation
        return Identity() if fn is None else fn

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
        # softmax + cross-entropy, sigmoid + binary cross-entropy, identity + MSE: the
        # output's gradient is (P - T) * scale, computed by the loss from the logits.
        self.fused = self.loss.fused_activation == out

    def check_built(self):
        if not self.built:
            raise ValueError("The network is not built yet: call fit(X, y) or build(n_features).")

    # -- parameters ----------------------------------------------------------------------
    def parameters(self):
        """The parameter arrays ``[W1, b1, W2, b2, ...]`` (views: writing them changes the net)."""
        self.check_built()
        return [p for layer in self.layers for p in layer.params]

    def parameter_names(self):
        """``["dense.W", "dense.b", "dense_1.W", ...]``, in the order of ``parameters()``."""
        self.check_built()
        return [f"{layer.name}.{spec.name}"
                for layer, (params, _) in zip(self.layers, self._specs) for spec in params]

    def param_slices(self) -> dict:
        """``{"dense.W": slice, ...}``: where each parameter lies in ``params``/``grads``."""
        self.check_built()
        slices, offset = {}, 0
        for name, p in zip(self.parameter_names(), self.parameters()):
            slices[name] = slice(offset, offset + p.size)
            offset += p.size
        return slices

    def state_names(self):
        """``["batch_normalization.moving_mean", ...]``, in the order of ``state``."""
        self.check_built()
        return [f"{layer.name}.{spec.name}"
                for layer, (_, states) in zip(self.layers, self._specs) for spec in states]

    def _weight_arrays(self):
        """Per layer its trainable arrays, then its state (Keras's order)."""
        self.check_built()
        return [a for layer in self.layers for a in (*layer.params, *layer.state)]

    def _weight_names(self):
        return [f"{layer.name}.{spec.name}" for layer, (params, states) in
                zip(self.layers, self._specs) for spec in (*params, *states)]

    def get_weights(self):
        """Copies of every layer's arrays: per layer its parameters, then its state
        (``BatchNormalization``: gamma, beta, moving_mean, moving_variance), as Keras."""
        return [a.copy() for a in self._weight_arrays()]

    def set_weights(self, weights):
        """Set every array from a list like the one ``get_weights`` returns."""
        arrays = self._weight_arrays()
        if len(weights) != len(arrays):
            raise ValueError(f"weights must hold {len(arrays)} arrays, got {len(weights)}.")
        for name, a, w in zip(self._weight_names(), arrays, weights):
            w = self.backend.xp.asarray(w)
            if w.shape != a.shape:
                raise ValueError(f"weights for {name} must have shape {a.shape}, got {w.shape}.")
        for a, w in zip(arrays, weights):
            a[...] = w

    def copy(self, dtype=None) -> Network:
        """A new network of the same class with the same layers, loss, weights and state
        (optionally another dtype) and a subclass's own attributes; the optimizer starts
        fresh.
        """
        self.check_built()
        twin = type(self).__new__(type(self))  # of the same class, engine parts made anew
        Network.__init__(
            twin, [layer_from_config(layer.get_config()) for layer in self.layers],
            loss=self.loss.get_config(), optimizer=self.optimizer.get_config(),
            # A Generator of its own (a copy of this one's): building the twin draws its
            # initial weights, which must not move this network's stream.
            random_state=copy.deepcopy(self.random_state), dtype=dtype or self.dtype,
            backend=self.backend.name,
        )
        twin.build(self.input_shape)
        # A subclass's own settings (an estimator's penalty) come along as they are.
        for key, value in self.__dict__.items():
            if key not in twin.__dict__ and key not in _TRAINING_RECORD:
                twin.__dict__[key] = value
        twin.params[...] = self.params
        twin.state[...] = self.state
        return twin

    def count_params(self) -> int:
        return int(self.params.size) if self.built else 0

    # -- the forward and backward pass ---------------------------------------------------
    def forward(self, X, training=False):
        """The network's output for a batch ``X`` already of the network's dtype."""
        A = X
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    def backward(self, dOut, on_layer=None):
        """The chain rule from ``dL/d(output)`` back to the first layer with parameters,
        filling ``grads`` (after a ``forward`` of the same batch). With ``on_layer``, every
        layer also passes its input gradient on, and ``on_layer(index, dL_dout, dL_dinput)``
        is called for each, last layer first (``trace_step`` records the chain rule so)."""
        if on_layer is None:
            return self._backward(dOut, fused=False)
        for i in range(len(self.layers) - 1, -1, -1):
            dA = self.layers[i].backward(dOut, True)
            on_layer(i, dOut, dA)
            dOut = dA

    def _forward_to_logits(self, X, training):
        """Forward pass; with a fused output, stops before the output activation."""
        A, skip = X, self._skipped_activation()
        for i, layer in enumerate(self.layers):
            # Only the layer whose activation the loss takes over is asked to skip it, so a
            # user's layer written as forward(A, training) works anywhere else.
            A = layer.forward(A, training, activate=False) if i == skip else \
                layer.forward(A, training)
        return A

    def _skipped_activation(self):
        """The index of the last layer when the loss is fused with its activation, else -1."""
        last = len(self.layers) - 1
        return last if self.fused and self.layers[last].activation is not None else -1

    def _backward(self, dA, fused):
        skip = self._skipped_activation() if fused else -1
        for i in range(len(self.layers) - 1, self._first_trainable - 1, -1):
            need = i > self._first_trainable
            layer = self.layers[i]
            dA = layer.backward(dA, need, activate=False) if i == skip else \
                layer.backward(dA, need)

    def loss_and_gradients(self, X, T, sample_weight=None, training=True):
        """Forward, loss, backward on a prepared batch: fills ``grads``, returns the loss."""
        out = self._forward_to_logits(X, training)
        if self.fused:
            logits = self._logits_buffer(out)
            loss, delta = self.loss.fused(logits, T, self.output_activation(), sample_weight)
        else:
            loss = self.loss.value(out, T, sample_weight)
            delta = self.loss.gradient(out, T, sample_weight)
        self._backward(delta, self.fused)
        return loss

    def reported_loss(self, P, T, sample_weight=None) -> float:
        """The loss of the outputs ``P`` as ``loss_and_gradients`` reports it. ``fit``'s
        ``val_loss`` and ``evaluate`` use it, so that they and the training ``loss`` are one
        quantity: a subclass whose ``loss_and_gradients`` scales the loss or adds a penalty
        overrides this to do the same."""
        return self.loss.value(P, T, sample_weight)

    def loss_value(self, X, T, sample_weight=None, training=False) -> float:
        """The loss on a prepared batch, without gradients."""
        out = self._forward_to_logits(X, training)
        if self.fused:
            return self.loss.fused(out.copy(), T, self.output_activation(), sample_weight)[0]
        return self.loss.value(out, T, sample_weight)

    def _logits_buffer(self, Z):
        # The fused loss overwrites its input with dL/dZ; Z may be a buffer another
        # layer still needs, so it works on a copy (small: n_samples x n_outputs).
        buf = getattr(self, "_logits", None)
        if buf is None or buf.shape != Z.shape or buf.dtype != Z.dtype:
            buf = self._logits = self.backend.xp.empty_like(Z)
        buf[...] = Z
        return buf

    def apply_gradients(self):
        """One optimizer step on ``params`` with ``grads``."""
        self.optimizer.step(self.params, self.grads)

    def train_on_batch(self, X, T, sample_weight=None) -> float:
        """One gradient-descent step on a prepared batch; returns the batch loss (before it)."""
        loss = self.loss_and_gradients(X, T, sample_weight)
        self.apply_gradients()
        return loss

    # -- data in -------------------------------------------------------------------------
    def prepare(self, X, y, sample_weight=None, first_row=0):
        """Checked ``(X, T, sample_weight)``: targets in the loss's form, weights as the
        network's dtype; builds the network for ``X``'s samples if it is not built yet.
        Messages name rows counting from ``first_row`` (the arrays a chunk of larger ones)."""
        X = check_features(X, input_shape=self.input_shape if self.built else None,
                           xp=self.backend.xp, dtype=self.dtype, first_row=first_row)
        if not self.built:
            self.build(X.shape[1:])
        xp = self.backend.xp
        y = xp.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X and y must have the same number of samples, got {len(X)} and "
                             f"{len(y)}.")
        if y.dtype.kind in "fc" and not all_finite(y):
            raise ValueError("y contains NaN or infinity; clean it first.")
        check_range(y, "y", self.dtype, first_row)
        T = self.loss.prepare_targets(y, self.n_outputs, self.dtype)
        if sample_weight is not None:
            sample_weight = xp.asarray(sample_weight, dtype=self.dtype)
            if sample_weight.shape != (len(X),):
                raise ValueError(f"sample_weight must hold one number per sample, shape "
                                 f"({len(X)},), got shape {sample_weight.shape}.")
            bad = ~xp.isfinite(sample_weight) | (sample_weight < 0)
            if bad.any():
                row = int(xp.argmax(bad))
                raise ValueError(f"sample_weight has {float(sample_weight[row]):g} at row "
                                 f"{row + first_row}; weights must be finite and non-negative.")
        return X, T, sample_weight

    def as_input(self, X):
        """``X`` in the network's dtype (no copy when it already is)."""
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    def compute_gradients(self, X, y, sample_weight=None, training=False):
        """The loss on ``(X, y)`` and its gradient for each of ``parameters()``.

        Returns
        -------
        loss : float
        grads : list of ndarray
            ``[dL/dW1, dL/db1, dL/dW2, ...]``, copies, in the order of ``parameters()``.
        """
        X, T, sample_weight = self.prepare(X, y, sample_weight)
        loss = self.loss_and_gradients(self.as_input(X), T, sample_weight, training)
        return loss, [g.copy() for layer in self.layers for g in layer.grads]

    def predict(self, X, batch_size=None, *, first_row=0):
        """The network's output for ``X``: class probabilities for a softmax or sigmoid output.

        ``batch_size`` (an int >= 1) bounds the rows sent through the network at once, to
        save memory; the rows come back in order, equal to one full pass up to the last
        bit or two of rounding (BLAS rounds a product differently for different row counts).
        Messages name rows counting from ``first_row`` (``X`` a chunk of a larger array).
        """
        self.check_built()
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}.")
        X = check_features(X, input_shape=self.input_shape, xp=self.backend.xp,
                           dtype=self.dtype, first_row=first_row)
        if batch_size is None or batch_size >= len(X):
            return self.forward(self.as_input(X))
        return self.backend.xp.concatenate([
            self.forward(self.as_input(X[i : i + batch_size]))
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


#: What ``fit`` leaves on a network, which a copy does not inherit.
_TRAINING_RECORD = ("epochs_done", "stop_reason", "stop_requested", "_logits")
