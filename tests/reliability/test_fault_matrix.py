"""The fault matrix: every network fault against the loopback fake Graph API and fake
WAHA, through a Messenger on SQLite. For each: what the caller is told, what the store
holds, when it is retried, how it ends, and how many messages the provider really sent.

The table in docs/reliability.md is this test's output; the test fails when they differ
(``WAPORT_UPDATE_DOCS=1`` rewrites it).
"""

from __future__ import annotations

import itertools
import os
import random
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from waport import MessageStatus, parse_recipient
from waport.domain.status import UNSENT
from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds
from waport.testing.contracts import RemoteFailure
from waport.testing.faults import Fault
from waport_meta.fake import meta_harness
from waport_meta.fake import sign as meta_sign
from waport_sqlite import open_sqlite
from waport_web.fake import web_harness

pytestmark = pytest.mark.anyio

TO = "255712345678"
DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
START, END = "<!-- fault-matrix:start -->", "<!-- fault-matrix:end -->"


@attrs.frozen
class Case:
    name: str
    inject: Callable[[Any], None]
    status_webhook: bool = False
    """Meta reports the message (``biz_opaque_callback_data``) before the retry is due."""


def faults(*kinds: Fault) -> Callable[[Any], None]:
    return lambda fake: fake.faults.extend(kinds)


def failures(*kinds: RemoteFailure) -> Callable[[Any], None]:
    return lambda fake: fake.failures.extend(kinds)


CASES = [
    Case("timeout, not processed (x2)", failures(RemoteFailure.TIMEOUT, RemoteFailure.TIMEOUT)),
    Case("timeout after the provider sent it", faults(Fault.ACCEPT_THEN_HANG)),
    Case(
        "timeout after sending, status webhook first",
        faults(Fault.ACCEPT_THEN_HANG),
        status_webhook=True,
    ),
    Case("connection reset (x2)", faults(Fault.RESET, Fault.RESET)),
    Case(
        "5xx (x2)",
        failures(RemoteFailure.SERVER_ERROR, RemoteFailure.SERVER_ERROR),
    ),
    Case("429 with Retry-After: 120", faults(Fault.RETRY_AFTER)),
    Case("slow answer (0.2 s)", faults(Fault.SLOW)),
    Case("malformed JSON (x2)", failures(RemoteFailure.MALFORMED, RemoteFailure.MALFORMED)),
    Case("accepted, never a status", lambda fake: None),
]


@attrs.frozen
class Row:
    provider: str
    fault: str
    caller: str
    stored: str
    spacing: str
    final: str
    attempts: int
    sends: int

    def line(self) -> str:
        cells = (
            self.provider,
            self.fault,
            self.caller,
            self.stored,
            self.spacing,
            self.final,
            str(self.attempts),
            str(self.sends),
        )
        return "| " + " | ".join(cells) + " |"


@asynccontextmanager
async def provider_for(kind: str) -> AsyncIterator[Any]:
    if kind == "meta":
        async with meta_harness(request_timeout=0.3) as harness:
            harness.fake.timeout_delay = 1.0
            yield harness
    else:
        async with web_harness(request_timeout=0.3, message_ids=True) as harness:
            harness.fake.timeout_delay = 1.0
            yield harness


def _sends(kind: str, harness: Any, message_id: str) -> int:
    if kind == "meta":
        return sum(p.get("biz_opaque_callback_data") == message_id for p in harness.fake.sent)
    return len(harness.fake.sent)


def _said(status: MessageStatus, code: str | None) -> str:
    return status.value + (f" {code}" if code else "")


