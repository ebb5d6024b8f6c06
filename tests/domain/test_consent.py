"""Opt-out as a domain rule: keywords recognised whole in any case, spacing, accent or
trailing punctuation and never inside a sentence; the newest word wins whatever order
changes arrive in; only blocked categories are refused to an opted-out contact."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport.domain import lifecycle
from waport.domain.consent import (
    BLOCKED_CATEGORIES,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    Consent,
    ConsentChange,
    classify,
    decide,
    flipped,
    keyword_sets,
    normalise,
    refuses,
)
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.recipients import parse_recipient

T0 = datetime(2026, 5, 1, tzinfo=UTC)
KEYWORDS = sorted(OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS)


@st.composite
def spelled(draw: st.DrawFn, keyword: str) -> str:
    """``keyword`` as a person might type it: any case per letter, spaces doubled,
    spaces and punctuation around it."""
    letters = [c.upper() if draw(st.booleans()) else c for c in keyword]
    text = "".join(letters).replace(" ", " " * draw(st.integers(1, 3)))
    before = draw(st.sampled_from(["", " ", "  ", "\n"]))
    after = draw(st.sampled_from(["", ".", "!", "!!", " ", "?", " :)"]))
    return before + text + after


@given(st.sampled_from(KEYWORDS).flatmap(lambda k: st.tuples(st.just(k), spelled(k))))
def test_a_keyword_is_recognised_however_it_is_typed(found: tuple[str, str]) -> None:
    keyword, typed = found
    expected = Consent.OPT_OUT if keyword in OPT_OUT_KEYWORDS else Consent.OPT_IN
    assert classify(typed) is expected


@given(
    st.sampled_from(KEYWORDS),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8),
    st.booleans(),
)
def test_a_keyword_inside_a_sentence_is_not_one(keyword: str, word: str, first: bool) -> None:
    sentence = f"{word} {keyword}" if first else f"{keyword} {word}"
    if normalise(sentence) in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS:
        return  # the sentence is itself a keyword ("stop" + "all")
    assert classify(sentence) is None


def test_accents_and_other_languages() -> None:
    assert classify("ARRÊT") is Consent.OPT_OUT
    assert classify("Désabonner") is Consent.OPT_OUT
    assert classify("darme  de BAJA.") is Consent.OPT_OUT
    assert classify("Abmelden") is Consent.OPT_OUT
    assert classify("Reprendre") is Consent.OPT_IN
    assert classify("please stop sending") is None
    assert classify("") is None
    assert classify(None) is None
    assert classify("stop " * 100) is None  # long texts are not looked at


@given(st.text(max_size=60))
@example("ᴬ")  # decomposes to a capital after folding (found in CI)
def test_normalising_is_idempotent_and_accent_free(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert not any(unicodedata.combining(c) for c in once)


def test_the_defaults_never_say_both_and_configured_lists_are_checked() -> None:
    assert not OPT_OUT_KEYWORDS & OPT_IN_KEYWORDS
    outs, ins = keyword_sets(["  HALT ", "Basta!"], ["Go"])
    assert (outs, ins) == (frozenset({"halt", "basta"}), frozenset({"go"}))
    assert classify("halt", outs, ins) is Consent.OPT_OUT
    assert classify("stop", outs, ins) is None  # the configured list replaces the default
    with pytest.raises(WaportError) as both:
        keyword_sets(["stop"], ["STOP!"])
    assert both.value.code is ErrorCode.VALIDATION_FAILED


changes = st.lists(
    st.tuples(st.integers(0, 20), st.booleans(), st.sampled_from(["keyword", "api"])),
    max_size=12,
)


@given(changes)
def test_the_newest_word_wins_in_whatever_order_changes_arrive(
    steps: list[tuple[int, bool, str]],
) -> None:
    history: tuple[ConsentChange, ...] = ()
    arrived: list[ConsentChange] = []
    for minute, opted_out, source in steps:
        change = ConsentChange(
            opted_out=opted_out, at=T0 + timedelta(minutes=minute), source=source
        )
        arrived.append(change)
        after = decide(history, change)
        if after is None:  # only ever a change older than the newest, or the same one
            assert history
            assert change.at < history[-1].at or change == history[-1]
        else:
            history = after
    # the state is the newest change's (among equally new ones, the last to arrive)
    newest = max((c.at for c in arrived), default=None)
    expected = [c.opted_out for c in arrived if c.at == newest][-1] if arrived else False
    assert (bool(history) and history[-1].opted_out) == expected
    assert [c.at for c in history] == sorted(c.at for c in history)


def test_flips_and_a_contact_created_by_its_first_stop() -> None:
    stop = ConsentChange(opted_out=True, at=T0, source="keyword", message_id="msg_1")
    again = ConsentChange(opted_out=True, at=T0 + timedelta(minutes=1), source="keyword")
    start = ConsentChange(opted_out=False, at=T0 + timedelta(minutes=2), source="api")
    to = parse_recipient("255712345678")
    contact = lifecycle.change_consent(None, "ws1", to, stop)
    assert contact is not None
    assert (contact.workspace_id, contact.recipient, contact.opted_out) == ("ws1", to, True)
    assert flipped(contact.consent)
    contact = lifecycle.change_consent(contact, "ws1", to, again)
    assert contact is not None
    assert contact.opted_out
    assert not flipped(contact.consent)  # a second STOP is kept but moves nothing
    contact = lifecycle.change_consent(contact, "ws1", to, start)
    assert contact is not None
    assert not contact.opted_out
    assert flipped(contact.consent)
    assert lifecycle.change_consent(contact, "ws1", to, stop) is None  # older than START
    assert not flipped(())


@given(st.sampled_from(["MARKETING", "UTILITY", "AUTHENTICATION", "SERVICE"]), st.booleans())
def test_only_blocked_categories_are_refused_to_an_opted_out_contact(
    category: str, opted_out: bool
) -> None:
    assert refuses(category, opted_out, BLOCKED_CATEGORIES) is (
        opted_out and category == "MARKETING"
    )
    assert refuses(category, opted_out, {"MARKETING", "UTILITY"}) is (
        opted_out and category in {"MARKETING", "UTILITY"}
    )
    assert not refuses(None, opted_out, BLOCKED_CATEGORIES)
