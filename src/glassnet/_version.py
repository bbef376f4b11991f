"""The version, at the lowest level so that the file format can record it."""

__version__ = "0.1.0"
