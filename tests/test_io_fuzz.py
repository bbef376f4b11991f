"""Fuzzing the loader: mutated, truncated and spliced .glassnet files and crafted zips.

Every outcome must be a clean load of a valid model or a ``ModelFileError``: never another
exception, never a hang, never code run (a pickled payload that would create a file). A file
damaged at the byte level (its zip CRCs left as they were) that still loads must be one of
the originals exactly: the same kind, weights, optimizer state and predictions, bit for bit;
loading other numbers from a damaged file would be a loader bug.

The CI run is bounded to about a minute. For the long run set ``GLASSNET_FUZZ_EXAMPLES``
(examples per test, e.g. 2500 for 10,000+ in all) and run
``python -m pytest tests/test_io_fuzz.py --hypothesis-show-statistics``.
"""

import io
import json
import os
import pickle
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet.io import ModelFileError

EXAMPLES = int(os.environ.get("GLASSNET_FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, derandomize="GLASSNET_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])

WORK = tempfile.mkdtemp(prefix="glassnet-fuzz-")
MARKER = os.path.join(WORK, "pwned")


class Evil:
    """Unpickling this creates MARKER: proof that a loader ran code from a file."""

    def __reduce__(self):
        return (open, (MARKER, "w"))


def _bytes_of(model):
    path = os.path.join(WORK, "base.glassnet")
    gn.save(model, path)
    with open(path, "rb") as f:
        return f.read()


def _valid_files():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    a = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dropout(0.1), gn.Dense(2),
                       gn.Softmax()], random_state=0)
    a.fit(X, y, epochs=1, verbose=0)
    b = gn.Sequential([gn.Dense(3, activation="tanh", input_dim=3), gn.Dense(1)], loss="mse",
                      optimizer=gn.SGD(0.1, momentum=0.9), dtype="float64", random_state=1)
    b.fit(X, X[:, 1], epochs=1, verbose=0)
    files = [_bytes_of(a), _bytes_of(b)]
    with _quiet():
        reg = gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
        files.append(_bytes_of(reg.fit(X, X[:, 0])))
    return files


class _quiet:
    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def _members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return buf.getvalue()


def _npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _crafted(valid):
    """Hand-made hostile files, built from a valid one."""
    base = _members(valid[0])
    evil = pickle.dumps(Evil())
    weights = _members(base["weights.npz"])
    first = next(iter(weights))
    obj = np.empty(1, dtype=object)
    obj[0] = Evil()
    bomb = _zip({"config.json": b" " * (8 << 20)}, zipfile.ZIP_DEFLATED)
    huge = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    huge["shape"] = (1 << 40,)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, huge)
    config = json.loads(base["config.json"])  # a consistent 32 MB model, deflated to 32 kB
    config["network"]["input_shape"] = [2_000_000]
    config["weights"][0][1] = [2_000_000, 4]
    big = {**weights, first: _npy(np.zeros((2_000_000, 4), np.float32))}
    return [
        _zip({**base, "config.json": json.dumps(config).encode(),
              "weights.npz": _zip(big, zipfile.ZIP_DEFLATED)}, zipfile.ZIP_DEFLATED),
        _zip({**base, "model.pkl": evil}),
        _zip({**base, "weights.npz": evil}),
        _zip({**base, "config.json": evil}),
        _zip({**base, "weights.npz": _zip({**weights, first: _npy(obj, allow_pickle=True)})}),
        _zip({**base, "weights.npz": _zip({**weights, first: header.getvalue()})}),
        _zip({**base, "weights.npz": _zip({**weights, "evil.npy": evil})}),
        _zip({**base, "optimizer.npz": _zip({"m.npy": _npy(obj, allow_pickle=True)})}),
        bomb,
        _zip({**base, "config.json": b"[" * 200000 + b"]" * 200000}),
        _zip({**base, "config.json": base["config.json"].replace(b'"Dense"', b'"Lambda"')}),
        _zip({**base, "config.json": base["config.json"].replace(b'"float32"', b'"object"')}),
        _zip({**base, "config.json": base["config.json"]}, zipfile.ZIP_BZIP2),
        valid[0][:41] + b"\x00" + valid[0][42:],  # a broken deflate stream (zlib.error)
        evil,
        b"",
        b"PK\x05\x06" + b"\x00" * 18,
    ]


VALID = _valid_files()
CRAFTED = _crafted(VALID)
PROBE = np.random.default_rng(7).normal(size=(5, 3))


def _net(model):
    return model if isinstance(model, gn.Sequential) else model.model_


