"""A glassnet network as a PyTorch ``nn.Sequential`` (:func:`to_torch`) and back
(:func:`layers_from_torch`, which :func:`glassnet.from_torch` builds a network from).

Layouts. glassnet is channels-last, PyTorch channels-first: a sample glassnet reads as
``(H, W, C)`` (``(steps, C)``) PyTorch reads as ``(C, H, W)`` (``(C, steps)``), so a user
feeds ``x_nchw = x_nhwc.transpose(0, 3, 1, 2)`` to the module. Weights are transposed:
Dense ``W`` ``(n_in, n_out)`` is Linear ``weight.T``; a conv kernel ``(*k, c_in, filters)``
is ``weight`` ``(filters, c_in, *k)`` with its axes moved. A ``Flatten`` of a map reads
``H, W, C`` order in glassnet and ``C, H, W`` in PyTorch, so the features after it are
permuted (:func:`flatten_order`) in the next Linear's columns (and a BatchNorm's
statistics on the way); a network whose output *is* a flattened or unflattened map gives it
in each library's own layout.

Padding. A convolution's pads become PyTorch's ``padding`` when both sides are equal and
a ``ConstantPad`` module before it otherwise (``"same"`` puts the odd pad at the end).
Pooling's ``"same"`` is PyTorch's ``padding`` with ``ceil_mode`` for the odd pad at the end
and ``count_include_pad=False`` (only real positions are averaged, as in Keras). Going the
other way, a PyTorch pooling maps to ``"valid"`` or ``"same"`` when it reads exactly the
same windows for the given input size, and is refused otherwise.

PyTorch is imported on first use; ``import glassnet`` does not load it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import layers as gl
from ..ops import activations as act
from ..ops import conv

_ACTIVATION_LAYERS = {"relu": gl.ReLU, "sigmoid": gl.Sigmoid, "tanh": gl.Tanh,
                      "identity": gl.Identity, "softmax": gl.Softmax}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch is not installed: pip install torch") from None
    return torch


def flatten_order(shape) -> np.ndarray:
    """For a map of glassnet shape ``(*spatial, c)``: ``perm`` with
    ``torch_features = glassnet_features[perm]`` (C, *spatial order from *spatial, C)."""
    r = len(shape) - 1
    return np.arange(math.prod(shape)).reshape(shape).transpose(r, *range(r)).ravel()


def channels_first(shape) -> tuple:
    """A glassnet per-sample shape in PyTorch's order: ``(*spatial, c) -> (c, *spatial)``."""
    return tuple(shape) if len(shape) == 1 else (shape[-1], *shape[:-1])


def channels_last(shape) -> tuple:
    """PyTorch's per-sample ``(features,)``, ``(C, L)`` or ``(C, H, W)`` in glassnet's order."""
    ok = isinstance(shape, (tuple, list)) and 1 <= len(shape) <= 3 and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in shape)
    if not ok:
        raise ValueError("input_shape must be PyTorch's per-sample shape, (features,), (C, L) "
                         f"or (C, H, W) in positive ints, without the batch, got {shape!r}.")
    shape = tuple(int(d) for d in shape)
    return shape if len(shape) == 1 else (*shape[1:], shape[0])


# -- glassnet -> PyTorch -------------------------------------------------------------
class _Out(NamedTuple):
    """What a converter of one glassnet layer needs: ``torch``, the dtype, the layer's
    input shape (glassnet's order) and the pending feature order of a Flatten."""

    torch: object
    dtype: object
    shape: tuple
    order: object


def _put(param, array):
    """Copy a NumPy array into a torch parameter or buffer."""
    torch = _torch()
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _activation_to(nn, fn):
    if fn.name == "leaky_relu":
        return nn.LeakyReLU(fn.alpha)
    if fn.name == "softmax":
        return nn.Softmax(dim=1)
    module = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
              "identity": nn.Identity}.get(fn.name)
    if module is None:
        raise ValueError(f"the activation {fn.name!r} has no PyTorch module.")
    return module()


