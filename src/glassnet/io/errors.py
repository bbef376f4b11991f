"""The one error a model file can raise."""


class ModelFileError(ValueError):
    """A ``.glassnet`` file that cannot be read: missing, damaged, foreign or unsafe."""
