"""A network's weights alone, in a safetensors file: the door to and from PyTorch, Keras
and the Hugging Face tools, which read and write the format.

A safetensors file is an 8-byte header length, a JSON header (each tensor's dtype, shape
and byte range; ``__metadata__``, strings) and the raw numbers: data by construction, so
reading one can run no code. Its tensors here are named by ``net.parameter_names()``
(``dense.W``, ``conv2d.b``, ...) followed by ``net.state_names()`` (batch normalization's
moving statistics, which prediction needs), in glassnet's layouts (channels-last kernels
``(*k, c_in, filters)``, Dense ``W`` as ``(n_in, n_out)``); ``__metadata__`` records
``format`` ("glassnet-weights"), ``format_version`` and ``glassnet_version``. The
optimizer's state and the architecture are not in it: that is the ``.glassnet`` file.

safetensors is an optional extra (``pip install "glassnet[safetensors]"``), imported on
first use.
"""

from __future__ import annotations

import os

import numpy as np

from .._version import __version__
from .container import check_path, check_target, replace_atomic
from .errors import ModelFileError
from .state import layer_state

FORMAT = "glassnet-weights"
FORMAT_VERSION = "1"
#: The safetensors dtypes read (and cast to the network's dtype, as Keras does).
FLOATS = ("F16", "F32", "F64")


def _safetensors():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError('save_weights and load_weights use safetensors, which is not '
                          'installed: pip install "glassnet[safetensors]"') from None
    return safetensors


def _named_arrays(net):
    """``{name: view}``: the parameters, then the layers' state, of the built ``net``."""
    net.check_built()
    return dict(zip(net.parameter_names() + net.state_names(),
                    net.parameters() + layer_state(net)))


def save_weights(net, path) -> None:
    """Write the weights and layer state of the built ``net`` to a safetensors file.

    Parameters
    ----------
    net : Network
        Built (``fit`` or ``build`` first).
    path : str or os.PathLike
        The file to write (``"w.safetensors"``), atomically: a crash leaves the old file or
        the new one. Its folder must exist.

    Examples
    --------
    >>> import glassnet as gn, tempfile, os
    >>> net = gn.Sequential([gn.Dense(2), gn.BatchNormalization()], random_state=0).build(3)
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> gn.save_weights(net, path)
    >>> from safetensors.numpy import load_file
    >>> sorted(load_file(path))  # doctest: +NORMALIZE_WHITESPACE
    ['batch_normalization.beta', 'batch_normalization.gamma',
     'batch_normalization.moving_mean', 'batch_normalization.moving_variance',
     'dense.W', 'dense.b']
    """
    safetensors = _safetensors()
    arrays = _named_arrays(net)
    path = check_target(path, "weights.safetensors")  # a missing folder is named before any work
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "glassnet_version": __version__}
    data = safetensors.numpy.save({name: np.ascontiguousarray(a) for name, a in arrays.items()},
                                  metadata=metadata)
    replace_atomic(path, lambda f: f.write(data), example="weights.safetensors")


def _check_header(f, expected):
    """Refuse, from the header alone, a file whose tensors are not ``expected``'s."""
    metadata = f.metadata() or {}
    if metadata.get("format") == FORMAT and metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"it has format version {metadata.get('format_version')!r:.20}, written by glassnet "
            f"{metadata.get('glassnet_version')!r:.20}; this glassnet reads version "
            f"{FORMAT_VERSION}. Upgrade glassnet to load it.")
    names = list(f.keys())
    missing = [n for n in expected if n not in names]
    if missing:
        raise ModelFileError(
            f"the network's tensor {missing[0]!r} is not in the file ({len(missing)} missing; "
            f"the file holds {sorted(names)[:6]!r:.200}); the names are net.parameter_names() "
            "then net.state_names().")
    extra = [n for n in names if n not in expected]
    if extra:
        raise ModelFileError(f"the file holds tensor {extra[0]!r:.100}, which the network does "
                             f"not have ({len(extra)} unexpected); its tensors are "
                             f"{list(expected)[:6]!r:.200}.")
    for name, view in expected.items():
        info = f.get_slice(name)
        shape, dtype = tuple(info.get_shape()), info.get_dtype()
        if shape != view.shape:
            raise ModelFileError(f"tensor {name!r} has shape {shape}, but the network's "
                                 f"{name} has shape {view.shape}.")
        if dtype not in FLOATS:
            hint = " (NumPy has no bfloat16: save it as float32)" if dtype == "BF16" else ""
            raise ModelFileError(f"tensor {name!r} has dtype {dtype}; glassnet reads float16, "
                                 f"float32 and float64 weights{hint}.")


def load_weights(net, path) -> None:
    """Set the weights and layer state of the built ``net`` from a safetensors file.

    The file must hold exactly the tensors ``net.parameter_names() + net.state_names()``,
    each of the network's shape, in float16, float32 or float64: another float width is
    cast to the network's dtype, as Keras does (float32 into a float64 network is exact;
    float64 into float32 rounds). Everything is checked from the file's header before a
    tensor is read, and the network is changed only when every tensor is read.

    Parameters
    ----------
    net : Network
        Built for the input the weights were trained on (``build`` or ``fit`` first).
    path : str or os.PathLike
        A safetensors file, from :func:`save_weights` or any program that writes one
        (``safetensors.torch.save_file`` with glassnet's names and layouts).

    Raises
    ------
    ModelFileError
        For a missing or foreign file (a pickle, a ``.glassnet`` zip, a truncated one) and,
        naming the tensor, for a missing, unexpected, misshapen or non-float tensor.

    Examples
    --------
    >>> import glassnet as gn, tempfile, os
    >>> net = gn.Sequential([gn.Dense(2)], random_state=0).build(3)
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> gn.save_weights(net, path)
    >>> twin = gn.Sequential([gn.Dense(2)], random_state=1).build(3)
    >>> gn.load_weights(twin, path)
    >>> bool((twin.params == net.params).all())
    True
    """
    safetensors = _safetensors()
    expected = _named_arrays(net)  # not built: check_built's message, before the file
    path = check_path(path)
    where = f"Cannot load weights from {path!r}"
    if not os.path.isfile(path):
        raise ModelFileError(f"{where}: there is no such file.")
    try:
        with safetensors.safe_open(path, framework="np") as f:  # reads the header only
            _check_header(f, expected)
            arrays = {name: f.get_tensor(name) for name in expected}
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{where}: not a safetensors file, or a damaged one ({exc}).") \
            from None
    for name, view in expected.items():
        view[...] = arrays[name]
