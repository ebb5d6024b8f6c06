"""``python -m benchmarks --profile``: the table it prints from py-spy's folded stacks."""

from __future__ import annotations

from pathlib import Path

from benchmarks import profile


def test_functions_are_counted_once_per_stack_and_self_where_on_top(tmp_path: Path) -> None:
    (tmp_path / "gateway-1.folded").write_text(
        "main (/x/cli.py:3);send (/x/send.py:10);send (/x/send.py:12);encode (/y/codec.py:5) 6\n"
        "main (/x/cli.py:3);send (/x/send.py:10) 2\n"
        "main (/x/cli.py:3);poll (/z/loop.py:1) 2\n"
        "not a stack line\n"
    )
    rows = profile.table(tmp_path).splitlines()
    assert rows[0] == "gateway-1: 10 samples at 200/s"
    assert "| 100.0 % | 0.0 % | `main (cli.py)` |" in rows
    assert "| 80.0 % | 20.0 % | `send (send.py)` |" in rows  # two lines of one function: once
    assert "| 60.0 % | 60.0 % | `encode (codec.py)` |" in rows
    assert "| 20.0 % | 20.0 % | `poll (loop.py)` |" in rows
    by_self = rows[rows.index("most self:") + 4 :]
    assert by_self[0] == "| 60.0 % | 60.0 % | `encode (codec.py)` |"  # the most on top first


def test_a_gateway_that_could_not_be_sampled_says_why(tmp_path: Path) -> None:
    (tmp_path / "gateway-2.error").write_text("Permission denied\n")
    assert profile.table(tmp_path) == "gateway-2: not sampled: Permission denied"
    assert profile.table(tmp_path / "none") == f"no profile in {tmp_path / 'none'}"
