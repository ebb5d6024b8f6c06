"""The benchmark scenarios. Each returns a flat dict of figures; ``Sizes`` scales them.

1. ``http_sends``: the gateway (SQLite, durable; Meta adapter to a fake Graph API),
   64 clients in a separate process: the sustained maximum (closed loop), then
   latency at a fixed 1,000 requests/s (open loop); then the closed loop again on a
   gateway with Python's default collector settings (``gc_threshold`` 0).
2. ``broadcast``: a 256-recipient broadcast through the library: the time until all
   rows are committed, then the time until all are attempted at 1,000/s.
3. ``webhooks``: Meta status webhooks, 100 statuses per signed POST, 8 posters; then
   inbound text messages, one per signed POST.
4. ``memory``: the gateway's resident size after N and after 10 N sends.
5. ``library``: CPU per message through waport, pywa and bare aiohttp (see library.py),
   and the Messenger's own work alone and beside HTTP I/O (see beside.py).
6. ``store``: durable sends/s with 100 concurrent senders (sandbox provider, so only
   waport and SQLite are measured), status events/s ingested in batches, database
   bytes per message.
7. ``postgres``: accepted sends/s through 1, 2 and 4 gateway processes on one database,
   with the transactions and WAL flushes each send cost, the SQLite gateway in the same
   run, and one process's p99 in an open loop at 1,000 sends/s; then status batches
   through the store alone (see pg_statuses.py).
8. ``listing``: ``GET /v1/messages`` pages on a million stored messages, SQLite and
   PostgreSQL (see listing.py).
9. ``http_floor``: the HTTP server alone (see floor_server.py), aiohttp as the gateway
   uses it and a bare httptools protocol, against the gateway's send in the same run:
   how much of a send is the server, and what another server could at most save.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from benchmarks import listing as bench_listing
from benchmarks import procs, run_light
from benchmarks.library import PHONE_NUMBER_ID, TOKEN, WABA_ID, contact
from waport import httpkit
from waport.domain.events import StatusUpdate
from waport.domain.status import MessageStatus
from waport.service import Messenger, Policy
from waport.service.clock import RandomIds, SystemClock
from waport_memory import SandboxProvider
from waport_meta.provider import MetaCloudProvider
from waport_sqlite import open_sqlite

Figures = dict[str, Any]
BROADCAST_SIZE = 256


@attrs.frozen
class Sizes:
    http_seconds: float = 30.0
    rate: float = 1000.0
    memory_messages: int = 10_000
    library_messages: int = 10_000
    store_messages: int = 20_000
    webhook_statuses: int = 20_000
    listing_messages: int = 1_000_000

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            http_seconds=2.0,
            rate=200.0,
            memory_messages=300,
            library_messages=300,
            store_messages=500,
            webhook_statuses=500,
            listing_messages=30_000,
        )


def _open_loop(gw: procs.Gateway, sizes: Sizes, *extra: str, offset: int) -> dict[str, Any]:
    """64 clients offering ``sizes.rate`` sends/s for ``sizes.http_seconds``."""
    return procs.load(
        gw,
        "--clients",
        "64",
        "--seconds",
        str(sizes.http_seconds),
        "--rate",
        str(sizes.rate),
        "--offset",
        str(offset),
        *extra,
    )


def http_sends(sizes: Sizes) -> Figures:
    with (
        tempfile.TemporaryDirectory() as folder,
        procs.fake_graph() as graph,
        procs.gateway(Path(folder), graph, max_rps=1_000_000) as gw,
    ):
        procs.load(gw, "--clients", "64", "--seconds", "1", "--offset", "90000000")  # warm up
        mark = _CpuMark.now([gw.pid])
        closed = procs.load(gw, "--clients", "64", "--seconds", str(sizes.http_seconds))
        split = _CpuMark.now([gw.pid]).per_send(mark, closed["accepted"], "sqlite")
        gateway_cpu = split.pop("sqlite_gateway_cpu_us_per_send")  # named as it always was
        opened = _open_loop(gw, sizes, offset=50_000_000)
        # the same open loop answered once stored (Prefer: respond-async), then the time
        # the dispatcher needs to send what is still queued when the load stops
        queued = _open_loop(gw, sizes, "--respond-async", offset=70_000_000)
        drain = procs.drain_seconds(gw.database)
    # the same closed loop with Python's default collector settings (gc_threshold 0)
    with (
        tempfile.TemporaryDirectory() as folder,
        procs.fake_graph() as graph,
        procs.gateway(
            Path(folder), graph, max_rps=1_000_000, env={"WAPORT_GC_THRESHOLD": "0"}
        ) as gw,
    ):
        procs.load(gw, "--clients", "64", "--seconds", "1", "--offset", "90000000")
        default_cpu = procs.cpu_seconds(gw.pid)
        default_gc = procs.load(gw, "--clients", "64", "--seconds", str(sizes.http_seconds))
        default_cpu = procs.cpu_seconds(gw.pid) - default_cpu
    # the same closed loop on the memory store: the gateway with nothing durable, so
    # what the durable store costs a send, and the most any store work could give back
    with (
        tempfile.TemporaryDirectory() as folder,
        procs.fake_graph() as graph,
        procs.gateway(Path(folder), graph, max_rps=1_000_000, database="memory:") as gw,
    ):
        procs.load(gw, "--clients", "64", "--seconds", "1", "--offset", "90000000")
        mark = _CpuMark.now([gw.pid])
        in_memory = procs.load(gw, "--clients", "64", "--seconds", str(sizes.http_seconds))
        split |= _CpuMark.now([gw.pid]).per_send(mark, in_memory["accepted"], "memory_store")
    return split | {
        "max_accepted_per_s": closed["accepted_per_second"],
        "max_p50_ms": closed["p50_ms"],
        "max_p99_ms": closed["p99_ms"],
        "gateway_cpu_us_per_send": gateway_cpu,
        "errors": closed["requests"] - closed["accepted"] + opened["requests"] - opened["accepted"],
        f"at_{int(sizes.rate)}_per_s_accepted_per_s": opened["accepted_per_second"],
        f"at_{int(sizes.rate)}_per_s_p50_ms": opened["p50_ms"],
        f"at_{int(sizes.rate)}_per_s_p99_ms": opened["p99_ms"],
        f"respond_async_at_{int(sizes.rate)}_per_s_accepted_per_s": queued["accepted_per_second"],
        f"respond_async_at_{int(sizes.rate)}_per_s_p50_ms": queued["p50_ms"],
        f"respond_async_at_{int(sizes.rate)}_per_s_p99_ms": queued["p99_ms"],
        "respond_async_queue_drained_after_s": drain,
        "default_gc_max_accepted_per_s": default_gc["accepted_per_second"],
        "default_gc_max_p99_ms": default_gc["p99_ms"],
        "default_gc_cpu_us_per_send": round(default_cpu / max(1, default_gc["requests"]) * 1e6, 1),
        "memory_store_max_accepted_per_s": in_memory["accepted_per_second"],
        "memory_store_vs_sqlite": round(
            in_memory["accepted_per_second"] / max(closed["accepted_per_second"], 1), 2
        ),
    }


@asynccontextmanager
async def _meta_messenger(graph: str, *, max_rps: float, folder: str) -> AsyncIterator[Messenger]:
    async with (
        open_sqlite(str(Path(folder) / "bench.db")) as store,
        aiohttp.ClientSession() as http,
        httpkit.ConnectionPool(graph) as pool,
    ):
        provider = MetaCloudProvider(
            http=http,
            clock=SystemClock(),
            token=TOKEN,
            phone_number_ids=(PHONE_NUMBER_ID,),
            waba_id=WABA_ID,
            graph_url=graph,
            max_rps=max_rps,
            pool=pool,
        )
        messenger = Messenger(
            store=store,
            provider=provider,
            clock=SystemClock(),
            ids=RandomIds(),
            policy=Policy(inline_attempt=False, lookup_cache_ttl=timedelta(seconds=1)),
        )
        await messenger.bootstrap()
        yield messenger


async def _broadcast(graph: str) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        async with _meta_messenger(graph, max_rps=1000, folder=folder) as messenger:
            request = {
                "sender_id": PHONE_NUMBER_ID,
                "template": {"name": "order_update", "language": "en_US", "params": ["Ana", "#1"]},
                "recipients": [{"to": contact(n)} for n in range(BROADCAST_SIZE)],
            }
            started = time.perf_counter()
            result = await messenger.broadcast(request)
            persisted = time.perf_counter() - started
            assert len(result.rows) == BROADCAST_SIZE
            async with asyncio.timeout(60):
                while True:
                    report = await messenger.dispatch_once()
                    rows = (await messenger.get_broadcast(result.broadcast_id)).rows
                    if all(r.status is not MessageStatus.PENDING for r in rows):
                        break
                    if not report.attempted:
                        await asyncio.sleep(0.005)
            attempted = time.perf_counter() - started
            sent = sum(r.status is MessageStatus.SENT for r in rows)
    return {
        "persist_256_ms": round(persisted * 1000, 1),
        "attempt_256_at_1000_per_s_ms": round(attempted * 1000, 1),
        "sent": sent,
    }


def broadcast(sizes: Sizes) -> Figures:
    with procs.fake_graph() as graph:
        return asyncio.run(_broadcast(graph))


def _status_batch(ids: list[str], status: str, at: int) -> bytes:
    statuses = [
        {"id": pid, "status": status, "timestamp": str(at), "recipient_id": "255700000000"}
        for pid in ids
    ]
    return _meta_webhook({"statuses": statuses})


def _inbound_message(n: int, at: int) -> bytes:
    """One customer's text message, alone in its webhook (as Meta delivers most)."""
    sender = contact(n)[1:]
    message = {
        "from": sender,
        "id": f"wamid.bench-in-{n}",
        "timestamp": str(at),
        "type": "text",
        "text": {"body": "Where is my order?"},
    }
    profile = {"profile": {"name": "Ana"}, "wa_id": sender}
    return _meta_webhook({"contacts": [profile], "messages": [message]})


