"""The .glassnet file, to the letter: exact refusal texts, limits at their boundaries, the
estimator section of the config, and what a load restores.

Written against io.py's mutation survivors (docs/testing.md): the loader tests of
``test_io.py`` match the part of a message that names the problem, so a mutant that wraps the
text in ``XX...XX`` or cuts a list shorter or longer still passed them. Here every message
is compared whole, and every file is built by hand (zipfile, json, NumPy's .npy writer)
from the members of one that ``gn.save`` wrote, so that only the changed part differs.
"""

import io
import json
import os
import tempfile
import zipfile

import numpy as np
import pytest
from conftest import quiet_fit, zip_members

import glassnet as gn
from glassnet import ModelFileError

X = np.random.default_rng(0).normal(size=(60, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)






def _zip(members, compress=None, comment=b""):
    """A zip of ``{name: bytes}`` (or pairs), each stored unless ``compress`` says otherwise."""
    items = members.items() if isinstance(members, dict) else members
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, raw in items:
            zf.writestr(name, raw, (compress or {}).get(name, zipfile.ZIP_STORED))
        zf.comment = comment
    return buf.getvalue()


def _npy(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return buf.getvalue()


class File:
    """The members of a saved file, to change and write back."""

    def __init__(self, blob):
        outer = zip_members(blob)
        self.config = json.loads(outer["config.json"])
        self.config_bytes = None
        self.weights = zip_members(outer["weights.npz"])
        self.state = zip_members(outer["state.npz"])
        self.opt = zip_members(outer["optimizer.npz"])
        self.weights_npz = self.opt_npz = None

    def pack(self):
        return _zip({
            "config.json": self.config_bytes or json.dumps(self.config).encode(),
            "weights.npz": self.weights_npz or _zip(self.weights),
            "state.npz": _zip(self.state),
            "optimizer.npz": self.opt_npz or _zip(self.opt),
        }, {"config.json": zipfile.ZIP_DEFLATED})


def _net():
    net = gn.Sequential([gn.Dense(5, activation="relu"), gn.Dropout(0.2), gn.Dense(3),
                         gn.Softmax()], random_state=0)
    net.fit(X, np.arange(60) % 3, epochs=1, verbose=0)
    return net


def _deep():
    """Four Dense layers: eight weight arrays, more than a message lists."""
    net = gn.Sequential([gn.Dense(3), gn.Dense(3), gn.Dense(3), gn.Dense(1)], loss="mse",
                        random_state=0)
    return net.build(4)


def _models():
    clf = quiet_fit(gn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0),
                     X, np.arange(60) % 3)
    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0),
                     X, X[:, 0])
    return {"net": _net(), "deep": _deep(), "clf": clf, "reg": reg}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """``{key: (model, bytes gn.save wrote)}``."""
    folder = tmp_path_factory.mktemp("base")
    out = {}
    for key, model in _models().items():
        gn.save(model, folder / f"{key}.glassnet")
        out[key] = (model, (folder / f"{key}.glassnet").read_bytes())
    return out


def _refusal(path):
    with pytest.raises(ModelFileError) as info:
        gn.load(path)
    prefix = f"Cannot load {str(path)!r}: "
    text = str(info.value)
    assert text.startswith(prefix), text
    return text[len(prefix):]


def _write(tmp_path, blob, name="broken.glassnet"):
    path = tmp_path / name
    path.write_bytes(blob)
    return path


# -- every refusal, its whole text ---------------------------------------------------------


def _set(*path_and_value):
    *path, value = path_and_value

    def change(f):
        node = f.config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _delete(*path):
    def change(f):
        node = f.config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


def _rename_weight(old, new):
    def change(f):
        for entry in f.config["weights"]:
            if entry[0] == old:
                entry[0] = new
        f.weights[new + ".npy"] = f.weights.pop(old + ".npy")
    return change


def _config_bytes(raw):
    def change(f):
        f.config_bytes = raw
    return change


def _adamw(f):
    config = f.config["network"]["optimizer"]
    del config["convention"]
    config["class_name"] = "AdamW"


