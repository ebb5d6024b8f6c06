"""Keep the code shown in the docs equal to the tested files it comes from.

    python docs/_inline.py           # rewrite every marked block from its file
    python docs/_inline.py --check   # fail if a block differs from its file (CI)

A block is marked by the comment line before its fence:

    <!-- code: tests/plugin_example/waport_echo/provider.py -->
    <!-- code: tests/docs/test_integrator_example.py:compose -->

The whole file, or the lines between ``# --8<-- [start:NAME]`` and ``# --8<-- [end:NAME]``
(dedented). So the page's raw markdown shows the code (on the package index and on
GitHub too), and the code itself runs in the test suite.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"^<!-- code: (?P<path>[^ :]+)(?::(?P<section>\w+))? -->$")
FENCE = re.compile(r"^```\w*$")


def source(path: str, section: str | None) -> str:
    text = (ROOT / path).read_text(encoding="utf-8")
    if section is None:
        return text.rstrip("\n") + "\n"
    start = re.search(rf"^\s*# --8<-- \[start:{section}\]\n", text, re.MULTILINE)
    end = re.search(rf"^\s*# --8<-- \[end:{section}\]$", text, re.MULTILINE)
    if start is None or end is None:
        raise ValueError(f"{path} has no section {section}")
    return textwrap.dedent(text[start.end() : end.start()]).rstrip("\n") + "\n"


def inline(page: str) -> str:
    """The page with every marked block's fence filled from its file."""
    lines = page.splitlines(keepends=True)
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        mark = MARK.match(line.strip())
        if mark is None:
            continue
        if index >= len(lines) or not FENCE.match(lines[index].strip()):
            raise ValueError(f"{line.strip()} is not followed by a code fence")
        out.append(lines[index])  # the opening fence
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            index += 1  # the old content
        if index == len(lines):
            raise ValueError(f"the block after {line.strip()} is never closed")
        out.append(source(mark["path"], mark["section"]))
    return "".join(out)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def main(argv: list[str]) -> int:
    stale = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        fresh = inline(text)
        if fresh == text:
            continue
        if "--check" in argv:
            stale.append(str(page.relative_to(ROOT)))
        else:
            page.write_text(fresh, encoding="utf-8")
            print(f"wrote {page.relative_to(ROOT)}")
    if stale:
        print("stale code in: " + ", ".join(stale) + " (run python docs/_inline.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
