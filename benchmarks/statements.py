"""Where the SQLite store's time goes on the event loop, statement by statement.

``benchmarks.library waport URL --statements`` wraps the store's two loop-side
connections (the writer's, whose statements run on the loop while its COMMIT runs on a
thread, and the point reader's) so that each ``execute`` is timed, and prints the
wall time (``us``) and the CPU time of the thread that ran it (``cpu_us``) each kind of
statement took per message sent. They differ where SQLite waits: a COMMIT's wall time
is mostly its fsync, which costs the process far less CPU. A diagnostic: the timing
adds its own cost, so the run's CPU figures are not the benchmark's (they are left
out).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any


class Timed:
    """A ``sqlite3.Connection`` whose ``execute`` is timed by the statement's first words."""

    def __init__(self, conn: Any, statements: Statements) -> None:
        self._conn = conn
        self._statements = statements

    def execute(self, sql: str, *args: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._conn.execute(sql, *args)
        finally:
            wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
            self._statements.note(" ".join(sql.split()[:4]), wall, cpu)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class Statements:
    """The statements of one SQLite store, timed from ``watch`` on."""

    def __init__(self) -> None:
        self.spent: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.cpu: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.count: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()  # the COMMIT is timed on the writer's thread

    def watch(self, store: Any) -> None:
        store.writer.conn = Timed(store.writer.conn, self)
        store.reader.point_conn = Timed(store.reader.point_conn, self)

    def note(self, kind: str, seconds: float, cpu: float) -> None:
        with self._lock:
            self.spent[kind] += seconds
            self.cpu[kind] += cpu
            self.count[kind] += 1

    def per_message(self, messages: int) -> dict[str, Any]:
        """Microseconds and executions per message of each kind, dearest first (the
        COMMIT runs on the writer's thread: its wall time includes the fsync)."""
        return {
            kind: {
                "us": round(seconds / messages * 1e6, 1),
                "cpu_us": round(self.cpu[kind] / messages * 1e6, 1),
                "per_message": round(self.count[kind] / messages, 2),
            }
            for kind, seconds in sorted(self.spent.items(), key=lambda item: -item[1])
        }