# (id, base file, change(File) -> None, the message after "Cannot load '<path>': ")
EXACT = [
    ("config-not-object", "net", _config_bytes(b"[1, 2]"),
     "config.json is not a glassnet model description."),
    ("too-many-weights", "net", _set("weights", [["w", [1]]] * 4097),
     "config.json lists too many weight arrays."),
    ("estimator-missing", "clf", _delete("estimator"),
     "config.json: 'estimator' must hold 'params' and 'attributes'."),
    ("estimator-params-not-dict", "clf", _set("estimator", "params", []),
     "config.json: 'estimator' must hold 'params' and 'attributes'."),
    ("estimator-attributes-not-dict", "reg", _set("estimator", "attributes", []),
     "config.json: 'estimator' must hold 'params' and 'attributes'."),
    ("classifier-no-label-binarizer", "clf", _delete("estimator", "label_binarizer"),
     "config.json: a classifier needs classes_ and label_binarizer."),
    ("classifier-no-classes", "clf", _delete("estimator", "attributes", "classes_"),
     "config.json: a classifier needs classes_ and label_binarizer."),
    ("input-shape-empty", "net", _set("network", "input_shape", []),
     "config.json: network.input_shape is empty."),
    ("layers-empty", "net", _set("network", "layers", []),
     "config.json: network.layers must be a non-empty list."),
    ("buffers-not-list", "net", _set("optimizer_state", "buffers", {"m": 43}),
     "config.json: optimizer_state.buffers must be [[name, size]]."),
    ("weight-names", "net", _rename_weight("dense.W", "dense.V"),
     "config.json: the weight names do not match the layers."),
    ("object-array", "clf", _set("estimator", "attributes", "classes_",
                                 {"array": [0, [1]], "dtype": "|O"}),
     "config.json: an array of dtype |O may hold only strings, not 0."),
    ("rng-state-not-dict", "net", _set("training", "rng_state", [1, 2]),
     "training.rng_state is not a state of the network's generator."),
    # The same layers and buffers (m, v) with an optimizer that has no scikit-learn rule.
    ("estimator-optimizer-without-sklearn-rule", "reg", _adamw,
     "config.json: AdamW has no scikit-learn rule, so it cannot train an MLPRegressor."),
    # Six shapes of each side, no more: the file lists eight.
    ("weight-shapes", "deep", _set("weights", 0, 1, [4, 4]),
     "config.json: the weight shapes do not match the layers "
     "([(4, 4), (3,), (3, 3), (3,), (3, 3), (3,)] vs [(4, 3), (3,), (3, 3), (3,), (3, 3), (3,)])."),
]


@pytest.mark.parametrize("case", EXACT, ids=[c[0] for c in EXACT])
def test_each_refusal_reads_exactly(base, case, tmp_path):
    _, key, change, expected = case
    f = File(base[key][1])
    change(f)
    assert _refusal(_write(tmp_path, f.pack())) == expected


def test_control_the_unchanged_rewrite_loads(base, tmp_path):
    for key, (model, blob) in base.items():
        back = gn.load(_write(tmp_path, File(blob).pack(), f"{key}.glassnet"))
        assert type(back) is type(model)
        assert np.array_equal(back.predict(X), model.predict(X))


def test_a_file_that_is_no_zip_reads_exactly(tmp_path):
    path = _write(tmp_path, b"\x89PNG\r\n\x1a\n" + bytes(200))
    assert _refusal(path) == (
        f"{str(path)!r} is not a .glassnet model file (not a zip archive; a truncated file or "
        "one from another program?)."
    )


# -- the limits, at their boundaries ---------------------------------------------------------


def _patch_central(blob, name, offset, value):
    """Overwrite a 4-byte field of ``name``'s central-directory entry (20: compressed size,
    24: size)."""
    at = 0
    while True:
        at = blob.index(b"PK\x01\x02", at)
        length = int.from_bytes(blob[at + 28 : at + 30], "little")
        if blob[at + 46 : at + 46 + length] == name.encode():
            break
        at += 4
    return blob[: at + offset] + value.to_bytes(4, "little") + blob[at + offset + 4 :]


def test_4096_weight_arrays_are_not_too_many(base, tmp_path):
    # At the limit the count passes, and the shapes check speaks (4097: test_io's row).
    f = File(base["net"][1])
    f.config["weights"] = [["w", [1]]] * 4096
    assert _refusal(_write(tmp_path, f.pack())) == (
        "config.json: the weight shapes do not match the layers "
        "([(1,), (1,), (1,), (1,), (1,), (1,)] vs [(4, 5), (5,), (5, 3), (3,)])."
    )


