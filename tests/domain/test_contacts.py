"""A contact changed through the API: the patch body checked field by field, and its
effect on labels (a set), attributes (null removes) and the name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain.contacts import (
    KEEP,
    ContactPatch,
    matches,
    parse_contact_patch,
    parse_contact_query,
    patch_contact,
)
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.recipients import Recipient
from waport.domain.records import Contact

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ANA = Recipient("phone", "255712345678")
labels = st.lists(st.sampled_from(["vip", "lead", "paid", "new", "late"]), max_size=5)


@given(labels, labels, labels)
def test_labels_are_a_set_added_to_then_removed_from(
    old: list[str], add: list[str], remove: list[str]
) -> None:
    before = Contact(workspace_id="ws1", recipient=ANA, labels=tuple(old), updated_at=T0)
    after = patch_contact(
        before, "ws1", ANA, ContactPatch(add_labels=tuple(add), remove_labels=tuple(remove)), T0
    )
    assert after.labels == tuple(sorted((set(old) | set(add)) - set(remove)))
    assert after.name == before.name  # KEEP


def test_attributes_set_and_removed_and_the_name_kept_set_or_cleared() -> None:
    before = Contact(
        workspace_id="ws1", recipient=ANA, name="Ana", metadata={"a": 1, "b": 2}, updated_at=T0
    )
    later = T0 + timedelta(minutes=1)
    after = patch_contact(before, "ws1", ANA, ContactPatch(attributes={"a": None, "c": 3}), later)
    assert (dict(after.metadata), after.name, after.updated_at) == ({"b": 2, "c": 3}, "Ana", later)
    assert patch_contact(after, "ws1", ANA, ContactPatch(name=None), later).name is None
    made = patch_contact(None, "ws1", ANA, ContactPatch(name="Ben"), T0)
    assert (made.workspace_id, made.recipient, made.name) == ("ws1", ANA, "Ben")


def test_a_patch_body_is_parsed() -> None:
    patch = parse_contact_patch(
        {
            "name": "Ana",
            "labels": {"add": ["vip"], "remove": ["lead"]},
            "attributes": {"city": "Dar", "old": None},
            "opted_out": True,
        }
    )
    assert patch == ContactPatch(
        name="Ana",
        add_labels=("vip",),
        remove_labels=("lead",),
        attributes={"city": "Dar", "old": None},
        opted_out=True,
    )
    assert parse_contact_patch({}).name is KEEP


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], "body"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"labels": ["vip"]}, "labels"),
        ({"labels": {"add": "vip"}}, "labels.add"),
        ({"labels": {"remove": [""]}}, "labels.remove[0]"),
        ({"labels": {"add": ["x" * 65]}}, "labels.add[0]"),
        ({"attributes": {"a": [1]}}, "attributes.a"),
        ({"attributes": "city"}, "attributes"),
        ({"opted_out": "yes"}, "opted_out"),
    ],
)
def test_a_bad_patch_is_refused_naming_the_field(body: object, param: str) -> None:
    with pytest.raises(WaportError) as info:
        parse_contact_patch(body)
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, param)


def test_a_contact_query_and_its_rule() -> None:
    query = parse_contact_query({"label": "vip", "q": "+255 71", "limit": "5"}, workspace_id="ws1")
    assert (query.label, query.prefix, query.limit, query.opted_out) == ("vip", "25571", 5, None)
    vip = Contact(workspace_id="ws1", recipient=ANA, labels=("vip",), updated_at=T0)
    assert matches(vip, query)
    assert not matches(vip, parse_contact_query({"opted_out": "true"}, workspace_id="ws1"))
    named = Contact(workspace_id="ws1", recipient=ANA, name="Émile", updated_at=T0)
    assert matches(named, parse_contact_query({"q": "émi"}, workspace_id="ws1"))
    for bad, param in (({"limit": "0"}, "limit"), ({"opted_out": "1"}, "opted_out")):
        with pytest.raises(WaportError) as info:
            parse_contact_query(bad, workspace_id="ws1")
        assert info.value.param == param
