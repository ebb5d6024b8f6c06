"""The Getting started page's curl commands, run as printed against a real ``waport serve``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import waport_serve

PAGE = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"


def curl_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    return [
        command.strip()
        for block in blocks
        for command in block.replace("\\\n", " ").splitlines()
        if command.strip().startswith("curl")
    ]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_quickstart_works_as_printed(tmp_path: Path) -> None:
    commands = curl_commands()
    assert len(commands) == 5
    with waport_serve(tmp_path) as server:
        port = server.base.rsplit(":", 1)[1]
        answers = []
        for command in commands:
            run = subprocess.run(
                ["bash", "-c", command.replace("localhost:8080", f"127.0.0.1:{port}")],
                env={**os.environ, "KEY": server.key},
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            answers.extend(
                json.loads(line)
                for line in run.stdout.replace("}{", "}\n{").splitlines()
                if line.strip()
            )
    assert answers[0]["error"]["code"] == "WINDOW_CLOSED"
    assert answers[1]["status"] == "sent"
    assert answers[2]["data"]["direction"] == "inbound"
    assert answers[3]["status"] == "sent"
    assert answers[4]["data"]["within_window"] is True
