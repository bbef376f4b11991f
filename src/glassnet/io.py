"""The ``.glassnet`` file: a zip that holds data only, so loading it can never run code.

Members (nothing else is accepted):

- ``config.json``: ``format`` ("glassnet"), ``format_version``, ``glassnet_version``,
  ``kind`` ("Sequential", "MLPClassifier" or "MLPRegressor"), ``network`` (``layers``,
  ``loss``, ``optimizer`` configs, ``dtype``, ``input_shape``, ``random_state``),
  ``weights`` (``[name, shape]`` of each parameter, in order), ``optimizer_state``
  (``iterations`` and the ``[name, size]`` of each state buffer), ``training``
  (``epochs_done`` and the random generator's state, for an exact resume), and for the
  estimators ``estimator`` (``get_params()``, ``classes_``, fitted attributes).
- ``weights.npz``: one ``.npy`` per parameter (``dense.W``, ``dense.b``, ...).
- ``optimizer.npz``: one flat ``.npy`` per optimizer state buffer (``m``, ``v``, ...).

Loading never unpickles (``.npy`` headers are read and checked before any data,
``allow_pickle=False``), checks every member's size, every array's shape, dtype and (C)
memory order against the config, every member's CRC (each is read to its end), and refuses
anything else with :class:`ModelFileError`. Saving
writes a temporary file in the same folder, fsyncs it and renames it over the
target, so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1 << 20  # config.json is small; a larger one is not ours
MAX_MEMBERS = 16
MAX_ARRAYS = 4096
MAX_RATIO = 50  # the largest compression ratio believed (text compresses ~10x, floats ~1x)
NPY_SLACK = 1024  # per array: the .npy header and the inner zip's headers
MEMBERS = ("config.json", "weights.npz", "optimizer.npz")
KINDS = ("Sequential", "MLPClassifier", "MLPRegressor")
MAX_DECODED_BYTES = 16 * MAX_CONFIG_BYTES  # an array in config.json (classes_, names)


class ModelFileError(ValueError):
    """A ``.glassnet`` file that cannot be read: missing, damaged, foreign or unsafe."""


# -- saving ---------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{value!r} ({type(value).__name__}) cannot be stored in a .glassnet file")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # floats barely compress
        for name, a in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def network_config(net, epochs_done=0) -> tuple[dict, dict, dict]:
    """``(config, weights, optimizer_state)`` of a built ``Sequential``."""
    net._check_built()
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
        "optimizer_state": {
            "iterations": int(opt.iterations),
            "buffers": [[k, int(v.size)] for k, v in state.items()],
        },
        "training": {
            "epochs_done": int(epochs_done),
            "rng_state": net._rng.bit_generator.state,
        },
    }
    weights = dict(zip(net.parameter_names(), net.get_weights()))
    return config, weights, state


def _write_atomic(path, config, weights, state):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ModelFileError(f"{path!r} is a directory; give a file name like 'model.glassnet'.")
    folder = os.path.dirname(os.path.abspath(path))
    payload = json.dumps(config, default=_jsonable, allow_nan=False, indent=1).encode()
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".glassnet", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr("config.json", payload, zipfile.ZIP_DEFLATED)
                zf.writestr("weights.npz", _npz_bytes(weights))
                zf.writestr("optimizer.npz", _npz_bytes(state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save(model, path, *, epochs_done=None):
    """Write ``model`` (a ``Sequential`` or a fitted estimator) to ``path`` atomically.

    Parameters
    ----------
    model : Sequential, MLPClassifier or MLPRegressor
    path : str or os.PathLike
        Conventionally ending in ``.glassnet``.
    epochs_done : int, optional
        Epochs trained so far, for ``fit(..., resume_from=path)``; defaults to the
        epochs recorded by the model's last ``fit``.

    Examples
    --------
    >>> import numpy as np, glassnet as gn, tempfile, os
    >>> net = gn.Sequential([gn.Dense(1, input_dim=2)], loss="mse", random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.glassnet")
    >>> gn.save(net.build(2), path)
    >>> X = np.ones((1, 2))
    >>> bool((gn.load(path).predict(X) == net.predict(X)).all())
    True
    """
    from .network import Sequential

    if isinstance(model, Sequential):
        if epochs_done is None:
            epochs_done = getattr(model, "epochs_done", 0)
        config, weights, state = network_config(model, epochs_done)
        kind, extra = "Sequential", {}
    elif type(model).__name__ in ("MLPClassifier", "MLPRegressor") and \
            type(model).__module__ == "glassnet.estimators":
        kind, extra, net = type(model).__name__, estimator_config(model), model.model_
        config, weights, state = network_config(net, getattr(net, "epochs_done", 0))
    else:
        raise TypeError(
            f"model must be a glassnet Sequential, MLPClassifier or MLPRegressor, got "
            f"{type(model).__name__}."
        )
    from . import __version__

    header = {"format": "glassnet", "format_version": FORMAT_VERSION,
              "glassnet_version": __version__, "kind": kind}
    _write_atomic(path, {**header, **config, **extra}, weights, state)


# -- the estimators: parameters and fitted attributes as tagged JSON ---------------------------

#: Fitted attributes stored besides the network (those that exist on the estimator).
FITTED = ("classes_", "n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
          "validation_loss_curve_", "best_validation_score_", "n_layers_", "n_outputs_",
          "out_activation_", "n_features_in_", "feature_names_in_", "_no_improvement_count")


def _encode(value):
    """Plain JSON, with tuples, dicts with any keys, non-finite floats and arrays tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {"float": repr(float(value))}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.ndim == 1 and (
            value.dtype.kind in "biufU" or all(isinstance(v, str) for v in value)):
        return {"array": [_encode(v) for v in value.tolist()], "dtype": value.dtype.str}
    raise TypeError(f"{type(value).__name__} values cannot be stored")


def _decode(value):
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict) and len(value) == 1 and "tuple" in value:
        return tuple(_decode(value["tuple"]))
    if isinstance(value, dict) and len(value) == 1 and "dict" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["dict"]}
    if isinstance(value, dict) and value.keys() == {"float"} and \
            value["float"] in ("inf", "-inf", "nan"):
        return float(value["float"])
    if isinstance(value, dict) and value.keys() == {"array", "dtype"}:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biufUO" or dtype.itemsize > 4096 or \
                not isinstance(value["array"], list):
            raise ModelFileError(f"an array of dtype {dtype} is not allowed in config.json.")
        if len(value["array"]) * dtype.itemsize > MAX_DECODED_BYTES:
            raise ModelFileError(
                f"config.json: an array of {len(value['array'])} items of dtype {dtype.str} "
                f"would take more than {MAX_DECODED_BYTES} bytes."
            )
        items = _decode(value["array"])
        if dtype.kind == "O" and not all(isinstance(v, str) for v in items):
            raise ModelFileError("object arrays in config.json may hold only strings.")
        return np.array(items, dtype=dtype)
    raise ModelFileError(f"config.json holds a value glassnet does not understand: {value!r:.80}")


