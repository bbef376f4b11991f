"""Render a ``StepTrace`` as a terminal walkthrough, Markdown (with LaTeX) or HTML.

The walkthrough reads like the articles: ``z¹ = W¹ᵀa⁰ + b¹``, ``a¹ = σ(z¹)``, the
loss, then backward ``δˡ = dJ/dzˡ``, ``dJ/dWˡ = aˡ⁻¹ᵀ·δˡ`` and the chain rule for one
weight as the product of its factors, then the update each weight received.
All three formats come from one list of steps built by ``_steps``.
"""

from __future__ import annotations

import html

import numpy as np

_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sup(n):
    """``n`` in superscript digits (the layer index of ``a⁽ˡ⁾``)."""
    return str(n).translate(_SUP)


def sub(n):
    """``n`` in subscript digits (a unit index)."""
    return str(n).translate(_SUB)


_FN = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU",
       "identity": "purelin", "softmax": "softmax", "exp": "exp"}


#: Arrays with more values than this (or more than two axes) are summarized, not printed.
MAX_SHOWN = 200


def _summarized(steps):
    """Each 'eq' whose array is too big to read becomes a 'note' with its shape and range."""
    for kind, text, latex, array in steps:
        a = None if array is None else np.asarray(array, dtype=float)
        if kind == "eq" and a is not None and (a.ndim > 2 or a.size > MAX_SHOWN):
            summary = (f"an array of shape {a.shape}: min {a.min():.4g}, mean {a.mean():.4g}, "
                       f"max {a.max():.4g}")
            yield "note", f"{text} {summary}", f"{latex}: \\text{{{summary}}}", None
        else:
            yield kind, text, latex, array


def _conv_steps(trace, index, layer, forward):
    """A convolution's lines: its shapes going forward; going back, the chain rule for its
    first kernel weight as a sum over output positions."""
    name = f"{layer.name} ({layer.kind})"
    if forward:
        shape_in, shape_out = tuple(layer.A.shape[1:]), (*layer.window["output"],
                                                         layer.W.shape[-1])
        return [("note", f"{name}: samples {shape_in} -> {shape_out}, kernel {layer.W.shape} "
                 f"(strides {layer.window['strides']}, padding {layer.window['pads']})",
                 f"\\text{{{name}: kernel {layer.W.shape}}}", None),
                ("eq", f"W of {layer.name} =", f"W_{{{layer.name}}}", layer.W)]
    weight = (0,) * layer.W.ndim
    terms = trace.kernel_chain_rule(index, weight)
    shown = " + ".join(f"{d:.4g}·{a:.4g}" for _, d, a in terms[:4])
    more = f" + ... ({len(terms)} terms)" if len(terms) > 4 else ""
    total = float(layer.dW[weight])
    text = (f"dJ/dW{list(weight)} of {layer.name} = Σ over samples and output positions of "
            f"δ·a = {shown}{more} = {total:.6g}")
    return [("eq", f"dJ/dW of {layer.name} =", f"\\partial J / \\partial W_{{{layer.name}}}",
             layer.dW), ("note", text, _latex_names(text), None)]


def _steps(trace):
    """``[(kind, text, latex, array_or_None)]``: kind is 'h' (heading), 'eq' or 'note'."""
    return list(_summarized(_raw_steps(trace)))


