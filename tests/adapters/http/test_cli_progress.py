"""Progress bars for the CLI's long commands (a template to a file of numbers, templates
sync): drawn at a terminal (a pseudo-terminal here), never into piped output."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import child_environ
from waport_http.cli_progress import Progress

NUMBERS = "+255712345678\n# the shop's regulars\n\n255712345679\n+255 712 345 680\n"


def _env(folder: Path) -> dict[str, str]:
    return {**child_environ(), "WAPORT_DATABASE": str(folder / "w.db")}


def _at_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run ``waport`` with stdout and stderr on a pseudo-terminal; all it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "waport_http.cli", *args],
        cwd=cwd,
        env=_env(cwd),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode()


def test_a_broadcast_from_a_file_shows_its_progress_at_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "numbers.txt").write_text(NUMBERS)
    code, seen = _at_a_terminal(
        "send", "--to-file", "numbers.txt", "--template", "hello_world", cwd=tmp_path
    )
    assert code == 0, seen
    assert "\rsending [" in seen
    assert "] 3/3" in seen
    assert f"[{'#' * 30}] 3/3" in seen
    assert '"sent": 3' in seen

    code, seen = _at_a_terminal("templates", "sync", cwd=tmp_path)
    assert code == 0, seen
    assert "\rsyncing templates [" in seen
    assert "] 1/1" in seen


def _piped(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waport_http.cli", *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_piped_output_has_no_bar(tmp_path: Path) -> None:
    (tmp_path / "numbers.txt").write_text(NUMBERS)
    done = _piped("send", "--to-file", "numbers.txt", "--template", "hello_world", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["statuses"] == {"sent": 3}
    assert len(answer["broadcasts"]) == 1


def test_a_file_without_numbers_or_a_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("# nobody yet\n\n")
    for args, said in (
        (["--to-file", "empty.txt", "--template", "hello_world"], "holds no number"),
        (["--to-file", "missing.txt", "--template", "hello_world"], "cannot read missing.txt"),
        (["--to-file", "empty.txt", "--text", "hi"], "give --template"),
    ):
        done = _piped("send", *args, cwd=tmp_path)
        assert done.returncode == 1
        assert said in done.stderr


def test_the_bar_counts_and_draws_only_when_shown() -> None:
    stream = io.StringIO()
    with Progress("work", 4, stream=stream, shown=True) as bar:
        bar.advance(2)
        assert bar.line() == f"work [{'#' * 15}{'.' * 15}] 2/4"
        bar.advance(2)
    assert stream.getvalue().endswith(f"\rwork [{'#' * 30}] 4/4\n")
    hidden = io.StringIO()
    with Progress("work", 4, stream=hidden, shown=False) as bar:
        bar.advance(4)
    assert hidden.getvalue() == ""
