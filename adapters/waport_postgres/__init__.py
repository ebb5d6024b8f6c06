"""PostgreSQL storage: several gateway processes on several machines, one database.

``open_postgres`` and ``PostgresStore`` live in ``waport_postgres.store`` (it needs the
optional ``asyncpg``: ``pip install "waport[postgres]"``); they are loaded on first use,
so installing waport without the extra never breaks the other stores."""

from __future__ import annotations

from typing import Any

__all__ = ["PostgresStore", "open_postgres"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from waport_postgres import store

        return getattr(store, name)
    raise AttributeError(name)
