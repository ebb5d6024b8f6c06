"""A template's life through the service on the sandbox: created (the sandbox approves
at once) and sent; paused by the provider's word, then refused before any call and
announced to the workspace's webhook once however often the word is repeated; deleted."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from waport import ErrorCode, WaportError
from waport.domain.events import TemplateUpdate
from waport.domain.templates import TemplateStatus
from waport_memory.sandbox import SANDBOX_SENDER

from .conftest import Stack

pytestmark = pytest.mark.anyio
HOOK = "https://hooks.example.com/wa"
BODY = {
    "name": "order_ready",
    "language": "en",
    "category": "UTILITY",
    "body": "Hi {{1}}, your order is ready.",
    "examples": {"1": "Ana"},
}
SEND = {
    "to": "+255712345678",
    "template": {"name": "order_ready", "language": "en", "params": {"1": "Bo"}},
}


def paused(stack: Stack, status: TemplateStatus, *, after: int) -> TemplateUpdate:
    return TemplateUpdate(
        provider="sandbox",
        sender_ids=(SANDBOX_SENDER, "another-number"),
        name="order_ready",
        language="en",
        at=stack.clock.now() + timedelta(seconds=after),
        status=status,
        quality="RED" if status == TemplateStatus.PAUSED else None,
        reason="low quality" if status == TemplateStatus.PAUSED else None,
    )


async def test_created_sent_paused_refused_and_announced_once(stack: Stack) -> None:
    workspace = await stack.messenger.bootstrap()
    await stack.store.workspaces.put(attrs.evolve(workspace, webhook_url=HOOK))
    stack.messenger.invalidate()
    spec = await stack.messenger.create_template(BODY)
    assert (spec.status, spec.sender_id, spec.body_params) == (
        TemplateStatus.APPROVED,
        SANDBOX_SENDER,
        ("1",),
    )
    assert (await stack.messenger.send(SEND)).status.value == "sent"

    report = await stack.messenger.ingest([paused(stack, TemplateStatus.PAUSED, after=1)] * 2)
    # the repeat changes nothing; the other number (twice) does not hold the template
    assert (report.templates_changed, report.templates_unknown) == (1, 2)
    listed = await stack.messenger.list_templates()
    (now,) = [t for t in listed if t.name == "order_ready"]
    assert (now.status, now.quality, now.reason) == (TemplateStatus.PAUSED, "RED", "low quality")

    calls = stack.sandbox.remote_calls
    with pytest.raises(WaportError) as refused:
        await stack.messenger.send(SEND)
    assert refused.value.code == ErrorCode.TEMPLATE_NOT_APPROVED
    assert stack.sandbox.remote_calls == calls  # refused before any call

    stack.clock.advance(1)  # heard later: its event goes out after the pause's
    await stack.messenger.ingest([paused(stack, TemplateStatus.APPROVED, after=2)])
    assert (await stack.messenger.send(SEND)).status.value == "sent"

    events = await stack.store.outbox.claim(
        stack.clock.now() + timedelta(seconds=5), limit=50, lease=timedelta(seconds=30)
    )
    updates = [e for e in events if e.type == "template.updated"]
    assert [e.payload["data"]["status"] for e in updates] == ["PAUSED"]  # in order, one a time
    data = updates[0].payload["data"]
    assert (data["previous"]["status"], data["quality"], data["reason"]) == (
        "APPROVED",
        "RED",
        "low quality",
    )
    assert updates[0].url == HOOK


async def test_a_duplicate_is_refused_and_a_delete_removes_every_language(stack: Stack) -> None:
    await stack.messenger.bootstrap()
    await stack.messenger.create_template(BODY)
    with pytest.raises(WaportError) as twice:
        await stack.messenger.create_template(BODY)
    assert (twice.value.code, twice.value.param) == (ErrorCode.TEMPLATE_EXISTS, "name")
    await stack.messenger.create_template({**BODY, "language": "pt_BR"})
    assert await stack.messenger.delete_template("order_ready") == 2
    with pytest.raises(WaportError) as gone:
        await stack.messenger.send(SEND)
    assert gone.value.code == ErrorCode.TEMPLATE_NOT_FOUND
    calls = stack.sandbox.remote_calls
    with pytest.raises(WaportError) as unknown:
        await stack.messenger.delete_template("order_ready")
    assert unknown.value.code == ErrorCode.TEMPLATE_NOT_FOUND
    assert stack.sandbox.remote_calls == calls


async def test_a_bad_draft_reaches_no_provider(stack: Stack) -> None:
    await stack.messenger.bootstrap()
    with pytest.raises(WaportError) as bad:
        await stack.messenger.create_template({**BODY, "body": "{{1}} is ready"})
    assert (bad.value.code, bad.value.param) == (ErrorCode.VALIDATION_FAILED, "body")
    assert "order_ready" not in {t.name for t in await stack.messenger.list_templates()}
