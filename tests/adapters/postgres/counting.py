"""A connection that counts the statements a piece of the PostgreSQL store sends."""

from __future__ import annotations

from typing import Any


class Counting:
    """A connection that counts the statements sent through it (each ``executemany``
    is one: asyncpg pipelines its rows)."""

    def __init__(self, conn: Any, sent: list[str]) -> None:
        self._conn = conn
        self._sent = sent

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._conn, name)
        if name not in {"execute", "executemany", "fetch", "fetchrow", "fetchval"}:
            return method

        async def counted(sql: str, *args: Any) -> Any:
            self._sent.append(sql.split(maxsplit=1)[0] + " " + sql.split()[1])
            return await method(sql, *args)

        return counted
