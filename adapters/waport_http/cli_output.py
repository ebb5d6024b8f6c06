"""What the CLI prints: JSON documents, and keys that are shown only once.

A key's document puts the key first (``waport keys create | head -3`` still shows it).
When standard output is gone (a closed pipe) the key is not lost: it is written to a
file only this user can read, named on standard error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


def print_secret(value: dict[str, Any], secret: str, key_id: str) -> None:
    """``value``, which shows ``secret`` (put it first); the secret is saved to a 0600
    file when standard output fails."""
    try:
        print_json(value)
    except BrokenPipeError:
        path = _save(secret, key_id)
        # nothing more may reach the closed pipe (Python would complain at exit)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(
            f"waport: standard output closed before the key was shown; it is in {path}"
            " (readable by you only: read it, then delete the file)",
            file=sys.stderr,
        )


def _save(secret: str, key_id: str) -> Path:
    for folder in (Path.cwd(), Path.home()):
        path = folder / f"waport-key-{key_id}.txt"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secret + "\n")
        return path
    raise OSError("no folder to keep the key in (the working folder and home are not writable)")
