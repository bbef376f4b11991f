"""Tagged JSON: plain JSON, with tuples, dicts with any keys, non-finite floats and small
one-dimensional arrays tagged, so a config round-trips exactly and holds data only.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ModelFileError

MAX_DECODED_BYTES = 16 << 20  # all the arrays of one config.json together (classes_, names)
MAX_ITEMSIZE = 4096  # bytes per array item: strings of up to 1024 characters
#: The Python type of an array's items, by dtype kind (bools are not numbers here).
ITEM_TYPES = {"b": (bool, "bools"), "i": (int, "ints"), "u": (int, "ints"),
              "f": ((int, float), "numbers"), "U": (str, "strings"), "O": (str, "strings")}


def jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{value!r} ({type(value).__name__}) cannot be stored in a .glassnet file")


def encode(value):
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
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.ndim == 1 and (
            value.dtype.kind in "biufU" or all(isinstance(v, str) for v in value)):
        return {"array": [encode(v) for v in value.tolist()], "dtype": value.dtype.str}
    raise TypeError(f"{type(value).__name__} values cannot be stored")


class Decoder:
    """:func:`decode` for all the values of one file, its arrays sharing one budget of
    ``max_bytes``, so that many arrays of long strings cannot add up to gigabytes."""

    def __init__(self, max_bytes=MAX_DECODED_BYTES):
        self.max_bytes = self.left = max_bytes

    def __call__(self, value):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict) and len(value) == 1 and "tuple" in value:
            return tuple(self(value["tuple"]))
        if isinstance(value, dict) and len(value) == 1 and "dict" in value:
            return {_hashable(self(k)): self(v) for k, v in value["dict"]}
        if isinstance(value, dict) and value.keys() == {"float"} and \
                value["float"] in ("inf", "-inf", "nan"):
            return float(value["float"])
        if isinstance(value, dict) and value.keys() == {"array", "dtype"}:
            return self._array(value["array"], value["dtype"])
        raise ModelFileError(
            f"config.json holds a value glassnet does not understand: {value!r:.80}")

    def _array(self, items, name):
        try:
            dtype = np.dtype(name) if isinstance(name, str) else None
        except TypeError:
            dtype = None
        if dtype is None:
            raise ModelFileError(f"config.json: an array's dtype must name a NumPy dtype, "
                                 f"got {name!r:.40}.")
        if dtype.kind not in ITEM_TYPES or dtype.itemsize > MAX_ITEMSIZE or \
                not isinstance(items, list):
            raise ModelFileError(f"an array of dtype {dtype} is not allowed in config.json.")
        size = len(items) * dtype.itemsize
        if size > self.left:  # checked before a single item is made
            raise ModelFileError(
                f"config.json: its arrays would take more than {self.max_bytes} bytes (at one "
                f"of {len(items)} items of dtype {dtype.str})."
            )
        self.left -= size
        items = [self(v) for v in items]
        kinds, what = ITEM_TYPES[dtype.kind]
        limits = np.iinfo(dtype) if dtype.kind in "iu" else None
        if limits is not None:
            what = f"ints in [{limits.min}, {limits.max}]"
        for v in items:
            if not isinstance(v, kinds) or isinstance(v, bool) != (dtype.kind == "b") or \
                    limits is not None and not limits.min <= v <= limits.max:
                raise ModelFileError(f"config.json: an array of dtype {dtype.str} may hold "
                                     f"only {what}, not {v!r:.40}.")
        return np.array(items, dtype=dtype)


def decode(value):
    """The value ``encode`` wrote, from its JSON; a :class:`ModelFileError` otherwise."""
    return Decoder()(value)


def _hashable(key):
    if isinstance(key, (list, dict)):
        raise ModelFileError(f"config.json: a dict key must be a number or a string: {key!r:.80}")
    return key
