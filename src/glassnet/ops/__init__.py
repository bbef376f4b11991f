"""Activations, losses, initializers and metrics: the math of one layer or one loss."""
