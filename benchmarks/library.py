"""CPU per message on the library path, in a process of its own.

    python -m benchmarks.library waport|pywa|aiohttp GRAPH_URL --messages 10000

Sends the same text messages to the same fake Graph API three ways and prints one
JSON line with the process CPU time per message (``time.process_time``; the fake
server runs in another process, so only the sender's own work is counted):

- ``waport``: a ``Messenger`` on a durable SQLite store (``synchronous=FULL``) with the
  Meta adapter as ``open_meta`` builds it (its keep-alive pool; ``--transport aiohttp``
  sends through the aiohttp session instead): every message is validated,
  window-checked, persisted before the attempt, sent, and its outcome persisted;
- ``pywa``: pywa's asyncio client (``pywa_async``), the best-known Python peer;
- ``aiohttp``: a bare ``aiohttp`` client posting hand-built Cloud API payloads (the floor).

All three keep ``--concurrency`` sends in flight, on the standard asyncio loop unless
``--loop uvloop`` (give every client the same loop for a fair comparison). Waport's windows are opened by
recording one inbound message per contact first, outside the measured part.
``--statements`` prints instead where the SQLite store's time goes, statement by
statement (``benchmarks.statements``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.statements import Statements
from waport import httpkit
from waport.domain.events import InboundMessage
from waport.domain.recipients import parse_recipient
from waport.ports import Provider, Store
from waport.service import Messenger, Policy, tune_gc
from waport.service.clock import RandomIds, SystemClock
from waport_memory import MemoryStore, SandboxProvider
from waport_meta.provider import MetaCloudProvider
from waport_sqlite import open_sqlite

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "test-token"
API_VERSION = "v25.0"
WABA_ID = "102290129340398"


def contact(n: int) -> str:
    return f"+2557{n:08d}"


async def _drive(send: Callable[[int], Awaitable[None]], messages: int, concurrency: int) -> None:
    numbers = iter(range(messages))

    async def worker() -> None:
        for n in numbers:
            await send(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(
    send: Callable[[int], Awaitable[None]], messages: int, concurrency: int
) -> dict[str, float]:
    cpu, loop, wall = time.process_time(), time.thread_time(), time.perf_counter()
    await _drive(send, messages, concurrency)
    cpu, loop = time.process_time() - cpu, time.thread_time() - loop
    wall = time.perf_counter() - wall
    return {
        "messages": messages,
        "cpu_us_per_message": round(cpu / messages * 1e6, 1),
        "loop_cpu_us_per_message": round(loop / messages * 1e6, 1),
        "messages_per_second": round(messages / wall, 1),
    }


@asynccontextmanager
async def _store(kind: str) -> AsyncIterator[Store]:
    if kind == "memory":
        yield MemoryStore()
        return
    with tempfile.TemporaryDirectory() as folder:
        async with open_sqlite(str(Path(folder) / "bench.db")) as store:
            yield store


def make_provider(
    kind: str,
    http: aiohttp.ClientSession,
    graph_url: str,
    pool: httpkit.ConnectionPool | None = None,
) -> Provider:
    if kind == "sandbox":
        return SandboxProvider(clock=SystemClock(), sender_ids=(PHONE_NUMBER_ID,), max_rps=math.inf)
    return MetaCloudProvider(
        http=http,
        clock=SystemClock(),
        token=TOKEN,
        phone_number_ids=(PHONE_NUMBER_ID,),
        graph_url=graph_url,
        max_rps=math.inf,
        pool=pool,
    )


async def ready_messenger(store: Store, provider: Provider, contacts: int) -> Messenger:
    """A bootstrapped Messenger whose first ``contacts`` contacts have each written once,
    so that texts to them are inside their window (outside the measured part)."""
    messenger = Messenger(
        store=store,
        provider=provider,
        clock=SystemClock(),
        ids=RandomIds(),
        policy=Policy(lookup_cache_ttl=timedelta(seconds=1), sync_templates_on_start=False),
    )
    await messenger.bootstrap()
    now = datetime.now(UTC)
    await messenger.ingest(
        [
            InboundMessage(
                provider=messenger.provider.name,
                provider_message_id=f"wamid.in{n}",
                sender_id=PHONE_NUMBER_ID,
                contact=parse_recipient(contact(n)),
                received_at=now,
                kind="text",
                text="hi",
            )
            for n in range(contacts)
        ]
    )
    return messenger


async def run_waport(
    graph_url: str,
    messages: int,
    concurrency: int,
    *,
    store: str = "sqlite",
    provider: str = "meta",
    transport: str = "pool",
    statements: bool = False,
) -> dict[str, Any]:
    async with (
        _store(store) as opened,
        aiohttp.ClientSession() as http,
        httpkit.ConnectionPool(graph_url) as pool,
    ):
        chosen = make_provider(provider, http, graph_url, pool if transport == "pool" else None)
        messenger = await ready_messenger(opened, chosen, messages)
        timed = Statements()
        if statements:
            timed.watch(opened)

        async def send(n: int) -> None:
            result = await messenger.send({"to": contact(n), "text": {"body": f"Your code is {n}"}})
            if result.status.value != "sent":
                raise RuntimeError(f"message {n} was not sent: {result.status}")

        figures = await measure(send, messages, concurrency)
        if statements:  # the timing costs CPU itself: only its breakdown is reported
            return {"messages": messages, "statements": timed.per_message(messages)}
        return figures


async def run_pywa(graph_url: str, messages: int, concurrency: int) -> dict[str, float]:
    import httpx
    from pywa_async import WhatsApp

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as session:
        wa = WhatsApp(phone_id=PHONE_NUMBER_ID, token=TOKEN, session=session)
        session.base_url = f"{graph_url}/{API_VERSION}"

        async def send(n: int) -> None:
            await wa.send_message(to=contact(n)[1:], text=f"Your code is {n}")

        return await measure(send, messages, concurrency)


async def run_aiohttp(graph_url: str, messages: int, concurrency: int) -> dict[str, float]:
    url = f"{graph_url}/{API_VERSION}/{PHONE_NUMBER_ID}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:

        async def send(n: int) -> None:
            payload = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": contact(n)[1:],
                "type": "text",
                "text": {"body": f"Your code is {n}"},
            }
            async with http.post(url, json=payload, headers=headers) as response:
                answer = await response.json()
            if "messages" not in answer:
                raise RuntimeError(f"message {n} was refused: {answer}")

        return await measure(send, messages, concurrency)


RUNNERS = {"waport": run_waport, "pywa": run_pywa, "aiohttp": run_aiohttp}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client", choices=sorted(RUNNERS))
    parser.add_argument("graph_url")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=0,
        help="apply waport.service.tune_gc(N) before sending (0: Python's defaults)",
    )
    parser.add_argument(
        "--store", choices=("sqlite", "memory"), default="sqlite", help="waport only"
    )
    parser.add_argument(
        "--provider",
        choices=("meta", "sandbox"),
        default="meta",
        help="waport only (sandbox: no HTTP)",
    )
    parser.add_argument(
        "--transport",
        choices=("pool", "aiohttp"),
        default="pool",
        help="waport only: the Meta adapter's keep-alive pool, or every request through aiohttp",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="waport on SQLite only: time each kind of statement (benchmarks.statements)",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop (the same for every client makes a fair comparison)",
    )
    args = parser.parse_args()
    if args.statements and (args.client != "waport" or args.store != "sqlite"):
        parser.error("--statements times the SQLite store: waport with --store sqlite only")
    options = (
        {
            "store": args.store,
            "provider": args.provider,
            "transport": args.transport,
            "statements": args.statements,
        }
        if args.client == "waport"
        else {}
    )
    tune_gc(args.gc_threshold)
    sending = RUNNERS[args.client](args.graph_url, args.messages, args.concurrency, **options)
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(sending)
    else:
        result = asyncio.run(sending)
    print(json.dumps({"client": args.client, **result}))


if __name__ == "__main__":
    main()
