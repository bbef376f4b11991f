"""Tagged JSON: plain JSON, with tuples, dicts with any keys, non-finite floats and small
one-dimensional arrays tagged, so a config round-trips exactly and holds data only.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ModelFileError

MAX_DECODED_BYTES = 16 << 20  # an array in config.json (classes_, names)


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


def decode(value):
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict) and len(value) == 1 and "tuple" in value:
        return tuple(decode(value["tuple"]))
    if isinstance(value, dict) and len(value) == 1 and "dict" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["dict"]}
    if isinstance(value, dict) and value.keys() == {"float"} and \
            value["float"] in ("inf", "-inf", "nan"):
        return float(value["float"])
    if isinstance(value, dict) and value.keys() == {"array", "dtype"}:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biufUO" or dtype.itemsize > 4096 or \
                not isinstance(value["array"], list):
            raise ModelFileError(f"an array of dtype {dtype} is not allowed in config.json.")
        if len(value["array"]) * dtype.itemsize > MAX_DECODED_BYTES:
            raise ModelFileError(
                f"config.json: an array of {len(value['array'])} items of dtype {dtype.str} "
                f"would take more than {MAX_DECODED_BYTES} bytes."
            )
        items = decode(value["array"])
        if dtype.kind == "O" and not all(isinstance(v, str) for v in items):
            raise ModelFileError("object arrays in config.json may hold only strings.")
        return np.array(items, dtype=dtype)
    raise ModelFileError(f"config.json holds a value glassnet does not understand: {value!r:.80}")


def _hashable(key):
    if isinstance(key, (list, dict)):
        raise ModelFileError(f"config.json: a dict key must be a number or a string: {key!r:.80}")
    return key
