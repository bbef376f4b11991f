"""A built network as an ONNX graph, made with ``onnx.helper`` (``pip install glassnet[onnx]``).

The graph takes the network's own input: channels-last samples, ``(N, steps, c)`` or
``(N, h, w, c)``, with a dynamic batch dimension ``N``, in the network's dtype. ONNX's Conv
and pooling are channels-first, so a Transpose goes in before the first of them; the tensor
then stays channels-first through the conv, pooling, batch-normalization and element-wise
layers that follow, and goes back to channels-last only where glassnet's order shows: before
``Flatten`` (which flattens ``h, w, c`` in that order) and at the output. Parameters are
initializers named as :meth:`~glassnet.network.Network.parameter_names` names them.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._version import __version__
from ..layers import conv as conv_layers
from ..layers import core, normalization, pooling
from ..network import Network
from ..ops import activations as act
from ..ops import conv

#: The opset written when none is asked for: recent, and run by every ONNX runtime in use.
DEFAULT_OPSET = 17

#: The first opset in which each operator, as written here, computes what glassnet does
#: (numpy broadcasting from 7; BatchNormalization in inference form without ``is_test``
#: and ``spatial`` from 9); 1 for the others.
_SINCE = {"Sub": 7, "Gemm": 7, "Greater": 7, "AveragePool": 7, "Concat": 4,
          "Reshape": 5, "Cast": 6, "Relu": 6, "Sigmoid": 6, "Tanh": 6, "Exp": 6,
          "LeakyRelu": 6, "BatchNormalization": 9}

#: The element-wise activations and their operators.
_ACTIVATIONS = {act.Sigmoid: "Sigmoid", act.Tanh: "Tanh", act.ReLU: "Relu", act.Exp: "Exp"}


def load_onnx():
    """The ``onnx`` module, or one line saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install glassnet[onnx]") \
            from None
    return onnx


class Unsupported(ValueError):
    """A layer (or one of its options) that has no ONNX form here; the message says why."""


class Graph:
    """An ONNX graph being built: nodes, initializers, inputs and outputs, all of ``dtype``
    (float32 or float64), and the opset each operator needs."""

    def __init__(self, dtype):
        self.onnx = load_onnx()
        self.dtype = np.dtype(dtype)
        self.elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.needs = {}  # operator -> (first opset, who added it)
        self.where, self.scope = "the graph", "graph"  # who adds nodes: for messages, names
        self._count = 0

    def _name(self, base):
        self._count += 1
        return f"{self.scope}/{base}_{self._count}"

    def constant(self, array, name=None, dtype=None):
        """An initializer holding ``array`` (as the graph's dtype unless ``dtype``)."""
        array = np.asarray(array, dtype=self.dtype if dtype is None else dtype)
        name = name or self._name("const")
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, **attributes):
        """Add one ``op`` node; returns the name of its output."""
        out = self._name(op)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out], name=out,
                                                     **attributes))
        since = _SINCE.get(op, 1)
        if since > self.needs.get(op, (0,))[0]:
            self.needs[op] = (since, self.where)
        return out

    def input(self, name, shape):
        """A graph input of the graph's dtype: ``(N, *shape)``, ``N`` the batch."""
        self.inputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.elem_type, ["N", *shape]))
        return name

    def output(self, tensor, name, shape, elem_type=None):
        """Make ``tensor`` the graph output ``name`` of shape ``(N, *shape)`` (once no node
        is left to add that reads ``tensor``: the last node's output is renamed)."""
        last = self.nodes[-1] if self.nodes else None
        if last is not None and last.output[0] == tensor:
            last.output[0] = name  # the last node writes the output itself
        else:
            self.nodes.append(self.onnx.helper.make_node("Identity", [tensor], [name],
                                                         name=f"{name}/Identity"))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(
            name, self.elem_type if elem_type is None else elem_type, ["N", *shape]))

    def model(self, opset, doc):
        """The ``ModelProto`` at ``opset`` (default ``DEFAULT_OPSET``), checked to be high
        enough for every operator in the graph and known to the installed onnx."""
        helper = self.onnx.helper
        opset = check_opset(opset, self.onnx)
        if self.needs:
            op, (since, who) = max(self.needs.items(), key=lambda item: item[1][0])
            if opset < since:
                raise ValueError(f"opset={opset} is too low for this model: {who} needs the "
                                 f"ONNX operator {op} as opset {since} defines it; use "
                                 f"opset >= {since} (the default is {DEFAULT_OPSET}).")
        graph = helper.make_graph(self.nodes, "glassnet", self.inputs, self.outputs,
                                  self.initializers, doc_string=doc)
        imports = [helper.make_opsetid("", opset)]
        # IR 4 and later let initializers be constants rather than graph inputs.
        ir = max(helper.find_min_ir_version_for(imports), 4)
        return helper.make_model(graph, opset_imports=imports, ir_version=ir,
                                 producer_name="glassnet", producer_version=__version__,
                                 doc_string=doc)

    # -- the layers ------------------------------------------------------------------
    def network(self, net, x):
        """Add the layers of the built ``net`` after the tensor ``x`` (channels-last, as the
        network's input); returns the output tensor, channels-last as ``predict``'s."""
        check_network(net)
        tensor = _Tensor(x, len(net.input_shape) + 1)
        for i, layer in enumerate(net.layers, 1):
            convert = _CONVERTERS.get(type(layer))
            self.where, self.scope = f"layer {i} ({layer.name})", layer.name
            try:
                if convert is None:
                    raise Unsupported(
                        f"{type(layer).__name__} is not a glassnet layer this export knows (it "
                        f"exports {', '.join(sorted(t.__name__ for t in _CONVERTERS))})")
                tensor = convert(self, layer, tensor)
            except Unsupported as exc:
                raise ValueError(f"Cannot export layer {i} ({layer.name}, "
                                 f"{type(layer).__name__}) to ONNX: {exc}.") from None
        self.where, self.scope = "the output", "output"
        return tensor.channels_last(self).name


