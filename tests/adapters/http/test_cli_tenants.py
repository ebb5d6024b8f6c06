"""``waport workspaces``, ``waport senders`` and ``waport balance`` on a database of their
own: the operator's commands, as the REST API's operator endpoints do them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waport_http import cli


def test_an_operator_runs_businesses_from_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "cli.db"))
    assert cli.main(["workspaces", "create", "acme", "--name", "Acme", "--prepaid"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["id"], made["name"], made["billing"], made["balance"]) == (
        "acme",
        "Acme",
        "prepaid",
        0,
    )
    assert made["admin_key"]["key"].startswith("wpk_")
    assert cli.main(["workspaces", "create", "acme"]) == 1
    assert "WORKSPACE_EXISTS" in capsys.readouterr().err

    assert (
        cli.main(["senders", "add", "1065", "--workspace", "acme", "--phone", "+255700100001"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["workspace_id"] == "acme"
    assert cli.main(["senders", "list", "--workspace", "acme"]) == 0
    assert [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()] == ["1065"]
    assert cli.main(["senders", "add", "1065", "--workspace", "default"]) == 1
    assert "SENDER_IN_USE" in capsys.readouterr().err

    assert cli.main(["balance", "credit", "acme", "500", "--reason", "invoice 1"]) == 0
    assert json.loads(capsys.readouterr().out)["balance"] == 500
    assert cli.main(["balance", "credit", "acme", "-501", "--reason", "fee"]) == 1
    assert "INSUFFICIENT_BALANCE" in capsys.readouterr().err
    assert cli.main(["balance", "show", "acme"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["balance"] == 500
    assert [(e["kind"], e["amount"], e["reason"]) for e in shown["ledger"]] == [
        ("credit", 500, "invoice 1")
    ]

    assert cli.main(["workspaces", "suspend", "acme"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "suspended"
    assert cli.main(["workspaces", "list"]) == 0
    listed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(w["id"], w["status"]) for w in listed] == [
        ("acme", "suspended"),
        ("default", "active"),
    ]
    assert cli.main(["workspaces", "resume", "acme"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "active"
    assert cli.main(["workspaces", "show", "acme"]) == 0
    assert json.loads(capsys.readouterr().out)["balance"] == 500
