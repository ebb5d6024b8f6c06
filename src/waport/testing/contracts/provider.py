"""ProviderContract: the behaviour every ``Provider`` adapter must show.

A provider is tested through a *harness*: the provider under test plus a remote
control of its (fake) remote. The sandbox is its own harness; a remote adapter's
harness is a loopback server speaking the provider's documented wire format.

    class TestMyProvider(ProviderContract):
        @pytest.fixture(scope="class")
        @classmethod
        def open_harness(cls):
            return lambda: my_fake_remote.harness()   # async context manager of a ProviderHarness
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import ClassVar, Protocol, runtime_checkable

import pytest

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage, StatusUpdate
from waport.domain.inbound_media import digest_matches
from waport.domain.limits import MediaKind
from waport.domain.messages import (
    MODES,
    ButtonsMessage,
    ContactCard,
    ContactCards,
    ContactName,
    ContactPhone,
    Content,
    Location,
    Media,
    MediaUrl,
    OutboundMessage,
    Reaction,
    ReplyButton,
    TemplateMessage,
    Text,
)
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus
from waport.domain.template_drafts import parse_draft
from waport.domain.templates import BoundTemplate, TemplateSpec, check_template_params
from waport.ports import Provider, SendReceipt, WebhookReceiver
from waport.testing.failures import RemoteFailure

EXPECTED: Mapping[RemoteFailure, tuple[ErrorCode, bool]] = {
    RemoteFailure.AUTH: (ErrorCode.PROVIDER_AUTH_FAILED, False),
    RemoteFailure.RATE_LIMIT: (ErrorCode.RATE_LIMITED, True),
    RemoteFailure.PAIR_RATE_LIMIT: (ErrorCode.PAIR_RATE_LIMITED, True),
    RemoteFailure.NOT_ON_WHATSAPP: (ErrorCode.RECIPIENT_NOT_ON_WHATSAPP, False),
    RemoteFailure.WINDOW_CLOSED: (ErrorCode.WINDOW_CLOSED, False),
    RemoteFailure.TEMPLATE_NOT_APPROVED: (ErrorCode.TEMPLATE_NOT_APPROVED, False),
    RemoteFailure.SERVER_ERROR: (ErrorCode.PROVIDER_UNAVAILABLE, True),
    RemoteFailure.TIMEOUT: (ErrorCode.PROVIDER_UNAVAILABLE, True),
    RemoteFailure.MALFORMED: (ErrorCode.PROVIDER_UNAVAILABLE, True),
}


class ProviderHarness(Protocol):
    """The provider under test and a remote control of its remote."""

    @property
    def provider(self) -> Provider: ...

    @property
    def sender_id(self) -> str:
        """A sender the provider is configured for."""
        ...

    @property
    def template(self) -> TemplateSpec | None:
        """An approved template the remote knows (``None`` if the provider has no templates)."""
        ...

    @property
    def remote_calls(self) -> int:
        """How many requests reached the remote so far."""
        ...

    @property
    def supported_failures(self) -> frozenset[RemoteFailure]: ...

    def script_failure(self, kind: RemoteFailure) -> None:
        """Make the remote answer the next send with this failure."""
        ...

    def sent(self) -> Sequence[Mapping[str, str]]:
        """What reached the remote, normalised: ``{"to": <digits or jid>, "mode": <mode>}``."""
        ...

    def status_webhook(
        self, provider_message_id: str, status: MessageStatus, *, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        """Signed headers and raw body of a status webhook in the provider's wire format."""
        ...

    def inbound_webhook(
        self, *, contact: Recipient, text: str, provider_message_id: str, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        """Signed headers and raw body of an inbound text message webhook."""
        ...


@runtime_checkable
class MediaHarness(Protocol):
    """A harness whose remote can hold media a contact sent (providers with ``downloads``)."""

    def seed_media(self, data: bytes, mime_type: str) -> str:
        """Make the remote hold ``data``; the provider's id for it."""
        ...


HarnessFactory = Callable[[], AbstractAsyncContextManager[ProviderHarness]]
AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TO = Recipient("phone", "255712345678")


def sample_content(mode: str, template: TemplateSpec | None) -> Content:
    """A small valid message of each mode."""
    samples: dict[str, Content] = {
        "text": Text("hello from the contract suite"),
        "media": Media(
            kind=MediaKind.IMAGE,
            source=MediaUrl("https://cdn.example.com/a.png"),
            caption="an image",
        ),
        "interactive": ButtonsMessage(
            body="Pick one",
            buttons=(ReplyButton(id="yes", title="Yes"), ReplyButton(id="no", title="No")),
        ),
        "location": Location(latitude=-6.8, longitude=39.28, name="Dar es Salaam"),
        "contacts": ContactCards(
            (
                ContactCard(
                    name=ContactName(formatted_name="Ana", first_name="Ana"),
                    phones=(ContactPhone(phone="+255712345678"),),
                ),
            )
        ),
        "reaction": Reaction(message_id="wamid.target", emoji="👍"),
    }
    if mode == "template":
        name = template.name if template else "hello_world"
        language = template.language if template else "en_US"
        params = {key: f"v{i}" for i, key in enumerate(template.body_params)} if template else {}
        return TemplateMessage(name=name, language=language, params=params)
    return samples[mode]


def _receiver(harness: ProviderHarness) -> WebhookReceiver:
    receiver = harness.provider.receiver
    assert receiver is not None, "a harness that makes webhooks tests a provider that receives them"
    return receiver


class ProviderContract:
    """Every provider port method, including failure paths. See the module docstring."""

    pytestmark = pytest.mark.anyio
    plugin_name: ClassVar[str | None] = None
    """The entry-point name of the plugin under test (a guard test checks that every
    bundled plugin has a contract subclass)."""

    @pytest.fixture(scope="class")
    @classmethod
    def open_harness(cls) -> HarnessFactory:
        raise NotImplementedError(
            "return a factory of async context managers yielding a ProviderHarness"
        )

    @pytest.fixture
    async def harness(self, open_harness: HarnessFactory) -> AsyncIterator[ProviderHarness]:
        async with open_harness() as harness:
            yield harness

    async def _send(
        self,
        harness: ProviderHarness,
        mode: str,
        *,
        to: Recipient = TO,
        client_id: str = "msg_contract_1",
    ) -> SendReceipt:
        content = sample_content(mode, harness.template)
        bound: BoundTemplate | None = None
        if isinstance(content, TemplateMessage) and harness.template is not None:
            bound = check_template_params(harness.template, content)
        message = OutboundMessage(to=to, content=content, sender_id=harness.sender_id)
        return await harness.provider.send(
            message, sender=harness.sender_id, client_id=client_id, template=bound
        )

    @pytest.mark.parametrize("mode", MODES)
    async def test_capabilities_are_honest(self, harness: ProviderHarness, mode: str) -> None:
        caps = harness.provider.capabilities
        before = harness.remote_calls
        if mode in caps.modes:
            receipt = await self._send(harness, mode)
            assert isinstance(receipt, SendReceipt)
            assert receipt.provider_message_id
            assert harness.remote_calls > before
            assert harness.sent()[-1]["mode"] == mode
            assert harness.sent()[-1]["to"] == str(TO)
        else:
            with pytest.raises(WaportError) as info:
                await self._send(harness, mode)
            assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED
            assert harness.remote_calls == before

    @pytest.mark.parametrize("kind", ["group", "channel"])
    async def test_groups_and_channels_are_honest(
        self, harness: ProviderHarness, kind: str
    ) -> None:
        group = getattr(harness, "group", Recipient("group", "120363025246125486@g.us"))
        to = group if kind == "group" else Recipient("channel", "120363025246125486@newsletter")
        supported = (
            harness.provider.capabilities.groups
            if kind == "group"
            else harness.provider.capabilities.channels
        )
        before = harness.remote_calls
        if supported:
            receipt = await self._send(harness, "text", to=to)
            assert receipt.provider_message_id
            assert harness.sent()[-1]["to"] == str(to)
        else:
            with pytest.raises(WaportError) as info:
                await self._send(harness, "text", to=to)
            assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED
            assert harness.remote_calls == before

    async def test_a_user_known_by_id_is_sent_to_only_where_the_provider_can(
        self, harness: ProviderHarness
    ) -> None:
        to = Recipient("user", "US.13491208655302741918")
        before = harness.remote_calls
        if harness.provider.capabilities.user_ids:
            receipt = await self._send(harness, "text", to=to)
            assert receipt.provider_message_id
            assert harness.sent()[-1]["to"] == str(to)
        else:
            with pytest.raises(WaportError) as info:
                await self._send(harness, "text", to=to)
            assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED
            assert harness.remote_calls == before

    @pytest.mark.parametrize("kind", list(RemoteFailure))
    async def test_remote_failures_map_to_catalogue_codes(
        self, harness: ProviderHarness, kind: RemoteFailure
    ) -> None:
        if kind not in harness.supported_failures:
            pytest.skip(f"{kind.value} cannot happen on this provider")
        harness.script_failure(kind)
        mode = "template" if kind == RemoteFailure.TEMPLATE_NOT_APPROVED else "text"
        with pytest.raises(WaportError) as info:
            await self._send(harness, mode)
        code, retryable = EXPECTED[kind]
        assert info.value.code == code
        assert info.value.retryable == retryable
        if kind not in (RemoteFailure.TIMEOUT, RemoteFailure.MALFORMED):
            assert info.value.provider_code, "the raw provider code is kept"

    async def test_status_webhooks_parse_to_normalised_events(
        self, harness: ProviderHarness
    ) -> None:
        receipt = await self._send(harness, "text")
        for status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ):
            headers, body = harness.status_webhook(receipt.provider_message_id, status, at=AT)
            events = _receiver(harness).parse_webhook(headers, body)
            updates = [e for e in events if isinstance(e, StatusUpdate)]
            assert len(updates) == 1
            assert updates[0].provider_message_id == receipt.provider_message_id
            assert updates[0].status == status
            assert updates[0].provider == harness.provider.name

    async def test_inbound_webhooks_parse_to_normalised_events(
        self, harness: ProviderHarness
    ) -> None:
        headers, body = harness.inbound_webhook(
            contact=TO, text="hi there", provider_message_id="in.contract.1", at=AT
        )
        events = _receiver(harness).parse_webhook(headers, body)
        inbound = [e for e in events if isinstance(e, InboundMessage)]
        assert len(inbound) == 1
        assert inbound[0].contact == TO
        assert inbound[0].text == "hi there"
        assert inbound[0].kind == "text"
        assert inbound[0].sender_id == harness.sender_id
        assert inbound[0].received_at.tzinfo is not None

    async def test_a_tampered_signature_is_rejected(self, harness: ProviderHarness) -> None:
        headers, body = harness.inbound_webhook(
            contact=TO, text="hi there", provider_message_id="in.contract.2", at=AT
        )
        tampered = body.replace(b"hi there", b"hi thera")
        with pytest.raises(WaportError) as info:
            _receiver(harness).parse_webhook(headers, tampered)
        assert info.value.code == ErrorCode.INVALID_SIGNATURE
        with pytest.raises(WaportError) as info:
            _receiver(harness).parse_webhook({}, body)
        assert info.value.code == ErrorCode.INVALID_SIGNATURE

    async def test_templates_are_listed_as_domain_specs(self, harness: ProviderHarness) -> None:
        if not harness.provider.capabilities.templates:
            pytest.skip("this provider has no templates")
        specs = await harness.provider.list_templates(harness.sender_id)
        assert specs
        assert all(isinstance(s, TemplateSpec) for s in specs)
        assert harness.template is not None
        assert any(
            (s.name, s.language) == (harness.template.name, harness.template.language)
            for s in specs
        )

    async def test_a_created_template_is_listed_and_a_deleted_one_is_not(
        self, harness: ProviderHarness
    ) -> None:
        admin = harness.provider.template_admin
        if admin is None:
            pytest.skip("this provider cannot create templates")
        body = {
            "name": "contract_made",
            "language": "en",
            "category": "UTILITY",
            "body": "Hello {{1}}, thanks.",
            "examples": {"1": "Ana"},
        }
        made = await admin.create_template(
            parse_draft(body, harness.sender_id), sender=harness.sender_id
        )
        assert (made.name, made.language, made.sender_id) == (
            "contract_made",
            "en",
            harness.sender_id,
        )
        assert made.body_params == ("1",)
        listed = await harness.provider.list_templates(harness.sender_id)
        assert ("contract_made", "en") in {(s.name, s.language) for s in listed}
        await admin.delete_template("contract_made", sender=harness.sender_id)
        listed = await harness.provider.list_templates(harness.sender_id)
        assert "contract_made" not in {s.name for s in listed}

    async def test_mark_read(self, harness: ProviderHarness) -> None:
        if not harness.provider.capabilities.mark_read:
            pytest.skip("this provider cannot mark messages read")
        before = harness.remote_calls
        await harness.provider.mark_read("in.contract.1", sender=harness.sender_id, contact=TO)
        assert harness.remote_calls > before

    async def test_media_contacts_send_can_be_downloaded(self, harness: ProviderHarness) -> None:
        downloads = harness.provider.downloads
        if downloads is None:
            pytest.skip("this provider cannot hand over media")
        assert isinstance(harness, MediaHarness), "a provider with downloads needs seed_media"
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300
        media_id = harness.seed_media(data, "image/png")
        async with downloads.download_media(media_id, sender=harness.sender_id) as got:
            body = b"".join([chunk async for chunk in got.chunks])
        assert body == data
        assert got.mime_type == "image/png"
        assert got.size in (None, len(data))
        assert digest_matches(got.sha256, hashlib.sha256(data).hexdigest())
        with pytest.raises(WaportError) as missing:
            async with downloads.download_media("no-such-media", sender=harness.sender_id):
                pass
        assert missing.value.code is ErrorCode.MEDIA_NOT_FOUND

    async def test_ping(self, harness: ProviderHarness) -> None:
        await harness.provider.ping()

    async def test_senders_are_declared(self, harness: ProviderHarness) -> None:
        assert harness.sender_id in harness.provider.senders