def check_opset(opset, onnx):
    """``opset`` (None: ``DEFAULT_OPSET``) as an int the installed onnx knows."""
    if opset is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, numbers.Integral) or isinstance(opset, bool) or opset < 1:
        raise ValueError(f"opset must be a whole number >= 1, got {opset!r}.")
    if opset > newest:
        raise ValueError(f"opset={opset} is newer than the installed onnx {onnx.__version__} "
                         f"knows (up to {newest}); use opset <= {newest} or upgrade onnx.")
    return int(opset)


def check_network(net):
    """``net`` if it is a built float32 or float64 ``Network``; else one line saying so."""
    if not isinstance(net, Network):
        raise TypeError(f"Expected a glassnet network, got {type(net).__name__}.")
    if not net.built:
        raise ValueError("The network is not built yet: call fit(X, y) or "
                         "build(input_shape) before exporting it.")
    if net.dtype not in (np.float32, np.float64):
        raise ValueError(f"ONNX export takes float32 or float64 networks, got {net.dtype}.")
    return net


def to_onnx(net, opset=None):
    """The ONNX ``ModelProto`` of the built ``net``: input ``input`` (channels-last, as the
    network takes it, batch dimension ``N``), output ``output`` (``predict``'s)."""
    g = Graph(check_network(net).dtype)
    out = g.network(net, g.input("input", net.input_shape))
    g.output(out, "output", net.output_shape)
    return g.model(opset, describe(type(net).__name__, net, "input", "'output' (as predict)"))


def describe(what, net, input_name, outputs):
    """The doc string of a model: what it is, its layers, its input and its outputs."""
    layers = ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in net.layers)
    layout = ", channels last" if len(net.input_shape) > 1 else ""
    return (f"glassnet {__version__} {what}: {layers}. Input {input_name!r}: "
            f"{net.dtype.name} (N, {', '.join(map(str, net.input_shape))}){layout}. "
            f"Outputs: {outputs}.")


class _Tensor:
    """A tensor of the graph being built: its name, rank (batch included) and layout."""

    def __init__(self, name, rank, first=False):
        self.name, self.rank, self.first = name, rank, first

    def channels_first(self, g):
        """This tensor as ``(N, C, *spatial)`` (a Transpose when it is channels-last)."""
        if self.first or self.rank <= 2:
            return self
        perm = [0, self.rank - 1, *range(1, self.rank - 1)]
        return _Tensor(g.node("Transpose", [self.name], perm=perm), self.rank, first=True)

    def channels_last(self, g):
        """This tensor in glassnet's ``(N, *spatial, C)`` layout."""
        if not self.first or self.rank <= 2:
            return _Tensor(self.name, self.rank)
        perm = [0, *range(2, self.rank), 1]
        return _Tensor(g.node("Transpose", [self.name], perm=perm), self.rank)

    def then(self, name, rank=None):
        """The output of an operator that keeps (or sets) the rank, in the same layout."""
        rank = self.rank if rank is None else rank
        return _Tensor(name, rank, self.first and rank > 2)


