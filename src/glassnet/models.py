"""``Sequential``: the network users build, train, evaluate, save and summarize.

The engine (layers laid out in flat buffers, forward, backward) is
:class:`~glassnet.network.Network`; this facade adds what sits above it: the fit loop,
``evaluate``, the file and the summary table.
"""

from __future__ import annotations

from .network import Network
from .training import evaluate_prepared
from .training import fit as _fit


class Sequential(Network):
    __doc__ = Network.__doc__

    def fit(self, X, y, epochs=10, batch_size=32, shuffle=True, validation_split=0.0,
            validation_data=None, callbacks=None, verbose=1, target_loss=None,
            sample_weight=None, resume_from=None, on_divergence="raise"):
        """Train the network; see :func:`glassnet.training.fit` for the parameters."""
        return _fit(self, X, y, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                   validation_split=validation_split, validation_data=validation_data,
                   callbacks=callbacks, verbose=verbose, target_loss=target_loss,
                   sample_weight=sample_weight, resume_from=resume_from,
                   on_divergence=on_divergence)

    def evaluate(self, X, y, sample_weight=None) -> dict:
        """``{"loss": ..., "accuracy": ...}`` for classification, ``{"loss", "r2"}`` otherwise."""
        self.check_built()
        return evaluate_prepared(self, *self.prepare(X, y, sample_weight))

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
