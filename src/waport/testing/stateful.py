"""A Hypothesis state machine that drives a ``Messenger`` through random histories.

Sends, templates, scheduled sends, broadcasts, inbound messages (delivered twice),
duplicated and reordered status webhooks, scripted provider failures, crashed
attempts and clock jumps, on any store. After every step it checks: no accepted
message is missing; statuses never move back; no message is accepted twice by the
provider; window answers agree with the inbound log; broadcast summaries add up.

Run it on your store, with the sandbox as the simulated WhatsApp:

    from waport.testing.stateful import messenger_machine
    from waport_memory import SandboxProvider

    TestMyStoreMachine = messenger_machine(open_my_store, lambda clock: SandboxProvider(clock=clock)).TestCase
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, ExitStack
from datetime import datetime, timedelta
from typing import Any, Protocol

from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import StatusUpdate
from waport.domain.limits import CUSTOMER_SERVICE_WINDOW
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus
from waport.ports import Clock, Provider, SandboxControl, Store
from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds

CONTACTS = tuple(Recipient("phone", f"25571234567{i}") for i in range(4))
SENDER = "sandbox-sender"
HELLO = {"name": "hello_world", "language": "en_US"}
FAILURES = (
    ErrorCode.PROVIDER_UNAVAILABLE,
    ErrorCode.RATE_LIMITED,
    ErrorCode.RECIPIENT_NOT_ON_WHATSAPP,
)


class SimulatedProvider(Provider, SandboxControl, Protocol):
    """A provider the machine can script and inspect (``waport_memory.SandboxProvider`` is one)."""

    @property
    def successes(self) -> Mapping[str, int]:
        """How many receipts each waport message id got from the provider."""
        ...

    @property
    def sent(self) -> Sequence[Any]:
        """What reached the provider; each item has a ``client_id``."""
        ...


def messenger_machine(
    open_store: Callable[[], AbstractAsyncContextManager[Store]],
    make_provider: Callable[[Clock], SimulatedProvider],
    *,
    backend: str = "asyncio",
) -> type[RuleBasedStateMachine]:
    """A state machine class over a fresh store from ``open_store`` per example, run on
    anyio's ``backend`` ("asyncio" or "trio")."""

    class MessengerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self._stack = ExitStack()
            self.portal: BlockingPortal = self._stack.enter_context(start_blocking_portal(backend))
            self.clock = FakeClock()
            self.store: Store = self._stack.enter_context(
                self.portal.wrap_async_context_manager(open_store())
            )
            self.sandbox = make_provider(self.clock)
            self.messenger = Messenger(
                store=self.store, provider=self.sandbox, clock=self.clock, ids=SequentialIds()
            )
            self.portal.call(self.messenger.bootstrap)
            self.accepted: list[str] = []
            self.rank: dict[str, int] = {}
            self.last_inbound: dict[Recipient, datetime] = {}
            self.broadcasts: list[tuple[str, int]] = []

        def teardown(self) -> None:
            self._stack.close()

        def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            async def run() -> Any:
                return await fn(*args, **kwargs)

            return self.portal.call(run)

        def window_open(self, contact: Recipient) -> bool:
            last = self.last_inbound.get(contact)
            return last is not None and self.clock.now() - last < CUSTOMER_SERVICE_WINDOW

        # -------------------------------------------------------------- rules

        @rule(contact=st.sampled_from(CONTACTS), check=st.booleans())
        def send_text(self, contact: Recipient, check: bool) -> None:
            try:
                result = self.call(
                    self.messenger.send,
                    {"to": str(contact), "text": "hello", "check_window": check},
                )
            except WaportError as err:
                assert err.code == ErrorCode.WINDOW_CLOSED, err
                assert check
                assert not self.window_open(contact), "refused although the window is open"
            else:
                assert not check or self.window_open(contact), (
                    "accepted although the window is closed"
                )
                self.accepted.append(result.message_id)

        @rule(
            contact=st.sampled_from(CONTACTS),
            later=st.sampled_from([0, 0, 30, 7200]),
            expires=st.booleans(),
        )
        def send_template(self, contact: Recipient, later: int, expires: bool) -> None:
            body: dict[str, Any] = {"to": str(contact), "sender_id": SENDER, "template": HELLO}
            if later:
                body["scheduled_at"] = (self.clock.now() + timedelta(seconds=later)).isoformat()
                if expires:
                    body["expires_at"] = (
                        self.clock.now() + timedelta(seconds=later + 60)
                    ).isoformat()
            result = self.call(self.messenger.send, body)
            self.accepted.append(result.message_id)

        @rule(contacts=st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=4, unique=True))
        def broadcast(self, contacts: list[Recipient]) -> None:
            body = {
                "template": HELLO,
                "sender_id": SENDER,
                "recipients": [{"to": str(c)} for c in contacts],
            }
            result = self.call(self.messenger.broadcast, body)
            self.accepted.extend(r.id for r in result.rows)
            self.broadcasts.append((result.broadcast_id, len(contacts)))

        @rule(contact=st.sampled_from(CONTACTS), twice=st.booleans())
        def inbound(self, contact: Recipient, twice: bool) -> None:
            event = self.sandbox.inbound(
                contact=contact, sender_id=SENDER, text="hi", at=self.clock.now()
            )
            self.call(self.messenger.ingest, [event, event] if twice else [event])
            self.last_inbound[contact] = self.clock.now()

        @precondition(lambda self: bool(self.accepted))
        @rule(data=st.data(), status=st.sampled_from(list(MessageStatus)))
        def replay_status(self, data: st.DataObject, status: MessageStatus) -> None:
            """A late, duplicated or out-of-order webhook for one of our messages."""
            mid = data.draw(st.sampled_from(self.accepted))
            record = self.call(self.store.messages.get, mid)
            if record is None or record.provider_message_id is None:
                return
            update = StatusUpdate(
                provider="sandbox",
                provider_message_id=record.provider_message_id,
                status=status,
                at=self.clock.now(),
            )
            self.call(self.messenger.ingest, [update])

        @rule(contact=st.sampled_from(CONTACTS), code=st.sampled_from(FAILURES))
        def script_failure(self, contact: Recipient, code: ErrorCode) -> None:
            self.sandbox.script(
                to=contact,
                fail_with=code,
                retry_after=5 if code == ErrorCode.RATE_LIMITED else None,
            )

        @precondition(lambda self: bool(self.accepted))
        @rule(data=st.data())
        def crash_mid_attempt(self, data: st.DataObject) -> None:
            """A process claims a message and dies before recording the outcome."""
            mid = data.draw(st.sampled_from(self.accepted))
            self.call(self.store.messages.claim, mid, now=self.clock.now())

        @rule(seconds=st.sampled_from([1, 5, 30, 120, 3600, 90_000]))
        def advance_and_dispatch(self, seconds: int) -> None:
            self.clock.advance(seconds)
            self.call(self.messenger.dispatch_once)

        # -------------------------------------------------------------- invariants

        @invariant()
        def no_accepted_message_is_missing_and_statuses_never_move_back(self) -> None:
            for mid in self.accepted:
                record = self.call(self.store.messages.get, mid)
                assert record is not None, f"accepted message {mid} is missing"
                ranks = [c.status.rank for c in record.history]
                assert ranks == sorted(set(ranks)), f"history of {mid} moves back: {record.history}"
                assert record.status.rank >= self.rank.get(mid, 0), f"{mid} moved back"
                self.rank[mid] = record.status.rank

        @invariant()
        def the_provider_accepts_each_message_at_most_once(self) -> None:
            over = {mid: n for mid, n in self.sandbox.successes.items() if n > 1}
            assert not over, f"messages accepted more than once by the provider: {over}"
            assert len({s.client_id for s in self.sandbox.sent}) == len(self.sandbox.sent)

        @invariant()
        def window_answers_agree_with_the_inbound_log(self) -> None:
            for contact in CONTACTS:
                answer = self.call(self.messenger.window_status, contact)
                assert answer.within_window == self.window_open(contact)
                assert answer.last_inbound_at == self.last_inbound.get(contact)

        @invariant()
        def broadcast_summaries_add_up(self) -> None:
            for broadcast_id, size in self.broadcasts:
                result = self.call(self.messenger.get_broadcast, broadcast_id)
                summary = result.summary
                assert summary.total == size == summary.sent + summary.pending + summary.failed

    return MessengerMachine