def _hashable(key):
    if isinstance(key, (list, dict)):
        raise ModelFileError(f"config.json: a dict key must be a number or a string: {key!r:.80}")
    return key


def estimator_config(est) -> dict:
    """The ``estimator`` section of a fitted ``MLPClassifier``/``MLPRegressor``'s config."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    params = {}
    for name, value in est.get_params(deep=False).items():
        try:
            params[name] = _encode(value)
        except TypeError:
            fix = "None" if name == "callbacks" else "a number, string, list or None"
            raise ValueError(
                f"{type(est).__name__}({name}={value!r:.60}) cannot be stored in a .glassnet "
                f"file, which holds data only (no code or objects); call "
                f"set_params({name}={fix}) before saving."
            ) from None
    attributes = {k: _encode(getattr(est, k)) for k in FITTED if hasattr(est, k)}
    section = {"params": params, "attributes": attributes}
    lb = getattr(est, "_label_binarizer", None)
    if lb is not None:
        section["label_binarizer"] = {"params": _encode(lb.get_params()),
                                      "y_type_": lb.y_type_,
                                      "sparse_input_": bool(lb.sparse_input_)}
    return {"estimator": section}


def _arch(net):
    """What must agree between a saved network and the one it is loaded into."""
    drop = ("kernel_initializer", "bias_initializer")
    layers = [{k: v for k, v in layer.get_config().items() if k not in drop}
              for layer in net.layers]
    return layers, net.loss.get_config(), tuple(net.input_shape), net.dtype


def _transplant(saved, net):
    """Copy weights, optimizer state, generator state and epoch count from ``saved``."""
    net._params[...] = saved._params
    net.optimizer.build(net._params)
    for name, buf in saved.optimizer.state.items():
        net.optimizer.state[name][...] = buf
    net.optimizer.iterations = saved.optimizer.iterations
    net._rng.bit_generator.state = saved._rng.bit_generator.state
    net.epochs_done = saved.epochs_done


def _estimator_from_config(kind, config, net):
    from . import estimators
    from .layers import Dense

    spec = config.get("estimator")
    if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict) or \
            not isinstance(spec.get("attributes"), dict):
        raise ModelFileError("config.json: 'estimator' must hold 'params' and 'attributes'.")
    est = getattr(estimators, kind)(**{str(k): _decode(v) for k, v in spec["params"].items()})
    for name, value in spec["attributes"].items():
        if name not in FITTED:
            raise ModelFileError(f"config.json: unknown fitted attribute {name!r}.")
        setattr(est, name, _decode(value))
    if kind == "MLPClassifier":
        from sklearn.preprocessing import LabelBinarizer

        lb_spec = spec.get("label_binarizer")
        if not isinstance(lb_spec, dict) or not hasattr(est, "classes_"):
            raise ModelFileError("config.json: a classifier needs classes_ and label_binarizer.")
        lb = LabelBinarizer(**_decode(lb_spec.get("params")))
        lb.classes_, lb.y_type_ = est.classes_, str(lb_spec.get("y_type_"))
        lb.sparse_input_ = bool(lb_spec.get("sparse_input_"))
        est._label_binarizer = lb
    # Before building: the sizes come from the file, and only the network's were bounded by
    # the data actually read (hidden_layer_sizes=(10**6, 10**6) would allocate terabytes).
    try:
        sizes = [int(est.n_features_in_), *est._hidden_sizes(), int(est.n_outputs_)]
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelFileError(f"config.json: the {kind}'s layer sizes are invalid ({exc}).") \
            from None
    file_sizes = [math.prod(net.input_shape)] + [
        layer.units for layer in net.layers if isinstance(layer, Dense)]
    if sizes != file_sizes:
        raise ModelFileError(
            f"config.json: the {kind}'s n_features_in_, hidden_layer_sizes and n_outputs_ "
            f"give layers {sizes[:8]}, but the network in the file has {file_sizes[:8]}."
        )
    model = est._build(est.n_features_in_, est.n_outputs_, net.dtype)
    if _arch(model) != _arch(net) or type(model.optimizer) is not type(net.optimizer):
        raise ModelFileError(
            f"the network in the file does not match the {kind} its parameters describe."
        )
    _transplant(net, model)
    est.model_ = model
    return est


# -- loading --------------------------------------------------------------------------


def _read_member(zf, info, limit, what):
    if info.file_size > limit:
        raise ModelFileError(
            f"{what} declares {info.file_size} bytes, more than the {limit} expected."
        )
    if info.file_size > MAX_RATIO * info.compress_size + MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{what} would expand {info.compress_size} bytes to {info.file_size}: glassnet "
            "stores weights uncompressed, so this looks like a zip bomb."
        )
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) != info.file_size:
        raise ModelFileError(f"{what} holds {len(data)} bytes, not the {info.file_size} declared.")
    return data


def _zip_members(zf, allowed, what):
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS * MAX_ARRAYS:
        raise ModelFileError(f"{what} has {len(infos)} members, far more than expected.")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ModelFileError(f"{what} has duplicate member names.")
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ModelFileError(f"{what} has unexpected members {unknown[:5]}; expected {allowed}.")
    odd = [i.filename for i in infos
           if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or i.flag_bits & 1]
    if odd:
        raise ModelFileError(f"{what} has encrypted or oddly compressed members {odd[:5]}.")
    missing = [n for n in allowed if n not in names]
    if missing:
        raise ModelFileError(f"{what} lacks the members {missing}.")
    return {i.filename: i for i in infos}


def _read_npy(data: bytes, shape, dtype, what):
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ModelFileError(f"{what} uses .npy version {version}, which glassnet does not read.")
    try:  # numpy's header parser raises assorted errors (tokenize, syntax) on garbage
        read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
        got_shape, fortran, got_dtype = read_header(f)
    except Exception as exc:
        raise ModelFileError(f"{what} has a damaged .npy header ({exc}).") from None
    if got_dtype != dtype:
        raise ModelFileError(
            f"{what} has dtype {got_dtype.str}, but the network's dtype is {dtype.str}."
        )
    if tuple(got_shape) != tuple(shape):
        raise ModelFileError(
            f"{what} has shape {tuple(got_shape)}, but the config says {tuple(shape)}."
        )
    if fortran:  # read as C order it would hold the transposed numbers
        raise ModelFileError(
            f"{what} is stored in Fortran (column-major) order; glassnet writes C order."
        )
    if len(data) - f.tell() != math.prod(shape) * dtype.itemsize:
        raise ModelFileError(f"{what} holds the wrong number of bytes for shape {tuple(shape)}.")
    # Plain numbers only: the dtype was checked, so nothing here can unpickle.
    return np.frombuffer(data, dtype=dtype, offset=f.tell()).reshape(shape).copy()


def _read_npz(data: bytes, specs, dtype, what) -> dict:
    """Arrays of an ``.npz`` whose ``[name, shape]`` are ``specs``, checked before reading."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = _zip_members(zf, [f"{name}.npy" for name, _ in specs], what)
        arrays = {}
        for name, shape in specs:
            limit = math.prod(shape) * dtype.itemsize + NPY_SLACK
            raw = _read_member(zf, infos[f"{name}.npy"], limit, f"{what}/{name}")
            arrays[name] = _read_npy(raw, shape, dtype, f"{what}/{name}")
    return arrays


