import io
import os
import warnings
import zipfile

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")


def summary_text(net):
    """``net.summary()``'s table as one string (it prints, as Keras's, and returns None)."""
    lines = []
    assert net.summary(print_fn=lines.append) is None
    return "\n".join(lines)


def start_alike(sk, ours, units, seed=0, bound=0.6):
    """Make scikit-learn's ``sk`` and glassnet's ``ours`` start from the same weights (the
    one place these tests reach past the public API: scikit-learn's ``_init_coef`` and
    glassnet's ``_build``, patched on the instances). Returns ``(sk, ours)``.
    """
    rng = np.random.default_rng(seed)
    pairs = [(rng.uniform(-bound, bound, (a, b)), rng.uniform(-bound, bound, b))
             for a, b in zip(units[:-1], units[1:])]
    draws = iter(pairs)
    sk._init_coef = lambda fan_in, fan_out, dtype: tuple(a.astype(dtype, copy=True)
                                                         for a in next(draws))
    build = ours._build

    def _build(*args, **kwargs):
        net = build(*args, **kwargs)
        for layer, (W, b) in zip([l for l in net.layers if l.kind == "dense"], pairs):
            layer.W[...], layer.b[...] = W, b
        return net

    ours._build = _build
    return sk, ours


def quiet_fit(est, *args):
    """``est.fit(*args)`` with its warnings (the short fits' ConvergenceWarning) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args)


def zip_members(blob):
    """The members of a zip file's bytes, by name."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}
