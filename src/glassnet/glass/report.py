"""Render a ``StepTrace`` as a terminal walkthrough, Markdown (with LaTeX) or HTML.

The walkthrough reads like the articles: ``z¹ = W¹ᵀa⁰ + b¹``, ``a¹ = σ(z¹)``, the
loss, then backward ``δˡ = dJ/dzˡ``, ``dJ/dWˡ = aˡ⁻¹ᵀ·δˡ`` and the chain rule for one
weight, the products of its factors summed over the samples (the printed numbers add up),
then the update each weight received. All three formats come from one list of steps built
by ``_steps``; the Markdown's math is LaTeX in ASCII (``\\sigma``, ``\\times``, ``\\_``).
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
#: The same in LaTeX (the Markdown's math is ASCII: commands, never Unicode).
_TEX_FN = {"sigmoid": "\\sigma", "tanh": "\\tanh", "exp": "\\exp"}


def _tex_text(text):
    """Plain words for LaTeX's ``\\text``/``\\mathrm``: ``_`` escaped."""
    return str(text).replace("_", "\\_")


def _tex_name(name):
    """A name (``cross_entropy``, ``dense_1``) upright in math: ``\\mathrm{cross\\_entropy}``."""
    return f"\\mathrm{{{_tex_text(name)}}}"


def _tex_fn(name):
    return _TEX_FN.get(name) or _tex_name(_FN.get(name, name))


def chain_names(l, i, j, coupled=False, latex=False):
    """The names in the chain rule for ``Wˡᵢⱼ`` (0-based ``i``, ``j``): the factors, then
    the gradient. ``coupled`` (softmax): ``dJ/dz`` stands for the first two factors."""
    if latex:
        a, z = f"a^{{[{l}]}}_{{{j + 1}}}", f"z^{{[{l}]}}_{{{j + 1}}}"
        W = f"W^{{[{l}]}}_{{{i + 1},{j + 1}}}"

        def d(top, bottom):
            return f"\\partial {top} / \\partial {bottom}"
    else:
        a, z = f"a{sup(l)}{sub(j + 1)}", f"z{sup(l)}{sub(j + 1)}"
        W = f"W{sup(l)}{sub(i + 1)}{sub(j + 1)}"

        def d(top, bottom):
            return f"d{top}/d{bottom}"
    head = [d("J", z)] if coupled else [d("J", a), d(a, z)]
    return [*head, d(z, W), d("J", W)]


#: At most this many terms of a sum are written out; the rest is shown as one number.
MAX_TERMS = 4


def _terms(rows, what, latex=False):
    """The sum of the products of ``rows`` (the factors of each term) written out, the
    first terms each and the others as one number, so that the printed numbers add up (to
    their printed digits) to the sum."""
    times = " \\times " if latex else " × "
    shown = rows if len(rows) <= MAX_TERMS else rows[: MAX_TERMS - 1]
    parts = [times.join(f"{float(v):.6g}" for v in row) for row in shown]
    if len(shown) < len(rows):
        rest = float(sum(np.prod(row) for row in rows[len(shown):]))
        label = f"the other {len(rows) - len(shown)} {what}"
        parts.append(f"{rest:.6g}\\ (\\text{{{label}}})" if latex else f"{rest:.6g} ({label})")
    return " + ".join(parts)


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


def _conv_steps(trace, layer, forward):
    """A convolution's lines: its shapes going forward; going back, the chain rule for its
    first kernel weight as a sum over output positions."""
    name = f"{layer.name} ({layer.kind})"
    if forward:
        shape_in, shape_out = tuple(layer.A.shape[1:]), (*layer.window["output"],
                                                         layer.W.shape[-1])
        return [("note", f"{name}: samples {shape_in} -> {shape_out}, kernel {layer.W.shape} "
                 f"(strides {layer.window['strides']}, padding {layer.window['pads']})",
                 f"\\text{{{_tex_text(name)}: kernel {layer.W.shape}}}", None),
                ("eq", f"W of {layer.name} =", f"W_{{{_tex_name(layer.name)}}}", layer.W)]
    weight = (0,) * layer.W.ndim
    rows = [(d, a) for _, d, a in trace.chain_rule(layer.name, weight)]
    total = float(layer.dW[weight])
    text = (f"dJ/dW{list(weight)} of {layer.name} = Σ over samples and output positions of "
            f"δ × a = {_terms(rows, 'products')} = {total:.6g}")
    W = f"W_{{{_tex_name(layer.name)}}}"
    latex = (f"\\partial J / \\partial {W}{list(weight)} = \\sum_{{n, o}} \\delta \\times a = "
             f"{_terms(rows, 'products', latex=True)} = {total:.6g}")
    return [("eq", f"dJ/dW of {layer.name} =", f"\\partial J / \\partial {W}", layer.dW),
            ("note", text, latex, None)]


