"""The CLI's rough edges (issue 29), one test each: ``--version``; a configuration error
(a bad database path, a log level that is none) exits 2 with a one-line hint; a
misspelled ``WAPORT_*`` variable is named, with the variable meant; a start that cannot
bind creates no key (the next start shows it); a key shown once survives a closed
standard output, and comes first for ``| head``."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import child_environ
from waport_http import cli


def _env(**extra: str) -> dict[str, str]:
    return {**child_environ(), **extra}


@pytest.fixture(autouse=True)
def _no_suite_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process commands read this environment: without the suite's WAPORT_*."""
    for name in [n for n in os.environ if n.startswith("WAPORT_")]:
        monkeypatch.delenv(name)


def _waport(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waport_http.cli", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "waport 0.1.0"


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"WAPORT_DATABASE": "/no/such/folder/w.db"}, "WAPORT_DATABASE (or --database) is"),
        ({"WAPORT_LOG_LEVEL": "loud"}, "log_level must be one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_a_configuration_error_exits_2_with_a_hint(
    env: dict[str, str],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "w.db"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["keys", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("waport: configuration error: ")
    assert said in err
    assert len(err.strip().splitlines()) == 1


def test_a_misspelled_variable_is_named_with_the_one_meant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", "memory:")
    monkeypatch.setenv("WAPORT_RATE_LIMIT_PER_MINUT", "10")
    monkeypatch.setenv("WAPORT_META_TOKN", "x")
    monkeypatch.setenv("WAPORT_NOTHING_LIKE_IT", "1")
    monkeypatch.setenv("WAPORT_META_TOKEN", "fine")  # a plugin's own variable: known
    assert cli.main(["keys", "list"]) == 0
    warned = capsys.readouterr().err.splitlines()
    assert warned == [
        "waport: warning: WAPORT_META_TOKN is not a waport setting and is ignored"
        " (did you mean WAPORT_META_TOKEN?)",
        "waport: warning: WAPORT_NOTHING_LIKE_IT is not a waport setting and is ignored",
        "waport: warning: WAPORT_RATE_LIMIT_PER_MINUT is not a waport setting and is ignored"
        " (did you mean WAPORT_RATE_LIMIT_PER_MINUTE?)",
    ]


def test_a_start_that_cannot_bind_creates_no_key(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        failed = _waport(
            "serve",
            cwd=tmp_path,
            WAPORT_LISTEN=f"127.0.0.1:{port}",
            WAPORT_DATABASE=str(tmp_path / "w.db"),
        )
    assert failed.returncode == 2
    assert "cannot listen on" in failed.stderr
    assert "WAPORT_KEY" not in failed.stdout + failed.stderr
    listed = _waport("keys", "list", cwd=tmp_path, WAPORT_DATABASE=str(tmp_path / "w.db"))
    assert json.loads(listed.stdout) == []  # so the next start is a first start, with a key


def test_a_key_survives_a_closed_standard_output(tmp_path: Path) -> None:
    database = str(tmp_path / "w.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "waport_http.cli", "keys", "create", "--label", "ci"],
        cwd=tmp_path,
        env=_env(WAPORT_DATABASE=database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # like `| head` that has already left
    with process.stderr:
        err = process.stderr.read()
    assert process.wait(timeout=60) == 0, err
    assert "Traceback" not in err
    saved = next(tmp_path.glob("waport-key-*.txt"))
    assert str(saved) in err
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    secret = saved.read_text().strip()
    assert secret.startswith("wpk_")
    listed = _waport("keys", "list", cwd=tmp_path, WAPORT_DATABASE=database)
    key_id = saved.name.removeprefix("waport-key-").removesuffix(".txt")
    assert [k["id"] for k in json.loads(listed.stdout)] == [key_id]

    shown = _waport("keys", "create", cwd=tmp_path, WAPORT_DATABASE=database)
    first_lines = shown.stdout.splitlines()[:3]  # what `| head -3` keeps
    assert any('"key": "wpk_' in line for line in first_lines)
