"""Build glassnet's one compiled module, the fused loops of src/glassnet/backend/_kernels.c.

Everything else is in pyproject.toml. The module uses Python's headers only (no NumPy
C API), so building it needs a C compiler and nothing more.
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    flags = ["/O2", "/fp:precise"]
else:
    # -fno-math-errno lets sqrt vectorize; -ffp-contract=off keeps results the same
    # whichever instruction set the loops run on (no fused multiply-add contraction).
    flags = ["-O3", "-fno-math-errno", "-ffp-contract=off"]

setup(
    ext_modules=[
        Extension("glassnet.backend._kernels", ["src/glassnet/backend/_kernels.c"],
                  extra_compile_args=flags)
    ]
)
