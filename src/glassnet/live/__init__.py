"""Watching a run as it happens: ``LiveView`` (a local page in the browser, fed by
server-sent events) and ``TensorBoard`` (event files for TensorBoard); both callbacks."""

from .tensorboard import TensorBoard
from .view import LiveView

__all__ = ["LiveView", "TensorBoard"]
