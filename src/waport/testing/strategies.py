"""Hypothesis strategies for waport's domain types, for our tests and for yours.

Everything here builds *valid* values; tests that need invalid input start from
these and break one thing.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from waport.domain.limits import KB, MediaKind
from waport.domain.messages import (
    ButtonParam,
    ButtonsMessage,
    ContactCard,
    ContactCards,
    ContactDetails,
    ContactName,
    ContactPhone,
    Content,
    CtaUrlMessage,
    Currency,
    DateTime,
    HeaderMedia,
    HeaderText,
    InteractiveHeaderText,
    ListMessage,
    ListRow,
    ListSection,
    Location,
    Media,
    MediaData,
    MediaId,
    MediaUrl,
    OutboundMessage,
    Reaction,
    ReplyButton,
    TemplateMessage,
    Text,
    UrlButton,
)
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus

_SAFE_TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))


def words(min_size: int = 1, max_size: int = 20) -> st.SearchStrategy[str]:
    """Non-blank printable text."""
    return st.text(_SAFE_TEXT, min_size=min_size, max_size=max_size).filter(
        lambda s: s.strip() != ""
    )


def ids(max_size: int = 20) -> st.SearchStrategy[str]:
    return st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=max_size)


def phone_digits() -> st.SearchStrategy[str]:
    """The normal form of a phone number: 8-15 digits, first digit 1-9."""
    return st.builds(
        lambda first, rest: first + rest,
        st.sampled_from("123456789"),
        st.text("0123456789", min_size=7, max_size=14),
    )


def phone_spellings(digits: str) -> st.SearchStrategy[str]:
    """Ways people write one number: a leading +, separators, or a user JID suffix."""

    @st.composite
    def spelled(draw: st.DrawFn) -> str:
        out = ""
        for ch in digits:
            out += draw(st.sampled_from(["", "", "", " ", "-", ".", "(", ")"])) + ch
        plus = draw(st.booleans())
        suffix = draw(st.sampled_from(["", "", "@c.us", "@s.whatsapp.net"]))
        if suffix:
            return ("+" if plus else "") + digits + suffix
        return ("+" if plus else "") + out

    return spelled()


def recipients() -> st.SearchStrategy[Recipient]:
    return st.one_of(
        phone_digits().map(lambda d: Recipient("phone", d)),
        st.from_regex(r"[0-9]{5,18}(-[0-9]{5,12})?", fullmatch=True).map(
            lambda g: Recipient("group", f"{g}@g.us")
        ),
        st.from_regex(r"[0-9]{5,18}", fullmatch=True).map(
            lambda c: Recipient("channel", f"{c}@newsletter")
        ),
    )


def aware_datetimes() -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= makes values aware
        max_value=datetime(2035, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )


def texts() -> st.SearchStrategy[Text]:
    return st.builds(Text, words(1, 200), st.booleans())


def media() -> st.SearchStrategy[Media]:
    image = st.builds(
        lambda src, caption: Media(kind=MediaKind.IMAGE, source=src, caption=caption),
        st.one_of(
            st.just(MediaUrl("https://cdn.example.com/a.png")),
            st.binary(min_size=1, max_size=64).map(lambda b: MediaData("image/png", b)),
            ids().map(MediaId),
        ),
        st.none() | words(1, 50),
    )
    document = st.builds(
        lambda name: Media(
            kind=MediaKind.DOCUMENT, source=MediaUrl("https://cdn.example.com/x.pdf"), filename=name
        ),
        st.none() | words(1, 30),
    )
    audio = st.builds(
        lambda voice: Media(
            kind=MediaKind.AUDIO, source=MediaUrl("https://cdn.example.com/v.ogg"), voice=voice
        ),
        st.booleans(),
    )
    sticker = st.builds(
        lambda b: Media(kind=MediaKind.STICKER, source=MediaData("image/webp", b)),
        st.binary(min_size=1, max_size=100 * KB),
    )
    return st.one_of(image, document, audio, sticker)


def param_values() -> st.SearchStrategy[str | Currency | DateTime]:
    return st.one_of(
        words(1, 30),
        st.builds(
            lambda a: Currency(fallback_value=f"${a / 1000:.2f}", code="USD", amount_1000=a),
            st.integers(0, 10**9),
        ),
        st.builds(lambda t: DateTime(fallback_value=t), words(1, 20)),
    )


def template_messages() -> st.SearchStrategy[TemplateMessage]:
    positional = st.lists(param_values(), max_size=5).map(
        lambda vs: {str(i + 1): v for i, v in enumerate(vs)}
    )
    named = st.dictionaries(
        st.from_regex(r"[a-z_]{1,12}", fullmatch=True), param_values(), max_size=4
    )
    header = (
        st.none()
        | st.builds(
            lambda p: HeaderText(params=p),
            st.lists(words(1, 20), max_size=1).map(
                lambda vs: {str(i + 1): v for i, v in enumerate(vs)}
            ),
        )
        | st.just(
            HeaderMedia(
                media=Media(kind=MediaKind.IMAGE, source=MediaUrl("https://cdn.example.com/h.jpg"))
            )
        )
    )
    buttons = st.lists(st.integers(0, 9), unique=True, max_size=3).flatmap(
        lambda idx: st.tuples(
            *[st.builds(ButtonParam, index=st.just(i), param=words(1, 20)) for i in idx]
        )
    )
    return st.builds(
        lambda name, lang, params, header, buttons: TemplateMessage(
            name=name, language=lang, params=params, header=header, buttons=buttons
        ),
        st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True),
        st.sampled_from(["en", "en_US", "pt_BR", "sw"]),
        positional | named,
        header,
        buttons,
    )


def interactives() -> st.SearchStrategy[Content]:
    reply = st.lists(ids(10), min_size=1, max_size=3, unique=True).map(
        lambda names: tuple(ReplyButton(id=n, title=n[:20]) for n in names)
    )
    buttons = st.builds(
        lambda body, bs, footer: ButtonsMessage(body=body, buttons=bs, footer=footer),
        words(1, 100),
        reply,
        st.none() | words(1, 60),
    )
    url_button = st.builds(
        lambda body: ButtonsMessage(
            body=body, buttons=(UrlButton(title="Open", url="https://example.com"),)
        ),
        words(1, 50),
    )
    rows = st.lists(ids(10), min_size=1, max_size=10, unique=True)
    lists = st.builds(
        lambda body, row_ids, header: ListMessage(
            body=body,
            button="Choose",
            sections=(
                ListSection(
                    title="Options", rows=tuple(ListRow(id=r, title=r[:24]) for r in row_ids)
                ),
            ),
            header=header,
        ),
        words(1, 100),
        rows,
        st.none() | words(1, 60).map(InteractiveHeaderText),
    )
    cta = st.builds(
        lambda body, text: CtaUrlMessage(body=body, display_text=text, url="https://example.com/x"),
        words(1, 100),
        words(1, 20),
    )
    return st.one_of(buttons, url_button, lists, cta)


def contents() -> st.SearchStrategy[Content]:
    return st.one_of(
        texts(),
        media(),
        interactives(),
        st.builds(
            lambda la, lo, name: Location(latitude=la, longitude=lo, name=name),
            st.floats(-90, 90),
            st.floats(-180, 180),
            st.none() | words(1, 30),
        ),
        st.builds(
            lambda n, p: ContactCards(
                (ContactCard(name=ContactName(formatted_name=n), phones=(ContactPhone(phone=p),)),)
            ),
            words(1, 30),
            phone_digits(),
        ),
        st.builds(
            lambda mid, e: Reaction(message_id=mid, emoji=e),
            ids(),
            st.sampled_from(["", "👍", "❤️", "🇹🇿", "👩‍💻"]),
        ),
    )


@st.composite
def outbound_messages(
    draw: st.DrawFn, *, content: st.SearchStrategy[Content] | None = None
) -> OutboundMessage:
    chosen: Content = draw(
        st.one_of(contents(), template_messages()) if content is None else content
    )
    sender = draw(ids()) if isinstance(chosen, TemplateMessage) else draw(st.none() | ids())
    scheduled = draw(st.none() | aware_datetimes())
    expires = draw(st.none() | aware_datetimes())
    if scheduled and expires and expires <= scheduled:
        expires = scheduled + timedelta(hours=1)
    reply_to = None if isinstance(chosen, Reaction) else draw(st.none() | ids())
    metadata: dict[str, Any] = draw(
        st.dictionaries(
            ids(10), st.one_of(st.none(), st.booleans(), st.integers(), words(0, 20)), max_size=3
        )
    )
    contact = draw(
        st.none()
        | st.builds(
            lambda n, ls: ContactDetails(name=n, labels=tuple(ls)),
            st.none() | words(1, 20),
            st.lists(words(1, 10), max_size=3),
        )
    )
    return OutboundMessage(
        to=draw(recipients()),
        content=chosen,
        sender_id=sender,
        reply_to=reply_to,
        check_window=draw(st.booleans()),
        scheduled_at=scheduled,
        expires_at=expires,
        webhook_url=draw(st.none() | st.just("https://hooks.example.com/wa")),
        metadata=metadata,
        contact=contact,
    )


def statuses() -> st.SearchStrategy[MessageStatus]:
    return st.sampled_from(list(MessageStatus))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
"""Arbitrary JSON-like values."""
