"""docs/python.md runs as written: its ```python blocks, in order, in one
namespace, from the repository's root."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_tutorial_runs_as_written(capsys):
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 10, "the tutorial's code blocks"
    namespace = {"__name__": "__tutorial__"}
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        for i, block in enumerate(blocks):
            try:
                exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"block {i + 1} failed:\n{block}") from e
    finally:
        os.chdir(here)
    printed = capsys.readouterr().out
    # the error examples printed the messages the page promises
    assert "argument `x` expects an array of float32" in printed
    assert "division by zero" in printed
    assert "scale" in printed
    assert "x.rechunk({1: -1})" in printed
