"""The Layer protocol: what every layer gives the network that lays it out.

A layer maps ``A`` of shape ``(n_samples, *input_shape)`` to ``(n_samples, *output_shape)``.
``forward(A, training)`` caches what ``backward`` needs; ``backward(dOut)`` fills the
layer's parameter gradients and returns ``dL/dA``. ``params`` and ``grads`` are
parallel lists of arrays; inside a network they are views into its one flat
parameter (and gradient) buffer, so an optimizer step is a whole-buffer update.

During training a layer writes its outputs into work buffers it keeps per batch
shape, so the hot path allocates nothing; outside training it returns new arrays.
"""

from __future__ import annotations

from ..backend import xp


class Layer:
    """Base class: no parameters, identity shapes, per-shape work buffers."""

    #: A short lower-case name; the network numbers them (``dense``, ``dense_1``, ...).
    kind = "layer"

    def __init__(self):
        self.name = None
        self._in_network = False
        self.input_dim = None
        self.params = []
        self.grads = []
        self._buffers = {}

    # -- building ----------------------------------------------------------------
    def param_shapes(self, n_in: int) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of each parameter for an input of ``n_in`` features."""
        return []

    def output_dim(self, n_in: int) -> int:
        return n_in

    def bind(self, params, grads):
        """Take the views into the network's flat buffers, in ``param_shapes`` order."""
        self.params, self.grads = list(params), list(grads)

    def initialize(self, rng, dtype):
        """Fill the bound parameters with their initial values."""

    # -- computing ---------------------------------------------------------------
    def _buffer(self, key: str, shape, dtype, training: bool):
        """A reusable work array while training, a fresh one otherwise."""
        if not training:
            return None
        full_key = (key, tuple(shape), dtype)
        buf = self._buffers.get(full_key)
        if buf is None:
            if len(self._buffers) > 8:  # batch shapes changed: drop stale buffers
                self._buffers.clear()
            buf = self._buffers[full_key] = xp.empty(shape, dtype=dtype)
        return buf

    def forward(self, A, training: bool = False):
        raise NotImplementedError

    def backward(self, dOut, need_input_grad: bool = True):
        raise NotImplementedError

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
        for key in ("_A", "_Z", "_out", "_mask", "_shape"):
            state.pop(key, None)
        if "_ones" in state:
            state["_ones"] = None
        if state.get("_in_network"):
            # Views into the network's flat buffers: the network rebinds them on load.
            state["params"], state["grads"] = [], []
        return state