def _meta_webhook(fields: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        **fields,
    }
    hook = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(hook, separators=(",", ":")).encode()


async def _post_webhooks(url: str, bodies: list[bytes], posters: int) -> tuple[float, int]:
    queue = iter(bodies)
    failures = 0

    async def poster(http: aiohttp.ClientSession) -> None:
        nonlocal failures
        for body in queue:
            signature = hmac.new(procs.APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": f"sha256={signature}",
            }
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                failures += response.status != 200  # noqa: PLR2004

    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(poster(http) for _ in range(posters)))
    return time.perf_counter() - started, failures


def webhooks(sizes: Sizes) -> Figures:
    messages = sizes.webhook_statuses // 2
    with (
        tempfile.TemporaryDirectory() as folder,
        procs.fake_graph() as graph,
        procs.gateway(Path(folder), graph, max_rps=1_000_000) as gw,
    ):
        ids_file = Path(folder) / "ids.txt"
        procs.load(gw, "--clients", "64", "--messages", str(messages), "--ids", str(ids_file))
        ids = ids_file.read_text().split()
        at = int(time.time())
        bodies = [
            _status_batch(ids[i : i + 100], status, at)
            for status in ("delivered", "read")
            for i in range(0, len(ids), 100)
        ]
        cpu = procs.cpu_seconds(gw.pid)
        elapsed, failures = run_light(_post_webhooks(f"{gw.url}/webhooks/meta", bodies, 8))
        cpu = procs.cpu_seconds(gw.pid) - cpu
        inbound = [_inbound_message(n, at) for n in range(messages // 5)]
        in_cpu = procs.cpu_seconds(gw.pid)
        in_elapsed, in_failures = run_light(_post_webhooks(f"{gw.url}/webhooks/meta", inbound, 8))
        in_cpu = procs.cpu_seconds(gw.pid) - in_cpu
    events = 2 * len(ids)
    return {
        "status_events_per_s": round(events / elapsed, 1),
        "gateway_cpu_us_per_event": round(cpu / events * 1e6, 1),
        "events": events,
        "failed_posts": failures + in_failures,
        "inbound_messages_per_s": round(len(inbound) / in_elapsed, 1),
        "gateway_cpu_us_per_inbound": round(in_cpu / len(inbound) * 1e6, 1),
    }


def _closed_loop(name: str, server: procs.Gateway, sizes: Sizes) -> Figures:
    """64 clients, closed loop, for ``sizes.http_seconds``: the rate, p99 and the
    server's CPU per request (after a second of warm-up)."""
    procs.load(server, "--clients", "64", "--seconds", "1", "--offset", "90000000")
    cpu = procs.cpu_seconds(server.pid)
    closed = procs.load(server, "--clients", "64", "--seconds", str(sizes.http_seconds))
    cpu = procs.cpu_seconds(server.pid) - cpu
    return {
        f"{name}_accepted_per_s": closed["accepted_per_second"],
        f"{name}_p99_ms": closed["p99_ms"],
        f"{name}_cpu_us_per_request": round(cpu / max(1, closed["requests"]) * 1e6, 1),
    }


def http_floor(sizes: Sizes) -> Figures:
    """What the HTTP server alone costs a request (``benchmarks.floor_server``: aiohttp
    as the gateway uses it, and a bare httptools protocol) against the gateway's send,
    in the same run."""
    with (
        tempfile.TemporaryDirectory() as folder,
        procs.fake_graph() as graph,
        procs.gateway(Path(folder), graph, max_rps=1_000_000) as gw,
    ):
        figures = _closed_loop("gateway", gw, sizes)
    for kind in ("aiohttp", "raw"):
        with procs.floor_server(kind) as server:
            figures |= _closed_loop(kind, server, sizes)
    gateway, aiohttp_cpu, raw = (
        figures[f"{name}_cpu_us_per_request"] for name in ("gateway", "aiohttp", "raw")
    )
    figures["aiohttp_share_of_gateway"] = round(aiohttp_cpu / gateway, 2)
    figures["raw_saves_us_per_request"] = round(aiohttp_cpu - raw, 1)
    figures["raw_saves_share_of_gateway"] = round((aiohttp_cpu - raw) / gateway, 2)
    return figures


def memory(sizes: Sizes) -> Figures:
    small, large = sizes.memory_messages, sizes.memory_messages * 10
    with (
        tempfile.TemporaryDirectory() as folder,
        procs.fake_graph() as graph,
        procs.gateway(Path(folder), graph, max_rps=1_000_000) as gw,
    ):
        procs.load(gw, "--clients", "64", "--messages", str(small))
        after_small = procs.rss_bytes(gw.pid)
        procs.load(gw, "--clients", "64", "--messages", str(large - small), "--offset", str(small))
        after_large = procs.rss_bytes(gw.pid)
        database = sum(p.stat().st_size for p in Path(folder).glob("waport.db*"))
    return {
        f"rss_after_{small}_mb": round(after_small / 2**20, 1),
        f"rss_after_{large}_mb": round(after_large / 2**20, 1),
        "growth_mb": round((after_large - after_small) / 2**20, 1),
        "db_bytes_per_message": round(database / large),
    }


def library(sizes: Sizes) -> Figures:
    n = str(sizes.library_messages)
    figures: Figures = {}
    with procs.fake_graph() as graph:
        for client in ("aiohttp", "waport", "pywa"):
            result = procs.library(client, graph, "--messages", n)
            figures[f"{client}_cpu_us"] = result["cpu_us_per_message"]
        # the same, with the collector set as ``waport serve`` sets it (tune_gc)
        tuned = procs.library("waport", graph, "--messages", n, "--gc-threshold", "10000")
        figures["waport_gc_tuned_cpu_us"] = tuned["cpu_us_per_message"]
        # the same on the memory store: what the durable SQLite path costs on top
        memory = procs.library(
            "waport", graph, "--messages", n, "--gc-threshold", "10000", "--store", "memory"
        )
        figures["waport_memory_cpu_us"] = memory["cpu_us_per_message"]
        # both stores again with the sandbox provider (no HTTP): the store's own cost,
        # without the noise of the provider's requests
        sandbox = ("--messages", n, "--gc-threshold", "10000", "--provider", "sandbox")
        for store in ("sqlite", "memory"):
            alone = procs.library("waport", graph, *sandbox, "--store", store)
            figures[f"waport_sandbox_{store}_cpu_us"] = alone["cpu_us_per_message"]
        # the Meta adapter without its keep-alive pool: every request through aiohttp
        plain = procs.library("waport", graph, "--messages", n, "--transport", "aiohttp")
        figures["waport_aiohttp_transport_cpu_us"] = plain["cpu_us_per_message"]
        # the Messenger's own work (no I/O) alone, the floor's request alone, and both
        for mode in ("messenger", "http", "both"):
            result = procs.library(mode, graph, "--messages", n, module="beside")
            figures[f"beside_{mode}_cpu_us"] = result["cpu_us_per_message"]
            if mode != "http":
                figures[f"beside_{mode}_messenger_part_us"] = result["messenger_cpu_us_per_message"]
    figures["sqlite_over_memory_us"] = round(
        figures["waport_gc_tuned_cpu_us"] - figures["waport_memory_cpu_us"], 1
    )
    figures["sandbox_sqlite_over_memory_us"] = round(
        figures["waport_sandbox_sqlite_cpu_us"] - figures["waport_sandbox_memory_cpu_us"], 1
    )
    for name in ("waport", "waport_gc_tuned", "waport_memory"):
        figures[f"{name}_over_aiohttp"] = round(
            figures[f"{name}_cpu_us"] / figures["aiohttp_cpu_us"], 2
        )
        figures[f"{name}_over_pywa"] = round(figures[f"{name}_cpu_us"] / figures["pywa_cpu_us"], 3)
    return figures


async def _store(sizes: Sizes) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        async with open_sqlite(str(Path(folder) / "bench.db")) as store:
            provider = SandboxProvider(
                clock=SystemClock(), sender_ids=(PHONE_NUMBER_ID,), max_rps=math.inf
            )
            messenger = Messenger(
                store=store,
                provider=provider,
                clock=SystemClock(),
                ids=RandomIds(),
                policy=Policy(lookup_cache_ttl=timedelta(seconds=1)),
            )
            await messenger.bootstrap()
            template = {"name": "hello_world", "language": "en_US"}
            sender_id = PHONE_NUMBER_ID
            numbers = iter(range(sizes.store_messages))
            provider_ids: list[str] = []

            async def sender() -> None:
                for n in numbers:
                    result = await messenger.send(
                        {"to": contact(n), "sender_id": sender_id, "template": template}
                    )
                    assert result.status is MessageStatus.SENT, result.status
                    provider_ids.append(result.message.provider_message_id or "")

            started = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(100)))
            sends = time.perf_counter() - started
            updates = [
                StatusUpdate(
                    provider=provider.name,
                    provider_message_id=pid,
                    status=MessageStatus.DELIVERED,
                    at=datetime.now(UTC),
                )
                for pid in provider_ids
            ]
            started = time.perf_counter()
            for i in range(0, len(updates), 100):
                await messenger.ingest(updates[i : i + 100])
            ingest = time.perf_counter() - started
        size = _size(Path(folder), "bench.db*")
    return {
        "durable_sends_per_s_100_senders": round(sizes.store_messages / sends, 1),
        "status_events_per_s_batches_of_100": round(len(updates) / ingest, 1),
        "db_bytes_per_message": round(size / sizes.store_messages),
    }


