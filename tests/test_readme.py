"""The README's Python example runs exactly as printed."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "the README has a Python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})  # noqa: S102 - our own README


def test_readme_quick_start_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "python -m pip install -e . && python -m waport serve" in text
    assert 'python -m pip install -e ".[dev]" && python -m pytest' in text