async def run_case(kind: str, case: Case, folder: Path) -> Row:
    clock = FakeClock()
    async with provider_for(kind) as harness, open_sqlite(str(folder / "w.db")) as store:
        messenger = Messenger(
            store=store,
            provider=harness.provider,
            clock=clock,
            ids=SequentialIds(),
            rand=random.Random(7),
        )
        async with messenger:
            if kind == "meta":  # open the 24-hour window
                headers, body = harness.inbound_webhook(
                    contact=parse_recipient(TO),
                    text="hi",
                    provider_message_id="wamid.IN1",
                    at=clock.now(),
                )
                await messenger.ingest(harness.provider.parse_webhook(headers, body))
            case.inject(harness.fake)
            result = await messenger.send({"to": TO, "text": "the fault matrix"})
            http = {MessageStatus.SENT: "200", MessageStatus.PENDING: "202"}
            caller = http.get(result.status, "4xx/5xx") + " " + result.status.value
            record = await messenger.get_message(result.message_id)
            stored = _said(record.status, record.error.code if record.error else None)
            if case.status_webhook:
                sent = next(p for p in harness.fake.sent if p["type"] == "text")
                value = {
                    "statuses": [
                        {
                            "id": "wamid.LATE1",
                            "status": "sent",
                            "timestamp": str(int(clock.now().timestamp())),
                            "recipient_id": TO,
                            "biz_opaque_callback_data": sent["biz_opaque_callback_data"],
                        }
                    ]
                }
                raw = harness._signed(value)[1]
                await messenger.ingest(harness.provider.parse_webhook(meta_sign(raw), raw))
            times: list[datetime] = [clock.now()]
            for _ in range(12):
                record = await messenger.get_message(result.message_id)
                if record.status not in UNSENT or record.due_at is None:
                    break
                clock.set(max(record.due_at, clock.now()))
                times.append(clock.now())
                await messenger.dispatch_once()
            record = await messenger.get_message(result.message_id)
            gaps = [f"{(b - a).total_seconds():.1f}" for a, b in itertools.pairwise(times)]
            return Row(
                provider=kind,
                fault=case.name,
                caller=caller,
                stored=stored,
                spacing=", ".join(gaps) or "-",
                final=record.status.value,
                attempts=record.attempts,
                sends=_sends(kind, harness, result.message_id),
            )


def render(rows: list[Row]) -> str:
    head = (
        "| provider | fault | caller is told | stored after the send | retries after (s) "
        "| final | attempts | sent by the provider |\n|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *(row.line() for row in rows)])


async def test_fault_matrix(tmp_path: Path) -> None:
    rows: list[Row] = []
    for kind in ("meta", "web"):
        for i, case in enumerate(CASES):
            if case.status_webhook and kind != "meta":
                continue
            folder = tmp_path / f"{kind}{i}"
            folder.mkdir()
            rows.append(await run_case(kind, case, folder))
    by = {(r.provider, r.fault): r for r in rows}
    for row in rows:
        assert row.final in ("sent", "delivered", "read"), row  # nothing is lost
        assert row.caller in ("200 sent", "202 pending"), row  # never the caller's fault
    for kind in ("meta", "web"):
        assert by[(kind, "slow answer (0.2 s)")].attempts == 1
        assert by[(kind, "429 with Retry-After: 120")].spacing.startswith("120.0")
        for name in ("connection reset (x2)", "5xx (x2)", "timeout, not processed (x2)"):
            row = by[(kind, name)]
            assert row.sends == 1, row
            first, second = (float(s) for s in row.spacing.split(", "))
            assert 1.6 <= first <= 2.4, row  # 2 s +- 20 %
            assert 3.2 <= second <= 4.8, row  # 4 s +- 20 %
    # WAHA with pre-generated ids de-duplicates the retry; Meta cannot, unless its status
    # webhook reconciles the message before the retry is due.
    assert by[("web", "timeout after the provider sent it")].sends == 1
    assert by[("meta", "timeout after the provider sent it")].sends == 2
    assert by[("meta", "timeout after sending, status webhook first")].sends == 1
    assert all(row.sends == 1 for row in rows if "provider sent it" not in row.fault)

    table = render(rows)
    text = DOC.read_text(encoding="utf-8")
    current = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    if os.environ.get("WAPORT_UPDATE_DOCS") == "1":
        DOC.write_text(
            re.sub(
                re.escape(START) + r".*?" + re.escape(END),
                lambda _: f"{START}\n{table}\n{END}",
                text,
                flags=re.S,
            ),
            encoding="utf-8",
        )
        return
    assert current is not None, f"{DOC} lacks the fault-matrix markers"
    assert current.group(1) == table, "docs/reliability.md is stale: WAPORT_UPDATE_DOCS=1"
