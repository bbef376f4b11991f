"""Network-level conversions to other libraries' forms: PyTorch modules (:mod:`.torch`)
and ONNX graphs (:mod:`.onnx`). Each loads its library on first use; ``import glassnet``
imports none of them."""
