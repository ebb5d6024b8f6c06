"""Every scoped endpoint of the OpenAPI document x every subset of the scopes x
{no sender limit, limited to the sender used, limited to another sender}, over real HTTP.

The endpoints and the scope each needs are read from ``/openapi.json`` (its
``x-waport-scope``), so a new endpoint fails this test until it has a row here.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.adapters.http.conftest import Harness, open_harness
from waport.domain.records import SCOPES

pytestmark = pytest.mark.anyio

SENDER = "sandbox-sender"
TO = "255712345678"
HELLO = {"name": "hello_world", "language": "en_US"}
RATE = 1_000_000


@pytest.fixture
async def gw() -> Any:
    async with open_harness() as harness:
        yield harness


Request = tuple[str, str, Any]  # method, path, JSON body (or None)


async def _fixtures(gw: Harness, admin: str) -> dict[str, str]:
    status, body, _ = await gw.post(
        "/v1/messages", {"to": TO, "sender_id": SENDER, "template": HELLO}, key=admin
    )
    assert status == 200, body
    message = body["data"]["message_id"]
    status, body, _ = await gw.post("/v1/sandbox/inbound", {"from": TO, "text": "hello"}, key=admin)
    assert status == 200, body
    inbound = body["data"]["message_id"]
    status, body, _ = await gw.post(
        "/v1/broadcasts",
        {"template": HELLO, "sender_id": SENDER, "recipients": [{"to": "255700000001"}]},
        key=admin,
    )
    assert status == 200, body
    return {"message": message, "inbound": inbound, "broadcast": body["data"]["broadcast_id"]}


def _requests(ids: dict[str, str]) -> dict[tuple[str, str], Callable[[], Awaitable[Request]]]:
    """For each operation, a request that succeeds for a key allowed to make it."""

    async def fixed(method: str, path: str, body: Any = None) -> Request:
        return method, path, body

    return {
        ("post", "/v1/messages"): lambda: fixed(
            "POST", "/v1/messages", {"to": TO, "sender_id": SENDER, "template": HELLO}
        ),
        ("get", "/v1/messages"): lambda: fixed("GET", "/v1/messages"),
        ("get", "/v1/conversations"): lambda: fixed("GET", "/v1/conversations"),
        ("get", "/v1/conversations/{contact}"): lambda: fixed("GET", f"/v1/conversations/{TO}"),
        ("get", "/v1/contacts"): lambda: fixed("GET", "/v1/contacts"),
        ("get", "/v1/events/stream"): lambda: fixed("GET", "/v1/events/stream"),
        ("get", "/v1/contacts/{phone}"): lambda: fixed("GET", f"/v1/contacts/{TO}"),
        ("get", "/v1/contacts/{phone}/whatsapp"): lambda: fixed(
            "GET", f"/v1/contacts/{TO}/whatsapp?sender_id={SENDER}"
        ),
        ("patch", "/v1/contacts/{phone}"): lambda: fixed(
            "PATCH", f"/v1/contacts/{TO}", {"labels": {"add": ["vip"]}}
        ),
        # a number of its own: each cell erases it again (nothing left is still a 200)
        ("delete", "/v1/contacts/{phone}"): lambda: fixed("DELETE", "/v1/contacts/255700000777"),
        ("get", "/v1/messages/{message_id}"): lambda: fixed(
            "GET", f"/v1/messages/{ids['message']}"
        ),
        ("post", "/v1/messages/{message_id}/read"): lambda: fixed(
            "POST", f"/v1/messages/{ids['inbound']}/read", {}
        ),
        ("get", "/v1/window-status"): lambda: fixed(
            "GET", f"/v1/window-status?to={TO}&from={SENDER}"
        ),
        ("post", "/v1/broadcasts"): lambda: fixed(
            "POST",
            "/v1/broadcasts",
            {"template": HELLO, "sender_id": SENDER, "recipients": [{"to": "255700000002"}]},
        ),
        ("get", "/v1/broadcasts/{broadcast_id}"): lambda: fixed(
            "GET", f"/v1/broadcasts/{ids['broadcast']}"
        ),
        ("get", "/v1/templates"): lambda: fixed("GET", f"/v1/templates?sender_id={SENDER}"),
        ("post", "/v1/templates/sync"): lambda: fixed(
            "POST", "/v1/templates/sync", {"sender_id": SENDER}
        ),
        ("post", "/v1/templates"): ids["new_template"],  # type: ignore[dict-item]
        ("delete", "/v1/templates/{name}"): ids["made_template"],  # type: ignore[dict-item]
        ("post", "/v1/keys"): lambda: fixed(
            "POST", "/v1/keys", {"scopes": ["messages:read"], "senders": [SENDER]}
        ),
        ("get", "/v1/keys"): lambda: fixed("GET", "/v1/keys"),
        ("post", "/v1/workspaces"): ids["new_workspace"],  # type: ignore[dict-item]
        ("get", "/v1/workspaces"): lambda: fixed("GET", "/v1/workspaces"),
        ("get", "/v1/workspaces/{workspace_id}"): lambda: fixed("GET", "/v1/workspaces/default"),
        ("patch", "/v1/workspaces/{workspace_id}"): lambda: fixed(
            "PATCH", "/v1/workspaces/default", {"name": "Default"}
        ),
        ("post", "/v1/workspaces/{workspace_id}/balance"): lambda: fixed(
            "POST", "/v1/workspaces/prepaid/balance", {"amount": 100, "reason": "top-up"}
        ),
        ("get", "/v1/workspaces/{workspace_id}/ledger"): lambda: fixed(
            "GET", "/v1/workspaces/default/ledger"
        ),
        ("post", "/v1/senders"): lambda: fixed("POST", "/v1/senders", {"id": "extra-sender"}),
        ("get", "/v1/senders"): lambda: fixed("GET", "/v1/senders"),
        ("get", "/v1/senders/{sender_id}"): lambda: fixed("GET", f"/v1/senders/{SENDER}"),
        ("patch", "/v1/senders/{sender_id}"): lambda: fixed(
            "PATCH", f"/v1/senders/{SENDER}", {"name": "Sandbox"}
        ),
        ("delete", "/v1/senders/{sender_id}"): ids["retire_sender"],  # type: ignore[dict-item]
        ("delete", "/v1/keys/{key_id}"): ids["new_key_path"],  # type: ignore[dict-item]
        ("post", "/v1/sandbox/inbound"): lambda: fixed(
            "POST", "/v1/sandbox/inbound", {"from": TO, "to_sender": SENDER, "text": "hi"}
        ),
        ("post", "/v1/sandbox/script"): lambda: fixed(
            "POST", "/v1/sandbox/script", {"to": "255700000999", "fail_with": "RATE_LIMITED"}
        ),
        # the JSON body is the upload (a document of type application/json)
        ("post", "/v1/media"): lambda: fixed("POST", "/v1/media", {"report": 1}),
        ("get", "/v1/media/{media_id}"): lambda: fixed("GET", f"/v1/media/{ids['media']}"),
        ("delete", "/v1/media/{media_id}"): ids["new_media_path"],  # type: ignore[dict-item]
    }


# What a key limited to any senders (the one used included) gets when it has the scope:
# workspace-wide changes need a key for every sender.
LIMITED: dict[tuple[str, str], tuple[int, str]] = {
    ("patch", "/v1/workspaces/{workspace_id}"): (403, "FORBIDDEN"),
    ("post", "/v1/senders"): (403, "FORBIDDEN"),
    ("delete", "/v1/senders/{sender_id}"): (403, "FORBIDDEN"),
}

# What a key limited to another sender gets when it has the scope.
OTHER_SENDER: dict[tuple[str, str], tuple[int, str] | None] = {
    ("post", "/v1/messages"): (403, "FORBIDDEN"),
    ("get", "/v1/messages"): None,  # lists only its senders' messages
    ("get", "/v1/conversations"): None,  # lists only its senders' conversations
    ("get", "/v1/conversations/{contact}"): None,  # and only their messages
    ("get", "/v1/events/stream"): None,  # streams only its senders' changes
    ("get", "/v1/contacts"): None,  # contacts belong to the workspace, not to a sender
    ("get", "/v1/contacts/{phone}"): None,
    ("patch", "/v1/contacts/{phone}"): None,
    ("get", "/v1/contacts/{phone}/whatsapp"): (403, "FORBIDDEN"),  # asked through a sender
    ("delete", "/v1/contacts/{phone}"): None,  # an admin act on the workspace's contact
    ("get", "/v1/messages/{message_id}"): (404, "MESSAGE_NOT_FOUND"),
    ("post", "/v1/messages/{message_id}/read"): (403, "FORBIDDEN"),
    ("get", "/v1/window-status"): (403, "FORBIDDEN"),
    ("post", "/v1/broadcasts"): (403, "FORBIDDEN"),
    ("get", "/v1/broadcasts/{broadcast_id}"): (404, "BROADCAST_NOT_FOUND"),
    ("get", "/v1/templates"): (403, "FORBIDDEN"),
    ("post", "/v1/templates/sync"): (403, "FORBIDDEN"),
    ("post", "/v1/templates"): (403, "FORBIDDEN"),
    ("delete", "/v1/templates/{name}"): (403, "FORBIDDEN"),
    ("post", "/v1/keys"): (403, "FORBIDDEN"),
    ("get", "/v1/keys"): None,  # lists only the keys within its senders
    ("delete", "/v1/keys/{key_id}"): (403, "FORBIDDEN"),
    ("post", "/v1/workspaces"): None,  # the operator's: workspaces are above senders
    ("get", "/v1/workspaces"): None,
    ("get", "/v1/workspaces/{workspace_id}"): None,
    ("patch", "/v1/workspaces/{workspace_id}"): None,  # (refused to every limited key)
    ("post", "/v1/workspaces/{workspace_id}/balance"): None,
    ("get", "/v1/workspaces/{workspace_id}/ledger"): None,
    ("post", "/v1/senders"): None,
    ("get", "/v1/senders"): None,  # lists only its senders
    ("get", "/v1/senders/{sender_id}"): (404, "NOT_FOUND"),
    ("patch", "/v1/senders/{sender_id}"): (404, "NOT_FOUND"),
    ("delete", "/v1/senders/{sender_id}"): None,
    ("post", "/v1/sandbox/inbound"): (403, "FORBIDDEN"),
    ("post", "/v1/sandbox/script"): None,  # scripts only the key's own senders' sends
    ("post", "/v1/media"): None,  # media belongs to the workspace, not to a sender
    ("get", "/v1/media/{media_id}"): None,
    ("delete", "/v1/media/{media_id}"): None,
}


async def test_scope_and_sender_matrix(gw: Harness) -> None:
    async with gw.http.get(gw.base + "/openapi.json") as r:
        doc = await r.json()
    operations = {
        (method, path): op["x-waport-scope"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "x-waport-scope" in op
    }
    admin = await gw.key({"admin"}, rate=RATE)
    operator = await gw.key({"operator"}, rate=RATE)
    status, made, _ = await gw.post(
        "/v1/workspaces", {"id": "prepaid", "billing": "prepaid"}, key=operator
    )
    assert status == 201, made
    ids = await _fixtures(gw, admin)

    async def new_key_path() -> Request:
        status, body, _ = await gw.post(
            "/v1/keys", {"scopes": ["messages:read"], "senders": [SENDER]}, key=admin
        )
        assert status == 201
        return "DELETE", f"/v1/keys/{body['data']['id']}", None

    async def upload() -> str:
        status, body, _ = await gw.post("/v1/media", {"report": 1}, key=admin)
        assert status == 201, body
        return str(body["data"]["media_id"])

    made = iter(range(10**6))

    async def new_workspace() -> Request:
        return "POST", "/v1/workspaces", {"id": f"tenant-{next(made)}"}

    async def retire_sender() -> Request:
        status, body, _ = await gw.post("/v1/senders", {"id": "extra-sender"}, key=admin)
        assert status == 201, body
        return "DELETE", "/v1/senders/extra-sender", None

    def template(name: str) -> dict[str, Any]:
        return {"sender_id": SENDER, "name": name, "language": "en", "category": "UTILITY"} | {
            "body": "Hello {{1}}, thanks.",
            "examples": {"1": "Ana"},
        }

    async def new_template() -> Request:
        return "POST", "/v1/templates", template(f"matrix_{next(made)}")

    async def made_template() -> Request:
        name = f"matrix_{next(made)}"
        status, body, _ = await gw.post("/v1/templates", template(name), key=admin)
        assert status == 201, body
        return "DELETE", f"/v1/templates/{name}?sender_id={SENDER}", None

    async def new_media_path() -> Request:
        return "DELETE", f"/v1/media/{await upload()}", None

    ids_with_key: dict[str, Any] = {
        **ids,
        "new_key_path": new_key_path,
        "media": await upload(),
        "new_media_path": new_media_path,
        "new_workspace": new_workspace,
        "retire_sender": retire_sender,
        "new_template": new_template,
        "made_template": made_template,
    }
    requests = _requests(ids_with_key)
    assert set(operations) == set(requests) == set(OTHER_SENDER), "a new endpoint needs a row"

    async def call(request: Request, key: str | None) -> tuple[int, str | None]:
        method, path, body = request
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with gw.http.request(method, gw.base + path, json=body, headers=headers) as r:
            if r.content_type == "text/event-stream":  # open: that is the answer; leave
                return r.status, None
            payload = await r.json(content_type=None)
            return r.status, (payload.get("error") or {}).get("code")

    cells = mismatches = 0
    problems: list[str] = []
    for op in sorted(operations):
        status, code = await call(await requests[op](), None)
        cells += 1
        if (status, code) != (401, "INVALID_API_KEY"):
            problems.append(f"{op} without a key: {status} {code}")
    subsets = [
        frozenset(c) for n in range(len(SCOPES) + 1) for c in itertools.combinations(SCOPES, n)
    ]
    for scopes, limit in itertools.product(subsets, (None, SENDER, "other-sender")):
        key = (
            await gw.key(set(scopes), senders={limit} if limit else None, rate=RATE)
            if scopes
            else None
        )
        if key is None:  # a key must have at least one scope; the empty set is "no key"
            continue
        for op, scope in sorted(operations.items()):
            status, code = await call(await requests[op](), key)
            cells += 1
            allowed = "operator" in scopes or (
                scope != "operator" and ("admin" in scopes or scope in scopes)
            )
            if not allowed:
                expected: Any = (403, "INSUFFICIENT_SCOPE")
            elif limit is not None and op in LIMITED:
                expected = LIMITED[op]
            elif limit == "other-sender" and OTHER_SENDER[op] is not None:
                expected = OTHER_SENDER[op]
            else:
                expected = "2xx"
            ok = 200 <= status < 300 if expected == "2xx" else (status, code) == expected
            if not ok:
                mismatches += 1
                problems.append(f"{op} scopes={sorted(scopes)} limit={limit}: {status} {code}")
    assert not problems, "\n".join(problems[:30])
    # every cell exercised: (63 non-empty subsets x 3 sender limits + no key) per operation
    assert cells == len(operations) * ((len(subsets) - 1) * 3 + 1)
    assert mismatches == 0