def _size(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


def store(sizes: Sizes) -> Figures:
    return asyncio.run(_store(sizes))


def postgres(sizes: Sizes) -> Figures:
    """Accepted sends/s through 1, 2 and 4 gateway processes sharing one PostgreSQL
    database (a server started here from the distribution's binaries), 64 clients in
    all, split evenly over the processes."""
    from benchmarks import pg_statuses
    from waport_postgres import server as pg_server

    figures: Figures = {}
    folder = Path(tempfile.mkdtemp(prefix="waport-bench-pg-"))
    try:
        url = pg_server.start(folder)
        with procs.fake_graph() as graph:
            with (
                tempfile.TemporaryDirectory() as there,  # the SQLite gateway, in the same run
                procs.gateway(Path(there), graph, max_rps=1_000_000) as sqlite_gw,
            ):
                procs.load(sqlite_gw, "--clients", "64", "--seconds", "1", "--offset", "90000000")
                cpu = _CpuMark.now([sqlite_gw.pid])
                closed = procs.load(
                    sqlite_gw, "--clients", "64", "--seconds", str(sizes.http_seconds)
                )
                figures |= _CpuMark.now([sqlite_gw.pid]).per_send(
                    cpu, closed["accepted"], "sqlite_gateway"
                )
            figures["sqlite_gateway_accepted_per_s"] = closed["accepted_per_second"]
            for count in (1, 2, 4):
                figures.update(_processes(sizes, url, graph, count, _postmaster(folder)))
        # status batches through the store alone (no gateway), half as many messages
        # as the webhooks scenario's statuses, each delivered and then read
        figures |= asyncio.run(pg_statuses.status_batches(url, sizes.webhook_statuses // 2))
    finally:
        pg_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
    one, sqlite = figures["processes_1_accepted_per_s"], figures["sqlite_gateway_accepted_per_s"]
    figures["processes_1_vs_sqlite"] = round(float(one) / float(sqlite), 2)
    # what the ratio would be if the machine's CPU alone set both rates (every process
    # of the run shares its cores): SQLite's CPU a send over PostgreSQL's
    figures["processes_1_vs_sqlite_by_machine_cpu"] = round(
        figures["sqlite_gateway_machine_cpu_us_per_send"]
        / max(figures["processes_1_machine_cpu_us_per_send"], 1),
        2,
    )
    return figures


def _commits(url: str) -> tuple[int, int]:
    """Transactions PostgreSQL committed so far in the benchmark's database
    (``pg_stat_database.xact_commit``: every commit, a batch of many sends' writes or a
    lone read) and the WAL flushes it made (``pg_stat_wal.wal_sync``: what a durable
    commit waits for; a read-only transaction makes none)."""

    async def read() -> tuple[int, int]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow(
                "SELECT (SELECT xact_commit FROM pg_stat_database"
                "  WHERE datname = current_database()) AS commits,"
                " (SELECT wal_sync FROM pg_stat_wal) AS flushes"
            )
            return int(row["commits"]), int(row["flushes"])
        finally:
            await conn.close()

    return asyncio.run(read())


@attrs.frozen
class _CpuMark:
    """Where the machine's CPU has gone so far: the gateways, the database server (none
    for SQLite, which runs inside the gateway) and the machine in all."""

    gateways: float
    server: float | None
    machine: float
    at: float

    @classmethod
    def now(cls, gateways: list[int], server: int | None = None) -> _CpuMark:
        return cls(
            gateways=sum(procs.cpu_seconds(pid) for pid in gateways),
            server=procs.tree_cpu_seconds(server) if server is not None else None,
            machine=procs.machine_busy_seconds(),
            at=time.monotonic(),
        )

    def per_send(self, since: _CpuMark, sends: int, name: str) -> Figures:
        """CPU µs a send of each (the machine's: everything that ran, the load
        generator and the fake Graph API too) and the cores the machine kept busy."""
        sends = max(sends, 1)
        server: Figures = {}
        if self.server is not None and since.server is not None:
            server[f"{name}_server_cpu_us_per_send"] = round(
                (self.server - since.server) / sends * 1e6
            )
        return server | {
            f"{name}_gateway_cpu_us_per_send": round(
                (self.gateways - since.gateways) / sends * 1e6
            ),
            f"{name}_machine_cpu_us_per_send": round((self.machine - since.machine) / sends * 1e6),
            f"{name}_machine_busy_cores": round(
                (self.machine - since.machine) / max(self.at - since.at, 1e-9), 2
            ),
        }


def _postmaster(folder: Path) -> int:
    return int((folder / "data" / "postmaster.pid").read_text().split()[0])


def _processes(sizes: Sizes, url: str, graph: str, count: int, server: int) -> Figures:
    schema = f"bench{count}_{os.getpid()}"
    env = {"WAPORT_POSTGRES_SCHEMA": schema, "WAPORT_POSTGRES_POOL_MAX": "16"}
    with contextlib.ExitStack() as stack:
        folders = [Path(stack.enter_context(tempfile.TemporaryDirectory())) for _ in range(count)]
        first = stack.enter_context(
            procs.gateway(folders[0], graph, max_rps=1_000_000, database=url, env=env)
        )
        gateways = [first] + [
            stack.enter_context(
                procs.gateway(
                    folder, graph, max_rps=1_000_000, database=url, key=first.key, env=env
                )
            )
            for folder in folders[1:]
        ]
        clients = str(64 // count)
        seconds = str(sizes.http_seconds)
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            list(
                pool.map(
                    lambda gw: procs.load(
                        gw,
                        "--clients",
                        clients,
                        "--seconds",
                        "1",
                        "--offset",
                        str(90_000_000 + gw.pid),
                    ),
                    gateways,
                )
            )
            before = _commits(url)
            cpu = _CpuMark.now([gw.pid for gw in gateways], server)
            results = list(
                pool.map(
                    lambda pair: procs.load(
                        pair[1],
                        "--clients",
                        clients,
                        "--seconds",
                        seconds,
                        "--offset",
                        str(pair[0] * 10_000_000),
                    ),
                    enumerate(gateways),
                )
            )
            cpu_split = _CpuMark.now([gw.pid for gw in gateways], server).per_send(
                cpu, sum(r["accepted"] for r in results), f"processes_{count}"
            )
            time.sleep(1.5)  # backends report their counts to the statistics within a second
            after = _commits(url)
            commits, flushes = after[0] - before[0], after[1] - before[1]
            opened: Figures = {}
            if count == 1:  # open loop at 1,000/s: the latency a steady stream sees
                steady = procs.load(
                    first,
                    "--clients",
                    "256",
                    "--rate",
                    "1000",
                    "--seconds",
                    seconds,
                    "--offset",
                    "50000000",
                )
                opened = {
                    "processes_1_open_1000_p99_ms": steady["p99_ms"],
                    "processes_1_open_1000_accepted_per_s": steady["accepted_per_second"],
                }
    accepted = sum(r["accepted"] for r in results)
    return (
        opened
        | cpu_split
        | {
            f"processes_{count}_commits_per_send": round(commits / max(accepted, 1), 3),
            f"processes_{count}_wal_flushes_per_send": round(flushes / max(accepted, 1), 3),
            f"processes_{count}_accepted_per_s": round(
                sum(r["accepted_per_second"] for r in results), 1
            ),
            f"processes_{count}_p99_ms": max(r["p99_ms"] for r in results),
            f"processes_{count}_errors": sum(r["requests"] - r["accepted"] for r in results),
        }
    )


def listing(sizes: Sizes) -> Figures:
    """Pages of ``GET /v1/messages`` on ``sizes.listing_messages`` stored messages."""
    from waport_postgres import server as pg_server

    figures = asyncio.run(bench_listing.on_sqlite(sizes.listing_messages))
    folder = Path(tempfile.mkdtemp(prefix="waport-bench-pg-"))
    try:
        url = pg_server.start(folder)
        figures |= asyncio.run(bench_listing.on_postgres(url, sizes.listing_messages))
    finally:
        pg_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return figures


SCENARIOS = {
    "http_sends": http_sends,
    "http_floor": http_floor,
    "broadcast": broadcast,
    "webhooks": webhooks,
    "memory": memory,
    "library": library,
    "store": store,
    "postgres": postgres,
    "listing": listing,
}
