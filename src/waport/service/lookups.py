"""The lookup cache: workspaces, senders, templates and API keys, read on every request
and changed rarely, remembered for ``Policy.lookup_cache_ttl`` (off by default).

One object with one job: answer a lookup from memory while it is fresh, and forget
everything when anything it holds changes (``invalidate``). Whoever changes a
workspace, sender, template or key calls it.

A lookup that is not fresh is loaded once however many callers ask for it meanwhile:
the others wait for that load and take its answer from the cache. Without that, every
request in flight when an entry expired read the store itself (measured on
PostgreSQL: about twenty reads of each kind a second at 1,000 sends/s with a 1 s TTL,
instead of one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import anyio
import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import ApiKey, Sender, Workspace
from waport.domain.templates import TemplateSpec
from waport.ports import Clock, Store

_CACHE_MAX: Final = 10_000


@attrs.define(kw_only=True)
class Lookups:
    store: Store
    clock: Clock
    ttl: Callable[[], timedelta]
    """Read at each lookup, so a policy changed at run time takes effect at once."""
    _cache: dict[tuple[str, str], tuple[datetime, Any]] = attrs.field(factory=dict, init=False)
    _loading: dict[tuple[str, str], anyio.Event] = attrs.field(factory=dict, init=False)
    """The loads under way, each set when its load has ended (answered or not)."""
    _generation: int = attrs.field(default=0, init=False)
    """Moved on by ``invalidate``: a load begun before it is answered but not kept."""

    async def cached(self, kind: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """``load()``, remembered under ``(kind, key)`` while the TTL lasts; a caller
        that finds the same lookup loading waits for that load instead."""
        ttl = self.ttl()
        if not ttl:
            return await load()
        entry = (kind, key)
        fresh = self._fresh(entry)
        if fresh is not None:
            return fresh[0]
        loading = self._loading.get(entry)
        if loading is not None:
            await loading.wait()
            fresh = self._fresh(entry)
            if fresh is not None:
                return fresh[0]
            # that load failed, was cancelled or was forgotten (``invalidate``): this
            # caller loads for itself, as every caller did before loads were shared
            return await self._load(entry, load, ttl)
        ended = self._loading[entry] = anyio.Event()
        try:
            return await self._load(entry, load, ttl)
        finally:
            del self._loading[entry]
            ended.set()

    def _fresh(self, entry: tuple[str, str]) -> tuple[Any] | None:
        """The entry's cached value while fresh, in a one-tuple: a lookup may answer
        None (no such key), which is cached like any other answer."""
        hit = self._cache.get(entry)
        return (hit[1],) if hit is not None and hit[0] > self.clock.now() else None

    async def _load(
        self, entry: tuple[str, str], load: Callable[[], Awaitable[Any]], ttl: timedelta
    ) -> Any:
        now, generation = self.clock.now(), self._generation
        value = await load()
        if generation == self._generation:  # not forgotten meanwhile
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            self._cache[entry] = (now + ttl, value)
        return value

    def invalidate(self) -> None:
        """Forget every cached lookup (after changing a workspace, sender, template or
        key), and what the loads under way will answer."""
        self._cache.clear()
        self._generation += 1

    async def find_workspace(self, workspace_id: str) -> Workspace | None:
        found: Workspace | None = await self.cached(
            "workspace", workspace_id, lambda: self.store.workspaces.get(workspace_id)
        )
        return found

    async def find_sender(self, sender_id: str) -> Sender | None:
        found: Sender | None = await self.cached(
            "sender", sender_id, lambda: self.store.workspaces.get_sender(sender_id)
        )
        return found

    async def senders(self, workspace_id: str) -> Sequence[Sender]:
        found: Sequence[Sender] = await self.cached(
            "senders", workspace_id, lambda: self.store.workspaces.senders(workspace_id)
        )
        return found

    async def api_key(self, key_id: str) -> ApiKey | None:
        found: ApiKey | None = await self.cached(
            "api_key", key_id, lambda: self.store.api_keys.get(key_id)
        )
        return found

    async def template(self, sender_id: str, name: str, language: str) -> TemplateSpec | None:
        found: TemplateSpec | None = await self.cached(
            "template",
            f"{sender_id}\x1f{name}\x1f{language}",
            lambda: self.store.templates.get(sender_id, name, language),
        )
        return found

    async def workspace(self, workspace_id: str) -> Workspace:
        workspace: Workspace | None = await self.cached(
            "workspace", workspace_id, lambda: self.store.workspaces.get(workspace_id)
        )
        if workspace is None:
            raise WaportError(ErrorCode.FORBIDDEN, "unknown workspace")
        return workspace

    async def sender(
        self, workspace: Workspace, sender_id: str | None, allowed: frozenset[str] | None
    ) -> Sender:
        """The sender a send goes from: the one named (active, of the workspace, allowed to
        the caller), or else the workspace's default sender, or its first active sender,
        that the caller may use."""
        if sender_id is None:
            senders = [
                s
                for s in await self.senders(workspace.id)
                if s.active and (allowed is None or s.id in allowed)
            ]
            if not senders:
                raise WaportError(
                    ErrorCode.SENDER_NOT_FOUND, "the workspace has no active sender", "sender_id"
                )
            chosen = [s for s in senders if s.id == workspace.default_sender_id]
            return (chosen or senders)[0]
        sender = await self.find_sender(sender_id)
        if sender is None or sender.workspace_id != workspace.id or not sender.active:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND,
                "no active sender with this id in the workspace",
                "sender_id",
            )
        if allowed is not None and sender_id not in allowed:
            raise WaportError(
                ErrorCode.FORBIDDEN, "this API key may not send from this sender", "sender_id"
            )
        return sender

    async def sender_of(self, workspace_id: str, sender_id: str, param: str) -> Sender:
        """A sender of the workspace, active or not (reads, syncs); SENDER_NOT_FOUND naming
        ``param`` otherwise."""
        sender = await self.store.workspaces.get_sender(sender_id)
        if sender is None or sender.workspace_id != workspace_id:
            raise WaportError(ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", param)
        return sender
