"""A user's test against a real gateway, over HTTP (any client; urllib here)."""

import json
import urllib.request
from typing import Any

from waport_pytest import Gateway


def call(gateway: Gateway, method: str, path: str, body: object = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the gateway's own http URL
        gateway.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={**gateway.headers, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.load(answer)


def test_a_template_goes_out_through_the_gateway(waport_gateway: Gateway) -> None:
    template = {"name": "hello_world", "language": "en_US"}
    answer = call(
        waport_gateway, "POST", "/v1/messages", {"to": "+255712345678", "template": template}
    )
    sent = answer["data"]
    assert sent["status"] == "sent"
    again = call(waport_gateway, "GET", "/v1/messages/" + sent["message_id"])["data"]
    assert again["to"] == "255712345678"
    assert again["mode"] == "template"
