"""``gn.save_weights`` / ``gn.load_weights``: safetensors files of a network's parameters and
layer state, checked from the header before a byte of data is read."""

import builtins
import os
import pickle
import tracemalloc

import numpy as np
import pytest

import glassnet as gn

safetensors_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402


def make_net(seed=0, dtype="float64"):
    net = gn.Sequential([gn.Conv2D(3, 3, padding="same", activation="relu"),
                         gn.BatchNormalization(), gn.Flatten(), gn.Dense(2)],
                        dtype=dtype, random_state=seed)
    return net.build((5, 4, 2))


def trained(seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(16, 5, 4, 2)), rng.normal(size=(16, 2))
    net = make_net(seed)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)  # moves the moving statistics
    return net, X


def test_round_trip_predicts_the_same_including_batch_norm_state(tmp_path):
    net, X = trained()
    assert not np.allclose(net.layers[1].state[0], 0)  # the moving mean has moved
    path = tmp_path / "w.safetensors"
    gn.save_weights(net, path)
    other = make_net(seed=1)
    assert not np.allclose(other.predict(X), net.predict(X))
    gn.load_weights(other, path)
    np.testing.assert_array_equal(other.predict(X), net.predict(X))
    np.testing.assert_array_equal(other.state, net.state)


def test_the_file_names_parameters_then_state_in_glassnet_layouts(tmp_path):
    net, _ = trained()
    path = tmp_path / "w.safetensors"
    gn.save_weights(net, str(path))
    with safe_open(str(path), framework="np") as f:
        assert sorted(f.keys()) == sorted(net.parameter_names() + net.state_names())
        assert f.metadata()["format"] == "glassnet-weights"
        assert f.metadata()["glassnet_version"] == gn.__version__
    stored = safetensors_numpy.load_file(str(path))
    for name, a in zip(net.parameter_names(), net.parameters()):
        np.testing.assert_array_equal(stored[name], a)
    assert stored["conv2d.W"].shape == (3, 3, 2, 3)  # (kh, kw, c_in, filters)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]  # no leftovers


def test_a_file_written_from_torch_state_dict_loads(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.BatchNorm1d(5), nn.Linear(5, 2))
    with torch.no_grad():
        module[2].running_mean.uniform_(-1, 1)
        module[2].running_var.uniform_(0.5, 2)
    module.eval()
    sd = module.state_dict()
    renamed = {  # glassnet's names; Linear's weight transposed to Dense's (n_in, n_out)
        "dense.W": sd["0.weight"].T.contiguous(), "dense.b": sd["0.bias"],
        "batch_normalization.gamma": sd["2.weight"], "batch_normalization.beta": sd["2.bias"],
        "batch_normalization.moving_mean": sd["2.running_mean"],
        "batch_normalization.moving_variance": sd["2.running_var"],
        "dense_1.W": sd["3.weight"].T.contiguous(), "dense_1.b": sd["3.bias"],
    }
    path = str(tmp_path / "torch.safetensors")
    safetensors_torch.save_file(renamed, path)
    net = gn.Sequential([gn.Dense(5, activation="relu"), gn.BatchNormalization(epsilon=1e-5),
                         gn.Dense(2)]).build(4)  # float32, as the torch file
    gn.load_weights(net, path)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net.predict(x), expected, atol=1e-5, rtol=0)


def write(path, tensors):
    safetensors_numpy.save_file(tensors, str(path))
    return path


def own_tensors(net):
    """``{name: copy}`` of the network's parameters then layer state."""
    arrays = net.parameters() + [s for layer in net.layers for s in layer.state]
    return {name: a.copy() for name, a in zip(net.parameter_names() + net.state_names(), arrays)}


@pytest.mark.parametrize("change, match", [
    (lambda t: t.update({"dense.w": t.pop("dense.W")}),
     r"tensor 'dense.W' is not in the file"),
    (lambda t: t.pop("batch_normalization.moving_variance"),
     r"tensor 'batch_normalization.moving_variance' is not in the file"),
    (lambda t: t.update({"dense_9.W": np.zeros(2)}), r"holds tensor 'dense_9.W'"),
    (lambda t: t.update({"dense.W": np.zeros((2, 60))}),
     r"tensor 'dense.W' has shape \(2, 60\), but the network's dense.W has shape \(60, 2\)"),
    (lambda t: t.update({"conv2d.b": np.zeros(3, np.int64)}),
     r"tensor 'conv2d.b' has dtype I64"),
    (lambda t: t.update({"conv2d.b": np.zeros(3, bool)}), r"tensor 'conv2d.b' has dtype BOOL"),
])
def test_mismatched_files_are_refused_naming_the_tensor(tmp_path, change, match):
    net = make_net()
    tensors = own_tensors(net)
    change(tensors)
    before = net.params.copy()
    with pytest.raises(gn.ModelFileError, match=match) as info:
        gn.load_weights(net, write(tmp_path / "w.safetensors", tensors))
    assert "\n" not in str(info.value) and "w.safetensors" in str(info.value)
    np.testing.assert_array_equal(net.params, before)  # untouched


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_another_float_width_is_cast_to_the_network_dtype(tmp_path, dtype):
    source = make_net(seed=3)
    tensors = {k: v.astype(dtype) for k, v in own_tensors(source).items()}
    net = make_net(seed=4, dtype="float32")
    gn.load_weights(net, write(tmp_path / "w.safetensors", tensors))
    assert net.params.dtype == np.float32
    expected = np.concatenate([tensors[n].astype(np.float32).ravel()
                               for n in net.parameter_names()])
    np.testing.assert_array_equal(net.params, expected)


