"""Logs never show a phone number in full, an API key, a token or a configured secret."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiohttp
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import SECRET, waport_serve
from waport_http.logs import REDACTED, RedactingFormatter, redact

from .conftest import scaled

separators = st.sampled_from(["", " ", "-", ".", "(", ")"])


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(st.text("0123456789", min_size=8, max_size=15))
    parts = [draw(separators) + d if i else d for i, d in enumerate(digits)]
    plus = draw(st.sampled_from(["", "+"]))
    return digits, plus + "".join(parts)


@given(written_numbers(), st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=20))
@settings(max_examples=scaled(500, 50_000))
def test_any_written_number_is_masked(number: tuple[str, str], around: str) -> None:
    digits, written = number
    # ISO dates and times are kept by design; a number written exactly like one is too
    assume(not re.match(r"\d{4}-\d{2}-\d{2}", written))
    out = redact(f"{around} to {written} {around}")
    assert digits not in re.sub(r"\D", "", out.replace(around, "")) or len(set(digits)) == 1
    assert "*" in out
    kept = re.sub(r"\D", "", out)
    assert len(kept) <= 5  # the first three and the last two digits only


def test_tokens_and_secrets_are_removed() -> None:
    formatter = RedactingFormatter("%(message)s", secrets=["s3cret-value-123", ""])
    record = logging.LogRecord(
        "waport", logging.INFO, __file__, 1, "%s %s", ("Bearer abc.def", "s3cret-value-123"), None
    )
    assert formatter.format(record) == f"Bearer {REDACTED} {REDACTED}"
    text = redact(
        "key wpk_live_ab12cd34_Zz9 hook whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "
        "GET /webhooks/meta?hub.mode=subscribe&hub.verify_token=tok123&hub.challenge=1 "
        "GET /v1/x?access_token=EAAG123"
    )
    for leaked in ("ab12cd34", "MfKQ9r8", "tok123", "EAAG123"):
        assert leaked not in text


NUMBERS = ["255712345678", "+49 151 2345 6789", "+1 (415) 555-0134"]


@pytest.mark.anyio
async def test_a_debug_run_of_the_gateway_leaks_no_number_and_no_secret(tmp_path: Path) -> None:
    secrets = {
        "WAPORT_KEY_PEPPER": "pepper-for-the-log-test",
        "WAPORT_SANDBOX_WEBHOOK_SECRET": "sandbox-secret-for-the-log-test",
    }
    env = {"WAPORT_LOG_LEVEL": "DEBUG", **secrets}
    with waport_serve(tmp_path, env) as server:
        auth = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession() as http:
            for number in NUMBERS:
                async with http.post(
                    server.base + "/v1/sandbox/inbound",
                    json={"from": number, "text": "hi"},
                    headers=auth,
                ) as r:
                    assert r.status == 200
                async with http.post(
                    server.base + "/v1/messages", json={"to": number, "text": "x"}, headers=auth
                ) as r:
                    assert r.status in (200, 202)
                async with http.get(
                    server.base + "/v1/window-status", params={"to": number}, headers=auth
                ) as r:
                    assert r.status == 200
            async with http.post(
                server.base + "/v1/messages",
                json={"to": "+44 7700 900123", "text": "x"},
                headers={"Authorization": "Bearer wpk_live_notakey_123456"},
            ) as r:
                assert r.status == 401
                assert "notakey" not in await r.text()  # error bodies never echo a key
        output = server.stop()
    shown_once = [line for line in output.splitlines() if "WAPORT_KEY=" in line]
    assert len(shown_once) == 1  # the first admin key is printed once, on purpose
    logs = "\n".join(line for line in output.splitlines() if "WAPORT_KEY=" not in line)
    # the run did log each number it handled (masked, as checked below)
    assert logs.count("DEBUG waport.service: inbound msg_") == len(NUMBERS)
    assert logs.count("DEBUG waport.service: message msg_") == len(NUMBERS)
    digits_only = re.sub(r"[\s().+-]", "", logs)
    for number in [*NUMBERS, "+44 7700 900123"]:
        assert re.sub(r"\D", "", number) not in digits_only, number
    for value in [*secrets.values(), SECRET, server.key, "wpk_live_notakey_123456"]:
        assert value not in logs


def test_a_database_password_is_never_printed_or_logged() -> None:
    from waport_http import config

    url = "postgresql://waport:correct-horse-battery@db.internal:5432/waport"
    loaded = config.load(None, {"WAPORT_DATABASE": url})
    assert "correct-horse-battery" in loaded.secrets()
    assert config.shown_database(url) == "postgresql://waport:***@db.internal:5432/waport"
    assert config.shown_database("./waport.db") == "./waport.db"
    assert "correct-horse-battery" not in redact(f"cannot open {url}", loaded.secrets())


@given(st.text(max_size=40), st.text(max_size=40))
def test_no_message_can_forge_a_log_line(before: str, after: str) -> None:
    """Whatever a client put in a path or a header, a formatted record is one line."""
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "waport", logging.INFO, __file__, 1, "on %s", (before + after,), None
    )
    line = formatter.format(record)
    assert "\n" not in line
    assert "\r" not in line
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in line)


def test_url_credentials_and_query_strings_are_removed() -> None:
    text = redact("webhook endpoint https://bob:pw@hooks.example/in?token=s3cr3t&x=1 answered 410")
    assert "bob" not in text
    assert "pw@" not in text
    assert "s3cr3t" not in text
    assert "https://[redacted]@hooks.example/in?[redacted]" in text
    assert redact("GET http://hooks.example/a/b") == "GET http://hooks.example/a/b"
