"""``waport workspaces``, ``waport senders`` and ``waport balance``: the operator's
commands, on the configured database (the CLI holds it, so it acts as an operator).

    waport workspaces create acme --name "Acme Ltd" --prepaid   # prints its admin key once
    waport workspaces list
    waport workspaces suspend acme
    waport senders add 106540352242922 --workspace acme --phone +255700100001
    waport balance credit acme 50000 --reason "invoice 2026-12"
    waport balance show acme
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from waport.domain.records import OPERATOR, ApiKey
from waport.service import tenants
from waport_http import config
from waport_http.cli_output import print_json, print_secret
from waport_http.routes.tenants import entry_view, sender_view, workspace_view
from waport_http.server import open_components
from waport_http.views import key_view


def add_commands(sub: Any) -> None:
    """The commands, on the ``waport`` parser's subparsers."""
    workspaces = sub.add_parser("workspaces", help="the businesses this gateway serves")
    spaces = workspaces.add_subparsers(dest="workspaces_command", required=True)
    create = spaces.add_parser("create", help="a new workspace; prints its admin key once")
    create.add_argument("id")
    create.add_argument("--name")
    create.add_argument("--tier", help="250, 2000, 10000, 100000 or unlimited")
    create.add_argument("--prepaid", action="store_true", help="prepaid billing (starts at 0)")
    spaces.add_parser("list", help="every workspace")
    for name, text in (
        ("show", "one workspace"),
        ("suspend", "refuse the workspace's sends (BILLING_SUSPENDED)"),
        ("resume", "let a suspended workspace send again"),
    ):
        spaces.add_parser(name, help=text).add_argument("id")
    senders = sub.add_parser("senders", help="a workspace's numbers").add_subparsers(
        dest="senders_command", required=True
    )
    add = senders.add_parser("add", help="a provider's number joins a workspace")
    add.add_argument("id", help="the provider's id (Meta phone number id, WAHA session)")
    add.add_argument("--workspace", required=True)
    add.add_argument("--phone", help="the number people see")
    add.add_argument("--name")
    senders.add_parser("list", help="a workspace's senders").add_argument(
        "--workspace", required=True
    )
    balance = sub.add_parser("balance", help="prepaid balances").add_subparsers(
        dest="balance_command", required=True
    )
    credit = balance.add_parser("credit", help="credit (or, negative, debit) a workspace")
    credit.add_argument("workspace")
    credit.add_argument("amount", type=int, help="in the smallest currency unit")
    credit.add_argument("--reason", required=True)
    show = balance.add_parser("show", help="the balance and the latest ledger entries")
    show.add_argument("workspace")
    show.add_argument("--limit", type=int, default=20)


def _operator(workspace_id: str, now: datetime) -> ApiKey:
    """Who the CLI acts as: an operator of ``workspace_id``."""
    return ApiKey(
        id="cli",
        workspace_id=workspace_id,
        digest="",
        scopes=frozenset({OPERATOR}),
        created_at=now,
    )


_print = print_json


def _tier(text: str) -> int | None:
    return None if text == "unlimited" else int(text)


async def run(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    async with open_components(loaded, sync_templates=False) as (messenger, _):
        core = messenger.core
        pepper = loaded.settings.key_pepper
        if args.command == "workspaces":
            command = args.workspaces_command
            actor = _operator(core.default_workspace, core.clock.now())
            if command == "create":
                body: dict[str, Any] = {"id": args.id}
                if args.name:
                    body["name"] = args.name
                if args.tier:
                    body["messaging_tier"] = _tier(args.tier)
                if args.prepaid:
                    body["billing"] = "prepaid"
                made = await tenants.create_workspace(core, actor, body, pepper=pepper)
                admin = {"key": made.admin_key.secret, **key_view(made.admin_key.record)}
                print_secret(
                    {"admin_key": admin, **workspace_view(made.workspace)},
                    made.admin_key.secret,
                    made.admin_key.record.id,
                )
            elif command == "list":
                for workspace in await tenants.list_workspaces(core, actor):
                    print(json.dumps(workspace_view(workspace), separators=(",", ":")))
            elif command == "show":
                _print(workspace_view(await tenants.get_workspace(core, actor, args.id)))
            else:
                status = "suspended" if command == "suspend" else "active"
                changed = await tenants.patch_workspace(core, actor, args.id, {"status": status})
                _print(workspace_view(changed))
        elif args.command == "senders":
            actor = _operator(args.workspace, core.clock.now())
            await tenants.get_workspace(core, actor, args.workspace)
            if args.senders_command == "add":
                given = {"id": args.id, "phone": args.phone, "name": args.name}
                body = {k: v for k, v in given.items() if v is not None}
                _print(sender_view(await tenants.add_sender(core, actor, body)))
            else:
                for sender in await tenants.list_senders(core, actor):
                    print(json.dumps(sender_view(sender), separators=(",", ":")))
        else:
            actor = _operator(core.default_workspace, core.clock.now())
            if args.balance_command == "credit":
                change = {"amount": args.amount, "reason": args.reason}
                balance = await tenants.credit(core, actor, args.workspace, change)
                _print({"workspace_id": args.workspace, "balance": balance})
            else:
                workspace = await tenants.get_workspace(core, actor, args.workspace)
                page = await tenants.ledger_page(
                    core, actor, args.workspace, {"limit": str(args.limit)}
                )
                _print(
                    {
                        "workspace_id": workspace.id,
                        "balance": workspace.balance,
                        "ledger": [entry_view(e) for e in page.entries],
                    }
                )
        return 0
