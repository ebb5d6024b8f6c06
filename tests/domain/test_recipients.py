"""DESIGN §2 Recipients: every row as a property, with the oracle stated here."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport import ErrorCode, Recipient, WaportError, parse_recipient
from waport.domain.recipients import (
    PERSON_PATTERN,
    RECIPIENT_PATTERN,
    WHITESPACE,
    stored_recipient,
)
from waport.testing.strategies import phone_digits, phone_spellings, recipients

ORACLE_PHONE = re.compile(r"[1-9][0-9]{7,14}")


@given(phone_digits().flatmap(lambda d: st.tuples(st.just(d), phone_spellings(d))))
def test_any_spelling_of_a_number_is_one_recipient(pair: tuple[str, str]) -> None:
    digits, spelling = pair
    parsed = parse_recipient(spelling)
    assert parsed == Recipient("phone", digits)
    assert str(parsed) == digits


@given(recipients())
def test_the_normal_form_parses_to_itself(recipient: Recipient) -> None:
    assert parse_recipient(str(recipient)) == recipient


@given(st.text("0123456789", min_size=0, max_size=20))
@example("12345678")  # 8 digits: shortest accepted
@example("1234567")  # 7 digits: too short
@example("123456789012345")  # 15 digits: longest accepted
@example("1234567890123456")  # 16 digits: too long
@example("01234567")  # leading zero
def test_exactly_8_to_15_digits_starting_1_to_9_are_phones(digits: str) -> None:
    if ORACLE_PHONE.fullmatch(digits):
        assert parse_recipient(digits) == Recipient("phone", digits)
    else:
        with pytest.raises(WaportError) as info:
            parse_recipient(digits)
        assert info.value.code == ErrorCode.INVALID_RECIPIENT
        assert info.value.param == "to"


@given(st.text(max_size=30))
def test_arbitrary_text_is_a_recipient_or_invalid_recipient(text: str) -> None:
    try:
        parsed = parse_recipient(text)
    except WaportError as err:
        assert err.code == ErrorCode.INVALID_RECIPIENT
    else:
        assert parsed.kind in ("phone", "group", "channel")
        assert parse_recipient(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("120363025246125486@g.us", "group"),
        ("255712345678-1614000000@g.us", "group"),
        ("120363025246125486@newsletter", "channel"),
        ("255712345678@c.us", "phone"),
        ("255712345678@s.whatsapp.net", "phone"),
    ],
)
def test_jids(text: str, kind: str) -> None:
    assert parse_recipient(text).kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "abc@g.us",
        "12-34-56@g.us",
        "x@newsletter",
        "++255712345678",
        "255 712 345 678+",
        "２５５７１２３４５６７８",
        "",
        255712345678,
    ],
)
def test_invalid(text: object) -> None:
    with pytest.raises(WaportError) as info:
        parse_recipient(text)
    assert info.value.code == ErrorCode.INVALID_RECIPIENT


def test_e164_form_for_providers() -> None:
    assert parse_recipient("255712345678").e164 == "+255712345678"
    assert parse_recipient("1@g.us").e164 == "1@g.us"


@given(
    st.from_regex(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_=-]{1,128}", fullmatch=True),
)
def test_user_ids_and_groups_api_ids_parse_to_their_own_kinds(user_id: str, group: str) -> None:
    user = parse_recipient(f"  {user_id} ")
    assert (user.kind, str(user), user.person) == ("user", user_id, True)
    found = parse_recipient(f"group:{group}")
    assert (found.kind, str(found), found.person) == ("group", f"group:{group}", False)
    assert parse_recipient(str(user)) == user  # the normal form parses to itself
    assert stored_recipient(str(found)) == found


@pytest.mark.parametrize("text", ["group:", "group:a/b", "group:" + "x" * 129, "us.123", "US."])
def test_a_malformed_user_id_or_group_id_is_refused(text: str) -> None:
    with pytest.raises(WaportError) as info:
        parse_recipient(text)
    assert info.value.code == ErrorCode.INVALID_RECIPIENT


# ---------------------------------------------------------------- the documented patterns
# The OpenAPI document states RECIPIENT_PATTERN and PERSON_PATTERN; a fuzzer generates
# requests from them and expects the server to agree both ways, so they must describe
# exactly what parse_recipient accepts.


def _accepts(text: str, *, person: bool = False) -> bool:
    try:
        recipient = parse_recipient(text)
    except WaportError:
        return False
    return recipient.person or not person


_SEPARATORS = st.sampled_from([" ", "-", ".", "(", ")", "+", "@c.us", "@g.us", "\t", "\xa0"])
_NEAR_MISSES = st.lists(
    st.one_of(st.sampled_from("0123456789"), _SEPARATORS, st.characters(), st.just("US.")),
    max_size=24,
).map("".join)


@given(st.from_regex(RECIPIENT_PATTERN))
def test_every_text_of_the_recipient_pattern_parses(text: str) -> None:
    assert _accepts(text)


@given(st.from_regex(PERSON_PATTERN))
def test_every_text_of_the_person_pattern_is_a_person(text: str) -> None:
    assert _accepts(text, person=True)


@given(
    st.one_of(
        _NEAR_MISSES,
        st.text(),
        phone_digits().flatmap(phone_spellings),
        st.from_regex(RECIPIENT_PATTERN).map(lambda t: t[1:] + t[:1]),
    )
)
def test_the_patterns_accept_exactly_what_the_parser_accepts(text: str) -> None:
    assert (re.search(RECIPIENT_PATTERN, text) is not None) == _accepts(text)
    assert (re.search(PERSON_PATTERN, text) is not None) == _accepts(text, person=True)


def test_the_whitespace_is_what_strip_removes() -> None:
    assert set(WHITESPACE) == {c for c in map(chr, range(0x110000)) if c.isspace()}
