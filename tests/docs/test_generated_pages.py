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


def test_every_included_example_uses_the_snippet_syntax_and_exists() -> None:
    """A mangled ``--8<--`` line renders as text instead of the example; catch it."""
    import re

    root = GENERATOR.parents[1]
    for page in (root / "docs").rglob("*.md"):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"^\s*-+\s*8\s*<", line):
                match = re.fullmatch(r'--8<-- "([^":]+)(?::\w+)?"', line.strip())
                assert match, f"{page.name}:{number}: {line!r} is not a snippet include"
                assert (root / match.group(1)).is_file(), f"{page.name}:{number}: no such file"