def _check_shape(value, what):
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in value
    ):
        raise ModelFileError(f"{what} must be a list of sizes, got {value!r}.")
    return tuple(value)


def _count(value, what):
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
    if len(config["weights"]) > MAX_ARRAYS:
        raise ModelFileError("config.json lists too many weight arrays.")
    if config.get("kind") not in KINDS:
        raise ModelFileError(
            f"config.json: unknown model kind {config.get('kind')!r:.80}; expected one of {KINDS}."
        )


def _build_network(config):
    """A ``Sequential`` rebuilt from the config, its layout checked before any allocation."""
    from .backend import resolve_dtype
    from .layers import layer_from_config
    from .network import Sequential

    spec = config["network"]
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers or len(layers) > MAX_ARRAYS:
        raise ModelFileError("config.json: network.layers must be a non-empty list.")
    layers = [layer_from_config(c) for c in layers]
    dtype = resolve_dtype(spec.get("dtype"))
    input_shape = _check_shape(spec.get("input_shape"), "network.input_shape")
    if not input_shape:
        raise ModelFileError("config.json: network.input_shape is empty.")
    specs = []
    for entry in config["weights"]:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise ModelFileError(f"config.json: a weights entry must be [name, shape]: {entry!r}")
        specs.append((entry[0], _check_shape(entry[1], f"weights[{entry[0]!r}]")))
    n_in, layout = math.prod(input_shape), []
    for layer in layers:
        layout += [shape for _, shape in layer.param_shapes(n_in)]
        n_in = layer.output_dim(n_in)
    if [s for _, s in specs] != layout:
        raise ModelFileError(
            "config.json: the weight shapes do not match the layers "
            f"({[s for _, s in specs][:6]} vs {layout[:6]})."
        )
    random_state = spec.get("random_state")
    if random_state is not None and (not isinstance(random_state, int)
                                     or isinstance(random_state, bool)):
        raise ModelFileError(f"network.random_state must be an int or null, got {random_state!r}.")
    net = Sequential(layers, loss=spec.get("loss"), optimizer=spec.get("optimizer"),
                     random_state=random_state, dtype=dtype)
    return net, input_shape, specs