def _fingerprint(model):
    """Everything a load restores that a damaged file could get wrong, as comparable values."""
    net = _net(model)
    outputs = [model.predict(PROBE)]
    if hasattr(model, "predict_proba"):
        outputs.append(model.predict_proba(PROBE))
    return (type(model).__name__, net.dtype, tuple(net.input_shape), net.parameter_names(),
            [net.params] + [net.optimizer.state[k] for k in sorted(net.optimizer.state)]
            + outputs,
            net.optimizer.get_config(), net.optimizer.iterations, net.epochs_done,
            net.rng.bit_generator.state)


def _same(a, b):
    if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
        return len(a) == len(b) and all(
            x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)
            for x, y in zip(a, b))
    return a == b


def _load_valid():
    out = []
    for blob in VALID:
        path = os.path.join(WORK, "valid.glassnet")
        with open(path, "wb") as f:
            f.write(blob)
        with _quiet():
            out.append(_fingerprint(gn.load(path)))
    return out


ORIGINALS = _load_valid()


def check_load(blob, exact=True):
    """Load ``blob``: a ModelFileError, or (``exact``) one of the valid originals bit for bit,
    or (not ``exact``: a consistent file rewritten with new numbers) a usable model.
    """
    path = os.path.join(WORK, "fuzz.glassnet")
    with open(path, "wb") as f:
        f.write(blob)
    try:
        with _quiet():
            model = gn.load(path)
    except ModelFileError as exc:
        assert str(exc).startswith("Cannot load")
        return None
    finally:
        assert not os.path.exists(MARKER), "loading ran code from the file"
    net = _net(model)
    if exact:
        got = _fingerprint(model)
        assert any(all(_same(a, b) for a, b in zip(got, original)) for original in ORIGINALS), \
            "a damaged file loaded with numbers of none of the originals"
        return model
    out = net.predict(np.zeros((2, *net.input_shape)))
    assert out.shape[0] == 2
    return model


def test_valid_files_load_exactly_and_crafted_ones_are_refused():
    for blob, original in zip(VALID, ORIGINALS):
        model = check_load(blob)
        assert model is not None
        assert all(_same(a, b) for a, b in zip(_fingerprint(model), original))
    for blob in CRAFTED:
        assert check_load(blob) is None


def _mutate(blob, data):
    op = data.draw(st.sampled_from(["flip", "truncate", "splice", "insert", "overwrite"]))
    if op == "truncate":
        return blob[: data.draw(st.integers(0, len(blob)))]
    if op == "splice":
        other = data.draw(st.sampled_from(VALID + CRAFTED))
        return blob[: data.draw(st.integers(0, len(blob)))] + \
            other[data.draw(st.integers(0, len(other))):]
    at = data.draw(st.integers(0, len(blob)))
    chunk = data.draw(st.binary(min_size=1, max_size=8))
    if op == "insert":
        return blob[:at] + chunk + blob[at:]
    if op == "overwrite":
        return blob[:at] + chunk + blob[at + len(chunk):]
    out = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, max(len(out) - 1, 0)))
        if out:
            out[i] ^= 1 << data.draw(st.integers(0, 7))
    return bytes(out)


@FUZZ
@given(data=st.data())
def test_fuzz_bytes(data):
    """Raw byte mutations of whole files (the zip CRC catches most; headers don't have one)."""
    blob = data.draw(st.sampled_from(VALID + CRAFTED))
    for _ in range(data.draw(st.integers(1, 3))):
        blob = _mutate(blob, data)
    check_load(blob)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**41) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["Dense", "relu", "float64", "Adam", "softmax"]),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                               max_size=4),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _replace(value, path, new):
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


@FUZZ
@given(data=st.data())
def test_fuzz_config(data):
    """Structured mutations of config.json, rezipped with good CRCs so the parser sees them."""
    members = _members(data.draw(st.sampled_from(VALID)))
    config = json.loads(members["config.json"])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(config))))
        if path and data.draw(st.booleans()) and isinstance(config, dict):
            parent = config
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                del parent[path[-1]]
                continue
        config = _replace(config, path, data.draw(JSON))
    members["config.json"] = json.dumps(config).encode()
    check_load(_zip(members), exact=False)  # a changed config may describe another model


@FUZZ
@given(data=st.data())
def test_fuzz_arrays(data):
    """Mutations inside weights.npz / optimizer.npz (rezipped so they reach the .npy parser)."""
    members = _members(data.draw(st.sampled_from(VALID)))
    name = data.draw(st.sampled_from(["weights.npz", "optimizer.npz"]))
    inner = _members(members[name])
    if inner and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(inner)))
        inner[key] = _mutate(inner[key], data)
        members[name] = _zip(inner)
        exact = False  # new numbers with fresh CRCs: nothing can tell them from real ones
    else:
        members[name] = _mutate(members[name], data)  # the inner zip's CRCs still hold
        exact = True
    check_load(_zip(members), exact=exact)


@pytest.fixture(autouse=True, scope="module")
def _no_marker():
    yield
    assert not os.path.exists(MARKER)
