"""A client generated with ``openapi-python-client`` from the document a real
``waport serve`` serves runs the newcomer flow (``generated/newcomer_flow.py``): typed
models per body and answer (no model named after a status code), and the flow passes
``mypy --strict`` against the generated package."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Server, child_environ, waport_serve

FLOW = Path(__file__).parent / "generated" / "newcomer_flow.py"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with waport_serve(tmp_path_factory.mktemp("generated")) as server:
        yield server


@pytest.fixture(scope="module")
def client_folder(live: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("client")
    with urllib.request.urlopen(live.base + "/openapi.json", timeout=10) as answer:  # noqa: S310
        (folder / "openapi.json").write_bytes(answer.read())
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--meta",
            "none",
            "--path",
            "openapi.json",
            "--output-path",
            "waport_client",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert (folder / "waport_client" / "models" / "message_envelope.py").is_file()
    return folder


def _environ(folder: Path) -> dict[str, str]:
    return {**child_environ(), "PYTHONPATH": str(folder), "MYPYPATH": str(folder)}


def test_the_generated_models_are_named_after_resources(client_folder: Path) -> None:
    models = {p.stem for p in (client_folder / "waport_client" / "models").glob("*.py")}
    assert {"message_envelope", "message_page", "text_send", "template_send"} <= models
    assert {"status_event", "inbound_event", "history_entry"} <= models  # webhooks, typed
    assert not [m for m in models if "response_2" in m or "response_4" in m]


def test_the_newcomer_flow_runs_through_the_generated_client(
    live: Server, client_folder: Path
) -> None:
    ran = subprocess.run(
        [sys.executable, str(FLOW), live.base, live.key],
        env=_environ(client_folder),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "text refused: WINDOW_CLOSED to" in ran.stdout
    assert "history: pending -> sent" in ran.stdout
    assert "conversations: 1" in ran.stdout


def test_the_flow_type_checks_against_the_generated_client(client_folder: Path) -> None:
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--follow-imports",
            "silent",
            str(FLOW),
        ],
        cwd=client_folder,
        env={**_environ(client_folder), "MYPY_CACHE_DIR": os.devnull},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
