"""SQLite crash test.

A child process runs 256-recipient broadcasts, or 1,000 concurrent sends, against
a file database and is SIGKILLed at a random moment; 20 times each by default
(``WAPORT_CRASH_RUNS``). After each kill: the schema is intact
(``PRAGMA integrity_check``), every acknowledged request's rows are present exactly
once, no broadcast is partly stored, and resuming (crash recovery + dispatch) never
makes the provider accept a recipient twice.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from waport.domain.status import MessageStatus
from waport.service import Messenger, RandomIds
from waport.testing import FakeClock
from waport_memory import SandboxProvider
from waport_sqlite import open_sqlite

CHILD = Path(__file__).with_name("crash_child.py")
RUNS = int(os.environ.get("WAPORT_CRASH_RUNS", "20"))
SEED = int(os.environ.get("WAPORT_CRASH_SEED", "20261123"))


def run_child_until_killed(db: Path, journal: Path, mode: str, run: int, delay: float) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(journal), mode, str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready.strip() == "READY", child.stderr.read() if child.stderr else ready
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    return [line for line in out.splitlines() if line.startswith("ACK")]


async def resume(db: Path, journal: Path) -> None:
    """Reopen after the crash and let the dispatcher finish everything."""
    clock = FakeClock()
    clock.set(clock.current.replace(year=2100))  # far past every lease and schedule
    async with open_sqlite(str(db)) as store:
        sandbox = SandboxProvider(clock=clock, journal=str(journal), read_after=None)
        async with Messenger(
            store=store, provider=sandbox, clock=clock, ids=RandomIds()
        ) as messenger:
            for _ in range(200):
                await messenger.dispatch_once()
                counts = await store.messages.counts()
                if not counts.get("pending") and not counts.get("scheduled"):
                    break
                clock.advance(timedelta(minutes=5).total_seconds())


def check(db: Path, journal: Path, acks: list[str]) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for ack in acks:
            _, kind, ident, *_ = ack.split()
            if kind == "send":
                assert (
                    conn.execute("SELECT COUNT(*) FROM messages WHERE id = ?", (ident,)).fetchone()[
                        0
                    ]
                    == 1
                )
            else:
                assert (
                    conn.execute(
                        "SELECT COUNT(*) FROM messages WHERE broadcast_id = ?", (ident,)
                    ).fetchone()[0]
                    == 256
                )
        partial = conn.execute(
            "SELECT broadcast_id, COUNT(*) FROM messages WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id HAVING COUNT(*) != 256"
        ).fetchall()
        assert partial == [], "a broadcast was partly stored"
        statuses = dict(
            conn.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall()
        )
        unfinished = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE status IN ('pending', 'scheduled')"
        ).fetchone()[0]
        assert unfinished == 0, f"messages left unsent after resuming: {statuses}"
        stored = {row[0] for row in conn.execute("SELECT id FROM messages")}
    sends = (
        [line.split("\t") for line in journal.read_text().splitlines()] if journal.exists() else []
    )
    per_client = collections.Counter(client for client, _, _ in sends)
    per_recipient = collections.Counter(to for _, _, to in sends)
    assert max(per_client.values(), default=0) <= 1, "the provider accepted a message twice"
    assert max(per_recipient.values(), default=0) <= 1, "a recipient was sent to twice"
    assert set(per_client) <= stored, "the provider accepted a message the store does not know"
    delivered_or_better = {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ}
    assert sum(n for status, n in statuses.items() if status in delivered_or_better) == len(
        stored
    ), statuses
    return {"acks": len(acks), "rows": len(stored), "provider_sends": len(sends)}


@pytest.mark.parametrize("mode", ["broadcast", "sends"])
def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path, mode: str) -> None:
    rnd = random.Random(f"{SEED}-{mode}")
    totals: collections.Counter[str] = collections.Counter()
    for run in range(RUNS):
        db = tmp_path / f"{mode}-{run}.db"
        journal = tmp_path / f"{mode}-{run}.journal"
        acks = run_child_until_killed(db, journal, mode, run, delay=rnd.uniform(0.05, 1.5))
        anyio.run(resume, db, journal)
        totals.update(check(db, journal, acks))
    print(f"\n{mode}: {RUNS} kills, seed {SEED}: {dict(totals)}")
    assert totals["rows"] > 0


def test_a_journal_line_torn_by_a_kill_is_dropped_on_reopen(tmp_path: Path) -> None:
    """A SIGKILL can tear the sandbox journal's last line; reopening must cut it, or the
    next accepted send is glued to it (a send the provider never accepted)."""
    journal = tmp_path / "sends.journal"
    journal.write_text("msg_a\tsbx.msg_a\t255700000001\nmsg_01M938F5T9AT")
    SandboxProvider(clock=FakeClock(), journal=str(journal))
    assert journal.read_text() == "msg_a\tsbx.msg_a\t255700000001\n"
    SandboxProvider(clock=FakeClock(), journal=str(journal))  # a whole journal is left as it is
    assert journal.read_text() == "msg_a\tsbx.msg_a\t255700000001\n"
