"""Names for code generators: an ``operationId`` per operation and a tag per resource.

A generated client names its functions after ``operationId`` (``send_message``, not
``post_v1_messages``) and groups them by tag. Every operation must have a name here:
``name_operations`` refuses a document with an operation left unnamed.
"""

from __future__ import annotations

from typing import Any, Final

OPERATION_IDS: Final = {
    ("post", "/v1/messages"): "sendMessage",
    ("get", "/v1/messages"): "listMessages",
    ("get", "/v1/messages/{message_id}"): "getMessage",
    ("post", "/v1/messages/{message_id}/read"): "markMessageRead",
    ("get", "/v1/window-status"): "getWindowStatus",
    ("post", "/v1/broadcasts"): "startBroadcast",
    ("get", "/v1/broadcasts/{broadcast_id}"): "getBroadcast",
    ("post", "/v1/media"): "uploadMedia",
    ("get", "/v1/media/{media_id}"): "downloadMedia",
    ("delete", "/v1/media/{media_id}"): "deleteMedia",
    ("get", "/v1/conversations"): "listConversations",
    ("get", "/v1/conversations/{contact}"): "listConversationMessages",
    ("get", "/v1/events/stream"): "streamEvents",
    ("get", "/v1/contacts"): "listContacts",
    ("get", "/v1/contacts/{phone}"): "getContact",
    ("patch", "/v1/contacts/{phone}"): "updateContact",
    ("delete", "/v1/contacts/{phone}"): "eraseContact",
    ("get", "/v1/contacts/{phone}/whatsapp"): "checkWhatsApp",
    ("get", "/v1/templates"): "listTemplates",
    ("post", "/v1/templates"): "createTemplate",
    ("post", "/v1/templates/sync"): "syncTemplates",
    ("delete", "/v1/templates/{name}"): "deleteTemplate",
    ("post", "/v1/keys"): "createKey",
    ("get", "/v1/keys"): "listKeys",
    ("delete", "/v1/keys/{key_id}"): "revokeKey",
    ("post", "/v1/workspaces"): "createWorkspace",
    ("get", "/v1/workspaces"): "listWorkspaces",
    ("get", "/v1/workspaces/{workspace_id}"): "getWorkspace",
    ("patch", "/v1/workspaces/{workspace_id}"): "updateWorkspace",
    ("post", "/v1/workspaces/{workspace_id}/balance"): "adjustBalance",
    ("get", "/v1/workspaces/{workspace_id}/ledger"): "listLedger",
    ("post", "/v1/senders"): "addSender",
    ("get", "/v1/senders"): "listSenders",
    ("get", "/v1/senders/{sender_id}"): "getSender",
    ("patch", "/v1/senders/{sender_id}"): "updateSender",
    ("delete", "/v1/senders/{sender_id}"): "retireSender",
    ("post", "/v1/sandbox/inbound"): "sandboxInbound",
    ("post", "/v1/sandbox/script"): "sandboxScript",
    ("get", "/webhooks/{provider}"): "verifyProviderWebhook",
    ("post", "/webhooks/{provider}"): "receiveProviderWebhook",
    ("get", "/openapi.json"): "getOpenApi",
    ("get", "/livez"): "getLiveness",
    ("get", "/healthz"): "getHealth",
    ("get", "/metrics"): "getMetrics",
}

TAGS: Final = {
    "messages": "Send messages, read them back, mark them read, the 24-hour window",
    "broadcasts": "One template to many recipients",
    "media": "The media store: upload, download, delete",
    "conversations": "Conversations and the live event stream",
    "contacts": "What waport knows of a contact; erasure",
    "templates": "The template catalogue and its lifecycle",
    "keys": "API keys",
    "tenants": "Workspaces, senders and billing",
    "sandbox": "The sandbox provider's controls",
    "webhooks": "Providers' inbound webhooks",
    "operations": "Health, metrics and this document",
}

_TAG_OF_SEGMENT: Final = {
    "window-status": "messages",
    "events": "conversations",
    "workspaces": "tenants",
    "senders": "tenants",
}


def tag_of(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[0] != "v1":
        return "webhooks" if parts[0] == "webhooks" else "operations"
    return _TAG_OF_SEGMENT.get(parts[1], parts[1])


def name_operations(paths: dict[str, Any]) -> list[dict[str, str]]:
    """Set each operation's ``operationId`` and tag; the document's ``tags`` list."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            name = OPERATION_IDS.get((method, path))
            if name is None:
                raise KeyError(f"{method.upper()} {path} has no operationId in openapi_names")
            operation["operationId"] = name
            operation["tags"] = [tag_of(path)]
    return [{"name": name, "description": text} for name, text in TAGS.items()]
