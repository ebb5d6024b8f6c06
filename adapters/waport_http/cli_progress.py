"""A progress bar for the CLI's long commands, drawn only for a person at a terminal.

It draws on stderr, and only when both stdout and stderr are terminals: piped or
redirected output (JSON for a script, a log file) never gets a control character.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

WIDTH = 30
EVERY = 0.1  # seconds between redraws


class Progress:
    def __init__(
        self, label: str, total: int, *, stream: TextIO | None = None, shown: bool | None = None
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self.stream = stream or sys.stderr
        self.shown = shown if shown is not None else sys.stdout.isatty() and self.stream.isatty()
        self._drawn_at = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn_at >= EVERY or self.done >= self.total:
            self._drawn_at = now
            self._draw()

    def line(self) -> str:
        filled = WIDTH * self.done // self.total if self.total else WIDTH
        bar = "#" * filled + "." * (WIDTH - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total}"

    def _draw(self) -> None:
        if self.shown:
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def __enter__(self) -> Progress:
        self._draw()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.shown:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