def _dense_to(layer, c):
    W = layer.W if c.order is None else layer.W[c.order]
    linear = c.torch.nn.Linear(*W.shape, dtype=c.dtype)
    _put(linear.weight, W.T)
    _put(linear.bias, layer.b)
    tail = [] if layer.activation is None else [_activation_to(c.torch.nn, layer.activation)]
    return [linear, *tail], None


def _pad_to(nn, pads):
    """A ``ConstantPad`` of zeros adding ``pads[i] = (before, after)`` to spatial axis i."""
    spec = tuple(x for before, after in reversed(pads) for x in (before, after))
    return getattr(nn, f"ConstantPad{len(pads)}d")(spec, 0.0)


def _conv_to(layer, c):
    nn, r = c.torch.nn, layer.rank
    pads = conv.axis_pads(c.shape[:-1], layer.kernel_size, layer.strides,
                          layer.dilation_rate, layer.padding)
    symmetric = all(b == a for b, a in pads)
    head = [] if symmetric else [_pad_to(nn, pads)]
    module = getattr(nn, f"Conv{r}d")(
        c.shape[-1], layer.filters, layer.kernel_size, stride=layer.strides,
        padding=tuple(b for b, _ in pads) if symmetric else 0, dilation=layer.dilation_rate,
        bias=layer.use_bias, dtype=c.dtype)
    _put(module.weight, layer.W.transpose(r + 1, r, *range(r)))
    if layer.use_bias:
        _put(module.bias, layer.b)
    tail = [] if layer.activation is None else [_activation_to(nn, layer.activation)]
    return [*head, module, *tail], None


def _pool_to(layer, c):
    nn, r = c.torch.nn, layer.rank
    pads = conv.axis_pads(c.shape[:-1], layer.pool_size, layer.strides, (1,) * r,
                          layer.padding)
    # "same" pads (b, b) or (b, b + 1): the extra one at the end is ceil_mode's last window.
    options = dict(stride=layer.strides, padding=tuple(b for b, _ in pads),
                   ceil_mode=any(a > b for b, a in pads))
    if layer.reducer == "max":
        return [getattr(nn, f"MaxPool{r}d")(layer.pool_size, **options)], None
    return [getattr(nn, f"AvgPool{r}d")(layer.pool_size, count_include_pad=False,
                                        **options)], None


def _global_to(layer, c):
    kind = "Max" if layer.reducer == "max" else "Avg"
    return [getattr(c.torch.nn, f"Adaptive{kind}Pool{layer.rank}d")(1),
            c.torch.nn.Flatten()], None


def _batch_norm_to(layer, c):
    nn, n = c.torch.nn, c.shape[-1]
    module = (nn.BatchNorm2d if len(c.shape) == 3 else nn.BatchNorm1d)(
        n, eps=layer.epsilon, momentum=round(1 - layer.momentum, 12),
        affine=layer.center or layer.scale, dtype=c.dtype)
    gamma, beta = layer._gamma_beta()
    perm = slice(None) if c.order is None else c.order
    moving_mean, moving_var = layer.state
    _put(module.running_mean, moving_mean[perm])
    _put(module.running_var, moving_var[perm])
    if module.affine:  # one of gamma, beta missing: its constant, not trained
        for param, value in ((module.weight, gamma), (module.bias, beta)):
            if value is None:
                param.requires_grad_(False)
            else:
                _put(param, value[perm])
    return [module], c.order


def _activation_layer_to(layer, c):
    # softmax: glassnet's last axis (a map's channels) is PyTorch's dim=1 in either layout
    return [_activation_to(c.torch.nn, layer.activation)], c.order


def _flatten_to(layer, c):
    order = c.order if len(c.shape) == 1 else flatten_order(c.shape)
    return [c.torch.nn.Flatten()], order


def _dropout_to(layer, c):
    return [c.torch.nn.Dropout(layer.rate)], c.order


