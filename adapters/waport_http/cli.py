"""The ``waport`` command.

    waport serve                      run the gateway (SQLite + sandbox with no configuration)
    waport keys create|list|revoke    manage API keys
    waport send                       send one message (--to-file: a template to many)
    waport templates sync             fetch the template catalogue from the provider
    waport media upload|get           keep a file in the media store, or write one out
    waport messages list [--follow]   messages, newest first (then new ones as they come)
    waport contacts list|show|opt-out|opt-in

Every command reads ``--config FILE`` and ``WAPORT_*`` variables; flags win.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from waport import __version__
from waport.domain.errors import ConfigError, ErrorCode, WaportError
from waport.domain.records import SCOPES
from waport.plugins import PluginContext, Registry
from waport.ports import Store
from waport.service import DEFAULT_WORKSPACE, RandomIds, Scope, SystemClock, keys, templates
from waport_http import cli_bulk, cli_lists, cli_tenants, config
from waport_http.cli_output import print_json, print_secret
from waport_http.logs import configure_logging
from waport_http.server import open_components, serve
from waport_http.views import key_view, media_view, message_view


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waport", description="WhatsApp Business messaging gateway"
    )
    parser.add_argument("--version", action="version", version=f"waport {__version__}")
    parser.add_argument("--config", help="a TOML configuration file")
    parser.add_argument(
        "--database", help="SQLite path, memory:, or postgresql:// URL (WAPORT_DATABASE)"
    )
    parser.add_argument("--provider", help="sandbox, meta, web or a plugin name (WAPORT_PROVIDER)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve_cmd = sub.add_parser("serve", help="run the gateway")
    serve_cmd.add_argument("--listen", help="host:port (WAPORT_LISTEN, default 127.0.0.1:8080)")

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key (printed once)")
    create.add_argument("--scopes", default=",".join(sorted(SCOPES)), help="comma-separated scopes")
    create.add_argument("--senders", help="comma-separated sender ids the key may send from")
    create.add_argument("--label", default="")
    create.add_argument("--rate", type=int, help="requests per minute for this key")
    create.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    keys.add_parser("list", help="list keys").add_argument("--workspace", default=None)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")

    send = sub.add_parser("send", help="send one message (or a template to a file of numbers)")
    to = send.add_mutually_exclusive_group()
    to.add_argument("--to", help="the recipient: E.164 phone number (or the body's own)")
    to.add_argument(
        "--to-file", help="a file of numbers, one per line: the --template goes to each"
    )
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="a text message")
    what.add_argument("--template", help="an approved template's name")
    what.add_argument("--json", help="a whole POST /v1/messages body (--to overrides its 'to')")
    send.add_argument("--language", default="en_US", help="the template's language (en_US)")
    send.add_argument(
        "--param", action="append", default=[], help="a positional template parameter (repeat)"
    )
    send.add_argument("--sender", help="the sender id (default: the workspace's first)")
    send.add_argument(
        "--no-check-window", action="store_true", help="leave the 24-hour window to the provider"
    )

    templates = sub.add_parser("templates", help="templates").add_subparsers(
        dest="templates_command", required=True
    )
    templates.add_parser("sync", help="fetch templates from the provider").add_argument("--sender")

    media = sub.add_parser("media", help="the media store").add_subparsers(
        dest="media_command", required=True
    )
    upload = media.add_parser("upload", help="keep a file; prints its media id")
    upload.add_argument("file")
    upload.add_argument("--mime-type", help="the file's type (default: from its name)")
    get = media.add_parser("get", help="write a media object's bytes to a file")
    get.add_argument("media_id")
    get.add_argument("-o", "--output", required=True, help="the file to write (- for stdout)")

    cli_lists.add_commands(sub)
    cli_tenants.add_commands(sub)
    sub.add_parser("version", help="print the version")
    return parser


def _load(args: argparse.Namespace) -> config.LoadedConfig:
    env = dict(os.environ)
    for flag, variable in (
        ("database", "WAPORT_DATABASE"),
        ("provider", "WAPORT_PROVIDER"),
        ("listen", "WAPORT_LISTEN"),
    ):
        value = getattr(args, flag, None)
        if value:
            env[variable] = value
    return config.load(args.config or env.get("WAPORT_CONFIG"), env)


@asynccontextmanager
async def _store_only(loaded: config.LoadedConfig) -> AsyncIterator[Store]:
    registry = Registry.from_entry_points()
    plugin = registry.store_for(loaded.settings.database)
    ctx = PluginContext(clock=SystemClock(), ids=RandomIds())
    async with plugin.open(
        loaded.plugin_config(plugin.name, plugin.config_type, url=loaded.settings.database), ctx
    ) as store:
        yield store


_print = print_json


async def _keys(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    async with _store_only(loaded) as store:
        clock = SystemClock()
        if args.keys_command == "create":
            new = await keys.operator_issue(
                store,
                clock,
                workspace_id=args.workspace,
                scopes=frozenset(s.strip() for s in args.scopes.split(",") if s.strip()),
                pepper=loaded.settings.key_pepper,
                senders=(
                    frozenset(s.strip() for s in args.senders.split(",")) if args.senders else None
                ),
                rate_per_minute=args.rate,
                label=args.label,
                default_workspace=DEFAULT_WORKSPACE,
            )
            view = {"key": new.secret, **key_view(new.record)}
            print_secret(view, new.secret, new.record.id)
        elif args.keys_command == "list":
            _print([key_view(k) for k in await keys.operator_list(store, args.workspace)])
        elif not await keys.operator_revoke(store, clock, args.key_id):
            print(f"no live key {args.key_id}", file=sys.stderr)
            return 1
        else:
            _print({"revoked": args.key_id})
    return 0


def _json_body(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"--json is not valid JSON: {exc}", "json"
        ) from None
    if not isinstance(body, dict):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            "--json must be a JSON object (a POST /v1/messages body)",
            "json",
        )
    return body


async def _send(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    if args.to_file is not None:
        return await cli_bulk.send_to_file(args, loaded)
    body: dict[str, Any]
    if args.json is not None:
        body = _json_body(args.json)
    elif args.text is not None:
        body = {"text": args.text}
    else:
        body = {
            "template": {"name": args.template, "language": args.language, "params": args.param}
        }
    if args.to is not None:  # flags win over the body's own fields
        body["to"] = args.to
    if args.sender is not None:
        body["sender_id"] = args.sender
    if args.no_check_window:
        body["check_window"] = False
    if "to" not in body:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "--to is required", "to")
    async with open_components(loaded) as (messenger, _):
        if "template" in body and "sender_id" not in body:
            senders = await templates.sender_ids(messenger.core, Scope())
            if senders:
                body["sender_id"] = senders[0]
        result = await messenger.send(body)
        _print(message_view(result.message))
        return 0 if not result.message.status.terminal else 1


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(64 * 1024):
            yield chunk


async def _media(args: argparse.Namespace, loaded: config.LoadedConfig) -> int:
    async with open_components(loaded, sync_templates=False) as (messenger, _):
        if args.media_command == "upload":
            mime = args.mime_type or mimetypes.guess_type(args.file)[0]
            if mime is None:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, "give --mime-type: the name does not say it"
                )
            kept = await messenger.upload_media(
                _file_chunks(args.file), mime_type=mime, filename=os.path.basename(args.file)
            )
            _print(media_view(kept))
            return 0
        found, chunks = await messenger.open_media(args.media_id)
        if args.output == "-":
            async for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            async with await anyio.open_file(args.output, "wb") as out:
                async for chunk in chunks:
                    await out.write(chunk)
        print(f"{found.size} bytes, {found.mime_type}", file=sys.stderr)
        return 0


def loop_options(choice: str) -> dict[str, Any]:
    """anyio's asyncio options for the ``event_loop`` setting (uvloop if chosen or, for
    ``auto``, if installed)."""
    if choice == "asyncio":
        return {}
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("event_loop is uvloop, but uvloop is not installed") from None
        return {}
    return {"loop_factory": uvloop.new_event_loop}


def _plugin_configs() -> dict[str, type[Any]]:
    """Each installed plugin's name and configuration class."""
    registry = Registry.from_entry_points()
    found: dict[str, type[Any]] = {n: p.config_type for n, p in registry.providers.items()}
    return found | {name: plugin.config_type for name, plugin in registry.stores.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"waport {__version__}")
        return 0
    try:
        loaded = _load(args)
        configure_logging(loaded.settings.log_level, loaded.secrets())
        for line in config.unknown_variables(loaded.env, _plugin_configs()):
            print(f"waport: warning: {line}", file=sys.stderr)
        if args.command == "serve":
            anyio.run(serve, loaded, backend_options=loop_options(loaded.settings.event_loop))
            return 0
        if args.command == "keys":
            return anyio.run(_keys, args, loaded)
        if args.command == "send":
            return anyio.run(_send, args, loaded)
        if args.command == "media":
            return anyio.run(_media, args, loaded)
        if args.command == "messages":
            return anyio.run(cli_lists.messages, args, loaded)
        if args.command == "contacts":
            return anyio.run(cli_lists.contacts, args, loaded)
        if args.command in ("workspaces", "senders", "balance"):
            return anyio.run(cli_tenants.run, args, loaded)
        return anyio.run(cli_bulk.sync_templates, args, loaded)
    except ConfigError as exc:
        print(f"waport: configuration error: {exc}", file=sys.stderr)
        return 2
    except WaportError as exc:
        print(f"waport: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
