"""Everything a provider plugin needs, from one module.

A provider implements ``Provider`` (and the roles it has) over these values, and is
registered by a ``ProviderPlugin`` under the ``waport.providers`` entry point; its
``open`` gets a ``PluginContext`` (the clock to read time from, the ids, the shared HTTP
session). ``docs/guides/plugin-authors.md`` walks through one; the contract suite it must
pass is ``waport.testing.contracts.ProviderContract``.
"""

from __future__ import annotations

from waport.domain.attachments import MediaData, MediaStream
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage, StatusUpdate
from waport.domain.limits import MediaKind
from waport.domain.messages import OutboundMessage
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.status import ErrorDetail, MessageStatus
from waport.domain.templates import BoundTemplate, TemplateSpec
from waport.plugins import PluginContext, ProviderPlugin
from waport.ports import (
    Capabilities,
    Clock,
    EventSource,
    MediaDownloader,
    NumberCheck,
    Provider,
    ProviderEvent,
    SandboxControl,
    SendReceipt,
    SubscriptionHandshake,
    TemplateAdmin,
    WebhookReceiver,
)

__all__ = [
    "BoundTemplate",
    "Capabilities",
    "Clock",
    "ErrorCode",
    "ErrorDetail",
    "EventSource",
    "InboundMessage",
    "MediaData",
    "MediaDownloader",
    "MediaKind",
    "MediaStream",
    "MessageStatus",
    "NumberCheck",
    "OutboundMessage",
    "PluginContext",
    "Provider",
    "ProviderEvent",
    "ProviderPlugin",
    "Recipient",
    "SandboxControl",
    "SendReceipt",
    "StatusUpdate",
    "SubscriptionHandshake",
    "TemplateAdmin",
    "TemplateSpec",
    "WaportError",
    "WebhookReceiver",
    "parse_recipient",
]