_TO_TORCH = {
    gl.Dense: _dense_to, gl.Conv1D: _conv_to, gl.Conv2D: _conv_to,
    gl.MaxPooling1D: _pool_to, gl.MaxPooling2D: _pool_to,
    gl.AveragePooling1D: _pool_to, gl.AveragePooling2D: _pool_to,
    gl.GlobalMaxPooling1D: _global_to, gl.GlobalMaxPooling2D: _global_to,
    gl.GlobalAveragePooling1D: _global_to, gl.GlobalAveragePooling2D: _global_to,
    gl.BatchNormalization: _batch_norm_to, gl.Flatten: _flatten_to, gl.Dropout: _dropout_to,
    **{cls: _activation_layer_to for cls in (gl.Activation, gl.LeakyReLU, *_ACTIVATION_LAYERS
                                              .values())},
}


def to_torch(net):
    """The PyTorch ``nn.Sequential`` computing what ``net.predict`` does, in eval mode.

    Parameters
    ----------
    net : Network
        A built network (``fit`` or ``build`` first).

    Returns
    -------
    torch.nn.Sequential
        Its parameters and buffers copies of the network's weights and state in PyTorch's
        layouts, in the network's dtype (float32 or float64). It takes channels-first
        input: ``module(torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2)))`` for images,
        ``x.transpose(0, 2, 1)`` for sequences, vectors as they are.

    Raises
    ------
    ValueError
        Naming the layer that has no PyTorch equivalent (an ``exp`` activation, a layer
        class of your own) and why.

    Examples
    --------
    >>> import numpy as np, torch, glassnet as gn
    >>> net = gn.Sequential([gn.Dense(3, activation="relu"), gn.Dense(1)], random_state=0)
    >>> X = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    >>> module = net.build(2).to_torch()
    >>> bool(np.allclose(module(torch.from_numpy(X)).detach().numpy(), net.predict(X)))
    True
    """
    torch = _torch()
    net.check_built()
    dtype = {"float32": torch.float32, "float64": torch.float64}[net.dtype.name]
    modules, shape, order = [], net.input_shape, None
    for i, layer in enumerate(net.layers):
        convert = _TO_TORCH.get(type(layer))
        where = f"to_torch: layer {i + 1} ({layer.name}, {type(layer).__name__})"
        if convert is None:
            raise ValueError(f"{where} has no PyTorch equivalent; to_torch converts "
                             "glassnet's own layer classes.")
        try:
            new, order = convert(layer, _Out(torch, dtype, shape, order))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        modules += new
        shape = layer.output_shape
    return torch.nn.Sequential(*modules).eval()


# -- PyTorch -> glassnet ----------------------------------------------------------------
class TorchLayers(NamedTuple):
    """What :func:`glassnet.from_torch` builds a network from."""

    layers: list
    #: The arrays for ``set_weights``, in its order (per layer its parameters, then state).
    weights: list
    #: ``"float32"`` or ``"float64"``: the module's.
    dtype: str
    #: The per-sample input shape in glassnet's (channels-last) order.
    input_shape: tuple


class _In(NamedTuple):
    """What a converter of one PyTorch module sees: ``nn``, the input shape (glassnet's
    order), the pending feature order of a Flatten, the module after it and the pads of
    a ``ConstantPad`` just before it."""

    nn: object
    shape: tuple
    order: object
    after: object
    pads: object


class _Step(NamedTuple):
    """What a converter gives: ``[(layer or activation, weights)]``, the feature order
    after it, the pads it leaves to the next module, and whether it takes the next one."""

    new: list
    order: object = None
    pads: object = None
    takes_next: bool = False


def _array(tensor):
    return tensor.detach().cpu().numpy().copy()


def _ints(value, r):
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * r


def _rank(module):
    return 2 if type(module).__name__.endswith("2d") else 1


def _linear_from(m, c):
    if len(c.shape) != 1:
        raise ValueError(f"it receives samples of shape {channels_first(c.shape)}; glassnet's "
                         "Dense takes vectors: put nn.Flatten() before it.")
    if m.in_features != c.shape[0]:
        raise ValueError(f"in_features={m.in_features}, but it receives {c.shape[0]} features.")
    W = _array(m.weight).T
    if c.order is not None:
        W[c.order] = W.copy()  # row g of glassnet's W is torch's column j, perm[j] = g
    b = np.zeros(m.out_features, W.dtype) if m.bias is None else _array(m.bias)
    return _Step([(gl.Dense(m.out_features), [W, b])])


