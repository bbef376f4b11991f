"""The compiled loops (_kernels.c) and their readable twins (backend/reference.py) against
the docstring formulas in float64 NumPy.

Sizes cover the empty buffer, tails shorter than one vector register and long buffers;
float32 results are compared with the float64 formula at float32 precision.
"""

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.backend import _kernels, reference

SIZES = [0, 1, 7, 17, 64, 1000, 4099]
#: Each formula is checked on the C loop and on its plain-array version.
IMPLS = [pytest.param(_kernels, id="c"), pytest.param(reference, id="reference")]
TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-13, atol=1e-15)}


def buffers(n, dtype, seed, count):
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(n).astype(dtype) for _ in range(count)]
    return out


def as64(*arrays):
    return [a.astype(np.float64) for a in arrays]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.8, True)])
@pytest.mark.parametrize("impl", IMPLS)
def test_sgd_matches_its_formula(impl, dtype, n, momentum, nesterov):
    p, g, v = buffers(n, dtype, n, 3)
    lr, scale, l2 = 0.1, 0.7, 0.01
    P, G, V = as64(p, g, v)
    G = scale * G + l2 * P
    if momentum:
        V = momentum * V + G
        step = G + momentum * V if nesterov else V
    else:
        step = G
    P = P - lr * step
    impl.sgd(p, g, v if momentum else None, lr, momentum, nesterov, scale, l2)
    np.testing.assert_allclose(p, P, **TOL[dtype])
    if momentum:
        np.testing.assert_allclose(v, V, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("impl", IMPLS)
def test_rmsprop_matches_its_formula(impl, dtype, n, momentum):
    p, g, s, u = buffers(n, dtype, n + 1, 4)
    s = np.abs(s)
    lr, rho, eps, scale, l2 = 0.01, 0.9, 1e-7, 1.0, 0.02
    P, G, S, U = as64(p, g, s, u)
    G = scale * G + l2 * P
    S = rho * S + (1 - rho) * G**2
    d = G / (np.sqrt(S) + eps)
    if momentum:
        U = momentum * U + d
        d = U
    P = P - lr * d
    impl.rmsprop(p, g, s, u if momentum else None, lr, rho, eps, momentum, scale, l2)
    np.testing.assert_allclose(p, P, **TOL[dtype])
    np.testing.assert_allclose(s, S, **TOL[dtype])
    if momentum:
        np.testing.assert_allclose(u, U, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("decay,l2", [(1.0, 0.0), (1.0, 0.01), (0.999, 0.0)])
@pytest.mark.parametrize("impl", IMPLS)
def test_adam_matches_its_formula(impl, dtype, n, decay, l2):
    p, g, m, v = buffers(n, dtype, n + 2, 4)
    v = np.abs(v)
    lr, b1, b2, eps, scale, t = 1e-3, 0.9, 0.999, 1e-8, 0.5, 3
    P, G, M, V = as64(p, g, m, v)
    G = scale * G + l2 * P
    M = b1 * M + (1 - b1) * G
    V = b2 * V + (1 - b2) * G**2
    P = decay * P - lr * (M / (1 - b1**t)) / (np.sqrt(V / (1 - b2**t)) + eps)
    impl.adam(p, g, m, v, lr / (1 - b1**t), b1, b2, 1 / math.sqrt(1 - b2**t), eps, decay,
                  scale, l2)
    np.testing.assert_allclose(m, M, **TOL[dtype])
    np.testing.assert_allclose(v, V, **TOL[dtype])
    np.testing.assert_allclose(p, P, **TOL[dtype])


def test_results_do_not_depend_on_the_position_in_the_buffer():
    # The vector body and the scalar tail of a loop must compute the same thing.
    rng = np.random.default_rng(0)
    g1 = rng.standard_normal(1, dtype=np.float32)
    g = np.repeat(g1, 37)
    p, m, v = np.ones(37, np.float32), np.zeros(37, np.float32), np.zeros(37, np.float32)
    _kernels.adam(p, g, m, v, 0.01, 0.9, 0.999, 31.6, 1e-8, 1.0, 1.0, 0.0)
    assert np.unique(p).size == 1 and np.unique(m).size == 1 and np.unique(v).size == 1


def adam_args(*arrays):
    return (*arrays, 1e-3, 0.9, 0.999, 1.0, 1e-8, 1.0, 1.0, 0.0)


@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros(5, np.float64), ValueError, "v must have the dtype and size of params"),
    (np.zeros(6, np.float32), ValueError, "5 values of float32"),
    (np.zeros(10, np.float32)[::2], TypeError, "C-contiguous"),
    (np.zeros(5, np.int32), TypeError, "float32 or float64"),
    ([0.0] * 5, TypeError, "C-contiguous"),
])
def test_mismatched_state_buffers_are_refused(bad, exc, match):
    p, g, m = (np.zeros(5, np.float32) for _ in range(3))
    with pytest.raises(exc, match=match):
        _kernels.adam(*adam_args(p, g, m, bad))


