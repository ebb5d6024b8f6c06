"""Workspaces and senders as the API changes them (``waport.domain.tenants``), and what a
key's scopes allow (``ApiKey.allows``): an operator anything, an admin anything but the
operator's, any other key its own scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain import tenants
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import OPERATOR, SCOPES, ApiKey, Sender, Workspace

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def key(scopes: frozenset[str]) -> ApiKey:
    return ApiKey(id="k", workspace_id="w", digest="d", scopes=scopes, created_at=T0)


@given(st.frozensets(st.sampled_from(sorted(SCOPES)), min_size=1), st.sampled_from(sorted(SCOPES)))
def test_what_a_key_allows(scopes: frozenset[str], wanted: str) -> None:
    allowed = key(scopes).allows(wanted)
    if OPERATOR in scopes:
        assert allowed
    elif wanted == OPERATOR:
        assert not allowed  # an admin key never manages workspaces
    else:
        assert allowed == ("admin" in scopes or wanted in scopes)


def test_a_new_workspace_starts_active_at_the_first_tier() -> None:
    made = tenants.new_workspace({"id": "acme", "name": "Acme"})
    assert (made.id, made.name, made.messaging_tier, made.billing_suspended) == (
        "acme",
        "Acme",
        250,
        False,
    )
    assert tenants.status_of(made) == "active"
    unlimited = tenants.new_workspace({"id": "big", "messaging_tier": None})
    assert unlimited.messaging_tier is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "id"),
        ({"id": ""}, "id"),
        ({"id": "-x"}, "id"),
        ({"id": "a" * 65}, "id"),
        ({"id": "ok", "messaging_tier": 300}, "messaging_tier"),
        ({"id": "ok", "messaging_tier": True}, "messaging_tier"),
        ({"id": "ok", "status": "closed"}, "status"),
        ({"id": "ok", "template_opens_window": "yes"}, "template_opens_window"),
        ({"id": "ok", "name": "n" * 121}, "name"),
        ({"id": "ok", "balance": 5}, "balance"),
        ([], "body"),
    ],
)
def test_a_bad_workspace_names_the_field(body: object, param: str) -> None:
    with pytest.raises(WaportError) as info:
        tenants.new_workspace(body)
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, param)


CHANGES = {"status": "suspended", "messaging_tier": 2_000, "billing": "prepaid"}


@given(st.sampled_from(sorted(tenants.OPERATOR_FIELDS)))
def test_only_an_operator_changes_status_tier_and_billing(field: str) -> None:
    assert set(CHANGES) == tenants.OPERATOR_FIELDS
    workspace = Workspace(id="w")
    with pytest.raises(WaportError) as info:
        tenants.patch_workspace(workspace, {field: CHANGES[field]}, operator=False)
    assert (info.value.code, info.value.param) == (ErrorCode.FORBIDDEN, field)
    changed = tenants.patch_workspace(workspace, {field: CHANGES[field]}, operator=True)
    expected = {
        "status": ("suspended", 250, "unlimited"),
        "messaging_tier": ("active", 2_000, "unlimited"),
        "billing": ("active", 250, "prepaid"),
    }[field]
    assert (
        tenants.status_of(changed),
        changed.messaging_tier,
        tenants.billing_of(changed),
    ) == expected


def test_prepaid_starts_at_zero_and_unlimited_forgets_the_balance() -> None:
    prepaid = tenants.patch_workspace(Workspace(id="w"), {"billing": "prepaid"}, operator=True)
    assert prepaid.balance == 0
    kept = tenants.patch_workspace(
        attrs.evolve(prepaid, balance=70), {"billing": "prepaid"}, operator=True
    )
    assert kept.balance == 70
    unlimited = tenants.patch_workspace(kept, {"billing": "unlimited"}, operator=True)
    assert unlimited.balance is None


def test_a_workspace_key_changes_its_own_settings() -> None:
    changed = tenants.patch_workspace(
        Workspace(id="w"),
        {
            "name": "W",
            "default_sender_id": "s1",
            "template_opens_window": True,
            "webhook_url": "https://hooks.example.com/waport",
        },
        operator=False,
    )
    assert (changed.name, changed.default_sender_id, changed.template_opens_window) == (
        "W",
        "s1",
        True,
    )
    assert changed.webhook_url == "https://hooks.example.com/waport"
    assert (
        tenants.patch_workspace(changed, {"webhook_url": None}, operator=False).webhook_url is None
    )


def test_senders() -> None:
    sender = tenants.new_sender({"id": "1065", "phone": "+255700100001", "name": "Support"}, "w")
    assert sender == Sender(id="1065", workspace_id="w", phone="+255700100001", name="Support")
    retired = tenants.patch_sender(sender, {"active": False})
    assert not retired.active
    for body, param in [
        ({"id": "x", "phone": "call me"}, "phone"),
        ({"id": "x", "workspace_id": "v"}, "workspace_id"),
    ]:
        with pytest.raises(WaportError) as info:
            tenants.new_sender(body, "w")
        assert info.value.param == param


def test_a_workspaces_own_pacing_rate_and_opt_out_rules() -> None:
    body = {
        "pacing": {"MARKETING": [8, 25]},
        "max_sends_per_second": 0.5,
        "opt_out": {"keywords": ["BASTA!"], "blocked_categories": ["marketing", "UTILITY"]},
    }
    changed = tenants.patch_workspace(Workspace(id="w"), body, operator=False)
    assert changed.category_pacing == {"MARKETING": (8.0, 25.0)}
    assert changed.max_sends_per_second == 0.5
    assert changed.consent is not None
    assert changed.consent.opt_out_keywords == frozenset({"basta"})
    assert changed.consent.blocked == frozenset({"MARKETING", "UTILITY"})
    assert "start" in changed.consent.opt_in_keywords  # the default opt-in words
    back = tenants.patch_workspace(
        changed, {"pacing": None, "max_sends_per_second": None, "opt_out": None}, operator=False
    )
    assert (back.category_pacing, back.max_sends_per_second, back.consent) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"pacing": {"PROMO": [1, 2]}}, "pacing.PROMO"),
        ({"pacing": {"MARKETING": [3]}}, "pacing.MARKETING"),
        ({"pacing": {"MARKETING": [-1, 2]}}, "pacing.MARKETING"),
        ({"pacing": {"MARKETING": [1, 4000]}}, "pacing.MARKETING"),
        ({"pacing": [8, 25]}, "pacing"),
        ({"max_sends_per_second": 0}, "max_sends_per_second"),
        ({"max_sends_per_second": True}, "max_sends_per_second"),
        ({"opt_out": {"keywords": ["stop"], "opt_in_keywords": ["STOP"]}}, "opt_out.keywords"),
        ({"opt_out": {"keywords": "stop"}}, "opt_out.keywords"),
        ({"opt_out": {"blocked_categories": ["PROMO"]}}, "opt_out.blocked_categories"),
        ({"opt_out": {"reply": ""}}, "opt_out.reply"),
        ({"opt_out": {"words": []}}, "words"),
        ({"webhook_url": "hooks.example.com"}, "webhook_url"),
        ({"webhook_url": "ftp://hooks.example.com/x"}, "webhook_url"),
        ({"webhook_url": ""}, "webhook_url"),
    ],
)
def test_bad_workspace_settings_name_the_field(body: object, param: str) -> None:
    with pytest.raises(WaportError) as info:
        tenants.patch_workspace(Workspace(id="w"), body, operator=False)
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, param)
