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

from .report import render_html, render_markdown, render_text, sub, sup


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

    def chain_rule(self, layer: int, i: int, j: int) -> list[tuple[str, float]]:
        """The factors of ``dJ/dWˡᵢⱼ = dJ/daˡⱼ · daˡⱼ/dzˡⱼ · dzˡⱼ/dWˡᵢⱼ`` summed over samples,
        for the ``layer``-th Dense layer (1-based, as the articles' superscripts):
        ``[(name, value), ...]`` with the product last. With one sample the product is
        exactly ``dW[i, j]``; with several, each factor is shown for the first sample.
        """
        dense = self.dense_layers[layer - 1]
        l = layer
        # a = f(z) is either inside the Dense layer or the activation layer right after it.
        unit = dense
        following = self.layers[dense.index + 1] if dense.index + 1 < len(self.layers) else None
        if dense.activation is None and following is not None \
                and following.kind == "activation":
            unit = following
        dL_da = unit.dL_dout[0, j]
        da_dz = _elementwise(unit.dout_dZ, j)
        dz_dw = dense.A[0, i]
        return [
            (f"dJ/da{sup(l)}{sub(j + 1)}", float(dL_da)),
            (f"da{sup(l)}{sub(j + 1)}/dz{sup(l)}{sub(j + 1)}", float(da_dz)),
            (f"dz{sup(l)}{sub(j + 1)}/dW{sup(l)}{sub(i + 1)}{sub(j + 1)}", float(dz_dw)),
            (f"dJ/dW{sup(l)}{sub(i + 1)}{sub(j + 1)}", float(dense.dW[i, j])),
        ]

    def kernel_chain_rule(self, layer: int, index: tuple) -> list[tuple[tuple, float, float]]:
        """The gradient of one kernel weight ``W[k..., c, f]`` of the convolution at position
        ``layer`` of ``layers``, as its sum over samples ``i`` and output positions ``o``:
        ``dJ/dW[k, c, f] = sum_{i, o} delta[i, o, f] * a[i, o * stride + k * dilation, c]``
        (``a`` the padded input). Returns ``[((i, *o), delta, a), ...]``; the products sum
        to ``dW[index]``."""
        record = self.layers[layer]
        if record.window is None:
            raise ValueError(f"layer {layer} ({record.name}) is not a convolution.")
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


def _elementwise(derivative, j):
    if derivative is None:
        return 1.0
    if derivative.ndim == 3:  # softmax: the Jacobian's diagonal entry
        return derivative[0, j, j]
    return derivative[0, j]


def trace_step(net, X, y, learning_rate=None, sample_weight=None, apply=False) -> StepTrace:
    """Record one training step of ``net`` on ``(X, y)``, number by number.

    Parameters
    ----------
    net : Sequential
    X, y : arrays
        The batch (the articles' examples use one sample).
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