def test_read_only_parameters_are_refused_and_nothing_is_written():
    p, g, m, v = (np.ones(5, np.float32) for _ in range(4))
    p.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        _kernels.adam(*adam_args(p, g, m, v))
    np.testing.assert_array_equal(m, 1.0)


def test_an_optimizer_keeps_its_state_values_when_the_network_changes_dtype():
    params = np.ones(4, np.float32)
    opt = gn.Adam(0.1)
    opt.step(params, np.full(4, 0.5, np.float32))
    m32 = opt.state["m"].copy()
    params64, grads64 = params.astype(np.float64), np.full(4, 0.5)
    opt.step(params64, grads64)
    assert opt.state["m"].dtype == np.float64
    np.testing.assert_allclose(opt.state["m"], 0.9 * m32 + 0.1 * 0.5, rtol=1e-7)


def test_an_unbuilt_source_tree_says_how_to_build_it(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    source = Path(gn.__file__).parent
    shutil.copytree(source, tmp_path / "glassnet", ignore=shutil.ignore_patterns("*.so", "*.pyd"))
    result = subprocess.run([sys.executable, "-c", "import glassnet"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert "python -m pip install -e ." in result.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (128, 256), (5, 1)])
@pytest.mark.parametrize("impl", IMPLS)
def test_relu_forward_adds_the_bias_and_takes_the_maximum(impl, dtype, shape):
    rng = np.random.default_rng(shape[1])
    Z, b = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    Z.flat[0], Z.flat[-1] = np.nan, -np.inf
    expected_Z = Z + b
    out = np.empty_like(Z)
    impl.relu_forward(Z, b, out)
    np.testing.assert_array_equal(Z, expected_Z)
    np.testing.assert_array_equal(out, np.maximum(expected_Z, 0))  # NaN stays NaN


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("impl", IMPLS)
def test_relu_backward_passes_the_gradient_where_the_output_is_positive(impl, dtype):
    rng = np.random.default_rng(1)
    A = np.maximum(rng.standard_normal((9, 13)), 0).astype(dtype)
    dA = rng.standard_normal((9, 13)).astype(dtype)
    dA[0, :3] = [np.nan, np.inf, np.nan]
    A[0, :3] = [0.0, 0.0, 1.0]
    out = np.empty_like(dA)
    with np.errstate(invalid="ignore"):
        expected = dA * (A > 0)  # NumPy's product: 0 * NaN and 0 * inf are NaN
    with np.errstate(invalid="ignore"):  # the reference warns on 0 * inf, as NumPy does
        impl.relu_backward(dA, A, out)
    np.testing.assert_array_equal(out, expected)


def test_relu_forward_refuses_a_bias_of_the_wrong_size_or_dtype():
    Z, out = np.zeros((4, 6), np.float32), np.zeros((4, 6), np.float32)
    for b in (np.zeros(5, np.float32), np.zeros(3, np.float32), np.zeros(6, np.float64)):
        with pytest.raises(ValueError, match="one value per column"):
            _kernels.relu_forward(Z, b, out)


# -- the sliding-window loops, against their plain-array twins ------------------------------

GEOMETRIES = [  # (n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw)
    (2, 6, 7, 3, 4, 5, 3, 3, 1, 1, 1, 1),
    (1, 8, 9, 2, 3, 3, 2, 3, 3, 3, 1, 1),
    (3, 7, 7, 1, 3, 3, 3, 3, 1, 1, 2, 2),
    (2, 1, 12, 5, 1, 2, 1, 5, 1, 2, 1, 2),  # 1-D: one row
    # Contiguous runs of KW * C values of each length class the gather copies apart:
    (2, 5, 6, 1, 3, 4, 3, 3, 1, 1, 1, 1),  # 3 (element by element)
    (2, 3, 4, 2, 2, 3, 2, 2, 1, 1, 1, 1),  # 4 (one 4-value copy)
    (1, 4, 5, 4, 2, 2, 2, 2, 2, 2, 1, 1),  # 8
    (1, 4, 6, 8, 3, 5, 2, 2, 1, 1, 1, 1),  # 16 (memcpy)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("g", GEOMETRIES)
def test_window_gather_and_scatter_add_match_the_reference(dtype, g):
    rng = np.random.default_rng(sum(g))
    n, H, W, C, OH, OW, KH, KW = g[:8]
    A = rng.standard_normal((n, H, W, C)).astype(dtype)
    cols, expected = (np.empty((n, OH, OW, KH, KW, C), dtype) for _ in range(2))
    _kernels.window_gather(A, cols, *g)
    reference.window_gather(A, expected, *g)
    np.testing.assert_array_equal(cols, expected)
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    dA, dA_ref = np.ones_like(A), np.ones_like(A)  # adds to what is there
    _kernels.window_scatter_add(dA, dcols, *g)
    reference.window_scatter_add(dA_ref, dcols, *g)
    np.testing.assert_allclose(dA, dA_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("g", [(2, 6, 6, 3, 3, 3, 2, 2, 2, 2, 1, 1),
                               (1, 5, 7, 2, 3, 3, 3, 3, 1, 2, 1, 1),
                               (2, 1, 9, 4, 1, 4, 1, 3, 1, 2, 1, 1)])
def test_max_pool_loops_match_the_reference_ties_and_nan_included(dtype, g):
    rng = np.random.default_rng(sum(g))
    n, H, W, C, OH, OW = g[:6]
    A = rng.integers(-2, 3, size=(n, H, W, C)).astype(dtype)  # many ties
    A[0, 0, 0, 0] = np.nan
    out, ref = np.empty((n, OH, OW, C), dtype), np.empty((n, OH, OW, C), dtype)
    arg, arg_ref = np.empty((n, OH, OW, C), np.intc), np.empty((n, OH, OW, C), np.intc)
    _kernels.max_pool_forward(A, out, arg, *g)
    reference.max_pool_forward(A, ref, arg_ref, *g)
    np.testing.assert_array_equal(out, ref)  # NaN where a window holds one
    np.testing.assert_array_equal(arg, arg_ref)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dA, dA_ref = np.zeros_like(A), np.zeros_like(A)
    _kernels.max_pool_backward(dA, dout, arg, *g)
    reference.max_pool_backward(dA_ref, dout, arg_ref, *g)
    np.testing.assert_allclose(dA, dA_ref, **TOL[dtype])


def test_window_loops_refuse_a_geometry_that_does_not_fit():
    A, cols = np.zeros((1, 4, 4, 1), np.float32), np.zeros((1, 3, 3, 3, 3, 1), np.float32)
    with pytest.raises(ValueError, match="the window geometry does not fit the image"):
        _kernels.window_gather(A, cols, 1, 4, 4, 1, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"windows must hold 16 values of float32"):
        _kernels.window_gather(A, cols, 1, 4, 4, 1, 2, 2, 2, 2, 1, 1, 1, 1)
