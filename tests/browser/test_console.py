"""The console in a real headless Chromium against a real ``waport serve`` (the sandbox):
the README's quick start done with clicks, live, with the customer's phone beside it."""

from __future__ import annotations

import re
import struct
import time
import zlib
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, waport_serve

ENV = {
    "WAPORT_RATE_LIMIT_PER_MINUTE": "1000000",
    # slow enough to watch each tick, fast enough for a test
    "WAPORT_SANDBOX_DELIVERED_AFTER_MS": "700",
    "WAPORT_SANDBOX_READ_AFTER_MS": "1400",
    # every request logged, at the most talkative level: still no key in the logs
    "WAPORT_ACCESS_LOG": "true",
    "WAPORT_LOG_LEVEL": "DEBUG",
}
ANA = "255712348001"
HOSTILE = "<img src=x onerror=alert(1)>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
expect.set_options(timeout=15_000)


def png(width: int = 8, height: int = 6) -> bytes:
    """A small valid PNG (a red rectangle)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _watch(page: Page) -> dict[str, list[str]]:
    """What the page must never do: open a dialog (a script ran), throw, or log an
    error (a CSP violation is logged as one)."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    return seen


def _sign_in(page: Page, server: Server, problems: dict[str, list[str]]) -> None:
    page.goto(server.base + "/console/")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#key", "wpk_not_a_key")
    page.click("#signin-form button")
    expect(page.locator("#signin-error")).to_have_text("That key is not valid.")
    # the browser logs the refused request itself: that one is expected
    assert problems["errors"] == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    problems["errors"].clear()
    page.fill("#key", server.key)
    page.click("#signin-form button")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def _shot(page: Page, shots: Path | None, name: str) -> None:
    if shots is not None:
        page.screenshot(path=str(shots / f"{name}.png"))


def _statuses_of(page: Page, text: str, until: str, limit: float = 15.0) -> list[str]:
    """The ticks an outbound bubble shows, as they change, until ``until``."""
    bubble = page.locator("#messages li.bubble.out", has_text=text)
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        status = bubble.get_attribute("data-status") if bubble.count() else None
        if status and (not seen or seen[-1] != status):
            seen.append(status)
        if status == until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the ticks stopped at {seen}")