class Payload:
    """Unpickling this runs ``open(marker, "w")``: code, which a weights file must never be."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_a_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "w.safetensors"
    path.write_bytes(pickle.dumps(Payload(str(marker))))
    pickle.loads(path.read_bytes()).close()  # the payload does run when unpickled ...
    assert marker.exists()
    marker.unlink()
    with pytest.raises(gn.ModelFileError, match=r"not a safetensors file"):
        gn.load_weights(make_net(), path)
    assert not marker.exists()  # ... and load_weights never unpickles it


@pytest.mark.parametrize("content", [
    b"PK\x03\x04" + b"\0" * 60,  # a zip (a .glassnet file)
    b"\x08\0\0\0\0\0\0\0{\"a\":1}",  # a header that is not a tensor table
    b"\x02\0",  # truncated before the header length
])
def test_foreign_and_damaged_files_are_one_clear_error(tmp_path, content):
    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    with pytest.raises(gn.ModelFileError, match=r"Cannot load weights from .*w.safetensors"):
        gn.load_weights(make_net(), path)


def test_a_glassnet_model_file_and_a_truncated_one_are_refused(tmp_path):
    net = make_net()
    gn.save(net, tmp_path / "m.glassnet")
    with pytest.raises(gn.ModelFileError, match="not a safetensors file"):
        gn.load_weights(net, tmp_path / "m.glassnet")
    gn.save_weights(net, tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) - 10])
    with pytest.raises(gn.ModelFileError, match="not a safetensors file"):
        gn.load_weights(net, tmp_path / "cut.safetensors")


@pytest.mark.parametrize("header", [
    (1 << 62).to_bytes(8, "little"),  # a header length of 4 EiB
    # a well-formed header claiming a 2**40-float tensor in a tiny file
    (lambda h: len(h).to_bytes(8, "little") + h)(
        b'{"dense.W":{"dtype":"F64","shape":[1048576,1048576],"data_offsets":[0,8796093022208]}}'),
])
def test_huge_claims_are_refused_without_allocating(tmp_path, header):
    path = tmp_path / "w.safetensors"
    path.write_bytes(header + b"\0" * 64)
    net = make_net()
    tracemalloc.start()
    try:
        with pytest.raises(gn.ModelFileError):
            gn.load_weights(net, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_an_unbuilt_network_is_refused_before_the_file(tmp_path):
    net = gn.Sequential([gn.Dense(2)])
    with pytest.raises(ValueError, match=r"not built yet: call fit\(X, y\) or build"):
        gn.load_weights(net, tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="not built yet"):
        gn.save_weights(net, tmp_path / "w.safetensors")


def test_missing_file_and_folder(tmp_path):
    net = make_net()
    with pytest.raises(gn.ModelFileError, match="no such file"):
        gn.load_weights(net, tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError, match=r"there is no folder .*nowhere"):
        gn.save_weights(net, tmp_path / "nowhere" / "w.safetensors")


def test_a_save_replaces_the_file_atomically_and_cleans_a_dead_writers_temp(tmp_path):
    net = make_net()
    path = tmp_path / "w.safetensors"
    gn.save_weights(net, path)
    from glassnet.io.container import _temp_prefix

    stale = tmp_path / f"{_temp_prefix(str(path))}999999999-deadbeef"  # no such process
    stale.write_bytes(b"half a file")
    twin = make_net(seed=9)
    gn.save_weights(twin, path)
    assert not stale.exists()
    gn.load_weights(net, path)
    np.testing.assert_array_equal(net.params, twin.params)


def test_a_newer_format_version_is_refused(tmp_path):
    net = make_net()
    path = str(tmp_path / "w.safetensors")
    safetensors_numpy.save_file(own_tensors(net), path,
                                metadata={"format": "glassnet-weights", "format_version": "7"})
    with pytest.raises(gn.ModelFileError, match=r"format version '7'.*Upgrade glassnet"):
        gn.load_weights(net, path)


def test_without_safetensors_the_message_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_safetensors(name, *args, **kwargs):
        if name.startswith("safetensors"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_safetensors)
    for call in (gn.save_weights, gn.load_weights):
        with pytest.raises(ImportError, match=r'pip install "glassnet\[safetensors\]"') as info:
            call(make_net(), tmp_path / "w.safetensors")
        assert info.value.__cause__ is None