def test_4096_layers_are_not_too_many_but_4097_are(base, tmp_path):
    f = File(base["net"][1])
    dropout = f.config["network"]["layers"][1]
    f.config["network"]["layers"] = [dropout] * 4096
    assert _refusal(_write(tmp_path, f.pack())) == (
        "config.json: the weight shapes do not match the layers "
        "([(4, 5), (5,), (5, 3), (3,)] vs [])."
    )
    f.config["network"]["layers"] = [dropout] * 4097
    assert _refusal(_write(tmp_path, f.pack())) == (
        "config.json: network.layers must be a non-empty list."
    )


def test_eight_optimizer_buffers_are_not_too_many(base, tmp_path):
    f = File(base["net"][1])
    names = [f"b{i}" for i in range(8)]
    f.config["optimizer_state"]["buffers"] = [[n, 43] for n in names]
    f.opt = {n + ".npy": _npy(np.zeros(43, np.float32)) for n in names}
    assert _refusal(_write(tmp_path, f.pack())) == (
        "optimizer.npz holds ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'], but Adam keeps "
        "['m', 'v']."
    )


def test_counts_up_to_2_to_the_62_are_read(base, tmp_path):
    f = File(base["net"][1])
    f.config["optimizer_state"]["iterations"] = 2**62 - 1
    f.config["training"]["epochs_done"] = 2**62 - 1
    back = gn.load(_write(tmp_path, f.pack()))
    assert back.optimizer.iterations == 2**62 - 1 and back.epochs_done == 2**62 - 1
    f.config["optimizer_state"]["iterations"] = 2**62
    assert _refusal(_write(tmp_path, f.pack())) == (
        "optimizer_state.iterations must be an int >= 0, got 4611686018427387904."
    )
    f.config["optimizer_state"]["iterations"] = 0
    f.config["training"]["epochs_done"] = 2**62
    assert _refusal(_write(tmp_path, f.pack())) == (
        "training.epochs_done must be an int >= 0, got 4611686018427387904."
    )


def test_the_arrays_of_a_config_may_take_16_mib_in_all():
    # 4096 items of <U1024 (4096 bytes each, the largest item allowed): 16 MiB, the limit,
    # for all the arrays of one file together (one Decoder per file).
    from glassnet.io.codec import Decoder

    full = {"array": [""] * 4095 + ["x" * 1024], "dtype": "<U1024"}
    got = Decoder()(full)
    assert got.dtype == np.dtype("<U1024") and got.shape == (4096,) and got[-1] == "x" * 1024
    with pytest.raises(ModelFileError) as info:
        Decoder()({"array": [""] * 4097, "dtype": "<U1024"})
    assert str(info.value) == ("config.json: its arrays would take more than 16777216 bytes (at "
                               "one of 4097 items of dtype <U1024).")
    decode = Decoder()
    decode({"array": [""] * 4095, "dtype": "<U1024"})
    decode({"array": [""], "dtype": "<U1024"})  # the last 4096 bytes
    with pytest.raises(ModelFileError) as info:
        decode({"array": [0], "dtype": "|b1"})  # one byte more
    assert str(info.value) == ("config.json: its arrays would take more than 16777216 bytes (at "
                               "one of 1 items of dtype |b1).")
    with pytest.raises(ModelFileError) as info:
        Decoder()({"array": ["a"], "dtype": "<U1025"})
    assert str(info.value) == "an array of dtype <U1025 is not allowed in config.json."


def test_a_config_json_of_exactly_1_mib_is_read(base, tmp_path):
    model, blob = base["net"]
    f = File(blob)
    raw = json.dumps(f.config).encode()
    f.config_bytes = raw + b" " * ((1 << 20) - len(raw))
    back = gn.load(_write(tmp_path, f.pack()))
    assert np.array_equal(back.predict(X), model.predict(X))


def test_a_member_declaring_exactly_the_largest_ratio_is_no_zip_bomb(base, tmp_path):
    # 0 compressed bytes may expand to MAX_CONFIG_BYTES (1 MiB) and no more: such a member is
    # read (and its CRC then fails), not refused as a zip bomb.
    blob = File(base["net"][1]).pack()
    blob = _patch_central(_patch_central(blob, "config.json", 20, 0), "config.json", 24, 1 << 20)
    assert _refusal(_write(tmp_path, blob)) == (
        "damaged or invalid file (BadZipFile: Bad CRC-32 for file 'config.json')."
    )


