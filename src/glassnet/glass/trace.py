"""``trace_step``: one training step recorded as data, number by number.

Forward, per layer: its input ``A``, ``W``, ``b``, ``Z = A @ W + b``, the output
``f(Z)``. The loss. Backward, per layer, the chain rule's factors: ``dL/dA`` (the
gradient arriving at the layer's output), ``dA/dZ`` (the activation's derivative),
``delta = dL/dZ``, ``dL/dW = Aᵀ·delta``, ``dL/db = sum_rows(delta)`` and
``dL/dA_prev = delta·Wᵀ``. Then the update each parameter received from the
network's optimizer. No printing here: ``report.py`` renders a ``StepTrace``.

The step is computed on a float64 copy of the network and its optimizer, so the
network is untouched unless ``apply=True``; its gradients and updates are the ones
``fit`` computes for the same batch (to float32 rounding for a float32 network).
Dropout is off in a trace, so that it is reproducible.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..network import Network
from .report import chain_names, render_html, render_markdown, render_text


@dataclass
class LayerTrace:
    """One layer of a traced step (arrays are ``(n_samples, n_units)``; None where the
    layer has no such quantity, e.g. ``W`` of an activation layer)."""

    index: int
    name: str
    kind: str
    A: np.ndarray
    W: np.ndarray | None = None
    b: np.ndarray | None = None
    Z: np.ndarray | None = None
    activation: str | None = None
    out: np.ndarray | None = None
    dL_dout: np.ndarray | None = None
    dout_dZ: np.ndarray | None = None
    delta: np.ndarray | None = None
    dW: np.ndarray | None = None
    db: np.ndarray | None = None
    dA: np.ndarray | None = None
    W_new: np.ndarray | None = None
    b_new: np.ndarray | None = None
    #: A convolution's geometry: ``strides``, ``dilation`` and the ``pads`` of each axis.
    window: dict | None = None


@dataclass
class StepTrace:
    """A whole traced step: ``layers`` (forward and backward), the loss and the update."""

    X: np.ndarray
    T: np.ndarray
    layers: list[LayerTrace]
    output: np.ndarray
    loss: float
    loss_name: str
    dL_doutput: np.ndarray
    optimizer: str
    learning_rate: float
    applied: bool = False
    loss_after: float | None = None

    @property
    def dense_layers(self) -> list[LayerTrace]:
        return [layer for layer in self.layers if layer.kind == "dense"]

    def chain_rule(self, layer, *index) -> list:
        """The chain rule for one weight, as the trace prints it.

        ``layer`` is the superscript ``l`` of a Dense layer (1-based, the articles'
        ``W^l``) or the name of a Dense or convolution layer as printed (``"conv2d"``);
        ``index`` the weight's: ``i, j`` (or ``(i, j)``) of a Dense kernel, ``(k..., c, f)``
        of a convolution's.

        **Dense**, sample by sample:
        ``dJ/dWˡᵢⱼ = Σₙ dJ/daˡⱼ · daˡⱼ/dzˡⱼ · dzˡⱼ/dWˡᵢⱼ`` (each factor taken for sample
        ``n``; the loss's mean over the samples is already inside ``dJ/da``). Returns
        ``[(name, values), ...]``: each factor as a 1-D array with one value per sample,
        then ``(name, dW[i, j])``. The factors' products summed over the samples are
        ``dW[i, j]``, less anything the network adds to its gradient itself (an estimator's
        L2 penalty). With a softmax, every output depends on every logit, so the first two
        factors are one, the Jacobian-vector product ``dJ/dzˡⱼ = Σₘ dJ/daˡₘ · daˡₘ/dzˡⱼ``
        over the outputs ``m`` (not its diagonal alone; ``unit(layer)`` holds both parts).

        **Convolution**, ``W[k..., c, f]``, as its sum over samples ``n`` and output
        positions ``o``: ``dJ/dW[k, c, f] = Σ_{n, o} δ[n, o, f] · a[n, o·stride + k·dilation,
        c]`` (``a`` the padded input). Returns ``[((n, *o), δ, a), ...]``; the products sum
        to ``dW[k..., c, f]``.
        """
        if len(index) == 1 and isinstance(index[0], tuple):
            index = index[0]
        record = self._weighted_layer(layer)
        if record.window is not None:
            return self._kernel_terms(record, tuple(index))
        if len(index) != 2:
            raise ValueError(f"A Dense weight has two indices (i, j), got {index!r}.")
        return self._dense_factors(self.dense_layers.index(record) + 1, *index)

    def _weighted_layer(self, layer) -> LayerTrace:
        """The Dense layer of superscript ``layer``, or the Dense or conv layer so named."""
        if isinstance(layer, str):
            weighted = [r for r in self.layers if r.kind == "dense" or r.window is not None]
            for record in weighted:
                if record.name == layer:
                    return record
            names = ", ".join(repr(r.name) for r in weighted) or "none"
            raise ValueError(f"The trace has no Dense or convolution layer named {layer!r}; "
                             f"it has {names}.")
        count = len(self.dense_layers)
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= count:
            raise ValueError(f"layer must be a Dense layer's superscript 1..{count} or a "
                             f"layer's name, got {layer!r}.")
        return self.dense_layers[layer - 1]

    def _dense_factors(self, layer: int, i: int, j: int) -> list[tuple[str, np.ndarray | float]]:
        """The Dense case of ``chain_rule``, for the ``layer``-th Dense layer."""
        dense, unit = self.dense_layers[layer - 1], self.unit(layer)
        names = chain_names(layer, i, j, coupled=_coupled(unit))
        if _coupled(unit):  # softmax: the full Jacobian-vector product
            factors = [np.einsum("nm,nm->n", unit.dL_dout, unit.dout_dZ[:, :, j])]
        else:
            da_dz = np.ones(len(self.X)) if unit.dout_dZ is None else unit.dout_dZ[:, j]
            factors = [unit.dL_dout[:, j], da_dz]
        factors.append(dense.A[:, i])
        values = [np.array(f, dtype=float) for f in factors] + [float(dense.dW[i, j])]
        return list(zip(names, values))

    def unit(self, layer: int) -> LayerTrace:
        """Where ``a = f(z)`` of the ``layer``-th Dense layer is recorded: the layer itself,
        or the activation layer right after it."""
        dense = self.dense_layers[layer - 1]
        following = self.layers[dense.index + 1] if dense.index + 1 < len(self.layers) else None
        if dense.activation is None and following is not None \
                and following.kind == "activation":
            return following
        return dense

    @staticmethod
    def _kernel_terms(record: LayerTrace, index: tuple) -> list[tuple[tuple, float, float]]:
        """The convolution case of ``chain_rule``."""
        if len(index) != record.W.ndim:
            raise ValueError(f"A kernel weight of {record.name} has {record.W.ndim} indices "
                             f"(k..., c, f), got {index!r}.")
        *k, c, f = index
        geometry = record.window
        A = np.pad(record.A, [(0, 0), *geometry["pads"], (0, 0)])
        out = geometry["output"]
        delta = record.delta.reshape(len(A), *out, record.W.shape[-1])
        terms = []
        for position in np.ndindex(len(A), *out):
            i, o = position[0], position[1:]
            source = tuple(oo * s + kk * d for oo, s, kk, d in
                           zip(o, geometry["strides"], k, geometry["dilation"]))
            terms.append((position, float(delta[(i, *o, f)]), float(A[(i, *source, c)])))
        return terms

    def __str__(self):
        return render_text(self)

    def to_text(self, digits: int = 4) -> str:
        return render_text(self, digits=digits)

    def to_markdown(self, digits: int = 4) -> str:
        return render_markdown(self, digits=digits)

    def to_html(self, digits: int = 4) -> str:
        return render_html(self, digits=digits)


def _network_of(obj):
    """``obj`` if it is a glassnet network, else the network ``model_`` of a fitted
    estimator (read by duck typing: the estimators sit above this package)."""
    if isinstance(obj, Network):
        return obj
    model = getattr(obj, "model_", None)
    if isinstance(model, Network):
        return model
    if hasattr(obj, "fit") and hasattr(obj, "get_params"):
        raise ValueError(f"trace_step needs a glassnet network: this {type(obj).__name__} is "
                         "not fitted yet; fit it first (or pass clf.model_ after fitting).")
    raise TypeError(f"trace_step needs a glassnet network; for an estimator pass clf.model_ "
                    f"after fitting, got {type(obj).__name__}.")


def _coupled(unit):
    """Whether the activation couples the outputs (softmax: a Jacobian per sample)."""
    return unit.dout_dZ is not None and unit.dout_dZ.ndim == 3


def trace_step(net, X, y, learning_rate=None, sample_weight=None, apply=False) -> StepTrace:
    """Record one training step of ``net`` on ``(X, y)``, number by number.

    Parameters
    ----------
    net : Sequential, Network, or a fitted estimator
        An estimator (``MLPClassifier``, ...) is traced through its network ``model_``.
    X, y : arrays
        The batch (the articles' examples use one sample), as the network takes them (an
        estimator's network takes encoded targets: class indices or one-hot rows).
    learning_rate : float, optional
        Use this learning rate for the step instead of the optimizer's.
    sample_weight : array, optional
    apply : bool, default False
        Also take the step on ``net`` itself (exactly as one batch of ``fit``).

    Returns
    -------
    StepTrace

    Examples
    --------
    >>> import glassnet as gn
    >>> step = gn.trace_step(gn.examples.network_3_2_2(), *gn.examples.data_3_2_2())
    >>> round(step.loss, 6)
    2.868598
    """
    net = _network_of(net)
    if not net.built:
        net.build(np.asarray(X).shape[1:])
    twin = net.copy(dtype="float64")
    twin.optimizer = copy.deepcopy(net.optimizer)
    twin.optimizer.state = {k: v.astype(np.float64) for k, v in net.optimizer.state.items()}
    if learning_rate is not None:
        twin.optimizer.learning_rate = learning_rate
    lr = twin.optimizer.current_learning_rate
    Xp, T, sw = twin.prepare(X, y, sample_weight)
    Xp = twin.as_input(Xp)

    # The network's own passes (dropout off: training=False), each layer read through its
    # trace_fields(): forward, then the general chain rule from dL/d(output).
    A = twin.forward(Xp, training=False)
    layers = []
    for index, layer in enumerate(twin.layers):
        fields = {k: v if v is None or k == "window" else np.array(v)
                  for k, v in layer.trace_fields().items()}
        fn = layer.activation
        W = fields.get("W")
        kind = "dense" if W is not None and W.ndim == 2 else (
            "activation" if fn is not None and W is None else layer.kind)
        record = LayerTrace(index=index, name=layer.name, kind=kind,
                            A=fields.get("A", layers[-1].out if layers else Xp),
                            W=fields.get("W"), b=fields.get("b"), Z=fields.get("Z"),
                            window=fields.get("window"))
        record.out = fields.get("out") if fields.get("out") is not None else record.Z
        if fn is not None and record.Z is not None:
            record.activation = fn.name
            record.dout_dZ = fn.derivative(record.Z, record.out)
        layers.append(record)
    for i, record in enumerate(layers):  # a layer that records nothing (Flatten, Dropout)
        if record.out is None:
            record.out = layers[i + 1].A if i + 1 < len(layers) else A
    dL_doutput = twin.loss.gradient(A, T, sw)

    def on_layer(index, dL_dout, dL_dinput):
        record, fields = layers[index], twin.layers[index].trace_fields()
        record.dL_dout = np.array(dL_dout)
        record.dA = None if dL_dinput is None else np.array(dL_dinput)
        delta = fields.get("delta")
        if delta is not None:
            record.delta = np.array(delta)
        elif record.activation is not None:  # an activation layer: delta is what it passes on
            record.delta = record.dA

    twin.backward(dL_doutput, on_layer=on_layer)
    # What fit computes (the fused output where there is one): the loss, the gradients in
    # the flat buffer, and the optimizer's step with them.
    loss = twin.loss_and_gradients(Xp, T, sw, training=False)
    for record, layer in zip(layers, twin.layers):
        fields = layer.trace_fields()
        if fields.get("dW") is not None:
            record.dW, record.db = np.array(fields["dW"]), np.array(fields["db"])
    twin.apply_gradients()
    for record, layer in zip(layers, twin.layers):
        fields = layer.trace_fields()
        if fields.get("W") is not None:
            record.W_new, record.b_new = np.array(fields["W"]), np.array(fields["b"])
    loss_after = twin.loss_value(Xp, T, sw)
    trace = StepTrace(X=Xp, T=T, layers=layers, output=A, loss=float(loss),
                      loss_name=twin.loss.name, dL_doutput=dL_doutput,
                      optimizer=repr(net.optimizer), learning_rate=lr, loss_after=loss_after)
    if apply:
        X_real, T_real, sw_real = net.prepare(X, y, sample_weight)
        saved = net.optimizer.learning_rate
        if learning_rate is not None:
            net.optimizer.learning_rate = learning_rate
        net.train_on_batch(net.as_input(X_real), T_real, sw_real)
        net.optimizer.learning_rate = saved
        trace.applied = True
    return trace