def _activation(g, fn, x):
    """``fn`` (an Activation, None for none) applied to the tensor ``x``."""
    if fn is None or type(fn) is act.Identity:
        return x
    if type(fn) in _ACTIVATIONS:
        return x.then(g.node(_ACTIVATIONS[type(fn)], [x.name]))
    if type(fn) is act.LeakyReLU:
        return x.then(g.node("LeakyRelu", [x.name], alpha=float(fn.alpha)))
    if type(fn) is act.Softmax:
        # Over the last axis, as glassnet's: channels-last first, since before opset 13
        # Softmax flattens from its axis on (the last axis alone is right in every opset).
        x = x.channels_last(g)
        return x.then(g.node("Softmax", [x.name], axis=x.rank - 1))
    raise Unsupported(f"its activation {fn!r} has no ONNX form here (identity, sigmoid, tanh, "
                      "relu, leaky_relu, softmax and exp have)")


def _dense(g, layer, x):
    W = g.constant(layer.W, f"{layer.name}.W")
    b = g.constant(layer.b, f"{layer.name}.b")
    return _activation(g, layer.activation, x.then(g.node("Gemm", [x.name, W, b])))


def _activation_layer(g, layer, x):
    return _activation(g, layer.activation, x)


def _identity(g, layer, x):
    return x  # Dropout: the identity in prediction


def _flatten(g, layer, x):
    if x.rank == 2:
        return x
    x = x.channels_last(g)  # glassnet flattens (h, w, c) in that order
    return _Tensor(g.node("Flatten", [x.name], axis=1), 2)


def _window(layer, kernel, dilation):
    """The attributes a Conv or pooling node shares: kernel, strides, explicit pads
    (``[begin..., end...]``; Keras's "same" puts the odd one at the end)."""
    pads = conv.axis_pads(layer.input_shape[:-1], kernel, layer.strides, dilation,
                          layer.padding)
    return {"kernel_shape": list(kernel), "strides": list(layer.strides),
            "pads": [b for b, _ in pads] + [a for _, a in pads]}


def _conv(g, layer, x):
    r = layer.rank
    x = x.channels_first(g)
    # glassnet's kernel (*k, c_in, filters) as ONNX's (filters, c_in, *k)
    inputs = [x.name, g.constant(np.transpose(layer.W, (r + 1, r, *range(r))),
                                 f"{layer.name}.W")]
    if layer.use_bias:
        inputs.append(g.constant(layer.b, f"{layer.name}.b"))
    y = g.node("Conv", inputs, dilations=list(layer.dilation_rate),
               **_window(layer, layer.kernel_size, layer.dilation_rate))
    return _activation(g, layer.activation, x.then(y))


def _pooling(g, layer, x):
    x = x.channels_first(g)
    attrs = _window(layer, layer.pool_size, (1,) * layer.rank)
    if layer.reducer == "max":
        return x.then(g.node("MaxPool", [x.name], **attrs))
    # count_include_pad=0: a "same" window averages its real positions only, as glassnet
    return x.then(g.node("AveragePool", [x.name], count_include_pad=0, **attrs))


def _global_pooling(g, layer, x):
    # One window over the whole input (ONNX's GlobalMaxPool is the same; this form also
    # runs in onnx's reference evaluator, whose GlobalMaxPool mishandles 1-D inputs).
    x = x.channels_first(g)
    op = "MaxPool" if layer.reducer == "max" else "AveragePool"
    y = g.node(op, [x.name], kernel_shape=list(layer.input_shape[:-1]))  # (N, C, 1, ...)
    return _Tensor(g.node("Flatten", [y], axis=1), 2)


def _batch_norm(g, layer, x):
    x = x.channels_first(g)  # ONNX normalizes axis 1
    c = layer.input_shape[-1]
    mean, var = layer.state
    gamma, beta = layer._gamma_beta()
    inputs = [x.name,
              g.constant(np.ones(c) if gamma is None else gamma, f"{layer.name}.gamma"),
              g.constant(np.zeros(c) if beta is None else beta, f"{layer.name}.beta"),
              g.constant(mean, f"{layer.name}.moving_mean"),
              g.constant(var, f"{layer.name}.moving_variance")]
    return x.then(g.node("BatchNormalization", inputs, epsilon=float(layer.epsilon)))


_CONVERTERS = {
    core.Dense: _dense, core.Dropout: _identity, core.Flatten: _flatten,
    **{cls: _activation_layer for cls in (core.Activation, core.Sigmoid, core.Tanh, core.ReLU,
                                          core.LeakyReLU, core.Identity, core.Softmax)},
    **{cls: _conv for cls in (conv_layers.Conv1D, conv_layers.Conv2D)},
    **{cls: _pooling for cls in (pooling.MaxPooling1D, pooling.MaxPooling2D,
                                 pooling.AveragePooling1D, pooling.AveragePooling2D)},
    **{cls: _global_pooling for cls in (pooling.GlobalMaxPooling1D, pooling.GlobalMaxPooling2D,
                                        pooling.GlobalAveragePooling1D,
                                        pooling.GlobalAveragePooling2D)},
    normalization.BatchNormalization: _batch_norm,
}
