"""A load generator, run as a process of its own: concurrent clients POSTing sends.

    python -m benchmarks.loadgen BASE_URL KEY --clients 64 --seconds 30 --sender ID
    python -m benchmarks.loadgen BASE_URL KEY --clients 64 --rate 1000 --seconds 30 ...
    python -m benchmarks.loadgen BASE_URL KEY --clients 64 --messages 100000 ...
    python -m benchmarks.loadgen BASE_URL KEY ... --respond-async

Closed loop by default: each client sends its next request as soon as the last one
is answered, which finds the sustained maximum. With ``--rate`` the requests are
scheduled at that total rate (open loop) and each latency is measured from the
request's scheduled start, so a stalled server cannot hide its queue (no
coordinated omission). Prints one JSON line: requests, accepted (200/202), answers
by status, latency percentiles in ms and the accepted rate; ``--ids FILE`` also
writes the provider message ids it was given, one per line. ``--respond-async`` sends
``Prefer: respond-async``: answered once stored, attempted by the dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from itertools import count

import aiohttp
import attrs

from benchmarks import run_light

ACCEPTED = (200, 202)


@attrs.define
class Load:
    base: str
    key: str
    sender: str
    clients: int = 64
    seconds: float = 10.0
    rate: float | None = None
    messages: int | None = None
    offset: int = 0
    respond_async: bool = False


@attrs.define
class Tally:
    latencies: list[float] = attrs.Factory(list)
    statuses: Counter[int] = attrs.Factory(Counter)
    provider_ids: list[str] = attrs.Factory(list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)


def body(sender: str, n: int) -> bytes:
    return json.dumps(
        {
            "to": f"+2557{n:08d}",
            "sender_id": sender,
            "template": {"name": "order_update", "language": "en_US", "params": ["Ana", f"#{n}"]},
        }
    ).encode()


async def run(load: Load) -> tuple[Tally, float]:
    tally = Tally()
    numbers = count(load.offset)
    limit = None if load.messages is None else load.offset + load.messages
    headers = {"Authorization": f"Bearer {load.key}", "Content-Type": "application/json"}
    if load.respond_async:
        headers["Prefer"] = "respond-async"
    url = f"{load.base}/v1/messages"
    started = time.perf_counter()
    deadline = started + load.seconds
    interval = None if load.rate is None else load.clients / load.rate

    async def client(http: aiohttp.ClientSession, index: int) -> None:
        due = started + (0.0 if interval is None else interval * index / load.clients)
        while True:
            if interval is not None:
                pause = due - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            begin = due if interval is not None else time.perf_counter()
            if begin >= deadline and load.messages is None:
                return
            n = next(numbers)
            if limit is not None and n >= limit:
                return
            async with http.post(url, data=body(load.sender, n), headers=headers) as response:
                answer = await response.read()
            tally.latencies.append(time.perf_counter() - begin)
            tally.statuses[response.status] += 1
            if response.status == 200:  # noqa: PLR2004
                pid = json.loads(answer)["data"].get("provider_message_id")
                if pid:
                    tally.provider_ids.append(pid)
            if interval is not None:
                due += interval

    connector = aiohttp.TCPConnector(limit=load.clients)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(client(http, i) for i in range(load.clients)))
    return tally, time.perf_counter() - started


def summary(tally: Tally, elapsed: float) -> dict[str, object]:
    accepted = sum(tally.statuses[s] for s in ACCEPTED)
    return {
        "requests": len(tally.latencies),
        "accepted": accepted,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "seconds": round(elapsed, 2),
        "accepted_per_second": round(accepted / elapsed, 1),
        "p50_ms": tally.percentile(0.50),
        "p90_ms": tally.percentile(0.90),
        "p99_ms": tally.percentile(0.99),
        "max_ms": tally.percentile(1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("key")
    parser.add_argument("--sender", required=True)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="total requests per second (open loop)")
    parser.add_argument("--messages", type=int, help="stop after this many (instead of --seconds)")
    parser.add_argument("--offset", type=int, default=0, help="the first recipient number")
    parser.add_argument("--ids", help="write the provider message ids to this file")
    parser.add_argument("--respond-async", action="store_true", help="send Prefer: respond-async")
    args = parser.parse_args()
    load = Load(
        base=args.base,
        key=args.key,
        sender=args.sender,
        clients=args.clients,
        seconds=args.seconds,
        rate=args.rate,
        messages=args.messages,
        offset=args.offset,
        respond_async=args.respond_async,
    )
    tally, elapsed = run_light(run(load))
    if args.ids:
        with open(args.ids, "w", encoding="utf-8") as out:
            out.writelines(f"{pid}\n" for pid in tally.provider_ids)
    print(json.dumps(summary(tally, elapsed)))


if __name__ == "__main__":
    main()
