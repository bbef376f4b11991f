"""The ``.glassnet`` file: ``container`` (the zip, its limits, the atomic write,
``ModelFileError``), ``codec`` (tagged JSON) and ``state`` (a network's layers, weights,
optimizer and generator state). Every format version glassnet has written stays readable.
"""

from .codec import Decoder, decode, encode
from .container import READ_ERRORS
from .errors import ModelFileError
from .state import FORMAT_VERSION, KINDS, architecture, load, resume_into, save_network, transplant

__all__ = [
    "FORMAT_VERSION", "KINDS", "READ_ERRORS", "Decoder", "ModelFileError", "architecture", "decode",
    "encode", "load", "resume_into", "save_network", "transplant",
]
