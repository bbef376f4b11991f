"""A network in a ``.glassnet`` file: a zip that holds data only, so loading it can never run code.

Members (nothing else is accepted):

- ``config.json``: ``format`` ("glassnet"), ``format_version``, ``glassnet_version``,
  ``kind`` ("Sequential", "MLPClassifier" or "MLPRegressor"), ``network`` (``layers``,
  ``loss``, ``optimizer`` configs, ``dtype``, ``input_shape``, ``random_state``),
  ``weights`` (``[name, shape]`` of each parameter, in order), ``optimizer_state``
  (``iterations`` and the ``[name, size]`` of each state buffer), ``training``
  (``epochs_done`` and the random generator's state, for an exact resume), and for the
  estimators ``estimator`` (``get_params()``, ``classes_``, fitted attributes).
- ``weights.npz``: one ``.npy`` per parameter (``dense.W``, ``dense.b``, ...).
- ``state.npz`` (format version 2 on): one ``.npy`` per non-trainable array of the layers
  (batch normalization's moving statistics), listed as ``[name, shape]`` in ``state``.
- ``optimizer.npz``: one flat ``.npy`` per optimizer state buffer (``m``, ``v``, ...).

Loading never unpickles (``.npy`` headers are read and checked before any data,
``allow_pickle=False``), checks every member's size, every array's shape, dtype and (C)
memory order against the config, every member's CRC (each is read to its end), and refuses
anything else with :class:`ModelFileError`. Saving writes a temporary file in the same
folder, fsyncs it and renames it over the target, so a crash leaves the old file or the new
one, never half of one (see ``container``).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from .._version import __version__
from ..backend import resolve_dtype
from ..layers import layer_from_config
from ..network import Network
from .container import (
    MAX_ARRAYS,
    MAX_CONFIG_BYTES,
    MEMBERS,
    NPY_SLACK,
    READ_ERRORS,
    ModelFileError,
    check_path,
    check_target,
    open_container,
    read_member,
    read_npz,
    write_atomic,
    zip_members,
)

FORMAT_VERSION = 2
#: The members of each format version (1: no layer state).
MEMBERS_BY_VERSION = {1: ("config.json", "weights.npz", "optimizer.npz"), 2: MEMBERS}
KINDS = ("Sequential", "MLPClassifier", "MLPRegressor")


def network_config(net, epochs_done=0) -> tuple[dict, dict, dict, dict]:
    """``(config, weights, layer_state, optimizer_state)`` of a built network."""
    net.check_built()
    random_state = net.random_state
    if not (random_state is None or isinstance(random_state, (int, np.integer))):
        random_state = None  # a Generator: its exact state is stored below
    opt = net.optimizer
    state = {k: np.asarray(v) for k, v in opt.state.items()}
    config = {
        "network": {
            "layers": [layer.get_config() for layer in net.layers],
            "loss": net.loss.get_config(),
            "optimizer": opt.get_config(),
            "dtype": net.dtype.name,
            "input_shape": list(net.input_shape),
            "random_state": None if random_state is None else int(random_state),
        },
        "weights": [[n, list(p.shape)] for n, p in zip(net.parameter_names(), net.parameters())],
        "state": [[n, list(a.shape)] for n, a in zip(net.state_names(), layer_state(net))],
        "optimizer_state": {
            "iterations": int(opt.iterations),
            "buffers": [[k, int(v.size)] for k, v in state.items()],
        },
        "training": {
            "epochs_done": int(epochs_done),
            "rng_state": net.rng.bit_generator.state,
        },
    }
    weights = dict(zip(net.parameter_names(), (p.copy() for p in net.parameters())))
    layers_state = dict(zip(net.state_names(), (a.copy() for a in layer_state(net))))
    return config, weights, layers_state, state


def layer_state(net):
    """The layers' non-trainable arrays, in the order of ``net.state_names()``."""
    return [a for layer in net.layers for a in layer.state]


