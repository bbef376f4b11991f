"""The doors out of glassnet for whole models: ONNX for serving (:func:`.onnx.to_onnx`) and
PyTorch modules in (:func:`.torch.from_torch`). The network-level conversions are in
:mod:`glassnet.interop`; this package (level 9, above the estimators) adds what knows
about ``Sequential`` and the scikit-learn estimators. Its modules load on first use
(``gn.to_onnx``, ``gn.from_torch``), so a PyTorch user does not import scikit-learn."""
