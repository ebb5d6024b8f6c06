"""``waport messages list`` and ``waport contacts list|show|opt-out|opt-in``: the
listings of the REST API, read from the configured database (the gateway may be
running: SQLite and PostgreSQL both let another process read meanwhile). A listing
prints one JSON object per line (``jq`` reads it); a contact prints one object.

    waport messages list --contact +255712345678 --limit 20
    waport messages list --follow            # then print new messages as they arrive
    waport contacts list --label vip
    waport contacts show +255712345678
    waport contacts opt-out +255712345678
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import anyio

from waport.domain.listing import summary
from waport.domain.records import MessageRecord
from waport.service import Messenger
from waport_http import config
from waport_http.routes.contacts import contact_view, detail_view
from waport_http.server import open_components
from waport_http.views import message_view

FOLLOW_INTERVAL = 1.0
"""Seconds between two looks for new messages with ``--follow``."""


def add_commands(sub: Any) -> None:
    """The ``messages`` and ``contacts`` commands, on the ``waport`` parser's subparsers."""
    messages = sub.add_parser("messages", help="list messages").add_subparsers(
        dest="messages_command", required=True
    )
    listing = messages.add_parser("list", help="messages, newest first")
    listing.add_argument("--contact", help="one contact's messages")
    listing.add_argument("--sender", help="one sender's messages")
    listing.add_argument("--direction", choices=["inbound", "outbound"])
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument(
        "--follow", action="store_true", help="then print new messages as they arrive (Ctrl-C)"
    )
    contacts = sub.add_parser("contacts", help="contacts and opt-out").add_subparsers(
        dest="contacts_command", required=True
    )
    people = contacts.add_parser("list", help="contacts by number")
    people.add_argument("--label")
    people.add_argument("--opted-out", action="store_true", help="only those who opted out")
    people.add_argument("--q", help="the start of the number or the name")
    people.add_argument("--limit", type=int, default=50)
    for name, text in (
        ("show", "what waport knows of a contact"),
        ("opt-out", "opt a contact out (marketing templates are refused to them)"),
        ("opt-in", "opt a contact back in"),
    ):
        contacts.add_parser(name, help=text).add_argument("phone")


def line(record: MessageRecord) -> str:
    """One message as one line of JSON (``GET /v1/messages``' view and a ``summary``)."""
    view = {**message_view(record), "summary": summary(record)}
    return json.dumps(view, ensure_ascii=False, separators=(",", ":"))


async def messages(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    filters = {
        "contact": args.contact,
        "sender_id": args.sender,
        "direction": args.direction,
        "limit": str(args.limit),
    }
    given = {k: v for k, v in filters.items() if v is not None}
    async with open_components(loaded, sync_templates=False) as (messenger, _):
        page = await messenger.list_messages(**given)
        for record in reversed(page.messages):  # oldest first, as a terminal reads
            print(line(record), flush=True)
        if args.follow:
            await _follow(messenger, given, list(page.messages))
    return 0


async def _follow(
    messenger: Messenger, filters: dict[str, str], shown: list[MessageRecord]
) -> None:
    """Print messages newer than those shown, as they arrive, until interrupted."""
    newest = max((m.created_at for m in shown), default=None)
    seen = {m.id for m in shown if m.created_at == newest}
    while True:
        await anyio.sleep(FOLLOW_INTERVAL)
        since = {"since": newest.isoformat()} if newest is not None else {}
        wanted: dict[str, Any] = filters | since | {"limit": "200"}
        page = await messenger.list_messages(**wanted)
        fresh = [m for m in reversed(page.messages) if m.id not in seen]
        for record in fresh:
            print(line(record), flush=True)
        if fresh:
            newest = max(m.created_at for m in fresh)
            seen = {m.id for m in page.messages if m.created_at == newest}


async def contacts(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    async with open_components(loaded, sync_templates=False) as (messenger, _):
        command = args.contacts_command
        if command == "list":
            filters = {"label": args.label, "q": args.q, "limit": str(args.limit)}
            if args.opted_out:
                filters["opted_out"] = "true"
            page = await messenger.list_contacts(
                **{k: v for k, v in filters.items() if v is not None}
            )
            for contact in page.contacts:
                print(json.dumps(contact_view(contact), ensure_ascii=False, separators=(",", ":")))
            return 0
        if command == "show":
            detail = await messenger.get_contact(args.phone)
        else:
            change = {"opted_out": command == "opt-out"}
            detail = await messenger.patch_contact(args.phone, change)
        print(json.dumps(detail_view(detail), indent=2, ensure_ascii=False))
        return 0
