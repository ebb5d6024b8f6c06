"""PostgreSQL storage: several gateway processes on several machines, one database."""

from waport_postgres.store import PostgresStore, open_postgres

__all__ = ["PostgresStore", "open_postgres"]
