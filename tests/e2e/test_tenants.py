"""Workspaces and senders over real HTTP against a real ``waport serve`` (issue 26): the
first-start key is an operator's and creates two workspaces; each workspace's key sees
and changes only its own; a provider number belongs to one workspace and its inbound
traffic lands there; a suspended workspace cannot send; the 250 tier is enforced; a
send without ``sender_id`` and the window check without ``from`` use the same default
sender."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from .conftest import Server, waport_serve

pytestmark = pytest.mark.anyio
ENV = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}
HELLO = {"name": "hello_world", "language": "en_US"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Client:
    def __init__(self, http: aiohttp.ClientSession, gateway: Server, key: str) -> None:
        self.http, self.gateway, self.key = http, gateway, key

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.key}"}
        url = self.gateway.base + path
        async with self.http.request(method, url, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, answer = await self.call(method, path, body)
        assert got == status, (method, path, answer)
        return answer["data"]

    async def refused(self, method: str, path: str, body: Any = None) -> tuple[int, str, Any]:
        status, answer = await self.call(method, path, body)
        error = answer["error"]
        return status, error["code"], error.get("param")


async def test_two_tenants_over_http(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        async with aiohttp.ClientSession() as http:
            operator = Client(http, gateway, gateway.key)
            made = {}
            for name in ("acme", "globex"):
                data = await operator.ok(
                    "POST", "/v1/workspaces", {"id": name, "name": name.title()}, 201
                )
                assert (data["status"], data["messaging_tier"]) == ("active", 250)
                assert "operator" not in data["admin_key"]["scopes"]
                made[name] = Client(http, gateway, data["admin_key"]["key"])
            acme, globex = made["acme"], made["globex"]
            assert await operator.refused("POST", "/v1/workspaces", {"id": "acme"}) == (
                409,
                "WORKSPACE_EXISTS",
                "id",
            )
            listed = await operator.ok("GET", "/v1/workspaces")
            assert [w["id"] for w in listed] == ["acme", "default", "globex"]

            # a workspace's key: its own workspace only, and not what the operator decides
            assert (await acme.refused("GET", "/v1/workspaces"))[:2] == (403, "INSUFFICIENT_SCOPE")
            assert (await acme.refused("GET", "/v1/workspaces/globex"))[:2] == (404, "NOT_FOUND")
            assert await acme.refused("PATCH", "/v1/workspaces/acme", {"status": "suspended"}) == (
                403,
                "FORBIDDEN",
                "status",
            )
            assert (await acme.refused("POST", "/v1/keys", {"scopes": ["operator"]}))[:2] == (
                403,
                "FORBIDDEN",
            )
            renamed = await acme.ok("PATCH", "/v1/workspaces/acme", {"name": "Acme Ltd"})
            assert renamed["name"] == "Acme Ltd"

            # senders: a number belongs to one workspace
            await acme.ok("POST", "/v1/senders", {"id": "acme-1", "phone": "+255700100001"}, 201)
            await globex.ok("POST", "/v1/senders", {"id": "globex-1"}, 201)
            assert await globex.refused("POST", "/v1/senders", {"id": "acme-1"}) == (
                409,
                "SENDER_IN_USE",
                "id",
            )
            assert (await globex.refused("GET", "/v1/senders/acme-1"))[:2] == (404, "NOT_FOUND")
            assert [s["id"] for s in await acme.ok("GET", "/v1/senders")] == ["acme-1"]

            # inbound to acme's number lands in acme, and only acme sees it
            wrote = await acme.ok(
                "POST",
                "/v1/sandbox/inbound",
                {"from": "255712000001", "text": "hi", "to_sender": "acme-1"},
            )
            assert wrote["sender_id"] == "acme-1"
            assert [m["message_id"] for m in await acme.ok("GET", "/v1/messages")] == [
                wrote["message_id"]
            ]
            assert await globex.ok("GET", "/v1/messages") == []
            assert (await globex.refused("GET", f"/v1/messages/{wrote['message_id']}"))[:2] == (
                404,
                "MESSAGE_NOT_FOUND",
            )
            assert await globex.ok("GET", "/v1/contacts") == []
            assert [c["phone"] for c in await acme.ok("GET", "/v1/contacts")] == ["255712000001"]

            # the default sender: a template without sender_id, and the window check
            sent = await acme.ok("POST", "/v1/messages", {"to": "255712000002", "template": HELLO})
            assert sent["sender_id"] == "acme-1"
            await acme.ok("POST", "/v1/senders", {"id": "acme-2"}, 201)
            await acme.ok("PATCH", "/v1/workspaces/acme", {"default_sender_id": "acme-2"})
            sent = await acme.ok("POST", "/v1/messages", {"to": "255712000002", "template": HELLO})
            assert sent["sender_id"] == "acme-2"
            window = await acme.ok("GET", "/v1/window-status?to=255712000001")
            assert window["within_window"] is False  # they wrote to acme-1, not acme-2
            status, code, _ = await acme.refused(
                "POST", "/v1/messages", {"to": "255712000001", "text": {"body": "hello"}}
            )
            assert (status, code) == (422, "WINDOW_CLOSED")  # the send agrees
            assert (
                await acme.refused(
                    "PATCH", "/v1/workspaces/acme", {"default_sender_id": "globex-1"}
                )
            )[:2] == (422, "SENDER_NOT_FOUND")

            # suspended by the operator: its sends are refused, the other tenant's go
            await operator.ok("PATCH", "/v1/workspaces/globex", {"status": "suspended"})
            status, code, _ = await globex.refused(
                "POST", "/v1/messages", {"to": "255712000003", "template": HELLO}
            )
            assert (status, code) == (422, "BILLING_SUSPENDED")
            await operator.ok("PATCH", "/v1/workspaces/globex", {"status": "active"})
            await globex.ok("POST", "/v1/messages", {"to": "255712000003", "template": HELLO})

            # the 250 tier: 249 more new contacts fit (one reached above), the next does not
            recipients = [{"to": f"2557130{n:05d}"} for n in range(249)]
            status, body = await acme.call(
                "POST", "/v1/broadcasts", {"template": HELLO, "recipients": recipients}
            )
            assert status == 200, body
            status, code, _ = await acme.refused(
                "POST", "/v1/messages", {"to": "255714000000", "template": HELLO}
            )
            assert (status, code) == (429, "MESSAGING_LIMIT_REACHED")
            async with http.post(
                gateway.base + "/v1/messages",
                json={"to": "255714000000", "template": HELLO},
                headers={"Authorization": f"Bearer {acme.key}"},
            ) as r:
                # room again when the first contact reached leaves the moving 24 h
                assert 86_000 < int(r.headers["Retry-After"]) <= 86_400
            await operator.ok("PATCH", "/v1/workspaces/acme", {"messaging_tier": 2000})
            await acme.ok("POST", "/v1/messages", {"to": "255714000000", "template": HELLO})
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log


async def test_a_prepaid_workspace_pays_per_message_and_gets_failures_back(
    tmp_path: Path,
) -> None:
    env = {**ENV, "WAPORT_PRICES": "MARKETING=30,UTILITY=10"}
    with waport_serve(tmp_path, env) as gateway:
        async with aiohttp.ClientSession() as http:
            operator = Client(http, gateway, gateway.key)
            made = await operator.ok(
                "POST", "/v1/workspaces", {"id": "shop", "billing": "prepaid"}, 201
            )
            assert (made["billing"], made["balance"]) == ("prepaid", 0)
            shop = Client(http, gateway, made["admin_key"]["key"])
            await shop.ok("POST", "/v1/senders", {"id": "shop-1"}, 201)
            hello = {"to": "255715000001", "template": HELLO}  # a UTILITY template: 10

            # nothing to pay with: refused, and nothing stored
            assert (await shop.refused("POST", "/v1/messages", hello))[:2] == (
                402,
                "INSUFFICIENT_BALANCE",
            )
            assert await shop.ok("GET", "/v1/messages") == []
            top_up = {"amount": 25, "reason": "first top-up"}
            credited = await operator.ok("POST", "/v1/workspaces/shop/balance", top_up)
            assert credited["balance"] == 25
            assert (await shop.refused("POST", "/v1/workspaces/shop/balance", top_up))[:2] == (
                403,
                "INSUFFICIENT_SCOPE",
            )
            sent = await shop.ok("POST", "/v1/messages", hello)
            assert sent["status"] == "sent"
            # a broadcast that does not fit whole: refused whole, nothing stored
            two = {
                "template": HELLO,
                "recipients": [{"to": "255715000002"}, {"to": "255715000003"}],
            }
            assert (await shop.refused("POST", "/v1/broadcasts", two))[:2] == (
                402,
                "INSUFFICIENT_BALANCE",
            )
            assert len(await shop.ok("GET", "/v1/messages")) == 1
            # a send that fails is refunded, once
            script = {"to": "255715000009", "fail_with": "RECIPIENT_NOT_ON_WHATSAPP"}
            await shop.ok("POST", "/v1/sandbox/script", script)
            status, answer = await shop.call(
                "POST", "/v1/messages", {**hello, "to": "255715000009"}
            )
            assert (status, answer["error"]["code"]) == (422, "RECIPIENT_NOT_ON_WHATSAPP")
            failed = answer["data"]
            assert failed["status"] == "failed"
            workspace = await shop.ok("GET", "/v1/workspaces/shop")
            assert workspace["balance"] == 15  # 25 - 10 - 10 + 10
            refused_debit = {"amount": -16, "reason": "fee"}
            assert (await operator.refused("POST", "/v1/workspaces/shop/balance", refused_debit))[
                :2
            ] == (
                402,
                "INSUFFICIENT_BALANCE",
            )

            # the ledger, a page at a time, newest first
            entries: list[dict[str, Any]] = []
            path = "/v1/workspaces/shop/ledger?limit=2"
            while True:
                status, page = await shop.call("GET", path)
                assert status == 200, page
                entries.extend(page["data"])
                if not page["next_cursor"]:
                    break
                path = f"/v1/workspaces/shop/ledger?limit=2&cursor={page['next_cursor']}"
            assert [(e["kind"], e["amount"]) for e in reversed(entries)] == [
                ("credit", 25),
                ("debit", -10),
                ("debit", -10),
                ("refund", 10),
            ]
            assert entries[0]["message_id"] == failed["message_id"]
            assert sum(e["amount"] for e in entries) == workspace["balance"]
            other = await operator.ok("POST", "/v1/workspaces", {"id": "other"}, 201)
            stranger = Client(http, gateway, other["admin_key"]["key"])
            assert (await stranger.refused("GET", "/v1/workspaces/shop/ledger"))[:2] == (
                404,
                "NOT_FOUND",
            )
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log


async def test_a_workspaces_own_pacing_and_opt_out_words(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        async with aiohttp.ClientSession() as http:
            operator = Client(http, gateway, gateway.key)
            made = await operator.ok("POST", "/v1/workspaces", {"id": "shop"}, 201)
            shop = Client(http, gateway, made["admin_key"]["key"])
            await shop.ok("POST", "/v1/senders", {"id": "shop-1"}, 201)
            settings = {
                "pacing": {"MARKETING": [8, 25]},
                "opt_out": {"keywords": ["basta"], "opt_in_keywords": ["vuelvo"], "reply": "Adiós"},
            }
            changed = await shop.ok("PATCH", "/v1/workspaces/shop", settings)
            assert changed["pacing"] == {"MARKETING": [8.0, 25.0]}
            assert changed["opt_out"]["keywords"] == ["basta"]
            bad = {"pacing": {"MARKETING": [25, 8]}}
            assert await shop.refused("PATCH", "/v1/workspaces/shop", bad) == (
                400,
                "VALIDATION_FAILED",
                "pacing.MARKETING",
            )

            # two marketing sends from one sender: the second waits 8-25 s
            sale = {"name": "spring_sale", "language": "en_US", "params": ["20%"]}
            first = await shop.ok("POST", "/v1/messages", {"to": "255717000001", "template": sale})
            status, body = await shop.call(
                "POST", "/v1/messages", {"to": "255717000002", "template": sale}
            )
            assert status == 202, body
            second = body["data"]
            assert second["status"] == "pending"
            gap = datetime.fromisoformat(second["not_before"]) - datetime.fromisoformat(
                first["created_at"]
            )
            assert timedelta(seconds=8) <= gap <= timedelta(seconds=25.5)
            # a utility template is not paced
            await shop.ok("POST", "/v1/messages", {"to": "255717000003", "template": HELLO})

            # the workspace's words: "basta" opts out (and is answered), STOP does not here
            await shop.ok("POST", "/v1/sandbox/inbound", {"from": "255717000004", "text": "STOP"})
            contact = await shop.ok("GET", "/v1/contacts/255717000004")
            assert contact["opted_out"] is False
            await shop.ok("POST", "/v1/sandbox/inbound", {"from": "255717000004", "text": "Basta!"})
            contact = await shop.ok("GET", "/v1/contacts/255717000004")
            assert contact["opted_out"] is True
            status, code, _ = await shop.refused(
                "POST", "/v1/messages", {"to": "255717000004", "template": sale}
            )
            assert (status, code) == (422, "RECIPIENT_OPTED_OUT")
            chats = await shop.ok("GET", "/v1/conversations")
            last = {c["contact"]: c["last_message"] for c in chats}["255717000004"]
            assert (last["direction"], last["summary"]) == ("outbound", "Adiós")  # the reply
            # the default workspace keeps the gateway's words
            await operator.ok(
                "POST", "/v1/sandbox/inbound", {"from": "255717000005", "text": "STOP"}
            )
            assert (await operator.ok("GET", "/v1/contacts/255717000005"))["opted_out"] is True
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log
