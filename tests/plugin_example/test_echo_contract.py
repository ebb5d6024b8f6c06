"""The toy provider passes waport's provider contract: the plugin-author guide's last step."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

import attrs
import pytest
from waport_echo.provider import EchoProvider, EchoRemote  # installed (here: pytest's pythonpath)

from waport import ErrorCode, WaportError
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus
from waport.domain.templates import TemplateSpec
from waport.testing import FakeClock
from waport.testing.contracts import ProviderContract, ProviderHarness, RemoteFailure

FAILURES = {
    RemoteFailure.AUTH: WaportError(
        ErrorCode.PROVIDER_AUTH_FAILED, "bad token", provider="echo", provider_code="401"
    ),
    RemoteFailure.RATE_LIMIT: WaportError(
        ErrorCode.RATE_LIMITED, "slow down", provider="echo", provider_code="429"
    ),
    RemoteFailure.SERVER_ERROR: WaportError(
        ErrorCode.PROVIDER_UNAVAILABLE, "down", provider="echo", provider_code="503"
    ),
}


@attrs.define
class EchoHarness:
    provider: EchoProvider

    @property
    def sender_id(self) -> str:
        return self.provider.sender

    @property
    def template(self) -> TemplateSpec | None:
        return None

    @property
    def remote_calls(self) -> int:
        return self.provider.remote.calls

    @property
    def supported_failures(self) -> frozenset[RemoteFailure]:
        return frozenset(FAILURES)

    def script_failure(self, kind: RemoteFailure) -> None:
        self.provider.remote.next_error = FAILURES[kind]

    def sent(self) -> Sequence[Mapping[str, str]]:
        return [{"to": to, "mode": "text"} for _, to, _ in self.provider.remote.inbox]

    def _signed(self, data: dict[str, str]) -> tuple[dict[str, str], bytes]:
        body = json.dumps(data).encode()
        return {
            "X-Echo-Signature": hmac.new(
                self.provider.secret.encode(), body, hashlib.sha256
            ).hexdigest()
        }, body

    def status_webhook(
        self, provider_message_id: str, status: MessageStatus, *, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        return self._signed(
            {
                "kind": "status",
                "id": provider_message_id,
                "status": status.value,
                "at": at.isoformat(),
            }
        )

    def inbound_webhook(
        self, *, contact: Recipient, text: str, provider_message_id: str, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        return self._signed(
            {
                "kind": "inbound",
                "id": provider_message_id,
                "from": str(contact),
                "text": text,
                "at": at.isoformat(),
            }
        )


@asynccontextmanager
async def echo_harness() -> AsyncIterator[ProviderHarness]:
    yield EchoHarness(EchoProvider(EchoRemote(), FakeClock()))


class TestEchoProvider(ProviderContract):
    plugin_name = "echo"

    @pytest.fixture(scope="class")
    @classmethod
    def open_harness(cls) -> Callable[[], AbstractAsyncContextManager[ProviderHarness]]:
        return echo_harness