def _conv_padding(m, c, r):
    """glassnet's padding for the torch conv ``m`` after the zeros ``c.pads`` (or none)."""
    if m.padding_mode != "zeros":
        raise ValueError(f"padding_mode={m.padding_mode!r}: glassnet pads with zeros only.")
    if m.padding == "same":
        if c.pads is not None:
            raise ValueError("a ConstantPad before a padding='same' convolution.")
        return "same"
    own = (0,) * r if m.padding == "valid" else _ints(m.padding, r)
    pads = [(p, p) for p in own] if c.pads is None else \
        [(b + p, a + p) for (b, a), p in zip(c.pads, own)]
    if all(b == a for b, a in pads):
        return "valid" if not any(b for b, _ in pads) else tuple(b for b, _ in pads)
    same = conv.axis_pads(c.shape[:-1], _ints(m.kernel_size, r), _ints(m.stride, r),
                          _ints(m.dilation, r), "same")
    if [tuple(p) for p in same] == pads:
        return "same"
    raise ValueError(f"pads {pads} (before, after) per axis: glassnet pads a convolution "
                     "equally on both sides or as 'same' (the odd pad at the end).")


def _conv_from(m, c):
    r = _rank(m)
    if m.groups != 1:
        raise ValueError(f"groups={m.groups}: glassnet's convolutions are not grouped.")
    if m.in_channels != c.shape[-1]:
        raise ValueError(f"in_channels={m.in_channels}, but it receives {c.shape[-1]} channels.")
    layer = gl.Conv1D if r == 1 else gl.Conv2D
    layer = layer(m.out_channels, _ints(m.kernel_size, r), strides=_ints(m.stride, r),
                  padding=_conv_padding(m, c, r), dilation_rate=_ints(m.dilation, r),
                  use_bias=m.bias is not None)
    weights = [_array(m.weight).transpose(*range(2, r + 2), 1, 0)]
    if m.bias is not None:
        weights.append(_array(m.bias))
    return _Step([(layer, weights)])


def _pad_from(m, c):
    r = _rank(m)
    if m.value != 0:
        raise ValueError(f"value={m.value}: glassnet pads convolutions with zeros only.")
    if type(c.after) is not getattr(c.nn, f"Conv{r}d"):
        raise ValueError(f"glassnet takes a ConstantPad{r}d only right before a Conv{r}d.")
    spec = _ints(m.padding, 2 * r)
    return _Step([], pads=[(spec[2 * i], spec[2 * i + 1]) for i in reversed(range(r))])


