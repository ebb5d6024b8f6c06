"""The CLI's long commands: a template to every number in a file, and templates sync,
with a progress bar at a terminal (``cli_progress``)."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import BROADCAST
from waport.domain.records import MessageRecord
from waport.service import templates
from waport.service.core import Scope
from waport_http import config
from waport_http.cli_output import print_json
from waport_http.cli_progress import Progress
from waport_http.server import open_components


def numbers_in(path: str) -> list[str]:
    """One number per line; blank lines and ``#`` comments are skipped."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.split("#", 1)[0].strip() for line in file]
    except OSError as exc:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"cannot read {path}: {exc.strerror}", "to_file"
        ) from None
    numbers = [line for line in lines if line]
    if not numbers:
        raise WaportError(ErrorCode.VALIDATION_FAILED, f"{path} holds no number", "to_file")
    return numbers


async def send_to_file(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    """``waport send --to-file FILE --template NAME``: broadcasts of up to 256 rows."""
    if args.template is None:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "--to-file sends a template: give --template", "template"
        )
    numbers = numbers_in(args.to_file)
    template = {"name": args.template, "language": args.language, "params": args.param}
    statuses: Counter[str] = Counter()
    broadcasts: list[str] = []
    async with open_components(loaded) as (messenger, _):
        sender = args.sender
        if sender is None:
            senders = await templates.sender_ids(messenger.core, Scope())
            sender = senders[0] if senders else None
        size = BROADCAST.recipients_max
        with Progress("sending", len(numbers)) as progress:

            def finished(_row: MessageRecord) -> None:
                progress.advance()

            for start in range(0, len(numbers), size):
                body: dict[str, Any] = {
                    "template": template,
                    "recipients": [{"to": n} for n in numbers[start : start + size]],
                }
                if sender is not None:
                    body["sender_id"] = sender
                result = await messenger.broadcast(body, progress=finished)
                broadcasts.append(result.broadcast_id)
                statuses.update(row.status.value for row in result.rows)
                # rows left to the dispatcher (scheduled, retried) count as handled here
                progress.advance(len(result.rows) - progress.done + start)
    print_json({"broadcasts": broadcasts, "statuses": dict(sorted(statuses.items()))})
    return 0 if statuses["failed"] == 0 else 1


async def sync_templates(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    """``waport templates sync``: every sender's catalogue (or ``--sender``'s)."""
    async with open_components(loaded, sync_templates=False) as (messenger, _):  # once, below
        senders = (
            [args.sender] if args.sender else await templates.sender_ids(messenger.core, Scope())
        )
        result: dict[str, int] = {}
        with Progress("syncing templates", len(senders)) as progress:
            for sender in senders:
                result[sender] = await messenger.sync_templates(sender_id=sender)
                progress.advance()
    print_json({"synced": result})
    return 0
