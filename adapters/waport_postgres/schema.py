"""The PostgreSQL schema as forward-only migrations, recorded in ``waport_schema``.

Each migration runs in one transaction under an advisory lock, so several gateway
processes starting at once migrate the database exactly once. Never edit a released
migration: append a new one. Times are integer microseconds since the epoch (as in
the SQLite store), documents are the same JSON (``doc``).
"""

from __future__ import annotations

from typing import Final

V1: Final = """
CREATE TABLE workspaces (id TEXT PRIMARY KEY, balance BIGINT, doc TEXT NOT NULL);
CREATE TABLE senders (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX senders_by_workspace ON senders (workspace_id, id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, created_us BIGINT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, created_us);
CREATE TABLE contacts (
    workspace_id TEXT NOT NULL, recipient TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (workspace_id, recipient)
);
CREATE TABLE aliases (alias TEXT PRIMARY KEY, recipient TEXT NOT NULL);
CREATE TABLE templates (
    sender_id TEXT NOT NULL, name TEXT NOT NULL, language TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (sender_id, name, language)
);
CREATE TABLE idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, expires_us BIGINT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
-- rate-limit buckets live here so limits hold across processes (GCRA: one timestamp)
CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tat_us BIGINT NOT NULL);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    status TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    due_us BIGINT,
    expires_us BIGINT,
    attempting_us BIGINT,
    provider TEXT,
    provider_message_id TEXT,
    broadcast_id TEXT,
    initiated BOOLEAN NOT NULL DEFAULT FALSE,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_by_provider_id ON messages (provider, provider_message_id, direction)
    WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_by_broadcast ON messages (broadcast_id, contact)
    WHERE broadcast_id IS NOT NULL;
CREATE INDEX messages_due ON messages (due_us)
    WHERE status IN ('scheduled', 'pending') AND attempting_us IS NULL AND direction = 'outbound';
CREATE INDEX messages_expiring ON messages (expires_us)
    WHERE status IN ('scheduled', 'pending') AND attempting_us IS NULL AND expires_us IS NOT NULL;
CREATE INDEX messages_in_flight ON messages (attempting_us) WHERE attempting_us IS NOT NULL;
CREATE INDEX messages_initiated ON messages (workspace_id, created_us, contact) WHERE initiated;
CREATE INDEX messages_by_created ON messages (created_us);
CREATE INDEX messages_by_contact ON messages (contact, workspace_id);
CREATE TABLE windows (
    workspace_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('inbound', 'template')),
    last_us BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, contact, sender_id, kind)
);
CREATE TABLE status_stash (
    provider TEXT NOT NULL, provider_message_id TEXT NOT NULL, status TEXT NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (provider, provider_message_id, status)
);
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id),
    seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    due_us BIGINT NOT NULL,
    leased_us BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    url TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX outbox_pending_by_message ON outbox (message_id, seq, created_us, id)
    WHERE state = 'pending';
CREATE INDEX outbox_pending_due ON outbox (due_us) WHERE state = 'pending';
"""

V2: Final = """
-- A bucket is one timestamp that every request of an API key updates: a hot row. Kept
-- out of the WAL, an update commits without waiting for a flush; a crash empties the
-- table, which only lets one burst through again (as a restart does on SQLite).
ALTER TABLE rate_limits SET UNLOGGED;
"""

V3: Final = """
-- media: the ids that refer to bytes, and the bytes themselves by sha256 in chunks (so
-- neither a write nor a read holds a whole file); the migration also moves inline media
-- out of stored messages
CREATE TABLE media (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    mime_type TEXT NOT NULL,
    filename TEXT,
    created_us BIGINT NOT NULL
);
CREATE INDEX media_by_sha ON media (sha256);
CREATE TABLE media_chunks (
    blob TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (blob, seq)
);
"""

V4: Final = """
-- hot columns: a status change sets them and appends to the history, and the document
-- (the rest of the message) is written once (the migration splits existing documents)
ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN error TEXT, ADD COLUMN history TEXT NOT NULL DEFAULT '';
"""

V5: Final = """
-- opt-out: retention never deletes a contact who opted out (the STOP must outlive
-- their messages)
ALTER TABLE contacts ADD COLUMN opted_out BOOLEAN NOT NULL DEFAULT false;
"""

V6: Final = """
-- listing (GET /v1/messages): a workspace's messages newest first, or one contact's,
-- and the mode they were sent in (the migration fills it in from the documents)
ALTER TABLE messages ADD COLUMN mode TEXT NOT NULL DEFAULT '';
-- (the contact's index takes the place of messages_by_contact, which retention used)
CREATE INDEX messages_listing ON messages (workspace_id, created_us, id);
CREATE INDEX messages_listing_by_contact ON messages (contact, workspace_id, created_us, id);
DROP INDEX messages_by_contact;
"""

V7: Final = """
-- conversations: one row per (workspace, contact, sender) naming its latest message,
-- kept with each message written (filled here from the messages there are)
CREATE TABLE conversations (
    workspace_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    last_us BIGINT NOT NULL,
    last_message_id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, contact, sender_id)
);
CREATE INDEX conversations_by_activity ON conversations (workspace_id, last_us, contact, sender_id);
INSERT INTO conversations (workspace_id, contact, sender_id, last_us, last_message_id)
    SELECT DISTINCT ON (workspace_id, contact, sender_id)
        workspace_id, contact, sender_id, created_us, id
    FROM messages ORDER BY workspace_id, contact, sender_id, created_us DESC, id DESC;
"""

V8: Final = """
-- prepaid billing: every change to a balance is an entry (waport.domain.ledger), written
-- with what caused it (a message's debit and refund have ids derived from the message's)
CREATE TABLE ledger (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX ledger_by_workspace ON ledger (workspace_id, at_us, id);
"""

V9: Final = """
-- a template's events (template.updated) are ordered by the template, not a message:
-- the outbox's message_id becomes the subject of an event, no longer a reference
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_message_id_fkey;
"""

MIGRATIONS: Final[tuple[str, ...]] = (V1, V2, V3, V4, V5, V6, V7, V8, V9)
MEDIA_MOVED: Final = 3
HOT_COLUMNS: Final = 4
MODES_FILLED: Final = 6
"""The version after which every message row has its mode."""
LATEST: Final = len(MIGRATIONS)
MIGRATION_LOCK: Final = 7_203_315_001  # pg_advisory_lock key: "waport schema"
