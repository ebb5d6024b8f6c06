"""Receivers' replay protection for Standard Webhooks: signature, timestamp tolerance,
and each webhook-id accepted once, in bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from waport_http import Verdict, WebhookVerifier, sign
from waport_http.relay import new_secret

from .conftest import scaled

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def headers(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": sign(secret, msg_id, stamp, body),
    }


ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40)


@given(ids, st.binary(max_size=2000), st.integers(0, 2), st.integers(0, 10_000))
@settings(max_examples=scaled(300, 20_000))
def test_any_single_changed_byte_fails(msg_id: str, body: bytes, part: int, where: int) -> None:
    secret = new_secret()
    verifier = WebhookVerifier([secret])
    good = headers(secret, msg_id, NOW, body)
    if part == 2 and body:
        i = where % len(body)
        changed = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        assert verifier.check(good, changed, now=NOW) is Verdict.BAD_SIGNATURE
    elif part == 1:
        stamp = str(int(good["Webhook-Timestamp"]) + 1)
        assert verifier.check({**good, "Webhook-Timestamp": stamp}, body, now=NOW) is (
            Verdict.BAD_SIGNATURE
        )
    else:
        assert verifier.check({**good, "Webhook-Id": msg_id + "x"}, body, now=NOW) is (
            Verdict.BAD_SIGNATURE
        )
    assert verifier.check(good, body, now=NOW) is Verdict.OK
    assert verifier.check(good, body, now=NOW + timedelta(seconds=30)) is Verdict.DUPLICATE


def test_stale_and_future_timestamps_are_refused() -> None:
    secret = new_secret()
    verifier = WebhookVerifier([secret], tolerance=timedelta(minutes=5))
    body = b'{"type":"message.sent"}'
    old = headers(secret, "evt_old", NOW - timedelta(minutes=5, seconds=1), body)
    future = headers(secret, "evt_future", NOW + timedelta(minutes=6), body)
    edge = headers(secret, "evt_edge", NOW - timedelta(minutes=5), body)
    assert verifier.check(old, body, now=NOW) is Verdict.STALE
    assert verifier.check(future, body, now=NOW) is Verdict.STALE
    assert verifier.check(edge, body, now=NOW) is Verdict.OK


def test_a_forged_delivery_does_not_burn_the_id() -> None:
    secret = new_secret()
    verifier = WebhookVerifier([secret])
    body = b"{}"
    forged = headers(new_secret(), "evt_1", NOW, body)
    assert verifier.check(forged, body, now=NOW) is Verdict.BAD_SIGNATURE
    assert verifier.check(headers(secret, "evt_1", NOW, body), body, now=NOW) is Verdict.OK


def test_rotation_accepts_either_secret() -> None:
    old, new = new_secret(), new_secret()
    verifier = WebhookVerifier([new, old])
    assert verifier.check(headers(old, "a", NOW, b"x"), b"x", now=NOW) is Verdict.OK
    assert verifier.check(headers(new, "b", NOW, b"x"), b"x", now=NOW) is Verdict.OK


def test_memory_is_bounded_and_replays_stay_refused() -> None:
    secret = new_secret()
    verifier = WebhookVerifier([secret], tolerance=timedelta(minutes=5))
    captured = []
    for i in range(scaled(5_000, 200_000)):
        at = NOW + timedelta(seconds=i)
        h = headers(secret, f"evt_{i}", at, b"{}")
        assert verifier.check(h, b"{}", now=at) is Verdict.OK
        if i % 500 == 0:
            captured.append((h, at))
    assert len(verifier._seen) <= 2 * 5 * 60 + 1  # ids of the last 2 x tolerance only
    end = NOW + timedelta(seconds=scaled(5_000, 200_000))
    for h, at in captured:  # every replay of a captured delivery is refused, new or old
        verdict = verifier.check(h, b"{}", now=end)
        assert verdict in (Verdict.DUPLICATE, Verdict.STALE)
        assert verdict is Verdict.DUPLICATE or end - at > timedelta(minutes=5)


@given(ids, st.binary(min_size=24, max_size=64), st.text(max_size=500))
@settings(max_examples=scaled(300, 20_000))
def test_interoperates_with_the_standard_webhooks_library(
    msg_id: str, raw_secret: bytes, text: str
) -> None:
    """Receivers using the reference library accept waport's signatures, and
    WebhookVerifier accepts the library's."""
    import base64
    import json

    import standardwebhooks

    now = datetime.now(UTC)  # the library checks the timestamp against the real clock
    secret = "whsec_" + base64.b64encode(raw_secret).decode()
    body = json.dumps({"text": text}).encode()
    ours = {k.lower(): v for k, v in headers(secret, msg_id, now, body).items()}
    library = standardwebhooks.Webhook(secret)
    library.verify(body, ours)  # raises if it does not verify
    theirs = library.sign(msg_id, now, body.decode())
    verdict = WebhookVerifier([secret]).check({**ours, "webhook-signature": theirs}, body, now=now)
    assert verdict is Verdict.OK
    flipped = {**ours, "webhook-signature": ours["webhook-signature"][:-2] + "AA"}
    assert WebhookVerifier([secret]).check(flipped, body, now=now) is Verdict.BAD_SIGNATURE