def _torch_windows(size, k, s, p, ceil):
    """PyTorch's number of pooling windows along one axis (its ``ceil_mode`` rule)."""
    out = (size + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    return out - 1 if ceil and (out - 1) * s >= size + p else out


def _pool_from(m, c):
    r, name = _rank(m), type(m).__name__
    k = _ints(m.kernel_size, r)
    s = _ints(m.stride if m.stride is not None else m.kernel_size, r)
    p = _ints(m.padding, r)
    is_max = name.startswith("Max")
    if is_max and (_ints(m.dilation, r) != (1,) * r or m.return_indices):
        raise ValueError("dilation and return_indices have no glassnet equivalent.")
    if getattr(m, "divisor_override", None) is not None:  # AvgPool1d has none
        raise ValueError("divisor_override has no glassnet equivalent.")
    if not is_max and any(p) and m.count_include_pad:
        raise ValueError("count_include_pad=True averages the padding's zeros; glassnet "
                         "averages only real positions: set count_include_pad=False.")
    spatial = c.shape[:-1]
    windows = [_torch_windows(n, *args, m.ceil_mode) for n, *args in zip(spatial, k, s, p)]
    for padding in ("valid", "same"):
        pads = conv.axis_pads(spatial, k, s, (1,) * r, padding)
        if all(b == pi and conv.output_size(n, ki, si, 1, b, a) == w for n, ki, si, pi, w, (b, a)
               in zip(spatial, k, s, p, windows, pads)):
            cls = getattr(gl, f"{'Max' if is_max else 'Average'}Pooling{r}D")
            return _Step([(cls(k, s, padding), [])])
    raise ValueError(f"padding={p}, ceil_mode={m.ceil_mode} on samples "
                     f"{channels_first(c.shape)} reads windows that neither glassnet "
                     "padding gives ('valid': none; 'same': ceil(size / stride) windows).")


def _adaptive_from(m, c):
    r, name = _rank(m), type(m).__name__
    if tuple(np.atleast_1d(m.output_size)) not in ((1,), (1,) * r) or \
            getattr(m, "return_indices", False):
        raise ValueError("only output_size=1 (global pooling) has a glassnet equivalent.")
    if type(c.after) is not c.nn.Flatten:
        raise ValueError("glassnet's global pooling gives (C,) vectors: follow it with "
                         "nn.Flatten().")
    kind = "Max" if "Max" in name else "Average"
    return _Step([(getattr(gl, f"Global{kind}Pooling{r}D")(), [])], takes_next=True)


def _batch_norm_from(m, c):
    rank = 3 if type(m) is c.nn.BatchNorm2d else (1, 2)
    if len(c.shape) not in np.atleast_1d(rank):
        raise ValueError(f"it receives samples of shape {channels_first(c.shape)}.")
    if m.num_features != c.shape[-1]:
        raise ValueError(f"num_features={m.num_features}, but it receives {c.shape[-1]}.")
    if m.running_mean is None:
        raise ValueError("glassnet predicts with running statistics: "
                         "track_running_stats=True is required.")
    if m.momentum is None:
        raise ValueError("momentum=None (a cumulative average) has no glassnet equivalent.")
    layer = gl.BatchNormalization(momentum=round(1 - m.momentum, 12), epsilon=m.eps,
                                  center=m.affine, scale=m.affine)
    arrays = [m.weight, m.bias] if m.affine else []
    arrays = [_array(a) for a in (*arrays, m.running_mean, m.running_var)]
    if c.order is not None:
        for a in arrays:
            a[c.order] = a.copy()
    return _Step([(layer, arrays)], c.order)


def _activation_from(m, c):
    nn = c.nn
    if type(m) is nn.Softmax:
        ndim = 1 + len(c.shape)
        dim = m.dim if m.dim is not None else (0 if ndim in (0, 1, 3) else 1)  # torch's rule
        if dim % ndim != 1:
            raise ValueError(f"dim={m.dim} on samples {channels_first(c.shape)}: glassnet's "
                             "softmax normalizes the features (dim=1).")
        return _Step([(act.get_activation("softmax"), [])], c.order)
    fn = act.LeakyReLU(m.negative_slope) if type(m) is nn.LeakyReLU else act.get_activation(
        {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: "identity"}
        [type(m)])
    return _Step([(fn, [])], c.order)


def _flatten_from(m, c):
    if (m.start_dim, m.end_dim) != (1, -1):
        raise ValueError(f"start_dim={m.start_dim}, end_dim={m.end_dim}: glassnet flattens "
                         "each sample whole (start_dim=1, end_dim=-1).")
    order = c.order if len(c.shape) == 1 else flatten_order(c.shape)
    return _Step([(gl.Flatten(), [])], order)


def _dropout_from(m, c):
    return _Step([(gl.Dropout(m.p), [])], c.order)


def _from_torch_table(nn):
    table = {nn.Linear: _linear_from, nn.Flatten: _flatten_from, nn.Dropout: _dropout_from,
             nn.BatchNorm1d: _batch_norm_from, nn.BatchNorm2d: _batch_norm_from}
    for r in (1, 2):
        table[getattr(nn, f"Conv{r}d")] = _conv_from
        for kind in ("Max", "Avg"):
            table[getattr(nn, f"{kind}Pool{r}d")] = _pool_from
            table[getattr(nn, f"Adaptive{kind}Pool{r}d")] = _adaptive_from
        for pad in (f"ConstantPad{r}d", f"ZeroPad{r}d"):
            if hasattr(nn, pad):  # ZeroPad1d came in torch 2.1
                table[getattr(nn, pad)] = _pad_from
    for cls in (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.LeakyReLU, nn.Identity):
        table[cls] = _activation_from
    return table


def _dtype_of(module, torch):
    dtypes = {t.dtype for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"from_torch: the module mixes dtypes {sorted(map(str, dtypes))}; "
                         "make it one with module.float() or module.double().")
    dtype = dtypes.pop() if dtypes else torch.get_default_dtype()
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"from_torch: the module is {dtype}; glassnet computes in float32 or "
                         "float64: convert it with module.float() or module.double().")
    return str(dtype).removeprefix("torch.")


