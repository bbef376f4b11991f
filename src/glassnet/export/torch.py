"""A PyTorch ``nn.Sequential`` as a glassnet :class:`~glassnet.Sequential` (the layers and
layouts: :mod:`glassnet.interop.torch`)."""

from __future__ import annotations

from ..interop.torch import layers_from_torch
from ..models import Sequential


def from_torch(module, input_shape, **kwargs) -> Sequential:
    """The built glassnet ``Sequential`` computing what the PyTorch ``module`` does.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of the modules :func:`glassnet.interop.torch.layers_from_torch` lists (Linear,
        Conv1d/2d, pooling, BatchNorm1d/2d, the activations, Dropout, Flatten); float32 or
        float64, which the network takes as its dtype.
    input_shape : tuple of int
        PyTorch's per-sample shape: ``(features,)``, ``(C, L)`` or ``(C, H, W)``. The
        network takes the same samples channels-last: ``(L, C)``, ``(H, W, C)``.
    **kwargs
        For :class:`~glassnet.Sequential`: ``loss``, ``optimizer``, ``random_state`` (and
        ``dtype``, to cast). Without ``loss`` it follows the output (softmax ->
        cross-entropy, sigmoid -> binary cross-entropy, else MSE): a module that ends in
        logits for ``CrossEntropyLoss`` needs an ``nn.Softmax(dim=1)`` at the end to be fit
        as a classifier.

    Returns
    -------
    Sequential
        Built for ``input_shape``, its weights and batch-normalization statistics the
        module's, ready to ``predict`` or ``fit`` on.

    Raises
    ------
    ValueError
        For a module that is not an ``nn.Sequential`` or one (named by its index) with no
        exact glassnet equivalent.

    Examples
    --------
    >>> import numpy as np, torch, glassnet as gn
    >>> module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
    ...                              torch.nn.Flatten(), torch.nn.Linear(8, 1))
    >>> net = gn.from_torch(module, (1, 4, 4))
    >>> x = np.random.default_rng(0).normal(size=(5, 1, 4, 4)).astype("float32")
    >>> ours = net.predict(x.transpose(0, 2, 3, 1))  # glassnet: channels last
    >>> bool(np.allclose(ours, module(torch.from_numpy(x)).detach().numpy(), atol=1e-6))
    True
    """
    converted = layers_from_torch(module, input_shape)
    net = Sequential(converted.layers, **{"dtype": converted.dtype, **kwargs})
    net.build(converted.input_shape)
    net.set_weights(converted.weights)
    return net