def _steps(trace):
    """``[(kind, text, latex, array_or_None)]``: kind is 'h' (heading), 'eq' or 'note'."""
    return list(_summarized(_raw_steps(trace)))


def _raw_steps(trace):
    out, l = [], 0
    out.append(("h", "Forward", None, None))
    out.append(("eq", f"x = a{sup(0)} =", "x = a^{[0]}", trace.X))
    for layer in trace.layers:
        if layer.window is not None:
            out += _conv_steps(trace, layer, forward=True)
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
                        f"a^{{[{l}]}} = {_tex_fn(layer.activation)}(z^{{[{l}]}})", layer.out))
    out.append(("eq", "ŷ =", "\\hat{y}", trace.output))
    out.append(("eq", "y =", "y", trace.T))
    out.append(("note", f"J = {trace.loss_name}(ŷ, y) = {trace.loss:.10g}",
                f"J = {_tex_name(trace.loss_name)}(\\hat y, y) = {trace.loss:.10g}", None))

    out.append(("h", "Backward (the chain rule)", None, None))
    out.append(("eq", "dJ/dŷ =", "\\partial J / \\partial \\hat y", trace.dL_doutput))
    l = len(trace.dense_layers)
    for layer in reversed(trace.layers):
        if layer.window is not None:
            out += _conv_steps(trace, layer, forward=False)
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
        out += _chain_rule_steps(trace)

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


def _chain_rule_steps(trace):
    """The chain rule for ``W¹₁₁``, its factors sample by sample, summed over the batch; with
    a softmax, also the Jacobian-vector product behind ``dJ/dz`` (first sample)."""
    *factors, (_, total) = trace.chain_rule(1, 0, 0)
    coupled = len(factors) == 2
    names = [chain_names(1, 0, 0, coupled, latex) for latex in (False, True)]
    n = len(trace.X)
    rows = [[values[s] for _, values in factors] for s in range(n)]
    other = total - float(np.sum(np.prod(rows, axis=1)))
    extra = abs(other) > 1e-12 * (float(np.abs(np.prod(rows, axis=1)).sum()) + abs(total))
    lines = []
    for latex, (*parts, result) in zip((False, True), names):
        dot, sigma = (" \\cdot ", "\\sum_{n=1}^{" + str(n) + "} ") if latex else (" · ", "Σₙ ")
        product = dot.join(parts)
        terms = _terms(rows, "samples", latex)
        if extra:  # the network's own terms (an estimator's L2 penalty)
            own = "the network's own terms, e.g. a weight penalty"
            terms += f" + {other:.6g}" + (f"\\ (\\text{{{own}}})" if latex else f" ({own})")
        if n == 1 and not extra:
            lines.append(f"{result} = {product} = {terms} = {total:.6g}")
        else:
            over = f"\\ \\text{{over the {n} samples}}" if latex else f" over the {n} samples"
            lines.append(f"{result} = {sigma}{product}{over} = {terms} = {total:.6g}")
    steps = [("note", "Chain rule for one weight: " + lines[0], lines[1], None)]
    unit = trace.unit(1)
    if coupled:  # dJ/dz₁ = Σₘ dJ/daₘ · daₘ/dz₁: every output depends on z₁
        g, jac = unit.dL_dout[0], unit.dout_dZ[0, :, 0]
        rows = [[g[m], jac[m]] for m in range(len(g))]
        delta = float(g @ jac)
        a, z = f"a{sup(1)}ₘ", f"z{sup(1)}{sub(1)}"
        text = (f"{unit.activation} couples its outputs: dJ/d{z} = Σₘ dJ/d{a} · d{a}/d{z} = "
                f"{_terms(rows, 'outputs')} = {delta:.6g} (sample 1)")
        a, z = "a^{[1]}_m", "z^{[1]}_{1}"
        latex = (f"\\partial J / \\partial {z} = \\sum_m \\partial J / \\partial {a} \\cdot "
                 f"\\partial {a} / \\partial {z} = {_terms(rows, 'outputs', True)} = "
                 f"{delta:.6g}\\ (\\text{{sample 1}})")
        steps.append(("note", text, latex, None))
    return steps


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
