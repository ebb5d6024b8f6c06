"""waport: WhatsApp Business messaging behind one pure domain core.

The stable public API (DESIGN §6) is importable from here; ``waport.ports``,
``waport.plugins`` and ``waport.testing`` are public too. Anything else may change.
"""

from waport.domain.broadcast import BroadcastRequest, BroadcastSummary, plan_broadcast
from waport.domain.convert import parse_broadcast_request, parse_send_request
from waport.domain.errors import ConfigError, ErrorCode, WaportError
from waport.domain.events import InboundMessage, StatusUpdate
from waport.domain.limits import MediaKind
from waport.domain.media import check_media
from waport.domain.messages import OutboundMessage
from waport.domain.ratelimit import RateDecision, RateLimit, gcra
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.render import to_request_dict
from waport.domain.status import MessageStatus, merge_status
from waport.domain.templates import (
    TemplateCategory,
    TemplateSpec,
    TemplateStatus,
    check_template_params,
)
from waport.domain.window import WindowStatus, window_status

__all__ = [
    # recipients and requests
    "Recipient",
    "parse_recipient",
    "OutboundMessage",
    "parse_send_request",
    "to_request_dict",
    "BroadcastRequest",
    "BroadcastSummary",
    "parse_broadcast_request",
    "plan_broadcast",
    # rules
    "window_status",
    "WindowStatus",
    "check_media",
    "MediaKind",
    "TemplateSpec",
    "TemplateStatus",
    "TemplateCategory",
    "check_template_params",
    "MessageStatus",
    "merge_status",
    "RateLimit",
    "RateDecision",
    "gcra",
    # events
    "InboundMessage",
    "StatusUpdate",
    # errors
    "ErrorCode",
    "WaportError",
    "ConfigError",
]

__version__ = "0.1.0"