def test_a_network_with_no_inputs_round_trips(tmp_path):
    # A size of 0 is a size (input_dim=0 builds); only negative ones are refused.
    net = gn.Sequential([gn.Dense(2)], loss="mse", random_state=0).build(0)
    net.save(tmp_path / "m.glassnet")
    back = gn.load(tmp_path / "m.glassnet")
    assert back.input_shape == (0,) and back.parameter_names() == net.parameter_names()
    assert np.array_equal(back.params, net.params)


# -- resume_from ------------------------------------------------------------------------------


def _resumable(optimizer="adam"):
    return gn.Sequential([gn.Dense(5, activation="relu"), gn.Dropout(0.2), gn.Dense(3),
                          gn.Softmax()], optimizer=optimizer, random_state=0)


def _different_network(path):
    return (f"resume_from={str(path)!r} holds a different network (layers, loss, input shape, "
            "dtype or optimizer class differ); resume with the network that wrote it.")


@pytest.mark.parametrize("saved, resumed", [
    ("adam", "adamw"),  # another class keeping the same buffers (m, v)
    (gn.SGD(0.01, momentum=0.9), gn.SGD(0.01)),  # the same class keeping other buffers
    ("adam", gn.SGD(0.01)),
])
def test_resume_refuses_another_optimizer_with_the_exact_text(tmp_path, saved, resumed):
    y = np.arange(60) % 3
    path = str(tmp_path / "m.glassnet")
    first = _resumable(saved)
    first.fit(X, y, epochs=1, verbose=0)
    first.save(path)
    net = _resumable(resumed)
    with pytest.raises(ValueError) as info:
        net.fit(X, y, epochs=2, verbose=0, resume_from=path)
    assert str(info.value) == _different_network(path)


def test_resume_ignores_the_initializers(tmp_path):
    # The weights come from the file, so how the new network would have drawn its own does
    # not matter: 1 epoch, save, resume with other initializers == 2 epochs straight.
    y = np.arange(60) % 3
    path = tmp_path / "m.glassnet"
    straight = _resumable()
    straight.fit(X, y, epochs=2, verbose=0)
    first = _resumable()
    first.fit(X, y, epochs=1, verbose=0)
    first.save(path)
    other = gn.Sequential([gn.Dense(5, activation="relu", kernel_initializer="he_normal",
                                    bias_initializer="ones"), gn.Dropout(0.2),
                           gn.Dense(3, kernel_initializer="zeros"), gn.Softmax()],
                          random_state=5)
    history = other.fit(X, y, epochs=2, verbose=0, resume_from=path)
    assert history.epoch == [1]
    assert np.array_equal(other.params, straight.params)


def _unknown_optimizer_argument(base, tmp_path):
    f = File(base["net"][1])
    f.config["network"]["optimizer"]["warp"] = 9
    path = _write(tmp_path, f.pack())
    with pytest.raises(TypeError) as info:
        gn.Adam(warp=9)
    return str(path), str(info.value)


def test_a_file_the_parsers_reject_reads_exactly_on_load_and_resume(base, tmp_path):
    path, reason = _unknown_optimizer_argument(base, tmp_path)
    with pytest.raises(ModelFileError) as info:
        gn.load(path)
    # The constructor's reason, named as the part of the config it refused.
    assert str(info.value) == f"Cannot load {str(path)!r}: config.json: network: {reason}"
    with pytest.raises(ModelFileError) as info:
        _resumable().fit(X, np.arange(60) % 3, epochs=2, verbose=0, resume_from=path)
    assert str(info.value) == f"resume_from={path!r}: config.json: network: {reason}"


# -- the estimator section ------------------------------------------------------------------


def test_sparse_multilabel_classifier_predicts_sparse_after_a_load(tmp_path):
    # LabelBinarizer.sparse_input_: a classifier fitted on a sparse Y predicts sparse Y.
    import scipy.sparse as sp

    Ymulti = (np.random.default_rng(1).random((60, 3)) > 0.5).astype(int)
    clf = quiet_fit(gn.MLPClassifier((4,), max_iter=3, random_state=0), X, sp.csr_matrix(Ymulti))
    clf.save(tmp_path / "c.glassnet")
    back = gn.load(tmp_path / "c.glassnet")
    want, got = clf.predict(X), back.predict(X)
    assert sp.issparse(want) and sp.issparse(got)
    assert np.array_equal(got.toarray(), want.toarray())
    dense = quiet_fit(gn.MLPClassifier((4,), max_iter=3, random_state=0), X, Ymulti)
    dense.save(tmp_path / "d.glassnet")
    got = gn.load(tmp_path / "d.glassnet").predict(X)
    assert not sp.issparse(got) and np.array_equal(got, dense.predict(X))