def save_network(net, path, *, kind="Sequential", epochs_done=None, extra=None):
    """Write the built network ``net`` to ``path`` atomically, as a model of ``kind`` with
    the config sections ``extra`` (an estimator's parameters) besides the network's;
    ``epochs_done`` defaults to the network's own count. Users call :func:`glassnet.save`.
    """
    path = check_target(path)  # a missing folder is named before any work
    if epochs_done is None:
        epochs_done = getattr(net, "epochs_done", 0)
    config, weights, layers_state, state = network_config(net, epochs_done)
    header = {"format": "glassnet", "format_version": FORMAT_VERSION,
              "glassnet_version": __version__, "kind": kind}
    write_atomic(path, {**header, **config, **(extra or {})},
                 {"weights.npz": weights, "state.npz": layers_state, "optimizer.npz": state})



def architecture(net):
    """What must agree between a saved network and the one it is loaded into."""
    drop = ("kernel_initializer", "bias_initializer")
    layers = [{k: v for k, v in layer.get_config().items() if k not in drop}
              for layer in net.layers]
    return layers, net.loss.get_config(), tuple(net.input_shape), net.dtype


def transplant(saved, net):
    """Copy weights, layer state, optimizer state, generator state and epoch count from
    ``saved``."""
    net.params[...] = saved.params
    net.state[...] = saved.state
    net.optimizer.build(net.params)
    for name, buf in saved.optimizer.state.items():
        net.optimizer.state[name][...] = buf
    net.optimizer.iterations = saved.optimizer.iterations
    net.rng.bit_generator.state = saved.rng.bit_generator.state
    net.epochs_done = saved.epochs_done


def check_shape(value, what):
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in value
    ):
        raise ModelFileError(f"{what} must be a list of sizes, got {value!r}.")
    return tuple(value)


def count(value, what):
    """A whole number ``0 <= value < 2**62`` from the config (``true`` is not a number)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        raise ModelFileError(f"{what} must be an int >= 0, got {value!r:.80}.")
    return value


def _check_config(config):
    if not isinstance(config, dict):
        raise ModelFileError("config.json is not a glassnet model description.")
    if config.get("format") != "glassnet":
        raise ModelFileError(
            f"config.json is not a glassnet model description: its format is "
            f"{config.get('format')!r:.80}, not 'glassnet' (a file of another program?)."
        )
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"format_version must be a positive integer, got {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"The file has format version {version}, written by glassnet "
            f"{config.get('glassnet_version')!r}; this glassnet reads up to version "
            f"{FORMAT_VERSION}. Upgrade glassnet to load it."
        )
    for key, kind in (("network", dict), ("weights", list), ("optimizer_state", dict),
                      ("training", dict)):
        if not isinstance(config.get(key), kind):
            raise ModelFileError(f"config.json: {key!r} must be a {kind.__name__}.")
    if version >= 2 and not isinstance(config.get("state"), list):
        raise ModelFileError("config.json: 'state' must be a list.")
    if len(config["weights"]) + len(config.get("state", [])) > MAX_ARRAYS:
        raise ModelFileError("config.json lists too many weight arrays.")
    if config.get("kind") not in KINDS:
        raise ModelFileError(
            f"config.json: unknown model kind {config.get('kind')!r:.80}; expected one of {KINDS}."
        )


def _array_specs(entries, what):
    """``[(name, shape)]`` from the config's ``[[name, shape], ...]`` list."""
    specs = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise ModelFileError(f"config.json: a {what} entry must be [name, shape]: {entry!r}")
        specs.append((entry[0], check_shape(entry[1], f"{what}[{entry[0]!r}]")))
    return specs


