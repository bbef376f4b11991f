"""``GradientStats``: per layer and epoch, gradient and weight norms, dead and saturated
units, and warnings when learning goes wrong.
"""

from __future__ import annotations

import math
import warnings

from .base import Callback


class GradientStats(Callback):
    """Per layer and epoch: gradient norm, weight norm, update-to-weight ratio, the
    fraction of dead ReLUs and of saturated sigmoid/tanh units, recorded in ``History``
    (keys ``grad_norm/<layer>``, ``weight_norm/<layer>``, ``update_ratio/<layer>``,
    ``dead_relu/<layer>``, ``saturated/<layer>``), with a plain-language warning, once per
    fit, when gradients vanish or explode, most ReLUs are dead or the loss diverges.

    - gradient norm: ``‖[dL/dW, dL/db]‖`` of the layer, averaged over the epoch's batches;
    - update ratio: ``‖W_end - W_start‖ / ‖W_start‖`` over the epoch;
    - dead ReLU: a unit whose output was 0 for every sample of the epoch;
    - saturated: outputs within 0.01 of a sigmoid's (0, 1) or a tanh's (-1, 1) bounds.

    Opt-in (``callbacks=[gn.GradientStats()]``): it reads every batch's activations.
    """

    def __init__(self, vanishing=1e-7, exploding=1e3, dead_fraction=0.5, warn=True):
        super().__init__()
        self.vanishing, self.exploding = vanishing, exploding
        self.dead_fraction, self.warn = dead_fraction, warn

    def on_train_begin(self, logs=None):
        self._slices = {}  # a layer's parameters lie side by side in the flat buffer
        for name, part in self.model.param_slices().items():
            layer = name.rpartition(".")[0]
            start = self._slices[layer].start if layer in self._slices else part.start
            self._slices[layer] = slice(start, part.stop)
        self._warned = set()
        self._first_loss = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self.model.params.copy()
        self._grad_sq = dict.fromkeys(self._slices, 0.0)
        self._batches = 0
        self._alive, self._saturated, self._seen = {}, {}, {}

    def on_batch_end(self, batch, logs=None):
        xp, grads = self.model.backend.xp, self.model.grads
        for name, part in self._slices.items():
            g = grads[part]
            self._grad_sq[name] += float(xp.sqrt(xp.dot(g, g)))
        self._batches += 1
        for layer, fn, out in self._activations():
            if fn == "relu":
                alive = (out > 0).any(axis=0)
                self._alive[layer] = self._alive.get(layer, False) | alive
            elif fn in ("sigmoid", "tanh"):
                low = 0.01 if fn == "sigmoid" else -0.99
                high = 0.99
                count = int(xp.count_nonzero((out < low) | (out > high)))
                self._saturated[layer] = self._saturated.get(layer, 0) + count
                self._seen[layer] = self._seen.get(layer, 0) + out.size

    def _activations(self):
        """``(layer, activation, output)`` of this batch for the layers that end in ReLU,
        sigmoid or tanh; a fused output layer left its output to the loss, so it is computed
        from the layer's logits here."""
        for layer in self.model.layers:
            fn = layer.activation
            if fn is None or fn.name not in ("relu", "sigmoid", "tanh"):
                continue
            fields = layer.trace_fields()
            out = fields.get("out")
            if out is None and fields.get("Z") is not None:
                out = fn.value(fields["Z"])
            if out is not None:
                yield layer.name, fn.name, out

    def on_epoch_end(self, epoch, logs=None):
        xp, params = self.model.backend.xp, self.model.params
        for name, part in self._slices.items():
            start, now = self._start[part], params[part]
            norm = float(xp.sqrt(xp.dot(now, now)))
            moved = now - start
            logs[f"grad_norm/{name}"] = self._grad_sq[name] / max(self._batches, 1)
            logs[f"weight_norm/{name}"] = norm
            start_norm = float(xp.sqrt(xp.dot(start, start)))
            logs[f"update_ratio/{name}"] = float(xp.sqrt(xp.dot(moved, moved))) / max(
                start_norm, 1e-12)
        for name, alive in self._alive.items():
            logs[f"dead_relu/{name}"] = float(1.0 - xp.mean(alive))
        for name, count in self._saturated.items():
            logs[f"saturated/{name}"] = count / max(self._seen[name], 1)
        self._check(epoch, logs)

    def _say(self, kind, message):
        if self.warn and kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _check(self, epoch, logs):
        names = list(self._slices)
        norms = {n: logs[f"grad_norm/{n}"] for n in names}
        if names and 0 < norms[names[0]] < self.vanishing:
            self._say("vanishing", f"Gradients are vanishing: layer {names[0]!r} gets a gradient "
                      f"norm of {norms[names[0]]:.2g} at epoch {epoch + 1}, so it barely learns. "
                      "Try ReLU or LeakyReLU, He initialization, or a larger learning rate.")
        big = [n for n in names if norms[n] > self.exploding]
        if big:
            self._say("exploding", f"Gradients are exploding: layer {big[0]!r} has a gradient "
                      f"norm of {norms[big[0]]:.3g} at epoch {epoch + 1}. Lower the learning "
                      "rate, scale the inputs, or clip gradients (clipnorm=...).")
        for name in names:
            dead = logs.get(f"dead_relu/{name}")
            if dead is not None and dead > self.dead_fraction:
                self._say("dead", f"{dead:.0%} of the ReLU units of layer {name!r} are dead "
                          "(output 0 for every sample) and no longer learn. Lower the learning "
                          "rate or use LeakyReLU.")
        loss = logs.get("loss")
        if loss is not None:
            self._first_loss = self._first_loss if self._first_loss is not None else loss
            if not math.isfinite(loss) or loss > 10 * self._first_loss:
                self._say("diverging", f"The loss is diverging: {loss:.4g} at epoch {epoch + 1} "
                          f"(it started at {self._first_loss:.4g}). Lower the learning rate.")