def test_numpy_scalars_in_parameters_come_back_as_python_values(tmp_path):
    clf = gn.MLPClassifier((np.int64(4),), max_iter=np.int64(3), alpha=np.float32(0.5),
                           shuffle=np.True_, early_stopping=np.False_, random_state=0)
    quiet_fit(clf, X, Y)
    clf.save(tmp_path / "c.glassnet")
    params = gn.load(tmp_path / "c.glassnet").get_params()
    assert params["hidden_layer_sizes"] == (4,) and params["max_iter"] == 3
    assert params["alpha"] == 0.5 and type(params["alpha"]) is float
    assert params["shuffle"] is True and params["early_stopping"] is False
    assert type(params["max_iter"]) is int and type(params["hidden_layer_sizes"][0]) is int


def test_non_finite_attributes_round_trip_and_are_stored_as_tagged_text(tmp_path):
    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X, X[:, 0])
    reg.best_loss_, reg.loss_ = -np.inf, np.nan
    reg.loss_curve_ = [np.inf, 1.5, -np.inf]
    path = tmp_path / "r.glassnet"
    reg.save(path)
    with zipfile.ZipFile(path) as zf:
        attributes = json.loads(zf.read("config.json"))["estimator"]["attributes"]
    assert attributes["best_loss_"] == {"float": "-inf"} and attributes["loss_"] == {"float": "nan"}
    assert attributes["loss_curve_"] == [{"float": "inf"}, 1.5, {"float": "-inf"}]
    back = gn.load(path)
    assert back.best_loss_ == -np.inf and np.isnan(back.loss_)
    assert back.loss_curve_ == [np.inf, 1.5, -np.inf]


def test_parameters_that_hold_objects_are_refused_with_the_exact_text(tmp_path):
    class Long:
        def __repr__(self):
            return "R" * 100

    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X, X[:, 0])
    reg.set_params(alpha=Long())
    with pytest.raises(ValueError) as info:
        reg.save(tmp_path / "r.glassnet")
    assert str(info.value) == (
        f"MLPRegressor(alpha={'R' * 60}) cannot be stored in a .glassnet file, which holds data "
        "only (no code or objects); call set_params(alpha=a number, string, list or None) "
        "before saving."
    )
    reg.set_params(alpha=1e-4, callbacks=[gn.EarlyStopping(monitor="loss")])
    with pytest.raises(ValueError, match=r"call set_params\(callbacks=None\) before saving\.$"):
        reg.save(tmp_path / "r.glassnet")
    assert not os.listdir(tmp_path)


def test_save_refuses_scikit_learns_own_estimators_with_the_exact_text(tmp_path):
    from sklearn.neural_network import MLPClassifier

    clf = quiet_fit(MLPClassifier((3,), max_iter=2, random_state=0), X, Y)
    with pytest.raises(TypeError) as info:
        gn.save(clf, tmp_path / "c.glassnet")
    assert str(info.value) == (
        "model must be a glassnet Sequential, MLPClassifier or MLPRegressor, got MLPClassifier."
    )
    assert not os.listdir(tmp_path)


# -- what save records -------------------------------------------------------------------------


def _saved_config(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def test_a_network_never_trained_is_saved_with_zero_epochs_done(tmp_path):
    y = np.arange(60) % 3
    path = tmp_path / "m.glassnet"
    _resumable().build(4).save(path)
    assert _saved_config(path)["training"]["epochs_done"] == 0
    assert gn.load(path).epochs_done == 0
    history = _resumable().fit(X, y, epochs=2, verbose=0, resume_from=path)
    assert history.epoch == [0, 1]


def test_epochs_done_given_to_save_is_the_one_recorded(tmp_path):
    net = _resumable()
    net.fit(X, np.arange(60) % 3, epochs=3, verbose=0)
    gn.save(net, tmp_path / "a.glassnet", epochs_done=1)
    gn.save(net, tmp_path / "b.glassnet")
    assert gn.load(tmp_path / "a.glassnet").epochs_done == 1
    assert gn.load(tmp_path / "b.glassnet").epochs_done == 3


@pytest.mark.parametrize("solver, epochs", [("lbfgs", 0), ("adam", 3)])
def test_an_estimators_network_keeps_its_epoch_count(tmp_path, solver, epochs):
    # lbfgs never runs the epoch loop: its network has no epochs_done, recorded as 0.
    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), solver=solver, max_iter=3,
                                     random_state=0), X, X[:, 0])
    reg.save(tmp_path / "r.glassnet")
    assert _saved_config(tmp_path / "r.glassnet")["training"]["epochs_done"] == epochs
    assert gn.load(tmp_path / "r.glassnet").model_.epochs_done == epochs