def _build_network(config, network_class):
    """A network rebuilt from the config, its layout checked before any allocation."""
    spec = config["network"]
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers or len(layers) > MAX_ARRAYS:
        raise ModelFileError("config.json: network.layers must be a non-empty list.")
    layers = [_from_config(f"network.layers[{i}]", layer_from_config, c)
              for i, c in enumerate(layers)]
    dtype = _from_config("network.dtype", resolve_dtype, spec.get("dtype"))
    input_shape = check_shape(spec.get("input_shape"), "network.input_shape")
    if not input_shape:
        raise ModelFileError("config.json: network.input_shape is empty.")
    specs = _array_specs(config["weights"], "weights")
    state_specs = _array_specs(config.get("state", []), "state")
    shape, layout, state_layout = input_shape, [], []
    for i, layer in enumerate(layers):  # the shapes the layers would allocate, before they do
        out = _from_config(f"network.layers[{i}]", layer.build, shape)  # checks ``shape``
        layout += [tuple(p.shape) for p in layer.param_specs(shape)]
        state_layout += [tuple(p.shape) for p in layer.state_specs(shape)]
        shape = out
    for what, got, expected in (("weight", specs, layout), ("state", state_specs, state_layout)):
        if [s for _, s in got] != expected:
            raise ModelFileError(
                f"config.json: the {what} shapes do not match the layers "
                f"({[s for _, s in got][:6]} vs {expected[:6]})."
            )
    random_state = spec.get("random_state")
    if random_state is not None and (not isinstance(random_state, int) or
                                     isinstance(random_state, bool) or
                                     not 0 <= random_state < 2**128):
        raise ModelFileError(f"network.random_state must be an int >= 0 or null, got "
                             f"{random_state!r:.80}.")
    net = _from_config("network", network_class, layers, loss=spec.get("loss"),
                       optimizer=spec.get("optimizer"), random_state=random_state, dtype=dtype)
    return net, input_shape, specs, state_specs


def _from_config(what, make, *args, **kwargs):
    """``make(*args, **kwargs)`` from the values of the config's ``what``: the constructors
    check them, and their refusal (naming the argument) becomes a ModelFileError naming
    ``what``."""
    try:
        return make(*args, **kwargs)
    except ModelFileError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ModelFileError(f"config.json: {what}: {exc}") from None


def _restore(net, input_shape, arrays, config):
    _from_config("network", net.build, input_shape)  # the loss checks the output layer
    weights, layers_state, opt_state = arrays
    for what, names, saved in (("weight", net.parameter_names(), weights),
                               ("state", net.state_names(), layers_state)):
        if names != list(saved):
            raise ModelFileError(f"config.json: the {what} names do not match the layers.")
    for p, w in zip(net.parameters(), weights.values()):
        p[...] = w
    for view, value in zip(layer_state(net), layers_state.values()):
        view[...] = value
    opt = net.optimizer
    if sorted(opt.state) != sorted(opt_state):
        raise ModelFileError(
            f"optimizer.npz holds {list(opt_state)}, but {type(opt).__name__} "
            f"keeps {sorted(opt.state)}."
        )
    for name, value in opt_state.items():
        opt.state[name][...] = value
    opt.iterations = count(config["optimizer_state"].get("iterations"),
                           "optimizer_state.iterations")
    training = config["training"]
    net.epochs_done = count(training.get("epochs_done", 0), "training.epochs_done")
    rng_state = training.get("rng_state")
    if rng_state is not None:
        try:
            if not isinstance(rng_state, dict) or \
                    rng_state.get("bit_generator") != type(net.rng.bit_generator).__name__:
                raise ValueError
            net.rng.bit_generator.state = rng_state
        except READ_ERRORS:  # numpy checks the numbers of the state it is given
            raise ModelFileError(
                "training.rng_state is not a state of the network's generator.") from None
    return net


def _read_arrays(zf, infos, member, specs, dtype):
    limit = sum(math.prod(s) * dtype.itemsize + NPY_SLACK for _, s in specs) + NPY_SLACK
    data = read_member(zf, infos[member], limit, member)
    return read_npz(data, specs, dtype, member)


