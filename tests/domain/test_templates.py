"""DESIGN §2 Templates: approval, positional and named parameters per component, OTP."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport import (
    ErrorCode,
    TemplateCategory,
    TemplateSpec,
    TemplateStatus,
    WaportError,
    check_template_params,
)
from waport.domain.limits import MediaKind
from waport.domain.messages import (
    ButtonParam,
    HeaderMedia,
    HeaderText,
    Media,
    MediaUrl,
    TemplateMessage,
)
from waport.domain.templates import (
    ButtonKind,
    HeaderFormat,
    TemplateButtonSpec,
    placeholders,
    spec_from_text,
)

names = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)


def spec(body_params: tuple[str, ...], **kw: object) -> TemplateSpec:
    return TemplateSpec(sender_id="s", name="t", language="en", body_params=body_params, **kw)  # type: ignore[arg-type]


def send(params: dict[str, str], **kw: object) -> TemplateMessage:
    return TemplateMessage(name="t", language="en", params=params, **kw)  # type: ignore[arg-type]


def error(sp: TemplateSpec, msg: TemplateMessage) -> WaportError:
    with pytest.raises(WaportError) as info:
        check_template_params(sp, msg)
    return info.value


@given(st.integers(0, 10), st.integers(0, 12))
def test_positional_count(expected: int, given_count: int) -> None:
    sp = spec(tuple(str(i) for i in range(1, expected + 1)))
    msg = send({str(i): f"v{i}" for i in range(1, given_count + 1)})
    if given_count == expected:
        bound = check_template_params(sp, msg)
        assert [k for k, _ in bound.body] == [str(i) for i in range(1, expected + 1)]
    elif given_count > expected:
        err = error(sp, msg)
        assert err.code == ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH
        assert set(err.details) == {str(i) for i in range(expected + 1, given_count + 1)}
    else:
        err = error(sp, msg)
        assert err.code == ErrorCode.MISSING_TEMPLATE_VARIABLES
        assert list(err.details) == [str(i) for i in range(given_count + 1, expected + 1)]
        assert err.param == "template.params"


@given(st.sets(names, max_size=6), st.sets(names, max_size=6))
def test_named_keys(expected: set[str], supplied: set[str]) -> None:
    order = tuple(sorted(expected))
    sp = spec(order)
    msg = send(dict.fromkeys(supplied, "x"))
    unknown = supplied - expected
    missing = expected - supplied
    if not unknown and not missing:
        assert dict(check_template_params(sp, msg).body) == dict.fromkeys(order, "x")
    elif unknown:
        err = error(sp, msg)
        assert err.code == ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH
        assert set(err.details) == unknown
    else:
        err = error(sp, msg)
        assert err.code == ErrorCode.MISSING_TEMPLATE_VARIABLES
        assert set(err.details) == missing


@pytest.mark.parametrize("status", [s for s in TemplateStatus if s != TemplateStatus.APPROVED])
def test_only_approved_templates_send(status: TemplateStatus) -> None:
    err = error(spec((), status=status), send({}))
    assert err.code == ErrorCode.TEMPLATE_NOT_APPROVED


def test_placeholders_from_text() -> None:
    assert placeholders("Hi {{1}}, order {{2}} ships {{1}}") == ("1", "2")
    assert placeholders("{{2}} then {{1}}") == ("1", "2")
    assert placeholders("Hi {{ first_name }}, code {{code}}") == ("first_name", "code")
    assert placeholders("no params") == ()


def test_text_header_params() -> None:
    sp = spec(("1",), header_format=HeaderFormat.TEXT, header_params=("1",))
    bound = check_template_params(sp, send({"1": "a"}, header=HeaderText(params={"1": "h"})))
    assert bound.header_text == (("1", "h"),)
    err = error(sp, send({"1": "a"}))
    assert (err.code, err.param) == (ErrorCode.MISSING_TEMPLATE_VARIABLES, "template.header.params")


def test_media_header_required_and_kind_checked() -> None:
    sp = spec((), header_format=HeaderFormat.IMAGE)
    image = HeaderMedia(
        media=Media(kind=MediaKind.IMAGE, source=MediaUrl("https://x.example/a.png"))
    )
    video = HeaderMedia(
        media=Media(kind=MediaKind.VIDEO, source=MediaUrl("https://x.example/a.mp4"))
    )
    assert check_template_params(sp, send({}, header=image)).header_media == image
    assert error(sp, send({})).code == ErrorCode.MISSING_TEMPLATE_VARIABLES
    assert error(sp, send({}, header=video)).param == "template.header.type"
    assert error(spec(()), send({}, header=image)).code == ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH


def test_dynamic_buttons_by_index() -> None:
    buttons = (
        TemplateButtonSpec(index=0, kind=ButtonKind.URL, dynamic=True),
        TemplateButtonSpec(index=1, kind=ButtonKind.QUICK_REPLY),
        TemplateButtonSpec(index=2, kind=ButtonKind.PHONE_NUMBER),
    )
    sp = spec((), buttons=buttons)
    bound = check_template_params(sp, send({}, buttons=(ButtonParam(index=0, param="abc"),)))
    assert [(b.index, b.value) for b in bound.buttons] == [(0, "abc")]
    check_template_params(
        sp, send({}, buttons=(ButtonParam(index=0, param="a"), ButtonParam(index=1, param="p")))
    )
    err = error(sp, send({}))
    assert (err.code, err.details) == (ErrorCode.MISSING_TEMPLATE_VARIABLES, ("buttons[0]",))
    err = error(
        sp, send({}, buttons=(ButtonParam(index=0, param="a"), ButtonParam(index=2, param="x")))
    )
    assert (err.code, err.param) == (
        ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH,
        "template.buttons[1].index",
    )


def test_authentication_otp_fills_body_and_button() -> None:
    sp = spec(
        ("1",),
        category=TemplateCategory.AUTHENTICATION,
        buttons=(TemplateButtonSpec(index=0, kind=ButtonKind.OTP, dynamic=True),),
    )
    bound = check_template_params(sp, send({}, otp="123456"))
    assert bound.body == (("1", "123456"),)
    assert [(b.index, b.value) for b in bound.buttons] == [(0, "123456")]
    assert error(sp, send({})).code == ErrorCode.MISSING_TEMPLATE_VARIABLES
    assert error(spec(()), send({}, otp="1")).code == ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH


def test_spec_from_text() -> None:
    sp = spec_from_text(
        sender_id="s", name="order_update", language="en", body="Hi {{1}}, order {{2}}."
    )
    assert sp.body_params == ("1", "2")
    assert sp.positional
    check_template_params(sp, send({"1": "Ana", "2": "#123"}))


@given(
    st.from_regex(r"[a-z]{2,3}(_[A-Za-z0-9]{2,8}){0,2}", fullmatch=True),
)
@example("sr_Latn_RS")  # a script and a region: 10 characters
@example("abc_ABCDEFGH_AB")  # 15: the limit on the limits page
@example("abc_ABCDEFGH_ABC")  # 16
def test_a_template_language_is_refused_exactly_past_fifteen_characters(language: str) -> None:
    """One limit: the validator and the limits page agree (15 characters)."""
    if len(language) <= 15:
        assert TemplateMessage(name="t", language=language).language == language
    else:
        with pytest.raises(WaportError) as err:
            TemplateMessage(name="t", language=language)
        assert (err.value.code, err.value.param) == (ErrorCode.VALIDATION_FAILED, "language")
