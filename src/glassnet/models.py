"""``Sequential``: the network users build, train, evaluate, save and summarize.

The engine (layers laid out in flat buffers, forward, backward) is
:class:`~glassnet.network.Network`; this facade adds what sits above it: the fit loop,
``evaluate``, the file and the summary table.
"""

from __future__ import annotations

import functools

from .data.dask import is_dask_collection, map_rows
from .network import Network
from .training import evaluate_prepared
from .training import fit as _fit
from .training.loop import dask_source, evaluate_source


class Sequential(Network):
    __doc__ = Network.__doc__

    def fit(self, X, y, epochs=10, batch_size=32, shuffle=True, validation_split=0.0,
            validation_data=None, callbacks=None, verbose=1, target_loss=None,
            sample_weight=None, resume_from=None, on_divergence="raise", client=None):
        """Train the network; see :func:`glassnet.training.fit` for the parameters (``X``
        may be a Dask array: out of core). With a Dask ``client``, data-parallel training
        on its workers: :func:`glassnet.training.distributed.fit`."""
        options = dict(epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                       validation_split=validation_split, validation_data=validation_data,
                       callbacks=callbacks, verbose=verbose, target_loss=target_loss,
                       sample_weight=sample_weight, resume_from=resume_from,
                       on_divergence=on_divergence)
        if client is not None:
            from .training import distributed

            return distributed.fit(self, X, y, client=client, **options)
        return _fit(self, X, y, **options)

    def compute_gradients(self, X, y, sample_weight=None, training=False, client=None):
        """The loss and its gradients, as :meth:`Network.compute_gradients`; with a Dask
        ``client``, summed over its workers' parts of the data
        (:func:`glassnet.training.distributed.compute_gradients`)."""
        if client is None:
            return super().compute_gradients(X, y, sample_weight, training)
        from .training import distributed

        return distributed.compute_gradients(self, X, y, client, sample_weight=sample_weight,
                                             training=training)

    def predict(self, X, batch_size=None):
        """The network's output for ``X``; see :meth:`Network.predict`.

        For a Dask array ``X`` the result is a lazy Dask array, one chunk of outputs per
        chunk of rows (as dask-ml's wrappers do): it computes with a copy of the network
        (:meth:`Network.copy`) taken now, so training on afterwards does not change it,
        and each chunk's values are checked when it is computed. ``.compute()`` it to get
        a NumPy array.
        """
        if not is_dask_collection(X):
            return super().predict(X, batch_size)
        self.check_built()
        frozen = self.copy()
        fn = functools.partial(Network.predict, frozen, batch_size=batch_size)
        return map_rows(fn, X, self.output_shape, self.dtype, self.input_shape)

    def evaluate(self, X, y, sample_weight=None) -> dict:
        """``{"loss": ..., "accuracy": ...}`` for classification, ``{"loss", "r2"}`` otherwise.
        A Dask ``X`` is evaluated chunk by chunk (the same numbers as in memory)."""
        self.check_built()
        if is_dask_collection(X):
            return evaluate_source(self, dask_source(self, X, y, sample_weight,
                                                     batch_size=None, shuffle=False))
        return evaluate_prepared(self, *self.prepare(X, y, sample_weight))

    def to_torch(self):
        """The PyTorch ``nn.Sequential`` that computes what this network does (weights
        copied into PyTorch's layouts, in this network's dtype); see
        :func:`glassnet.interop.torch.to_torch`."""
        from .interop.torch import to_torch

        return to_torch(self)

    def save(self, path):
        """Write the network (weights, optimizer state) to a ``.glassnet`` file; see
        :func:`glassnet.save`.
        """
        from .io import save_network

        save_network(self, path, kind="Sequential")

    def summary(self, print_fn=None) -> None:
        """Print a table of layers, output shapes and parameter counts, as Keras does.

        ``print_fn`` (default ``print``) is called once with the whole table; pass your own
        to capture it (``lines = []; net.summary(print_fn=lines.append)``). Returns None,
        so ``print(net.summary())`` shows the table once (then ``None``), as in Keras.
        """
        if not self.built and self.layers and self.layers[0].input_dim is not None:
            self.build(self.layers[0].input_dim)
        rows = []
        for layer in self.layers:
            name = layer.name or layer.kind
            # Keras's notation: the batch dimension first, as None.
            dims = layer.output_shape if self.built else ("?",)
            shape = "(" + ", ".join(["None", *map(str, dims)]) + ")"
            count = layer.count_params() if self.built else "?"
            rows.append((f"{name} ({type(layer).__name__})", shape, str(count)))
        headers = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(r[i]) for r in [headers, *rows]) + 2 for i in range(3)]
        line = "".join(h.ljust(w) for h, w in zip(headers, widths))
        rule = "=" * len(line)
        body = ["".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        total = self.count_params() if self.built else "?"
        loss = self.loss.name if self.loss is not None else "(from the output layer)"
        text = "\n".join([
            'Model: "sequential"', rule, line, rule, *body, rule,
            f"Total params: {total}", f"Loss: {loss}   Optimizer: {self.optimizer!r}",
            f"dtype: {self.dtype.name}",
        ])
        (print if print_fn is None else print_fn)(text)
