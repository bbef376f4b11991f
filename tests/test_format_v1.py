"""Files of format version 1, written by glassnet 0.1.0 (commit 5dddd31, see
tests/data/make_v1_files.py), load and predict what they predicted when they were saved."""

from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def saved():
    return np.load(DATA / "v1_predictions.npz")


def test_a_version_1_sequential_with_dropout_and_adam_state_predicts_the_same(saved):
    net = gn.load(DATA / "v1_sequential.glassnet")
    assert isinstance(net, gn.Sequential)
    np.testing.assert_array_equal(net.predict(saved["X"]), saved["sequential"])
    assert net.optimizer.iterations == 12  # 3 epochs of 4 batches, kept with the moments
    assert net.epochs_done == 3


def test_a_version_1_classifier_predicts_the_same(saved):
    clf = gn.load(DATA / "v1_classifier.glassnet")
    assert isinstance(clf, gn.MLPClassifier)
    np.testing.assert_array_equal(clf.predict_proba(saved["X"]), saved["classifier_proba"])
    np.testing.assert_array_equal(clf.predict(saved["X"]), saved["classifier"])
    assert list(clf.classes_) == [0, 1, 2]


def test_a_version_1_lbfgs_regressor_predicts_the_same(saved):
    reg = gn.load(DATA / "v1_regressor_lbfgs.glassnet")
    assert isinstance(reg, gn.MLPRegressor) and reg.solver == "lbfgs"
    np.testing.assert_array_equal(reg.predict(saved["X"]), saved["regressor"])
