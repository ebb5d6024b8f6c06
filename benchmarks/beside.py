"""Does code cost more beside HTTP I/O? The Messenger's own CPU, alone and interleaved.

    python -m benchmarks.beside http|messenger|both GRAPH_URL [--messages 10000]

Each of ``--concurrency`` workers repeats, per message, one or both of:

- ``messenger``: ``Messenger.send`` of a text message with the in-memory store and the
  sandbox provider (no I/O: the call never suspends);
- ``http``: the bare aiohttp floor of ``benchmarks.library`` (one POST to the fake Graph
  API, the answer read).

Prints one JSON line: the process CPU per message, and the thread CPU spent inside the
``Messenger.send`` calls alone (measured around each call, which does not suspend, so it
counts only the Messenger's own work). If parts cost the same together as apart,
``both`` is the sum of the other two and its Messenger part equals ``messenger``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from benchmarks.library import (
    API_VERSION,
    PHONE_NUMBER_ID,
    TOKEN,
    contact,
    make_provider,
    measure,
    ready_messenger,
)
from waport.service import tune_gc
from waport_memory import MemoryStore


async def run(mode: str, graph_url: str, messages: int, concurrency: int) -> dict[str, float]:
    url = f"{graph_url}/{API_VERSION}/{PHONE_NUMBER_ID}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    inside = 0.0
    async with aiohttp.ClientSession() as http:
        provider = make_provider("sandbox", http, graph_url)
        messenger = await ready_messenger(MemoryStore(), provider, messages)

        async def send(n: int) -> None:
            nonlocal inside
            body = f"Your code is {n}"
            if mode != "http":
                started = time.thread_time()
                await messenger.send({"to": contact(n), "text": {"body": body}})
                inside += time.thread_time() - started
            if mode != "messenger":
                payload = {
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": contact(n)[1:],
                    "type": "text",
                    "text": {"body": body},
                }
                async with http.post(url, json=payload, headers=headers) as response:
                    await response.read()

        result = await measure(send, messages, concurrency)
    return {**result, "messenger_cpu_us_per_message": round(inside / messages * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("http", "messenger", "both"))
    parser.add_argument("graph_url")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    tune_gc(10_000)
    result = asyncio.run(run(args.mode, args.graph_url, args.messages, args.concurrency))
    print(json.dumps({"mode": args.mode, **result}))


if __name__ == "__main__":
    main()
