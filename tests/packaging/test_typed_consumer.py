"""Every package is typed (PEP 561): a consumer's project passes ``mypy --strict``
using the core, the adapters and the gateway's configuration, and a type error in it
is still found (the packages' types are read, not ignored as ``Any``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import waport
import waport_http
import waport_memory
import waport_meta
import waport_postgres
import waport_pytest
import waport_sqlite
import waport_web

CONSUMER = """
from waport import parse_send_request
from waport.service import Messenger
from waport.service import RandomIds, SystemClock
from waport_http import config
from waport_memory import MemoryStore, SandboxProvider
from waport_meta import MetaCloudProvider
from waport_sqlite import SqliteStore
from waport_web import WahaProvider

message = parse_send_request({"to": "255712345678", "text": "hi"})
port: int = config.load(None, {}).settings.port
kinds: list[type[object]] = [MetaCloudProvider, SqliteStore, WahaProvider]


async def send_one() -> str:
    clock = SystemClock()
    provider = SandboxProvider(clock=clock)
    async with Messenger(
        store=MemoryStore(), provider=provider, clock=clock, ids=RandomIds()
    ) as messenger:
        result = await messenger.send(
            {"to": "255712345678", "template": {"name": "hello_world", "language": "en_US"}}
        )
        return result.message_id
"""


@pytest.mark.parametrize(
    "package",
    [
        waport,
        waport_http,
        waport_memory,
        waport_meta,
        waport_postgres,
        waport_pytest,
        waport_sqlite,
        waport_web,
    ],
)
def test_every_package_is_marked_typed(package: object) -> None:
    folder = Path(package.__file__).parent  # type: ignore[attr-defined]
    assert (folder / "py.typed").is_file()


def _mypy(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    (folder / "consumer.py").write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "consumer.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_consumer_project_passes_mypy_strict(tmp_path: Path) -> None:
    clean = _mypy(tmp_path, CONSUMER)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    wrong = _mypy(tmp_path, CONSUMER + "\nnumber: int = message.to\n")
    assert wrong.returncode == 1
    assert 'Incompatible types in assignment (expression has type "Recipient"' in wrong.stdout
