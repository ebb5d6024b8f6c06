"""``/v1/contacts`` over real HTTP against a real ``waport serve`` (issue 25): a PATCH
round-trips labels, attributes and the name through GET; the listing filters by
label, opt-out and number or name, and walks by cursor; a contact set opted out
through the API is refused marketing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import Server, waport_serve

pytestmark = pytest.mark.anyio
ENV = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}


async def _call(
    http: aiohttp.ClientSession, gateway: Server, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, gateway.base + path, json=body) as r:
        return r.status, await r.json()


async def test_contacts_round_trip_filter_and_opt_out(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            status, body = await _call(http, gateway, "GET", "/v1/contacts/255712345001")
            assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
            # a contact who wrote is known before anyone labels them
            await _call(
                http, gateway, "POST", "/v1/sandbox/inbound", {"from": "255712345001", "text": "hi"}
            )
            status, ana = await _call(http, gateway, "GET", "/v1/contacts/+255 712 345 001")
            assert status == 200, ana
            assert ana["data"]["first_seen"] == ana["data"]["last_seen"]
            assert ana["data"]["windows"]["sandbox-sender"]["within_window"] is True

            change = {
                "name": "Ana",
                "labels": {"add": ["vip", "lead"]},
                "attributes": {"city": "Dar es Salaam", "orders": 3},
            }
            status, patched = await _call(
                http, gateway, "PATCH", "/v1/contacts/255712345001", change
            )
            assert status == 200, patched
            status, again = await _call(http, gateway, "GET", "/v1/contacts/255712345001")
            data = again["data"]
            assert (data["name"], data["labels"], data["attributes"]) == (
                "Ana",
                ["lead", "vip"],
                {"city": "Dar es Salaam", "orders": 3},
            )
            assert data == patched["data"] | {"windows": data["windows"]}
            change = {"labels": {"remove": ["lead"]}, "attributes": {"orders": None}}
            status, patched = await _call(
                http, gateway, "PATCH", "/v1/contacts/255712345001", change
            )
            assert (patched["data"]["labels"], patched["data"]["attributes"]) == (
                ["vip"],
                {"city": "Dar es Salaam"},
            )
            for n, label in ((2, "vip"), (3, "lead"), (4, "vip")):
                await _call(
                    http,
                    gateway,
                    "PATCH",
                    f"/v1/contacts/25571234500{n}",
                    {"labels": {"add": [label]}, "name": f"Client {n}"},
                )
            status, opted = await _call(
                http, gateway, "PATCH", "/v1/contacts/255712345004", {"opted_out": True}
            )
            assert opted["data"]["opted_out"] is True
            assert opted["data"]["consent"][-1]["source"] == "api"

            async def phones(query: str) -> list[str]:
                status, page = await _call(http, gateway, "GET", "/v1/contacts" + query)
                assert status == 200, page
                return [c["phone"][-1] for c in page["data"]]

            assert await phones("") == ["1", "2", "3", "4"]
            assert await phones("?label=vip") == ["1", "2", "4"]
            assert await phones("?opted_out=true") == ["4"]
            assert await phones("?q=ana") == ["1"]
            assert await phones("?q=%2B255712345003") == ["3"]
            walked: list[str] = []
            query = "?limit=3"
            while True:
                status, page = await _call(http, gateway, "GET", "/v1/contacts" + query)
                walked += [c["phone"] for c in page["data"]]
                if page["next_cursor"] is None:
                    break
                query = f"?limit=3&cursor={page['next_cursor']}"
            assert len(walked) == len(set(walked)) == 4

            sale = {"name": "spring_sale", "language": "en_US", "params": ["Ben"]}
            body = {"to": "255712345004", "sender_id": "sandbox-sender", "template": sale}
            status, refused = await _call(http, gateway, "POST", "/v1/messages", body)
            assert (status, refused["error"]["code"]) == (422, "RECIPIENT_OPTED_OUT")
            status, bad = await _call(
                http, gateway, "PATCH", "/v1/contacts/255712345001", {"labels": ["vip"]}
            )
            assert (status, bad["error"]["param"]) == (400, "labels")
        log = gateway.stop()
    assert "Traceback" not in log


async def test_whether_a_number_has_whatsapp_on_the_sandbox(tmp_path: Path) -> None:
    """``GET /v1/contacts/{phone}/whatsapp`` (issue 27): the sandbox can tell; the
    workspace's default sender asks; a number that is not one is refused."""
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            status, body = await _call(http, gateway, "GET", "/v1/contacts/+255712345009/whatsapp")
            assert status == 200, body
            assert body["data"] == {
                "phone": "255712345009",
                "sender_id": "sandbox-sender",
                "on_whatsapp": True,
            }
            status, body = await _call(http, gateway, "GET", "/v1/contacts/hello/whatsapp")
            assert (status, body["error"]["code"]) == (400, "INVALID_RECIPIENT")