@pytest.mark.parametrize("seed", [7, np.int64(7)])
def test_an_integer_random_state_is_kept(tmp_path, seed):
    net = gn.Sequential([gn.Dense(2)], loss="mse", random_state=seed).build(3)
    net.save(tmp_path / "m.glassnet")
    assert _saved_config(tmp_path / "m.glassnet")["network"]["random_state"] == 7
    back = gn.load(tmp_path / "m.glassnet")
    assert back.random_state == 7 and type(back.random_state) is int


def test_a_generator_random_state_is_stored_as_its_state(tmp_path):
    # No seed to write down, so the file has random_state null and the generator's state:
    # training on after the load draws what training on without it draws.
    y = np.arange(60) % 3
    net = gn.Sequential([gn.Dense(5, activation="relu"), gn.Dropout(0.5), gn.Dense(3),
                         gn.Softmax()], random_state=np.random.default_rng(3))
    net.fit(X, y, epochs=1, verbose=0)
    net.save(tmp_path / "m.glassnet")
    assert _saved_config(tmp_path / "m.glassnet")["network"]["random_state"] is None
    back = gn.load(tmp_path / "m.glassnet")
    assert back.random_state is None
    net.fit(X, y, epochs=1, verbose=0)
    back.fit(X, y, epochs=1, verbose=0)
    assert np.array_equal(back.params, net.params)


# -- tagged values: what is stored, what is refused --------------------------------------------


def test_feature_names_and_int32_classes_keep_their_dtypes(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = quiet_fit(gn.MLPClassifier((4,), max_iter=3, random_state=0), frame,
                     Y.astype(np.int32))
    clf.save(tmp_path / "c.glassnet")
    back = gn.load(tmp_path / "c.glassnet")
    assert back.feature_names_in_.dtype == object
    assert back.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    assert back.classes_.dtype == np.int32 and back.classes_.tolist() == [0, 1]
    assert np.array_equal(back.predict_proba(frame), clf.predict_proba(frame))
    assert back.predict(frame).dtype == np.int32


def test_arrays_of_more_than_one_dimension_are_refused_on_save(tmp_path):
    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X,
                     X[:, 0])
    reg.set_params(alpha=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"(?s)^MLPRegressor\(alpha=array\(\[\[0\., 0\.\],.* call "
                       r"set_params\(alpha=a number, string, list or None\) before saving\.$"):
        reg.save(tmp_path / "r.glassnet")
    reg.set_params(alpha=1e-4)
    reg.loss_curve_ = np.zeros((2, 2))  # a fitted attribute: refused as it is
    with pytest.raises(TypeError) as info:
        reg.save(tmp_path / "r.glassnet")
    assert str(info.value) == "ndarray values cannot be stored"
    assert not os.listdir(tmp_path)


def _understood(value):
    return f"config.json holds a value glassnet does not understand: {value!r}"


TAGS = [
    # A tag is a dict of exactly its key(s): one more key makes it no tag.
    ("tuple-extra-key", {"tuple": [3], "x": 1}, _understood({"tuple": [3], "x": 1})),
    ("dict-extra-key", {"dict": [[0, 1.0]], "x": 1}, _understood({"dict": [[0, 1.0]], "x": 1})),
    ("float-not-special", {"float": "1.5"}, _understood({"float": "1.5"})),
    ("array-extra-key", {"array": [1], "dtype": "<i8", "x": 1},
     _understood({"array": [1], "dtype": "<i8", "x": 1})),
    ("array-not-a-list", {"array": "abc", "dtype": "<U3"},
     "an array of dtype <U3 is not allowed in config.json."),
    ("dict-list-key", {"dict": [[[0], 1.0]]},
     "config.json: a dict key must be a number or a string: [0]"),
]


