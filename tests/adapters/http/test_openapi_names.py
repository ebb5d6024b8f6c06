"""The OpenAPI document names every operation for code generators: a unique
``operationId`` (camelCase, a verb first) and one tag of the documented list each, and
a relative server (the gateway that serves the document)."""

from __future__ import annotations

import re

import pytest

from waport_http.openapi import openapi_document
from waport_http.openapi_names import name_operations


def test_every_operation_has_a_unique_name_and_a_known_tag() -> None:
    doc = openapi_document()
    tags = {t["name"] for t in doc["tags"]}
    names = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            name = operation["operationId"]
            assert re.fullmatch(r"[a-z]+[A-Za-z]*", name), (method, path, name)
            assert len(operation["tags"]) == 1
            assert operation["tags"][0] in tags, (method, path)
            names.append(name)
    assert len(names) == len(set(names)) >= 44
    used = {op["tags"][0] for ops in doc["paths"].values() for op in ops.values()}
    assert used == tags  # no tag is listed without an operation
    assert doc["servers"] == [{"url": "/", "description": "the gateway that serves this document"}]


def test_an_operation_left_unnamed_is_refused() -> None:
    with pytest.raises(KeyError, match="PUT /v1/new has no operationId"):
        name_operations({"/v1/new": {"put": {"summary": "a new endpoint"}}})


def test_a_send_request_is_one_mode_with_exactly_the_fields_the_server_takes() -> None:
    from waport.domain.convert import SEND_OPTIONS
    from waport.domain.messages import MODES

    schemas = openapi_document()["components"]["schemas"]
    variants = [r["$ref"].rsplit("/", 1)[1] for r in schemas["SendRequest"]["oneOf"]]
    assert variants == [f"{mode.capitalize()}Send" for mode in MODES]
    for mode, name in zip(MODES, variants, strict=True):
        send = schemas[name]
        assert send["additionalProperties"] is False  # the server refuses any other
        refused = {"reply_to"} if mode == "reaction" else set()  # "a reaction cannot be a reply"
        assert set(send["properties"]) == (set(SEND_OPTIONS) - refused) | {mode}
        assert set(send["required"]) == {"to", mode}


def test_every_body_and_json_answer_is_a_named_schema() -> None:
    """No inline schema left for a generator to name after a path and a status."""
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            contents = [
                *operation.get("requestBody", {}).get("content", {}).items(),
                *(
                    item
                    for answer in operation["responses"].values()
                    for item in answer.get("content", {}).items()
                ),
            ]
            for content_type, media in contents:
                schema = media["schema"]
                if content_type in ("application/json", "multipart/form-data"):
                    assert "$ref" in schema, (method, path, content_type)
                    assert schema["$ref"].rsplit("/", 1)[1] in schemas
    assert schemas["MessageEnvelope"]["properties"]["status"]["enum"] == ["sent", "pending", "ok"]
    assert {"MessagePage", "KeyList", "DeleteMediaResultEnvelope", "CreateKeyRequest"} <= set(
        schemas
    )
    assert not [name for name in schemas if re.search(r"Response\d{3}", name)]


def test_every_webhook_event_has_a_payload_schema() -> None:
    from waport.domain.events import EVENT_TYPES

    doc = openapi_document()
    assert set(doc["webhooks"]) == set(EVENT_TYPES)
    sent = doc["webhooks"]["message.sent"]["post"]
    assert sent["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatusEvent"
    }
    assert [p["name"] for p in sent["parameters"]] == [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ]


def test_a_webhook_event_is_checked_against_its_documented_schema() -> None:
    """The e2e receiver checks every event it gets with this; it does find a wrong one."""
    import jsonschema_rs

    from tests.e2e.conftest import assert_documented_event

    sent = {
        "id": "evt_1",
        "type": "message.sent",
        "created_at": "2026-01-01T00:00:00+00:00",
        "data": {
            "message_id": "msg_1",
            "status": "sent",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "to": "255712345678",
            "sender_id": "s1",
            "provider_message_id": None,
        },
    }
    assert_documented_event(sent)
    with pytest.raises(jsonschema_rs.ValidationError):
        assert_documented_event({**sent, "data": {**sent["data"], "status": "lost"}})