def _load_parts(path, network_class=Network):
    with open_container(path) as zf:
        # Version 1 files have no state.npz; which members must be there is checked against
        # the version the config states, once it is read.
        version_members = MEMBERS_BY_VERSION[2 if "state.npz" in zf.namelist() else 1]
        infos = zip_members(zf, list(version_members), "the file")
        raw = read_member(zf, infos["config.json"], MAX_CONFIG_BYTES, "config.json")
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"config.json is not valid JSON: {exc}") from None
        _check_config(config)
        if version_members != MEMBERS_BY_VERSION[config["format_version"]]:
            raise ModelFileError(
                f"a file of format version {config['format_version']} holds "
                f"{list(MEMBERS_BY_VERSION[config['format_version']])}, this one "
                f"{list(version_members)}."
            )
        net, input_shape, specs, state_specs = _build_network(config, network_class)
        dtype = net.dtype
        weights = _read_arrays(zf, infos, "weights.npz", specs, dtype)
        layers_state = {}
        if "state.npz" in infos:
            layers_state = _read_arrays(zf, infos, "state.npz", state_specs, dtype)
        buffers = config["optimizer_state"].get("buffers")
        if not isinstance(buffers, list) or len(buffers) > 8 or not all(
                isinstance(b, list) and len(b) == 2 and isinstance(b[0], str) for b in buffers):
            raise ModelFileError("config.json: optimizer_state.buffers must be [[name, size]].")
        size = sum(math.prod(s) for _, s in specs)
        if any(b[1] != size for b in buffers):
            raise ModelFileError(f"optimizer state buffers must each hold {size} values.")
        opt_state = _read_arrays(zf, infos, "optimizer.npz", [(b[0], (size,)) for b in buffers],
                                 dtype)
    net = _restore(net, input_shape, (weights, layers_state, opt_state), config)
    return config, net


def load(path, network_class=Network, finish=None):
    """Read a model file: its network, as an instance of ``network_class``, passed with the
    config to ``finish(kind, config, net)`` when given (the estimators rebuild themselves
    from it), with every error a :class:`ModelFileError` that names ``path``.

    Raises
    ------
    ModelFileError
        If ``path`` is missing, a directory, not a ``.glassnet`` file, damaged,
        from a newer glassnet, or inconsistent in any way.
    """
    path = check_path(path)  # a wrong type of path is the caller's TypeError, not the file's
    try:
        config, net = _load_parts(path, network_class)
        # config["kind"] is one of KINDS: checked with the config
        return net if finish is None else finish(config["kind"], config, net)
    except ModelFileError as exc:
        raise ModelFileError(f"Cannot load {path!r}: {exc}") from None
    except READ_ERRORS as exc:  # TypeError included: whatever a crafted file provokes
        raise ModelFileError(
            f"Cannot load {path!r}: damaged or invalid file ({type(exc).__name__}: {exc})."
        ) from exc


def resume_into(net, path) -> int:
    """Put the state saved in ``path`` (weights, optimizer state, generator state) into the
    built ``net``, which must have the same layers and loss; return the epochs done.
    """
    try:
        config, saved = _load_parts(path)
    except ModelFileError as exc:
        raise ModelFileError(f"resume_from={os.fspath(path)!r}: {exc}") from None
    except READ_ERRORS as exc:
        raise ModelFileError(f"resume_from={os.fspath(path)!r}: damaged or invalid file "
                             f"({type(exc).__name__}: {exc}).") from exc
    if architecture(net) != architecture(saved) or \
            type(net.optimizer) is not type(saved.optimizer) or \
            sorted(net.optimizer.state_names) != sorted(saved.optimizer.state):
        raise ValueError(
            f"resume_from={os.fspath(path)!r} holds a different network (layers, loss, input "
            "shape, dtype or optimizer class differ); resume with the network that wrote it."
        )
    transplant(saved, net)
    return saved.epochs_done