@pytest.mark.parametrize("case", TAGS, ids=[c[0] for c in TAGS])
def test_malformed_tags_are_refused_with_the_exact_text(base, tmp_path, case):
    _, value, expected = case
    f = File(base["reg"][1])
    f.config["estimator"]["params"]["alpha"] = value
    assert _refusal(_write(tmp_path, f.pack())) == expected


# -- more refusals, their whole text -----------------------------------------------------------


def test_a_newer_format_names_the_glassnet_that_wrote_it(base, tmp_path):
    f = File(base["net"][1])
    f.config["format_version"], f.config["glassnet_version"] = 3, "9.9"
    assert _refusal(_write(tmp_path, f.pack())) == (
        "The file has format version 3, written by glassnet '9.9'; this glassnet reads up to "
        "version 2. Upgrade glassnet to load it."
    )


def test_a_path_that_is_no_path_names_its_type():
    with pytest.raises(TypeError) as info:
        gn.load(42)
    assert str(info.value) == "path must be a str or os.PathLike, got int."


ENTRIES = [
    # weights entries and optimizer buffers are [name, size] pairs: exactly two items, a
    # string first.
    ("weights-entry-three-items", ("weights", 0), ["dense.W", [4, 5], 0],
     "config.json: a weights entry must be [name, shape]: ['dense.W', [4, 5], 0]"),
    ("weights-entry-number-name", ("weights", 0), [7, [4, 5]],
     "config.json: a weights entry must be [name, shape]: [7, [4, 5]]"),
    ("buffer-three-items", ("optimizer_state", "buffers", 0), ["m", 43, 0],
     "config.json: optimizer_state.buffers must be [[name, size]]."),
    ("buffer-number-name", ("optimizer_state", "buffers", 0), [7, 43],
     "config.json: optimizer_state.buffers must be [[name, size]]."),
    ("buffer-no-size", ("optimizer_state", "buffers", 0), ["m"],
     "config.json: optimizer_state.buffers must be [[name, size]]."),
]


@pytest.mark.parametrize("case", ENTRIES, ids=[c[0] for c in ENTRIES])
def test_malformed_entries_are_refused_with_the_exact_text(base, tmp_path, case):
    _, where, value, expected = case
    f = File(base["net"][1])
    _set(*where, value)(f)
    assert _refusal(_write(tmp_path, f.pack())) == expected


def test_unexpected_members_are_listed_up_to_five(base, tmp_path):
    f = File(base["net"][1])
    blob = _zip({**zip_members(f.pack()), **{f"extra{i}": b"x" for i in range(6)}})
    assert _refusal(_write(tmp_path, blob)) == (
        "the file has unexpected members ['extra0', 'extra1', 'extra2', 'extra3', 'extra4']; "
        "expected ['config.json', 'weights.npz', 'state.npz', 'optimizer.npz']."
    )


def test_oddly_compressed_members_are_listed_up_to_five(base, tmp_path):
    f = File(base["deep"][1])
    f.weights_npz = _zip(f.weights, dict.fromkeys(f.weights, zipfile.ZIP_BZIP2))
    assert _refusal(_write(tmp_path, f.pack())) == (
        "weights.npz has encrypted or oddly compressed members ['dense.W.npy', 'dense.b.npy', "
        "'dense_1.W.npy', 'dense_1.b.npy', 'dense_2.W.npy']."
    )


# -- what a load accepts ------------------------------------------------------------------------


def test_npy_version_2_arrays_are_read(base, tmp_path):
    model, blob = base["net"]
    f = File(blob)
    for name, raw in list(f.weights.items()):
        f.weights[name] = _npy(np.load(io.BytesIO(raw)), version=(2, 0))
    assert f.weights["dense.W.npy"][6:8] == b"\x02\x00"
    back = gn.load(_write(tmp_path, f.pack()))
    assert np.array_equal(back.predict(X), model.predict(X))


def test_a_file_without_epoch_count_or_generator_state_loads_fresh(base, tmp_path):
    # Both are optional: no epochs done, and the generator drawn from random_state.
    model, blob = base["net"]
    f = File(blob)
    del f.config["training"]["epochs_done"], f.config["training"]["rng_state"]
    back = gn.load(_write(tmp_path, f.pack()))
    assert back.epochs_done == 0
    assert np.array_equal(back.predict(X), model.predict(X))
    fresh = gn.Sequential([gn.Dense(5, activation="relu"), gn.Dropout(0.2), gn.Dense(3),
                           gn.Softmax()], random_state=0).build(4)
    assert back.rng.bit_generator.state == fresh.rng.bit_generator.state


