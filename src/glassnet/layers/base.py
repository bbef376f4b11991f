"""The Layer protocol: what every layer gives the network that lays it out.

Shapes are per sample, as tuples (``(784,)``, ``(28, 28, 1)``); arrays are batch first.

- ``build(input_shape) -> output_shape`` fixes the shapes before a byte is computed.
- ``param_specs(input_shape)``: the trainable arrays, ``ParamSpec(name, shape, initializer,
  fans)``; ``state_specs(input_shape)``: the non-trainable ones (``StateSpec(name, shape,
  value)``), which the optimizer never touches. The network lays each kind out in one flat
  buffer and hands the layer views into it with ``bind``.
- ``forward(A, training)`` caches what ``backward`` needs; ``backward(dOut,
  need_input_grad)`` fills the parameter gradients and returns ``dL/dA``. A layer that ends
  in an activation names it in ``activation``; ``activate=False`` skips it both ways, so the
  network can fuse the output activation with the loss.
- ``trace_fields()``: what ``trace_step`` records for the layer after a pass.

During training a layer writes its outputs into work buffers it keeps per batch shape, so
the hot path allocates nothing; outside training it returns new arrays.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backend import get_backend


class ParamSpec(NamedTuple):
    """A trainable array: its name, shape, initializer and ``(fan_in, fan_out)``."""

    name: str
    shape: tuple
    initializer: Any
    fans: tuple


class StateSpec(NamedTuple):
    """A non-trainable array (a running statistic): its name, shape and initial value."""

    name: str
    shape: tuple
    value: float


def initializer_config(names) -> dict:
    """The ``kernel_initializer``/``bias_initializer`` entries of a config: the names given as
    strings (an array or a callable is not data, so a config records None for it)."""
    kernel, bias = (name if isinstance(name, str) else None for name in names)
    return {"kernel_initializer": kernel, "bias_initializer": bias}


def without_class_name(config) -> dict:
    """A layer config as constructor arguments: no ``class_name``, and an initializer the
    config could not record (None) becomes zeros (the weights are set from the file)."""
    config = {k: v for k, v in config.items() if k != "class_name"}
    for key in ("kernel_initializer", "bias_initializer"):
        if config.get(key) is None:
            config[key] = "zeros"
    return config


class Layer:
    """Base class: no parameters, the output shape of the input, per-shape work buffers."""

    #: A short lower-case name; the network numbers them (``dense``, ``dense_1``, ...).
    kind = "layer"
    #: The activation applied at the end of ``forward`` (None: none), fusable with a loss.
    activation = None

    def __init__(self):
        self.name = None
        self.input_dim = None
        self.input_shape = self.output_shape = None
        self.params, self.grads, self.state = [], [], []
        self.backend = self.rng = None
        self._in_network = False
        self._buffers = {}

    # -- building ----------------------------------------------------------------
    def build(self, input_shape: tuple) -> tuple:
        """Fix the layer for samples of ``input_shape``; return the output's shape."""
        self.input_shape = self.output_shape = tuple(input_shape)
        return self.output_shape

    def param_specs(self, input_shape: tuple) -> list[ParamSpec]:
        return []

    def state_specs(self, input_shape: tuple) -> list[StateSpec]:
        return []

    def bind(self, params, grads, state=(), backend=None, rng=None):
        """Take the views into the network's buffers (in spec order), its backend and its
        random generator (the one source of randomness, for dropout and the like)."""
        self.params, self.grads, self.state = list(params), list(grads), list(state)
        self.backend, self.rng = backend, rng
        self._in_network = backend is not None

    # -- computing ---------------------------------------------------------------
    def _buffer(self, key: str, shape, dtype, training: bool):
        """A reusable work array while training, a fresh one otherwise."""
        if not training:
            return None
        full_key = (key, tuple(shape), dtype)
        buf = self._buffers.get(full_key)
        if buf is None:
            if len(self._buffers) > 24:  # batch shapes changed: drop stale buffers
                self._buffers.clear()
            buf = self._buffers[full_key] = self.xp.empty(shape, dtype=dtype)
        return buf

    @property
    def xp(self):
        """The array namespace of the network's backend (NumPy outside a network)."""
        if self.backend is None:
            self.backend = get_backend("numpy")
        return self.backend.xp

    def forward(self, A, training: bool = False, activate: bool = True):
        raise NotImplementedError

    def backward(self, dOut, need_input_grad: bool = True, activate: bool = True):
        raise NotImplementedError

    def hold_randomness(self):
        """Make later training passes repeat the random draws of the last one (a gradient
        check differentiates a fixed function); a layer without randomness holds nothing."""

    def copy_randomness(self, other):
        """Use the random draws ``other`` (a layer of the same kind) holds fixed, if any."""

    def trace_fields(self) -> dict:
        """The arrays of the last pass that a trace records, by name."""
        return {}

    # -- describing --------------------------------------------------------------
    def get_config(self) -> dict:
        return {"class_name": type(self).__name__}

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_buffers"] = {}
        for key in ("_A", "_Z", "_out", "_mask", "_shape", "_cols", "_delta", "_argmax",
                    "_xhat", "_inv_std"):
            state.pop(key, None)
        if "_ones" in state:
            state["_ones"] = None
        if state.get("_in_network"):
            # Views into the network's flat buffers: the network rebinds them on load.
            state["params"], state["grads"], state["state"] = [], [], []
        return state