def _restore(net, input_shape, specs, weights, opt_specs, opt_state, config):
    net.build(input_shape)
    if net.parameter_names() != [n for n, _ in specs]:
        raise ModelFileError("config.json: the weight names do not match the layers.")
    net.set_weights([weights[n] for n, _ in specs])
    opt = net.optimizer
    if sorted(opt.state) != sorted(n for n, _ in opt_specs):
        raise ModelFileError(
            f"optimizer.npz holds {[n for n, _ in opt_specs]}, but {type(opt).__name__} "
            f"keeps {sorted(opt.state)}."
        )
    for name, _ in opt_specs:
        opt.state[name][...] = opt_state[name]
    opt.iterations = _count(config["optimizer_state"].get("iterations"),
                            "optimizer_state.iterations")
    training = config["training"]
    net.epochs_done = _count(training.get("epochs_done", 0), "training.epochs_done")
    rng_state = training.get("rng_state")
    if rng_state is not None:
        if not isinstance(rng_state, dict) or \
                rng_state.get("bit_generator") != type(net._rng.bit_generator).__name__:
            raise ModelFileError("training.rng_state is not a state of the network's generator.")
        net._rng.bit_generator.state = rng_state
    return net


def _open(path):
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.") from None
    if os.path.isdir(path):
        raise ModelFileError(f"{path!r} is a directory, not a .glassnet model file.")
    if not os.path.exists(path):
        raise ModelFileError(f"No model file at {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path!r} is not a .glassnet model file (not a zip archive; a truncated file or "
            "one from another program?)."
        )
    return zipfile.ZipFile(path)


