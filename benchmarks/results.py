"""benchmarks/RESULTS.md: each benchmark owns one marked section and rewrites only that."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(begin: str, end: str, text: str) -> None:
    """Replace the text between the markers ``begin`` and ``end`` (added if missing)."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in old and end in old:
        new = old[: old.index(begin)] + text + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    RESULTS.write_text(new)
    print(f"wrote {RESULTS}")