def test_the_quick_start_with_clicks(browser: Any, tmp_path: Path, shots: Path | None) -> None:
    with waport_serve(tmp_path, ENV) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems = _watch(page)
        answer = page.request.get(server.base + "/console/")
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        _sign_in(page, server, problems)
        page.evaluate("window.stayed = true")  # gone if the page reloads

        # a template to a new contact: free text is refused with the reason
        page.fill("#new-contact", "+255 712 348 001")
        page.click("#new-chat button")
        expect(page.locator("#chat-title")).to_have_text(f"+{ANA}")
        expect(page.locator("#text")).to_be_disabled()
        expect(page.locator("#window-note")).to_contain_text("window is closed")
        page.select_option("#template", label="order_update (en_US)")
        page.fill("#template-params input[data-param='1']", "Ana")
        page.fill("#template-params input[data-param='2']", "#42")
        page.click("#send-template")
        template = page.locator("#messages li.bubble.out", has_text="Hi Ana, your order #42")
        expect(template).to_be_visible()
        expect(page.locator(f"#conversations li[data-contact='{ANA}']")).to_be_visible()

        # the customer answers from the sandbox phone: it shows up live, the window opens
        expect(page.locator("#phone")).to_be_visible()
        expect(page.locator("#phone-messages li", has_text="Hi Ana")).to_be_visible()
        page.fill("#phone-text", "Hi, where is my order?")
        page.click("#phone-send")
        expect(
            page.locator("#messages li.bubble.in", has_text="Hi, where is my order?")
        ).to_be_visible()
        expect(page.locator("#text")).to_be_enabled()
        expect(page.locator("#window-note")).to_have_text("")
        row = page.locator(f"#conversations li[data-contact='{ANA}']")
        expect(row).to_contain_text("window open")
        expect(row.locator(".unread")).to_have_count(0)  # read on arrival: the chat is open

        # a text: its ticks go sent, delivered, read, each in turn, without a reload
        page.fill("#text", "Arriving today!")
        page.click("#send-text")
        ticks = _statuses_of(page, "Arriving today", until="read")
        assert [s for s in ticks if s != "pending"] == ["sent", "delivered", "read"], ticks
        tick = page.locator("#messages li.bubble.out", has_text="Arriving today").locator(".tick")
        expect(tick).to_have_text("✓✓")
        _shot(page, shots, "console-chat")

        # a hostile text is shown as the characters it is, and runs nothing
        page.fill("#phone-text", HOSTILE)
        page.click("#phone-send")
        hostile = page.locator("#messages li.bubble.in .words", has_text="onerror")
        expect(hostile).to_have_text(HOSTILE)
        assert page.locator("#messages img[src='x']").count() == 0
        assert page.locator("#conversations img").count() == 0

        # a photo from the customer shows inline, fetched with the key
        page.set_input_files(
            "#phone-file", files=[{"name": "parcel.png", "mimeType": "image/png", "buffer": png()}]
        )
        page.fill("#phone-text", "the parcel")
        page.click("#phone-send")
        picture = page.locator("#messages li.bubble.in img.picture")
        expect(picture).to_have_attribute("src", re.compile(r"^blob:"))
        page.wait_for_function(
            "() => [...document.querySelectorAll('#messages img.picture')]"
            ".some((i) => i.complete && i.naturalWidth === 8)"
        )

        # the business sends a document: uploaded, sent, offered as a download
        page.set_input_files(
            "#media-file",
            files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": PDF}],
        )
        page.fill("#media-caption", "your invoice")
        page.click("#send-media")
        document = page.locator("#messages li.bubble.out", has_text="your invoice")
        expect(document.locator("a.download")).to_be_visible()
        with page.expect_download() as download:
            document.locator("a.download").click()
        saved = tmp_path / "downloaded.pdf"
        download.value.save_as(saved)
        assert saved.read_bytes() == PDF

        assert page.evaluate("window.stayed") is True  # all of it live: no reload
        assert problems == {"dialogs": [], "errors": []}, problems
        log = server.stop()
        assert "GET /v1/events/stream" in log  # the access log was on
        assert log.count(server.key) == 1  # printed once at first start, never logged


def test_a_broadcast_the_api_reference_and_sign_out(
    browser: Any, tmp_path: Path, shots: Path | None
) -> None:
    with waport_serve(tmp_path, ENV) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems = _watch(page)
        _sign_in(page, server, problems)
        page.click("#tab-broadcasts")
        page.select_option("#broadcast-template", label="order_update (en_US)")
        page.fill("#broadcast-params input[data-param='1']", "friend")
        page.fill("#broadcast-params input[data-param='2']", "#7")
        numbers = [f"2557000{n:05d}" for n in range(20)]
        page.fill("#broadcast-numbers", "\n".join(numbers))
        page.click("#broadcast-start")
        expect(page.locator("#broadcast-count")).to_contain_text("20/20 done", timeout=30_000)
        expect(page.locator("#broadcast-progress")).to_have_js_property("value", 20)
        expect(page.locator("#broadcast-rows tr")).to_have_count(20)
        expect(page.locator("#broadcast-rows tr[data-status='sent']")).to_have_count(20)
        _shot(page, shots, "console-broadcast")

        # the API reference: Swagger UI from the gateway, "try it out" with the same key
        page.click("text=API reference")
        expect(page.locator(".opblock").first).to_be_visible()
        assert page.locator(".opblock").count() >= 40  # every operation of /openapi.json
        page.locator(".opblock-get:has([data-path='/v1/conversations'])").first.click()
        page.click("button.try-out__btn")
        page.click("button.execute")
        status = page.locator(".live-responses-table tbody .response-col_status").first
        expect(status).to_have_text("200")
        expect(page.locator(".curl-command")).to_contain_text("Authorization: Bearer wpk_")
        _shot(page, shots, "api-reference")
        page.click("text=← console")
        expect(page.locator("#app")).to_be_visible()  # still signed in (this tab's session)

        page.click("#signout")
        expect(page.locator("#signin")).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0
        page.reload()
        expect(page.locator("#signin")).to_be_visible()  # nothing kept: sign in again
        assert problems == {"dialogs": [], "errors": []}, problems