def _load_parts(path):
    with _open(path) as zf:
        infos = _zip_members(zf, list(MEMBERS), "the file")
        raw = _read_member(zf, infos["config.json"], MAX_CONFIG_BYTES, "config.json")
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"config.json is not valid JSON: {exc}") from None
        _check_config(config)
        net, input_shape, specs = _build_network(config)
        dtype = net.dtype
        limit = sum(math.prod(s) * dtype.itemsize + NPY_SLACK for _, s in specs) + NPY_SLACK
        data = _read_member(zf, infos["weights.npz"], limit, "weights.npz")
        weights = _read_npz(data, specs, dtype, "weights.npz")
        buffers = config["optimizer_state"].get("buffers")
        if not isinstance(buffers, list) or len(buffers) > 8 or not all(
                isinstance(b, list) and len(b) == 2 and isinstance(b[0], str) for b in buffers):
            raise ModelFileError("config.json: optimizer_state.buffers must be [[name, size]].")
        size = sum(math.prod(s) for _, s in specs)
        if any(b[1] != size for b in buffers):
            raise ModelFileError(f"optimizer state buffers must each hold {size} values.")
        opt_specs = [(b[0], (size,)) for b in buffers]
        limit = len(opt_specs) * (size * dtype.itemsize + NPY_SLACK) + NPY_SLACK
        data = _read_member(zf, infos["optimizer.npz"], limit, "optimizer.npz")
        opt_state = _read_npz(data, opt_specs, dtype, "optimizer.npz")
    net = _restore(net, input_shape, specs, weights, opt_specs, opt_state, config)
    return config, net


# What a damaged or crafted file can make the parsers raise; all become ModelFileError.
_READ_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError, EOFError, OSError, RuntimeError, NotImplementedError,
                zipfile.BadZipFile, zlib.error, MemoryError)


def load(path):
    """Read a model written by :func:`save`: a ``Sequential`` or a fitted estimator.

    Raises
    ------
    ModelFileError
        If ``path`` is missing, a directory, not a ``.glassnet`` file, damaged,
        from a newer glassnet, or inconsistent in any way.
    """
    try:
        config, net = _load_parts(path)
        kind = config["kind"]  # one of KINDS: checked with the config
        if kind == "Sequential":
            return net
        return _estimator_from_config(kind, config, net)
    except ModelFileError as exc:
        raise ModelFileError(f"Cannot load {os.fspath(path)!r}: {exc}") from None
    except TypeError as exc:
        if "path must be" in str(exc):
            raise
        raise ModelFileError(f"Cannot load {path!r}: damaged or invalid file ({exc}).") from exc
    except _READ_ERRORS as exc:
        raise ModelFileError(
            f"Cannot load {os.fspath(path)!r}: damaged or invalid file "
            f"({type(exc).__name__}: {exc})."
        ) from exc


def resume_into(net, path) -> int:
    """Put the state saved in ``path`` (weights, optimizer state, generator state) into the
    built ``net``, which must have the same layers and loss; return the epochs done.
    """
    try:
        config, saved = _load_parts(path)
    except ModelFileError as exc:
        raise ModelFileError(f"resume_from={os.fspath(path)!r}: {exc}") from None
    except _READ_ERRORS as exc:
        raise ModelFileError(f"resume_from={os.fspath(path)!r}: damaged or invalid file "
                             f"({type(exc).__name__}: {exc}).") from exc
    if _arch(net) != _arch(saved) or type(net.optimizer) is not type(saved.optimizer) or \
            sorted(net.optimizer.state_names) != sorted(saved.optimizer.state):
        raise ValueError(
            f"resume_from={os.fspath(path)!r} holds a different network (layers, loss, input "
            "shape, dtype or optimizer class differ); resume with the network that wrote it."
        )
    _transplant(saved, net)
    return saved.epochs_done
