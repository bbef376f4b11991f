import os

os.environ.setdefault("MPLBACKEND", "Agg")


def summary_text(net):
    """``net.summary()``'s table as one string (it prints, as Keras's, and returns None)."""
    lines = []
    assert net.summary(print_fn=lines.append) is None
    return "\n".join(lines)
