"""Processes and clients shared by the campaigns: a restartable ``waport serve``, a client
that retries until a 2xx, signed Meta webhooks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import anyio
import attrs

from tests.e2e.conftest import child_environ
from waport_meta import fake as meta_fake


@attrs.define
class Gateway:
    """One ``waport serve`` process after another on the same database and port."""

    folder: Path
    env: dict[str, str]
    port: int
    key: str | None = None
    process: subprocess.Popen[str] | None = None
    lives: int = 0
    output: list[str] = attrs.Factory(list)
    reader: threading.Thread | None = None
    host: str = "127.0.0.1"
    netns: str | None = None
    """The network namespace the process runs in (a host of a multi-host test)."""

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        env = {
            **child_environ(),
            "WAPORT_LISTEN": f"{self.host}:{self.port}",
            "WAPORT_DATABASE": str(self.folder / "waport.db"),
            **self.env,
        }
        inside = ["ip", "netns", "exec", self.netns] if self.netns else []
        process = subprocess.Popen(
            [*inside, sys.executable, "-m", "waport_http.cli", "serve"],
            cwd=self.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "WAPORT_KEY=" in line:
                self.key = line.split("WAPORT_KEY=", 1)[1].strip()
            if "listening on" in line:
                break
        else:  # pragma: no cover - a hung start
            process.kill()
        if process.poll() is not None:
            raise AssertionError("waport serve did not start:\n" + "".join(self.output[-30:]))
        stream = process.stdout
        self.reader = threading.Thread(target=lambda: self.output.extend(stream), daemon=True)
        self.reader.start()
        self.process = process
        self.lives += 1

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
        if self.reader is not None:
            self.reader.join(10)  # the pipe ends with the process
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


class Retries(Protocol):
    retried: int


class Target(Protocol):
    @property
    def base(self) -> str: ...


@attrs.define
class Fleet:
    """Several gateways behind one client: each ``base`` is the next live one, so a
    client retrying after a process died moves on to another."""

    gateways: list[Gateway]
    _turn: int = 0

    @property
    def base(self) -> str:
        alive = [g for g in self.gateways if g.process is not None and g.process.poll() is None]
        self._turn += 1
        return alive[self._turn % len(alive)].base

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        for gateway in self.gateways:
            gateway.kill(sig)


async def until_2xx(
    http: aiohttp.ClientSession,
    gw: Target,
    ledger: Retries,
    path: str,
    body: bytes,
    **headers: str,
) -> Any:
    """POST until a 2xx, as a careful client does: same body, same Idempotency-Key."""
    while True:
        try:
            async with http.post(
                gw.base + path,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as r:
                if 200 <= r.status < 300:
                    return await r.json()
                assert r.status in (409, 429, 503), (r.status, await r.text())
        except (aiohttp.ClientError, TimeoutError):
            pass
        ledger.retried += 1
        await anyio.sleep(0.05)


def fast_meta_env(graph_url: str) -> dict[str, str]:
    """A gateway on the fake Graph API with short timers, so crash recovery happens
    within a test: 1 s provider timeout, 2 s attempt lease, 3 s outcome window."""
    return {
        "WAPORT_PROVIDER": "meta",
        "WAPORT_META_TOKEN": meta_fake.TOKEN,
        "WAPORT_META_PHONE_NUMBER_IDS": meta_fake.PHONE_NUMBER_ID,
        "WAPORT_META_WABA_ID": meta_fake.WABA_ID,
        "WAPORT_META_APP_SECRET": meta_fake.APP_SECRET,
        "WAPORT_META_GRAPH_URL": graph_url,
        "WAPORT_META_MAX_RPS": "1000000",
        "WAPORT_RATE_LIMIT_PER_MINUTE": "1000000",
        "WAPORT_PROVIDER_TIMEOUT_SECONDS": "1",
        "WAPORT_ATTEMPT_LEASE_SECONDS": "2",
        "WAPORT_IDEMPOTENCY_LEASE_SECONDS": "1",
        "WAPORT_OUTCOME_WINDOW_SECONDS": "3",
        "WAPORT_LOOKUP_CACHE_SECONDS": "0",
    }


def signed_meta(value: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    graph = meta_fake.FakeGraphApi()
    raw = json.dumps(graph.webhook(value), separators=(",", ":")).encode()
    return raw, meta_fake.sign(raw)


def delivered_reports(
    graph: meta_fake.FakeGraphApi, batch: int = 100
) -> list[tuple[bytes, dict[str, str]]]:
    """Meta's signed status webhooks saying every message the fake received was delivered
    (with ``biz_opaque_callback_data``, so waport reconciles even a crashed attempt)."""
    statuses = [
        {
            "id": wamid,
            "status": "delivered",
            "timestamp": str(int(time.time())),
            "recipient_id": payload["to"].lstrip("+"),
            "biz_opaque_callback_data": payload["biz_opaque_callback_data"],
        }
        for wamid, payload in zip(graph.wamids, graph.sent, strict=True)
    ]
    return [
        signed_meta(
            {
                "metadata": {"phone_number_id": meta_fake.PHONE_NUMBER_ID},
                "statuses": statuses[start : start + batch],
            }
        )
        for start in range(0, len(statuses), batch)
    ]
