"""``waport messages list`` and ``waport contacts list|show|opt-out|opt-in`` on a
database of their own (the commands read and write it as the gateway would)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waport_http import cli

ANA = "255712345678"


def test_listing_and_opting_out_from_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "cli.db"))
    monkeypatch.setenv("WAPORT_SANDBOX_ENFORCE_WINDOW", "false")
    for text in ("first", "second"):
        assert cli.main(["send", "--to", ANA, "--text", text, "--no-check-window"]) == 0
    capsys.readouterr()

    assert cli.main(["messages", "list", "--contact", "+" + ANA]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["summary"] for m in lines] == ["first", "second"]  # oldest first
    assert {(m["to"], m["direction"], m["status"]) for m in lines} == {(ANA, "outbound", "sent")}
    assert cli.main(["messages", "list", "--direction", "inbound"]) == 0
    assert capsys.readouterr().out == ""

    assert cli.main(["contacts", "opt-out", ANA]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["opted_out"] is True
    assert shown["consent"][-1]["source"] == "api"
    assert cli.main(["contacts", "list", "--opted-out"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["phone"], c["opted_out"]) for c in listed] == [(ANA, True)]
    assert cli.main(["contacts", "opt-in", ANA]) == 0
    assert json.loads(capsys.readouterr().out)["opted_out"] is False
    assert cli.main(["contacts", "list", "--opted-out"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["contacts", "show", ANA]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["last_seen"] is not None
    assert [c["opted_out"] for c in shown["consent"]] == [True, False]
    assert cli.main(["contacts", "show", "255700000000"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err
