"""The ``.glassnet`` container: a zip of data only, read with every size checked first.

Saving writes a temporary file in the same folder, fsyncs it and renames it over the
target, so a crash leaves the old file or the new one, never half of one; the temporary
file a killed save leaves is deleted by the next save to the same target. Loading never
unpickles (``.npy`` headers are read and checked before any data, ``allow_pickle=False``),
checks every member's size and every array's shape, dtype and (C) memory order, and every
member's CRC (each is read to its end); anything else is a :class:`ModelFileError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import socket
import zipfile
import zlib

import numpy as np

from .codec import jsonable
from .errors import ModelFileError

MAX_CONFIG_BYTES = 1 << 20  # config.json is small; a larger one is not ours
MAX_MEMBERS = 16
MAX_ARRAYS = 4096
MAX_RATIO = 50  # the largest compression ratio believed (text compresses ~10x, floats ~1x)
NPY_SLACK = 1024  # per array: the .npy header and the inner zip's headers
MEMBERS = ("config.json", "weights.npz", "state.npz", "optimizer.npz")


def npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # floats barely compress
        for name, a in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def check_path(path) -> str:
    """``path`` as a str; a TypeError naming what was given otherwise."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.") from None


def check_target(path, example="model.glassnet") -> str:
    """``path`` as a str if a file can be written there; else one error naming it
    (``example``: the file name to suggest for a directory)."""
    path = os.fsdecode(check_path(path))
    if os.path.isdir(path):
        raise ModelFileError(f"{path!r} is a directory; give a file name like {example!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save {path!r}: there is no folder {folder!r}; create it "
                                "first (os.makedirs) or save elsewhere.")
    return path


def _temp_prefix(path) -> str:
    """The start of the temporary names of saves to ``path`` from this host: each is
    ``.tmp-<name>.<host>-<pid>-<random>``, so a later save can tell a dead writer's."""
    host = zlib.crc32(socket.gethostname().encode())
    return f".tmp-{os.path.basename(path)[:100]}.{host:08x}-"


def _remove_stale_temps(folder, prefix):
    """Delete the temporary files that saves to the same target left when their process was
    killed (``kill -9``, a crash): those whose writer, on this host, no longer runs."""
    if os.name != "posix":  # os.kill(pid, 0) only asks whether a process runs on POSIX
        return
    pattern = re.compile(re.escape(prefix) + r"([1-9][0-9]{0,9})-[0-9a-f]{8}")
    for name in os.listdir(folder):
        match = pattern.fullmatch(name)
        if match is None or int(match[1]) == os.getpid():  # our own: another thread's save
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:  # no such process: the file is garbage
            with contextlib.suppress(FileNotFoundError):  # another save cleaned it first
                os.unlink(os.path.join(folder, name))
        except (OSError, OverflowError):  # it runs, as another user; or no pid at all
            pass


def write_atomic(path, config, arrays):
    """Write ``config.json`` and one ``.npz`` member per ``{member: {name: array}}`` of
    ``arrays`` to ``path``, atomically, with the permissions the umask gives a new file."""
    payload = json.dumps(config, default=jsonable, allow_nan=False, indent=1).encode()

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("config.json", payload, zipfile.ZIP_DEFLATED)
            for member, named in arrays.items():
                zf.writestr(member, npz_bytes(named))

    replace_atomic(path, write)


def replace_atomic(path, write, example="model.glassnet"):
    """Create ``path`` atomically with what ``write(f)`` writes to a binary file: the folder
    checked first (``example``: a file name to suggest), a temporary file beside it (those
    of dead writers to the same target removed), fsync, rename, the rename made durable."""
    path = check_target(path, example)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    _remove_stale_temps(folder, prefix)
    tmp = os.path.join(folder, f"{prefix}{os.getpid()}-{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def read_member(zf, info, limit, what):
    if info.file_size > limit:
        raise ModelFileError(
            f"{what} declares {info.file_size} bytes, more than the {limit} expected."
        )
    if info.file_size > MAX_RATIO * info.compress_size + MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{what} would expand {info.compress_size} bytes to {info.file_size}: glassnet "
            "stores weights uncompressed, so this looks like a zip bomb."
        )
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) != info.file_size:
        raise ModelFileError(f"{what} holds {len(data)} bytes, not the {info.file_size} declared.")
    return data


def zip_members(zf, allowed, what):
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS * MAX_ARRAYS:
        raise ModelFileError(f"{what} has {len(infos)} members, far more than expected.")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ModelFileError(f"{what} has duplicate member names.")
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ModelFileError(f"{what} has unexpected members {unknown[:5]}; expected {allowed}.")
    odd = [i.filename for i in infos
           if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or i.flag_bits & 1]
    if odd:
        raise ModelFileError(f"{what} has encrypted or oddly compressed members {odd[:5]}.")
    missing = [n for n in allowed if n not in names]
    if missing:
        raise ModelFileError(f"{what} lacks the members {missing}.")
    return {i.filename: i for i in infos}


def read_npy(data: bytes, shape, dtype, what):
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ModelFileError(f"{what} uses .npy version {version}, which glassnet does not read.")
    try:  # numpy's header parser raises assorted errors (tokenize, syntax) on garbage
        read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
        got_shape, fortran, got_dtype = read_header(f)
    except Exception as exc:
        raise ModelFileError(f"{what} has a damaged .npy header ({exc}).") from None
    if got_dtype != dtype:
        raise ModelFileError(
            f"{what} has dtype {got_dtype.str}, but the network's dtype is {dtype.str}."
        )
    if tuple(got_shape) != tuple(shape):
        raise ModelFileError(
            f"{what} has shape {tuple(got_shape)}, but the config says {tuple(shape)}."
        )
    if fortran:  # read as C order it would hold the transposed numbers
        raise ModelFileError(
            f"{what} is stored in Fortran (column-major) order; glassnet writes C order."
        )
    if len(data) - f.tell() != math.prod(shape) * dtype.itemsize:
        raise ModelFileError(f"{what} holds the wrong number of bytes for shape {tuple(shape)}.")
    # Plain numbers only: the dtype was checked, so nothing here can unpickle.
    return np.frombuffer(data, dtype=dtype, offset=f.tell()).reshape(shape).copy()


def read_npz(data: bytes, specs, dtype, what) -> dict:
    """Arrays of an ``.npz`` whose ``[name, shape]`` are ``specs``, checked before reading."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zip_members(zf, [f"{name}.npy" for name, _ in specs], what)
        arrays = {}
        for name, shape in specs:
            limit = math.prod(shape) * dtype.itemsize + NPY_SLACK
            raw = read_member(zf, infos[f"{name}.npy"], limit, f"{what}/{name}")
            arrays[name] = read_npy(raw, shape, dtype, f"{what}/{name}")
    return arrays


def open_container(path):
    path = check_path(path)
    if os.path.isdir(path):
        raise ModelFileError(f"{path!r} is a directory, not a .glassnet model file.")
    if not os.path.exists(path):
        raise ModelFileError(f"No model file at {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path!r} is not a .glassnet model file (not a zip archive; a truncated file or "
            "one from another program?)."
        )
    return zipfile.ZipFile(path)


# What a damaged or crafted file can make the parsers raise; all become ModelFileError.
READ_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
               RecursionError, EOFError, OSError, RuntimeError, NotImplementedError,
               ArithmeticError, zipfile.BadZipFile, zlib.error, MemoryError)
