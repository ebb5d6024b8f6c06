"""The console on a real ``waport serve`` speaking to Meta's Cloud API and to WAHA (their
fakes on loopback, signed webhooks through the public routes): no sandbox phone; a
customer's message arrives live in the inbox; a reply goes out; the provider's receipts
turn its ticks to read without a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import Server, waha_environ, waport_serve
from tests.e2e.test_inbound_media import meta_gateway
from waport import MessageStatus, parse_recipient
from waport_meta import fake as meta_fake
from waport_web import fake as web_fake

from .conftest import LAUNCH_ARGS

pytestmark = pytest.mark.anyio
CONTACT = "255712345678"  # the number the fakes' receipts are for


@asynccontextmanager
async def _gateway(provider: str, folder: Path) -> AsyncIterator[tuple[Server, Any]]:
    """A gateway on ``provider`` and what builds that provider's signed webhooks."""
    if provider == "meta":
        async with meta_gateway(folder) as (gateway, fake):
            yield gateway, meta_fake.MetaHarness(provider=None, fake=fake)  # type: ignore[arg-type]
        return
    async with web_fake.open_fake_waha() as fake:
        env = waha_environ(fake.url)
        serving = waport_serve(folder, env)
        gateway = await anyio.to_thread.run_sync(serving.__enter__)
        try:
            yield gateway, web_fake.WebHarness(provider=None, fake=fake)  # type: ignore[arg-type]
        finally:
            await anyio.to_thread.run_sync(serving.__exit__, None, None, None)


@pytest.mark.parametrize("provider", ["meta", "web"])
async def test_the_console_on_a_real_provider(provider: str, chromium: str, tmp_path: Path) -> None:
    async with (
        _gateway(provider, tmp_path) as (gateway, remote),
        aiohttp.ClientSession() as http,
        async_playwright() as playwright,
    ):

        async def deliver(signed: tuple[dict[str, str], bytes]) -> None:
            headers, body = signed
            headers = {**headers, "Content-Type": "application/json"}
            async with http.post(
                f"{gateway.base}/webhooks/{provider}", data=body, headers=headers
            ) as r:
                assert r.status == 200, await r.text()

        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=LAUNCH_ARGS
        )
        page = await browser.new_page(viewport={"width": 1300, "height": 850})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(gateway.base + "/console/")
        await page.fill("#key", gateway.key)
        await page.click("#signin-form button")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await expect(page.locator("#provider")).to_have_text(f"provider: {provider}")
        await expect(page.locator("#phone")).to_be_hidden()  # no sandbox: no phone
        await page.evaluate("window.stayed = true")

        now = datetime.now(UTC)
        await deliver(
            remote.inbound_webhook(
                contact=parse_recipient(CONTACT),
                text=f"Hello over {provider}",
                provider_message_id="INBOUND1",
                at=now,
            )
        )
        row = page.locator(f"#conversations li[data-contact='{CONTACT}']")
        await expect(row).to_contain_text(f"Hello over {provider}")  # live, no reload
        await row.click()
        await expect(page.locator("#messages li.bubble.in .words")).to_have_text(
            f"Hello over {provider}"
        )
        await expect(page.locator("#text")).to_be_enabled()

        await page.fill("#text", "Thanks, we are on it")
        await page.click("#send-text")
        reply = page.locator("#messages li.bubble.out", has_text="Thanks, we are on it")
        await expect(reply).to_have_attribute("data-status", "sent")
        message_id = await reply.get_attribute("data-id")
        async with http.get(
            f"{gateway.base}/v1/messages/{message_id}",
            headers={"Authorization": f"Bearer {gateway.key}"},
        ) as r:
            sent = (await r.json())["data"]
        provider_id = sent["provider_message_id"]
        if provider == "web":  # WAHA's receipts name the message by its own short id
            provider_id = provider_id.rsplit("_", 1)[-1]
        for status in (MessageStatus.DELIVERED, MessageStatus.READ):
            await deliver(remote.status_webhook(provider_id, status, at=now))
            await expect(reply).to_have_attribute("data-status", status.value)
        assert await page.evaluate("window.stayed") is True
        assert errors == []
        await browser.close()
