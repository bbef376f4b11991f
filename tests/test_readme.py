"""The README's examples run and print what the README shows."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("heading,needs", [("## A first network", None), ("## Images", None),
                                           ("## Export", "onnx"),
                                           ("## Beyond one machine", "distributed")])
def test_readme_example_prints_what_it_shows(heading, needs):
    if needs:
        pytest.importorskip(needs)
    text = README.read_text()
    section = text[text.index(heading):]
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", section, flags=re.S)[:2]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().strip() == shown.strip()
