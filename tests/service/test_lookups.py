"""The lookup cache (``waport.service.lookups``): a lookup that is not fresh is loaded
once however many callers ask for it meanwhile; a shared load that fails, is
cancelled or is forgotten leaves each waiting caller to load for itself."""

from __future__ import annotations

from datetime import timedelta

import anyio

from waport.service.lookups import Lookups
from waport.testing import FakeClock
from waport_memory import MemoryStore


class Loads:
    """A load that counts its calls and waits until ``release`` (``fail``: the first
    call raises once released)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls = 0
        self.release = anyio.Event()
        self.fail = fail

    async def __call__(self) -> str:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        if self.fail and call == 1:
            raise OSError("the store is away")
        return f"value {call}"


def _lookups(clock: FakeClock) -> Lookups:
    return Lookups(store=MemoryStore(), clock=clock, ttl=lambda: timedelta(seconds=1))


async def _ask_all(lookups: Lookups, load: Loads, callers: int) -> list[object]:
    answers: list[object] = []

    async def ask() -> None:
        try:
            answers.append(await lookups.cached("sender", "s1", load))
        except OSError as exc:
            answers.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(callers):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        load.release.set()
    return answers


async def test_concurrent_callers_of_a_stale_lookup_share_one_load() -> None:
    clock = FakeClock()
    lookups = _lookups(clock)
    load = Loads()
    assert await _ask_all(lookups, load, 20) == ["value 1"] * 20
    assert load.calls == 1
    assert await lookups.cached("sender", "s1", load) == "value 1"  # fresh: no load
    clock.advance(1.5)  # expired: loaded again, once
    load.release = anyio.Event()
    assert await _ask_all(lookups, load, 5) == ["value 2"] * 5
    assert load.calls == 2


async def test_when_the_shared_load_fails_each_waiting_caller_loads_for_itself() -> None:
    lookups = _lookups(FakeClock())
    load = Loads(fail=True)
    answers = await _ask_all(lookups, load, 4)
    assert [a for a in answers if isinstance(a, OSError)] == [answers[0]]  # the loader's
    assert sorted(map(str, answers[1:])) == ["value 2", "value 3", "value 4"]
    assert load.calls == 4


async def test_a_cancelled_loader_leaves_the_waiting_callers_answered() -> None:
    lookups = _lookups(FakeClock())
    load = Loads()
    answers: list[object] = []
    loader = anyio.CancelScope()

    async def first() -> None:
        with loader:
            await lookups.cached("sender", "s1", load)

    async def waiter() -> None:
        answers.append(await lookups.cached("sender", "s1", load))

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await anyio.wait_all_tasks_blocked()  # the first caller is loading
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()  # the second waits for that load
        loader.cancel()  # say its client went away
        await anyio.wait_all_tasks_blocked()
        load.release.set()
    assert answers == ["value 2"]  # the waiter's own load
    assert load.calls == 2


async def test_a_load_under_way_when_the_cache_is_invalidated_is_answered_not_kept() -> None:
    lookups = _lookups(FakeClock())
    load = Loads()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lookups.cached, "sender", "s1", load)
        await anyio.wait_all_tasks_blocked()
        lookups.invalidate()  # say the sender changed while it was being read
        load.release.set()
    assert load.calls == 1
    assert await lookups.cached("sender", "s1", load) == "value 2"  # read again


async def test_without_a_ttl_every_caller_loads() -> None:
    lookups = Lookups(store=MemoryStore(), clock=FakeClock(), ttl=lambda: timedelta(0))
    load = Loads()
    load.release.set()
    assert [await lookups.cached("sender", "s1", load) for _ in range(3)] == [
        "value 1",
        "value 2",
        "value 3",
    ]
