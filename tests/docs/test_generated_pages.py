"""The generated reference pages match the code (errors, limits, config, capabilities, REST)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

GENERATOR = Path(__file__).resolve().parents[2] / "docs" / "_generate.py"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("docs_generate", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "page",
    [
        "reference/errors.md",
        "reference/limits.md",
        "reference/config.md",
        "adapters/capabilities.md",
        "reference/rest.md",
        "reference/openapi.json",
    ],
)
def test_generated_page_is_current(page: str) -> None:
    generator = _generator()
    committed = (GENERATOR.parent / page).read_text(encoding="utf-8")
    assert committed == generator.PAGES[page](), f"{page} is stale: run python docs/_generate.py"


def test_every_error_code_is_documented() -> None:
    from waport import ErrorCode

    text = (GENERATOR.parent / "reference" / "errors.md").read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"`{code.value}`" in text


def test_the_code_shown_in_the_docs_is_the_tested_code() -> None:
    """Every block marked ``<!-- code: path -->`` (README and docs) equals its file, which
    the suite runs: ``python docs/_inline.py`` rewrites them."""
    spec = importlib.util.spec_from_file_location("docs_inline", GENERATOR.parent / "_inline.py")
    assert spec is not None
    assert spec.loader is not None
    inline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inline)
    marked = 0
    for page in inline.pages():
        text = page.read_text(encoding="utf-8")
        marked += text.count("<!-- code: ")
        assert inline.inline(text) == text, f"{page.name}: run python docs/_inline.py"
        assert "--8<--" not in text, f"{page.name}: show the code inline (<!-- code: path -->)"
    assert marked >= 8
    drifted = "<!-- code: tests/docs/test_first_message.py -->\n```python\nold\n```\n"
    assert "old" not in inline.inline(drifted)