def _merge_activation(layers, fn):
    """Give a Dense or Conv that has no activation yet the activation ``fn`` (the form
    glassnet writes, ``Dense(64, activation="relu")``); else an activation layer."""
    if layers and isinstance(layers[-1][0], (gl.Dense, gl.Conv1D, gl.Conv2D)) and \
            layers[-1][0].activation is None:
        layer, weights = layers[-1]
        config = {**layer.get_config(), "activation": fn.get_config()}
        layers[-1] = (gl.layer_from_config(config), weights)
        return
    if fn.name == "leaky_relu":
        layers.append((gl.LeakyReLU(fn.alpha), []))
    else:
        layers.append((_ACTIVATION_LAYERS[fn.name](), []))


def layers_from_torch(module, input_shape) -> TorchLayers:
    """The glassnet layers, weights and dtype equivalent to a PyTorch ``nn.Sequential``.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of ``Linear``, ``Conv1d``/``Conv2d`` (zero padding, no groups), ``MaxPool1d/2d``,
        ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``/``AdaptiveMaxPool1d/2d`` to 1 followed by
        ``Flatten``, ``BatchNorm1d/2d`` (with running statistics), ``ReLU``, ``Sigmoid``,
        ``Tanh``, ``Softmax`` (over the features), ``LeakyReLU``, ``Identity``, ``Dropout``
        and ``Flatten``; float32 or float64.
    input_shape : tuple of int
        PyTorch's per-sample shape: ``(features,)``, ``(C, L)`` or ``(C, H, W)``.

    Returns
    -------
    TorchLayers
        ``(layers, weights, dtype, input_shape)``: ``weights`` for ``set_weights`` of the
        network built for ``input_shape`` (channels-last). An activation after a Linear or
        Conv becomes that layer's ``activation``. A Linear without bias gets a zero bias
        (glassnet's Dense has one; training then learns it). BatchNorm's ``momentum`` ``m``
        is glassnet's ``1 - m``; PyTorch updates its running variance with the unbiased
        batch variance, glassnet with the biased one (as Keras), so training on moves the
        statistics slightly differently; predictions and gradients are the same.

    Raises
    ------
    ValueError
        For a module that is not an ``nn.Sequential``, and, naming its index in the
        Sequential and its type, for a module without an exact glassnet equivalent.
    """
    torch = _torch()
    nn = torch.nn
    if type(module) is not nn.Sequential:
        raise ValueError(f"from_torch converts a torch.nn.Sequential, got "
                         f"{type(module).__name__}; wrap its layers in nn.Sequential(...).")
    shape = first = channels_last(input_shape)
    dtype = _dtype_of(module, torch)
    table, modules = _from_torch_table(nn), list(module)
    layers, order, pads, skip = [], None, None, False
    for i, m in enumerate(modules):
        if skip:  # the Flatten after a global pooling: glassnet's gives vectors already
            skip = False
            continue
        where = f"from_torch: module {i} ({type(m).__name__})"
        convert = table.get(type(m))
        if convert is None:
            raise ValueError(f"{where} has no glassnet equivalent; from_torch takes Linear, "
                             "Conv1d/2d, pooling, BatchNorm1d/2d, ReLU, Sigmoid, Tanh, Softmax, "
                             "LeakyReLU, Identity, Dropout and Flatten.")
        after = modules[i + 1] if i + 1 < len(modules) else None
        try:
            step = convert(m, _In(nn, shape, order, after, pads))
            order, pads, skip = step.order, step.pads, step.takes_next
            for layer, weights in step.new:
                if isinstance(layer, act.Activation):
                    _merge_activation(layers, layer)
                    continue
                shape = layer.build(shape)
                layers.append((layer, weights))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return TorchLayers([layer for layer, _ in layers],
                       [w for _, weights in layers for w in weights], dtype, first)