def _raw_steps(trace):
    out, l = [], 0
    out.append(("h", "Forward", None, None))
    out.append(("eq", f"x = a{sup(0)} =", "x = a^{[0]}", trace.X))
    for index, layer in enumerate(trace.layers):
        if layer.window is not None:
            out += _conv_steps(trace, index, layer, forward=True)
            continue
        if layer.kind == "dense":
            l += 1
            out.append(("eq", f"z{sup(l)} = W{sup(l)}ᵀa{sup(l - 1)} + b{sup(l)}, with "
                        f"W{sup(l)} =", f"W^{{[{l}]}}", layer.W))
            out.append(("eq", f"b{sup(l)} =", f"b^{{[{l}]}}", layer.b))
            out.append(("eq", f"z{sup(l)} =", f"z^{{[{l}]}} = W^{{[{l}]T}} a^{{[{l - 1}]}} + "
                        f"b^{{[{l}]}}", layer.Z))
        if layer.activation is not None:
            fn = _FN.get(layer.activation, layer.activation)
            out.append(("eq", f"a{sup(l)} = {fn}(z{sup(l)}) =",
                        f"a^{{[{l}]}} = \\mathrm{{{layer.activation}}}(z^{{[{l}]}})", layer.out))
    out.append(("eq", "ŷ =", "\\hat{y}", trace.output))
    out.append(("eq", "y =", "y", trace.T))
    out.append(("note", f"J = {trace.loss_name}(ŷ, y) = {trace.loss:.10g}",
                f"J = \\mathrm{{{trace.loss_name}}}(\\hat y, y) = {trace.loss:.10g}", None))

    out.append(("h", "Backward (the chain rule)", None, None))
    out.append(("eq", "dJ/dŷ =", "\\partial J / \\partial \\hat y", trace.dL_doutput))
    l = len(trace.dense_layers)
    for index in range(len(trace.layers) - 1, -1, -1):
        layer = trace.layers[index]
        if layer.window is not None:
            out += _conv_steps(trace, index, layer, forward=False)
            continue
        if layer.activation is not None and layer.dout_dZ is not None \
                and layer.dout_dZ.ndim == 2:
            out.append(("eq", f"da{sup(l)}/dz{sup(l)} =",
                        f"\\partial a^{{[{l}]}} / \\partial z^{{[{l}]}}", layer.dout_dZ))
        if layer.kind == "dense":
            out.append(("eq", f"δ{sup(l)} = dJ/dz{sup(l)} =",
                        f"\\delta^{{[{l}]}} = \\partial J / \\partial z^{{[{l}]}}", layer.delta))
            out.append(("eq", f"dJ/dW{sup(l)} = a{sup(l - 1)}ᵀ·δ{sup(l)} =",
                        f"\\partial J / \\partial W^{{[{l}]}} = a^{{[{l - 1}]T}} "
                        f"\\delta^{{[{l}]}}", layer.dW))
            out.append(("eq", f"dJ/db{sup(l)} = Σ δ{sup(l)} =",
                        f"\\partial J / \\partial b^{{[{l}]}}", layer.db))
            if l > 1:
                out.append(("eq", f"dJ/da{sup(l - 1)} = δ{sup(l)}·W{sup(l)}ᵀ =",
                            f"\\partial J / \\partial a^{{[{l - 1}]}} = \\delta^{{[{l}]}} "
                            f"W^{{[{l}]T}}", layer.dA))
            l -= 1
    if trace.dense_layers:
        factors = trace.chain_rule(1, 0, 0)
        names = " · ".join(name for name, _ in factors[:-1])
        values = " × ".join(f"{v:.6g}" for _, v in factors[:-1])
        text = f"{factors[-1][0]} = {names} = {values} = {factors[-1][1]:.6g}"
        if len(trace.X) > 1:
            text += " (factors of the first sample; the gradient sums all samples)"
        out.append(("note", "Chain rule for one weight: " + text, _latex_names(text), None))

    out.append(("h", f"Update ({trace.optimizer}, learning rate {trace.learning_rate:g})",
                None, None))
    plain = trace.optimizer.startswith("SGD(") and "momentum=0.0" in trace.optimizer \
        and "weight_decay=0.0" in trace.optimizer
    lr = f"{trace.learning_rate:g}"
    for l, layer in enumerate(trace.dense_layers, start=1):
        for p, new in (("W", layer.W_new), ("b", layer.b_new)):
            rule = f"{p}{sup(l)} − {lr}·dJ/d{p}{sup(l)}" if plain else "the optimizer's rule"
            out.append(("eq", f"{p}{sup(l)}' = {rule} =", f"{p}'^{{[{l}]}}", new))
    if trace.loss_after is not None:
        out.append(("note", f"J after the step = {trace.loss_after:.10g} (was {trace.loss:.10g})",
                    f"J' = {trace.loss_after:.10g}", None))
    return out


def _latex_names(text):
    return text.replace("·", "\\cdot").replace("×", "\\times")


def _matrix_text(a, digits):
    a = np.atleast_2d(np.asarray(a, dtype=float))
    return np.array2string(a, precision=digits, floatmode="fixed", suppress_small=False,
                           max_line_width=120)


def render_text(trace, digits: int = 4) -> str:
    """The terminal walkthrough, matrices aligned, ``digits`` after the point."""
    lines = []
    for kind, text, _, array in _steps(trace):
        if kind == "h":
            lines += ["", text, "-" * len(text)]
        elif kind == "note":
            lines.append("  " + text)
        else:
            body = _matrix_text(array, digits).splitlines()
            pad = " " * (len(text) + 3)
            lines.append(f"  {text} {body[0]}")
            lines += [pad + row for row in body[1:]]
    return "\n".join(lines).strip("\n") + "\n"


def _matrix_latex(a, digits):
    a = np.atleast_2d(np.asarray(a, dtype=float))
    rows = [" & ".join(f"{v:.{digits}f}" for v in row) for row in a]
    return "\\begin{bmatrix}" + " \\\\ ".join(rows) + "\\end{bmatrix}"


def render_markdown(trace, digits: int = 4) -> str:
    """Markdown with LaTeX math (``$$ ... $$`` blocks)."""
    parts = ["# One training step, number by number", ""]
    for kind, text, latex, array in _steps(trace):
        if kind == "h":
            parts += [f"## {text}", ""]
        elif kind == "note":
            parts += [f"$$ {latex} $$", ""]
        else:
            parts += [f"$$ {latex} = {_matrix_latex(array, digits)} $$", ""]
    return "\n".join(parts)


def render_html(trace, digits: int = 4) -> str:
    """A self-contained HTML page (no scripts, no external files)."""
    body = []
    for kind, text, _, array in _steps(trace):
        if kind == "h":
            body.append(f"<h2>{html.escape(text)}</h2>")
        elif kind == "note":
            body.append(f"<p class='note'>{html.escape(text)}</p>")
        else:
            a = np.atleast_2d(np.asarray(array, dtype=float))
            rows = "".join("<tr>" + "".join(f"<td>{v:.{digits}f}</td>" for v in row) + "</tr>"
                           for row in a)
            body.append(f"<div class='eq'><span>{html.escape(text)}</span>"
                        f"<table>{rows}</table></div>")
    style = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto}"
             ".eq{display:flex;gap:1em;align-items:center;margin:.4em 0}"
             "table{border-left:2px solid #444;border-right:2px solid #444;"
             "font-family:monospace}td{padding:0 .6em;text-align:right}.note{font-weight:600}")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>glassnet: one training step</title><style>{style}</style></head><body>"
            "<h1>One training step, number by number</h1>" + "".join(body) + "</body></html>")
