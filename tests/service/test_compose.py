"""The composition root an integrator uses without the HTTP gateway (and the gateway
uses under it): settings -> store, provider, Messenger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from waport.domain.errors import ConfigError
from waport.service import DEFAULT_WORKSPACE
from waport.service.compose import Composition, new_webhook_secret, open_messenger
from waport.testing import FakeClock, SequentialIds

HELLO = {"name": "hello_world", "language": "en_US"}


@pytest.mark.anyio
async def test_a_composition_opens_the_named_store_and_provider_and_keeps_what_it_wrote(
    tmp_path: Path,
) -> None:
    asked: list[str] = []

    def plugin_settings(name: str, cls: type[Any]) -> Any:
        asked.append(name)
        config = cls()
        return attrs.evolve(config, max_rps=5000.0) if name == "sandbox" else config

    composition = Composition(
        database=str(tmp_path / "w.db"),
        provider="sandbox",
        webhook_url="https://hooks.example/waport",
        plugin_settings=plugin_settings,
    )
    async with open_messenger(composition, clock=FakeClock(), ids=SequentialIds()) as m:
        assert m.provider.name == "sandbox"
        sent = await m.send(
            {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
        )
        workspace = await m.store.workspaces.get(DEFAULT_WORKSPACE)
    assert asked == ["sqlite", "sandbox"]
    assert workspace is not None
    assert workspace.webhook_url == "https://hooks.example/waport"
    assert (workspace.webhook_secret or "").startswith("whsec_")
    # a second opening of the same database finds the message and keeps the secret
    async with open_messenger(composition, clock=FakeClock(), ids=SequentialIds(50)) as m:
        record = await m.get_message(sent.message_id)
        again = await m.store.workspaces.get(DEFAULT_WORKSPACE)
    assert record.status.value == "sent"
    assert again is not None
    assert again.webhook_secret == workspace.webhook_secret


@pytest.mark.anyio
async def test_an_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        async with open_messenger(Composition(database="memory:", provider="nope")):
            pass


def test_webhook_secrets_are_standard_and_fresh() -> None:
    a, b = new_webhook_secret(), new_webhook_secret()
    assert a.startswith("whsec_")
    assert a != b
    assert len(a) == len("whsec_") + 44  # base64 of 32 bytes
