"""One workspace's key cannot reach another workspace's messages through a send (issue
23): a ``reply_to`` or a reaction naming them is MESSAGE_NOT_FOUND, and nothing is sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from waport.domain.records import Sender, Workspace

from .conftest import Harness, open_harness

pytestmark = pytest.mark.anyio
TO = "255712345678"


async def _other_workspace(gw: Harness) -> str:
    store = gw.running.store
    await store.workspaces.put(Workspace(id="other", name="Other"))
    await store.workspaces.put_sender(Sender(id="sandbox-sender-2", workspace_id="other"))
    return await gw.key({"messages:send", "messages:read"}, workspace="other")


async def test_reply_to_and_reactions_stay_inside_the_workspace(gw: Harness) -> None:
    # a message of the default workspace, sent and answered by the provider
    status, sent, _ = await gw.post(
        "/v1/messages",
        {
            "to": TO,
            "sender_id": "sandbox-sender",
            "template": {"name": "hello_world", "language": "en_US"},
        },
    )
    assert status in (200, 201, 202), sent
    theirs = sent["data"]["message_id"]
    other = await _other_workspace(gw)
    sandbox = gw.running.provider.sandbox
    before = len(gw.running.provider.sent)  # type: ignore[attr-defined]
    assert sandbox is not None
    for body, param in [
        (
            {"to": TO, "sender_id": "sandbox-sender-2", "text": {"body": "hi"}, "reply_to": theirs},
            "reply_to",
        ),
        (
            {"to": TO, "sender_id": "sandbox-sender-2", "reaction": {"message_id": theirs}},
            "reaction.message_id",
        ),
    ]:
        status, answer, _ = await gw.post("/v1/messages", body, key=other)
        assert status == 404, answer
        assert (answer["error"]["code"], answer["error"]["param"]) == ("MESSAGE_NOT_FOUND", param)
    assert len(gw.running.provider.sent) == before  # type: ignore[attr-defined]
    # the same reaction inside the workspace goes out
    await gw.post("/v1/sandbox/inbound", {"from": TO, "text": "hi"})
    status, answer, _ = await gw.post(
        "/v1/messages",
        {
            "to": TO,
            "sender_id": "sandbox-sender",
            "reaction": {"message_id": theirs, "emoji": "👍"},
        },
    )
    assert status in (200, 201, 202), answer
    assert gw.running.provider.sent[-1].message.content.message_id.startswith("sbx.")  # type: ignore[attr-defined]


async def test_two_admin_keys_revoked_at_once_leave_one(tmp_path: Path) -> None:
    """Each of the last two admin keys revoking the other, at the same moment: one
    succeeds, the other is 409 LAST_ADMIN_KEY, and an admin key remains (SQLite: the
    check and the revocation each wait on the database, where two requests interleave)."""
    for n in range(5):
        database = str(tmp_path / f"keys{n}.db")
        async with open_harness({"WAPORT_DATABASE": database}) as fresh:
            keys = []
            for _ in range(2):
                status, body, _ = await fresh.post("/v1/keys", {"scopes": ["admin"]})
                assert status == 201, body
                keys.append((body["data"]["id"], body["data"]["key"]))
            # the harness's own admin key goes first: two admin keys are left
            status, listed, _ = await fresh.get("/v1/keys")
            own = next(k["id"] for k in listed["data"] if k["id"] not in {i for i, _ in keys})
            async with fresh.http.delete(
                f"{fresh.base}/v1/keys/{own}", headers=fresh.headers(keys[0][1])
            ) as r:
                assert r.status == 200

            async def revoke(actor: str, target: str) -> tuple[int, str | None]:
                async with fresh.http.delete(
                    f"{fresh.base}/v1/keys/{target}", headers=fresh.headers(actor)
                ) as r:
                    body = await r.json()
                    return r.status, (body.get("error") or {}).get("code")

            answers = await asyncio.gather(
                revoke(keys[0][1], keys[1][0]), revoke(keys[1][1], keys[0][0])
            )
            assert sorted(answers) == [(200, None), (409, "LAST_ADMIN_KEY")], answers
