"""The HTTP gateway page's ``waport`` command lines, run as printed (but ``serve`` and the
PostgreSQL one) on a SQLite file with the sandbox."""

from __future__ import annotations

import json
import os
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from waport.domain.events import InboundMessage
from waport.domain.recipients import parse_recipient
from waport_http import cli, config
from waport_http.server import open_components

PAGE = Path(__file__).resolve().parents[2] / "docs" / "adapters" / "http.md"


def command_lines(which: int = 0) -> list[list[str]]:
    section = PAGE.read_text(encoding="utf-8").split("## The `waport` command", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return [shlex.split(line, comments=True) for line in blocks[which].splitlines()]


async def _message_from(number: str) -> None:
    """The contact writes first, so that a text to them is inside their window."""
    async with open_components(config.load(None, dict(os.environ))) as (messenger, _):
        sender = (await messenger.store.workspaces.senders(messenger.default_workspace))[0]
        inbound = InboundMessage(
            provider=messenger.provider.name,
            provider_message_id="wamid.hello",
            sender_id=sender.id,
            contact=parse_recipient(number),
            received_at=datetime.now(UTC),
            kind="text",
            text="hello",
        )
        await messenger.ingest([inbound])


def test_the_documented_commands_work_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "waport.db"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "numbers.txt").write_text("+255712345678\n# and\n255712345679\n")
    anyio.run(_message_from, "+255712345678")
    lines = command_lines()
    ran = set()
    key_id = None
    for argv in lines:
        assert argv[0] == "waport"
        if "serve" in argv or any(a.startswith("postgresql://") for a in argv):
            continue
        args = [key_id if a == "KEY_ID" else a for a in argv[1:]]
        assert cli.main(args) == 0, (argv, capsys.readouterr().err)
        out = json.loads(capsys.readouterr().out) if args != ["version"] else None
        if args[:2] == ["keys", "create"]:
            key_id = out["id"]
            assert out["senders"] == ["s1"]
            assert out["rate_per_minute"] == 600
        if args[:2] == ["send", "--to-file"]:
            assert out["statuses"] == {"sent": 2}
        elif args[0] == "send":
            assert out["status"] == "sent"
        ran.add(tuple(args[:2]))
    assert len(lines) == 11
    assert {
        ("keys", "create"),
        ("keys", "revoke"),
        ("send", "--json"),
        ("send", "--to-file"),
    } <= ran
    assert {("templates", "sync"), ("version",)} <= ran


def test_the_documented_listings_work_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The listing commands (all but ``--follow``, which never ends) print JSON lines."""
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "waport.db"))
    anyio.run(_message_from, "+255712345678")
    lines = command_lines(1)
    assert len(lines) == 6
    printed = {}
    for argv in lines:
        if "--follow" in argv:
            continue
        assert cli.main(argv[1:]) == 0, (argv, capsys.readouterr().err)
        out = capsys.readouterr().out
        printed[tuple(argv[1:3])] = (
            [json.loads(line) for line in out.splitlines()]
            if argv[2] == "list"
            else json.loads(out)
        )
    assert [m["text"] for m in printed["messages", "list"]] == ["hello"]
    assert [c["phone"] for c in printed["contacts", "list"]] == ["255712345678"]
    assert printed["contacts", "opt-in"]["opted_out"] is False
