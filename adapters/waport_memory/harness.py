"""The sandbox as its own ProviderHarness (the provider contract's remote control)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import attrs

from waport.domain.errors import ErrorCode
from waport.domain.messages import MediaData
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus
from waport.domain.templates import TemplateSpec
from waport.ports import Clock
from waport.testing import FakeClock
from waport.testing.failures import RemoteFailure
from waport_memory.sandbox import SANDBOX_SENDER, SandboxProvider

_CODES: Mapping[RemoteFailure, ErrorCode] = {
    RemoteFailure.AUTH: ErrorCode.PROVIDER_AUTH_FAILED,
    RemoteFailure.RATE_LIMIT: ErrorCode.RATE_LIMITED,
    RemoteFailure.PAIR_RATE_LIMIT: ErrorCode.PAIR_RATE_LIMITED,
    RemoteFailure.NOT_ON_WHATSAPP: ErrorCode.RECIPIENT_NOT_ON_WHATSAPP,
    RemoteFailure.WINDOW_CLOSED: ErrorCode.WINDOW_CLOSED,
    RemoteFailure.TEMPLATE_NOT_APPROVED: ErrorCode.TEMPLATE_NOT_APPROVED,
    RemoteFailure.SERVER_ERROR: ErrorCode.PROVIDER_UNAVAILABLE,
    RemoteFailure.TIMEOUT: ErrorCode.PROVIDER_UNAVAILABLE,
    RemoteFailure.MALFORMED: ErrorCode.PROVIDER_UNAVAILABLE,
}


@attrs.define
class SandboxHarness:
    provider: SandboxProvider

    @property
    def sender_id(self) -> str:
        return self.provider.sender_ids[0]

    @property
    def template(self) -> TemplateSpec | None:
        return next(t for t in self.provider.templates[self.sender_id] if t.name == "order_update")

    @property
    def remote_calls(self) -> int:
        return self.provider.remote_calls

    @property
    def supported_failures(self) -> frozenset[RemoteFailure]:
        return frozenset(RemoteFailure)

    def script_failure(self, kind: RemoteFailure) -> None:
        self.provider.script(
            fail_with=_CODES[kind], retry_after=1.0 if kind == RemoteFailure.RATE_LIMIT else None
        )

    def sent(self) -> Sequence[Mapping[str, str]]:
        return [{"to": str(s.message.to), "mode": s.message.mode} for s in self.provider.sent]

    def seed_media(self, data: bytes, mime_type: str) -> str:
        return self.provider.hold_media(MediaData(mime_type, data))

    def status_webhook(
        self, provider_message_id: str, status: MessageStatus, *, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        body = self.provider.webhook_body(
            [
                {
                    "kind": "status",
                    "provider_message_id": provider_message_id,
                    "status": status.value,
                    "at": at.isoformat(),
                }
            ]
        )
        return self.provider.sign(body), body

    def inbound_webhook(
        self, *, contact: Recipient, text: str, provider_message_id: str, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        body = self.provider.webhook_body(
            [
                {
                    "kind": "inbound",
                    "provider_message_id": provider_message_id,
                    "sender_id": self.sender_id,
                    "from": str(contact),
                    "text": text,
                    "at": at.isoformat(),
                }
            ]
        )
        return self.provider.sign(body), body


@asynccontextmanager
async def sandbox_harness(clock: Clock | None = None) -> AsyncIterator[SandboxHarness]:
    yield SandboxHarness(SandboxProvider(clock=clock or FakeClock(), sender_ids=(SANDBOX_SENDER,)))
