"""The quick start's flow through a client generated from the served ``/openapi.json``
(``openapi-python-client``): typed models in, typed models out. Run by
``tests/e2e/test_generated_client.py`` as ``python newcomer_flow.py BASE_URL KEY``, and
type-checked there with ``mypy --strict``."""

from __future__ import annotations

import sys

from waport_client import AuthenticatedClient
from waport_client.api.conversations import list_conversations
from waport_client.api.messages import get_message, get_window_status, send_message
from waport_client.api.sandbox import sandbox_inbound
from waport_client.models import (
    Error,
    ErrorErrorCode,
    HistoryEntry,
    MessageEnvelope,
    MessageStatus,
    SandboxInboundRequest,
    TemplateContent,
    TemplateSend,
    TextSend,
    WindowEnvelope,
)

ANA = "+255712345678"


def main(base_url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=key)

    refused = send_message.sync(client=client, body=TextSend(to=ANA, text="Hello!"))
    assert isinstance(refused, Error), refused
    assert refused.error.code == ErrorErrorCode.WINDOW_CLOSED
    print("text refused:", refused.error.code.value, refused.error.param)

    template = TemplateContent(name="hello_world", language="en_US")
    sent = send_message.sync(client=client, body=TemplateSend(to=ANA, template=template))
    assert isinstance(sent, MessageEnvelope), sent
    assert sent.data.status == MessageStatus.SENT
    print("template:", sent.data.message_id, sent.data.status.value)

    reply = sandbox_inbound.sync(
        client=client, body=SandboxInboundRequest(from_=ANA, text="Where is my order?")
    )
    assert isinstance(reply, MessageEnvelope), reply
    window = get_window_status.sync(client=client, to=ANA)
    assert isinstance(window, WindowEnvelope), window
    assert window.data.within_window is True
    print("window open until", window.data.expires_at)

    text = send_message.sync(client=client, body=TextSend(to=ANA, text="It ships today."))
    assert isinstance(text, MessageEnvelope), text
    shown = get_message.sync(client=client, message_id=text.data.message_id)
    assert isinstance(shown, MessageEnvelope), shown
    history: list[HistoryEntry] = list(shown.data.history or [])
    assert [h.status for h in history][:2] == [MessageStatus.PENDING, MessageStatus.SENT]
    print("history:", " -> ".join(h.status.value for h in history))

    page = list_conversations.sync(client=client)
    assert page is not None
    assert not isinstance(page, Error), page
    assert [c.contact for c in page.data] == ["255712345678"]
    print("conversations:", len(page.data), "unread:", page.data[0].unread)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