def _pad_to(npz, size):
    """``npz`` with a zip comment that makes it exactly ``size`` bytes."""
    with zipfile.ZipFile(io.BytesIO(npz)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    out = _zip(members, comment=b"\0" * (size - len(npz)))
    assert len(out) == size
    return out


def test_weights_and_optimizer_npz_may_take_their_whole_allowance(base, tmp_path):
    # Each may hold its arrays' bytes plus 1024 per array and 1024 more (the base network:
    # 4 float32 weight arrays of 20, 5, 15 and 3 values; Adam's m and v of 43 each).
    model, blob = base["net"]
    weights_limit = 4 * (20 + 5 + 15 + 3) + 4 * 1024 + 1024
    opt_limit = 2 * (4 * 43 + 1024) + 1024
    f = File(blob)
    f.weights_npz = _pad_to(_zip(f.weights), weights_limit)
    f.opt_npz = _pad_to(_zip(f.opt), opt_limit)
    back = gn.load(_write(tmp_path, f.pack()))
    assert np.array_equal(back.predict(X), model.predict(X))
    f.weights_npz = _pad_to(_zip(f.weights), weights_limit + 1)
    assert _refusal(_write(tmp_path, f.pack())) == (
        f"weights.npz declares {weights_limit + 1} bytes, more than the {weights_limit} expected."
    )
    f.weights_npz = None
    f.opt_npz = _pad_to(_zip(f.opt), opt_limit + 1)
    assert _refusal(_write(tmp_path, f.pack())) == (
        f"optimizer.npz declares {opt_limit + 1} bytes, more than the {opt_limit} expected."
    )


def test_a_zip_bomb_reads_exactly(tmp_path):
    # 2 MB of zero weights, deflated to a few kB: far past the ratio glassnet believes.
    big = gn.Sequential([gn.Dense(1000, input_dim=500, kernel_initializer="zeros")],
                        loss="mse", optimizer="sgd").build(500)
    big.save(tmp_path / "big.glassnet")
    f = File((tmp_path / "big.glassnet").read_bytes())
    blob = _zip({"config.json": json.dumps(f.config).encode(), "weights.npz": _zip(f.weights),
                 "state.npz": _zip(f.state), "optimizer.npz": _zip(f.opt)},
                {"weights.npz": zipfile.ZIP_DEFLATED})
    info = zipfile.ZipFile(io.BytesIO(blob)).getinfo("weights.npz")
    assert info.file_size > 50 * info.compress_size + (1 << 20)
    assert _refusal(_write(tmp_path, blob)) == (
        f"weights.npz would expand {info.compress_size} bytes to {info.file_size}: glassnet "
        "stores weights uncompressed, so this looks like a zip bomb."
    )


def test_layer_sizes_that_disagree_are_listed_up_to_eight(tmp_path):
    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(2,) * 8, max_iter=2, random_state=0),
                     X, X[:, 0])
    reg.save(tmp_path / "r.glassnet")
    f = File((tmp_path / "r.glassnet").read_bytes())
    f.config["estimator"]["attributes"]["n_features_in_"] = 7
    assert _refusal(_write(tmp_path, f.pack())) == (
        "config.json: the MLPRegressor's n_features_in_, hidden_layer_sizes and n_outputs_ give "
        "layers [7, 2, 2, 2, 2, 2, 2, 2], but the network in the file has "
        "[4, 2, 2, 2, 2, 2, 2, 2]."
    )


def test_save_writes_its_temporary_file_beside_the_target(tmp_path, monkeypatch):
    # The rename must stay inside one folder (one filesystem) to be atomic: a temporary file
    # in the system's temp folder would fail to move onto another disk, or not atomically.
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkstemp would go by default
    moves = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: moves.append((src, dst)) or
                        replace(src, dst))
    net = gn.Sequential([gn.Dense(2)], loss="mse", random_state=0).build(3)
    net.save(folder / "m.glassnet")
    [(src, dst)] = moves
    assert os.path.dirname(src) == str(folder) and dst == str(folder / "m.glassnet")
    assert os.listdir(folder) == ["m.glassnet"] and sorted(os.listdir(tmp_path)) == ["models"]
