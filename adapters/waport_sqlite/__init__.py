"""SQLite storage: the durable embedded default."""

from waport_sqlite.store import SqliteStore, open_sqlite

__all__ = ["SqliteStore", "open_sqlite"]
