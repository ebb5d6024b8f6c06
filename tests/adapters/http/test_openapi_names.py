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


def test_a_send_request_lists_exactly_the_fields_the_server_takes() -> None:
    from waport.domain.convert import _OPTIONS
    from waport.domain.messages import MODES

    send = openapi_document()["components"]["schemas"]["SendRequest"]
    assert send["additionalProperties"] is False  # the server refuses any other
    assert set(send["properties"]) == set(_OPTIONS) | set(MODES)
