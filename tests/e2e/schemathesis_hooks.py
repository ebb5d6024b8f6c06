"""What a JSON Schema cannot state, for ``schemathesis run``.

The OpenAPI document states every rule on one field (lengths, patterns, enums,
ranges, closed objects, exactly one mode). What it cannot state:

- rules across fields: ``until`` not before ``since``, a pacing minimum not above its
  maximum, which media kinds take a caption, a template's examples matching its text,
  a form's file after its type and name ...;
- a rule on one field that no regular expression says: a reaction is one emoji;
- a refusal that depends on state outside the request: a webhook host that does not
  resolve to public addresses, a contact that already has 50 attributes.

A request valid by the schema may break one; waport refuses it with 400 naming the
rule, and schemathesis's valid-data check counts that as a failure. This hook excuses
exactly those answers: a 400 whose message is one of the rules below *and* whose
request does break that rule (the rule's own test, on the request the fuzzer sent).
Any other 400 for schema-valid data is still a failure, and every other check runs
unchanged (two answers that are waport's design are named in ``_kept_by_design``).

schemathesis loads this module through ``SCHEMATHESIS_HOOKS`` (test_schemathesis.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import schemathesis

from waport.domain.consent import normalise
from waport.domain.limits import INTERACTIVE, TEXT
from waport.domain.template_drafts import PER_KIND
from waport.domain.templates import placeholders

Body = Any


@attrs.frozen
class Rule:
    method: str
    path: str
    message: str
    """A regular expression the refusal's message matches."""
    broken: Callable[[Any, str], bool]
    """Whether the request (its body, or its query for a GET) breaks the rule; the
    second argument is the refusal's ``param``."""


def _at(body: Body, param: str) -> Any:
    """The value at ``param`` (``template.header``, ``recipients[2].to``) in ``body``."""
    value = body
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", param):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _instant(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _until_before_since(query: Any, _: str) -> bool:
    since, until = _instant(query.get("since")), _instant(query.get("until"))
    return since is not None and until is not None and until < since


def _pacing_reversed(body: Body, param: str) -> bool:
    pair = _at(body, param)
    return isinstance(pair, list) and len(pair) == 2 and pair[0] > pair[1]


def _keywords_clash(body: Body, _: str) -> bool:
    rules = body.get("opt_out") or {}
    outs = {normalise(k) for k in rules.get("keywords") or ()}
    ins = {normalise(k) for k in rules.get("opt_in_keywords") or ()}
    return "" in outs | ins or bool(outs & ins)


def _expires_first(body: Body, _: str) -> bool:
    scheduled, expires = _instant(body.get("scheduled_at")), _instant(body.get("expires_at"))
    return scheduled is not None and expires is not None and expires <= scheduled


def _long_caption(body: Body, _: str) -> bool:
    return body.get("media") is not None and len(body.get("text", "")) > TEXT.caption


def _no_text_nor_media(body: Body, _: str) -> bool:
    return body.get("media") is None and not body.get("text")


def _nothing_scripted(body: Body, _: str) -> bool:
    return body.get("fail_with") is None and not body.get("delay_ms")


def _not_one_source(body: Body, param: str) -> bool:
    media = _at(body, param)
    return isinstance(media, dict) and sum(k in media for k in ("url", "data", "id")) != 1


_MODES = ("text", "template", "media", "file", "interactive", "location", "contacts", "reaction")


def _not_one_mode(body: Body, _: str) -> bool:
    """A form states its fields; which one is the mode is a rule across them (a JSON
    body states it with oneOf)."""
    return isinstance(body, dict) and sum(body.get(m) is not None for m in _MODES) != 1


def _header_file_alone(body: Body, _: str) -> bool:
    return "header_file" in body and not isinstance(body.get("template"), dict)


def _indexes_repeat(body: Body, _: str) -> bool:
    indexes = [b.get("index") for b in _at(body, "template.buttons") or ()]
    return len(indexes) != len(set(indexes))


def _empty_file(body: Body, param: str) -> bool:
    return _at(body, param.split(".", 1)[0]) in (b"", "")


_FOR_KINDS = {
    "caption": ("image", "video", "document"),
    "filename": ("document",),
    "voice": ("audio",),
    "animated": ("sticker",),
}


def _media_of(body: Body, param: str) -> tuple[dict[str, Any], str]:
    """The media object a refusal's param is in (a form's fields are its media) and
    the field named."""
    parent, _, field = param.rpartition(".")
    media = _at(body, parent) if parent else body
    if parent in ("media", "file") and not isinstance(media, dict):
        media = body  # a form: file, type, caption and filename are top-level fields
    return (media if isinstance(media, dict) else {}), field


def _kind_mismatch(body: Body, param: str) -> bool:
    """Media options belong to kinds (a caption to image, video and document, ...), and
    a kind accepts its MIME types: rules between the kind, given or inferred from the
    URL, data or file, and the other fields."""
    media, field = _media_of(body, param)
    if field in _FOR_KINDS:
        given = media.get(field)
        present = given is not None if field in ("caption", "filename") else bool(given)
        return present and media.get("type") not in _FOR_KINDS[field]
    return bool(media)


def _header_kind(body: Body, param: str) -> bool:
    media, field = _media_of(body, param)
    if field == "caption":
        return media.get("caption") is not None
    return media.get("type") not in ("image", "video", "document")


def _interactive(body: Body) -> dict[str, Any]:
    value = body.get("interactive")
    return value if isinstance(value, dict) else {}


def _reply_ids_repeat(body: Body, _: str) -> bool:
    buttons = _interactive(body).get("buttons") or ()
    ids = [b.get("id") for b in buttons if b.get("type", "reply") == "reply"]
    return len(ids) != len(set(ids))


def _list_rules(body: Body, _: str) -> bool:
    sections = _interactive(body).get("sections") or ()
    rows = [r.get("id") for section in sections for r in section.get("rows") or ()]
    products = [p for section in sections for p in section.get("product_retailer_ids") or ()]
    return (
        len(rows) > INTERACTIVE.rows_total_max
        or len(rows) != len(set(rows))
        or len(products) > INTERACTIVE.product_items_max
        or (len(sections) > 1 and any(s.get("title") is None for s in sections))
    )


def _not_public(body: Body, param: str) -> bool:
    """Whether a host resolves to public addresses is the network's state (DNS), not
    the request's form: a webhook URL on a name that does not is refused at once."""
    return isinstance(_at(body, param), str)


def _grows(body: Body, param: str) -> bool:
    """How many labels or attributes a contact may have counts those it has (the
    store's state): a request that adds some may be refused."""
    return bool(_at(body, param))


def _no_bytes(body: Body, _: str) -> bool:
    return not body.get("file")


def _an_emoji(body: Body, param: str) -> bool:
    """One emoji (a grapheme of pictographs) is not a rule a regular expression states."""
    return bool(_at(body, param))


def _no_body_for_category(body: Body, param: str) -> bool:
    return param == "body" and "body" not in body and body.get("category") != "AUTHENTICATION"


def _one_media_source(body: Body, _: str) -> bool:
    media = body.get("media")
    return isinstance(media, dict) and len(media) != 1


def _fields_after_file(body: Body, _: str) -> bool:
    """A form's parts come in order, and the file is streamed as it arrives: its type
    and name must come first (a schema states a form's fields, not their order)."""
    names = list(body) if isinstance(body, dict) else []
    return "file" in names and any(n in names[names.index("file") :] for n in ("type", "filename"))


def _kind_declared(body: Body, _: str) -> bool:
    return isinstance(body, dict) and bool(body.get("type"))


# A template draft's texts and their parameters ({{1}}, {{name}}): which text a
# refusal's param is about, and whether it has parameters.


def _text_of(body: Body, param: str) -> str:
    if param.startswith("examples"):
        return str(body.get("body") or "")
    if param.startswith("header"):
        return str(_at(body, "header.text") or "")
    if param.startswith("buttons"):
        return str(_at(body, param.rsplit(".", 1)[0] + ".url") or "")
    return str(body.get(param.split(".", 1)[0]) or body.get("body") or "")


def _has_parameters(body: Body, param: str) -> bool:
    return bool(placeholders(_text_of(body, param)))


def _examples_differ(body: Body, param: str) -> bool:
    where, _, key = param.rpartition(".")
    given = _at(body, where) or {}
    return (key in given) != (key in placeholders(_text_of(body, param)))


def _kinds(body: Body) -> list[str]:
    return [b.get("type") for b in body.get("buttons") or ()]


def _too_many_of_a_kind(body: Body, _: str) -> bool:
    kinds = _kinds(body)
    return any(kinds.count(kind) > most for kind, most in PER_KIND.items())


def _quick_replies_split(body: Body, _: str) -> bool:
    quick = [i for i, kind in enumerate(_kinds(body)) if kind == "QUICK_REPLY"]
    return bool(quick) and quick[-1] - quick[0] + 1 != len(quick)


def _category_buttons(body: Body, _: str) -> bool:
    kinds, category = _kinds(body), body.get("category")
    authentication = category == "AUTHENTICATION"
    return (
        ("COPY_CODE" in kinds and category != "MARKETING")
        or (authentication and kinds != ["OTP"])
        or (not authentication and "OTP" in kinds)
    )


def _authentication_text(body: Body, param: str) -> bool:
    return body.get("category") == "AUTHENTICATION" and param in body


def _url_example(body: Body, param: str) -> bool:
    return not _has_parameters(body, param) and param.endswith(".example")


def _edge_parameter(body: Body, _: str) -> bool:
    text = str(body.get("body") or "").strip()
    return bool(placeholders(text)) and (text.startswith("{{") or text.endswith("}}"))


WORKSPACE_WRITES = (("POST", "/v1/workspaces"), ("PATCH", "/v1/workspaces/{workspace_id}"))

RULES = (
    Rule("GET", "/v1/messages", "until is before since", _until_before_since),
    *(
        Rule(method, path, message, broken)
        for method, path in WORKSPACE_WRITES
        for message, broken in (
            (r"0 <= min <= max", _pacing_reversed),
            ("nor both opt-out and opt-in", _keywords_clash),
            ("does not resolve to public addresses", _not_public),
        )
    ),
    Rule("POST", "/v1/sandbox/inbound", "a caption of", _long_caption),
    Rule("POST", "/v1/sandbox/inbound", "text is 1-", _no_text_nor_media),
    Rule("POST", "/v1/sandbox/script", r"fail_with\) or a delay", _nothing_scripted),
    Rule("POST", "/v1/messages", "exactly one of url, data or id", _not_one_source),
    Rule("POST", "/v1/broadcasts", "exactly one of url, data or id", _not_one_source),
    Rule("POST", "/v1/messages", "expires_at must be after scheduled_at", _expires_first),
    Rule("POST", "/v1/messages", "exactly one of text|exactly one mode", _not_one_mode),
    Rule("POST", "/v1/messages", "a header_file needs a template field", _header_file_alone),
    Rule("POST", "/v1/messages", "must be one emoji", _an_emoji),
    *(
        Rule("POST", path, message, broken)
        for path in ("/v1/messages", "/v1/broadcasts")
        for message, broken in (
            (
                "cannot carry a caption|only a document has|only audio can|only a sticker can",
                _kind_mismatch,
            ),
            (r"^\w+ accepts |cannot infer the media type", _kind_mismatch),
            ("header is (text, )?an image, a video or a document", _header_kind),
            ("a (template )?header takes no caption", _header_kind),
        )
    ),
    Rule("POST", "/v1/messages", "does not resolve to public addresses", _not_public),
    Rule("POST", "/v1/broadcasts", "does not resolve to public addresses", _not_public),
    Rule("POST", "/v1/messages", "reply button ids must be unique", _reply_ids_repeat),
    Rule(
        "POST",
        "/v1/messages",
        "rows in all|row ids must be unique|at most \\d+ products",
        _list_rules,
    ),
    Rule("POST", "/v1/messages", "each section needs a title", _list_rules),
    Rule("POST", "/v1/messages", "the file is empty", _empty_file),
    Rule("POST", "/v1/messages", "button indexes must be unique", _indexes_repeat),
    Rule("POST", "/v1/broadcasts", "button indexes must be unique", _indexes_repeat),
    Rule("POST", "/v1/broadcasts", "expires_at must be after scheduled_at", _expires_first),
    Rule("POST", "/v1/sandbox/inbound", r"media is \{", _one_media_source),
    Rule("POST", "/v1/media", r"^\w+ accepts ", _kind_declared),
    Rule("POST", "/v1/media", "a type and a filename field, then one file", _fields_after_file),
    Rule("POST", "/v1/media", "the file is empty", _no_bytes),
    Rule("PATCH", "/v1/contacts/{phone}", "a contact has at most", _grows),
    Rule("POST", "/v1/templates", "a string of 1 to", _no_body_for_category),
    *(
        Rule("POST", "/v1/templates", message, broken)
        for message, broken in (
            ("no such parameter in the text|every parameter needs an example", _examples_differ),
            ("all numbered or all named|name this one too|without a gap", _has_parameters),
            ("number this one too|a parameter name is|a text header('s| takes)", _has_parameters),
            ("a URL's one parameter|a footer takes no parameters", _has_parameters),
            ("a URL without a parameter takes no example", _url_example),
            (r"at most \d+ \w+ button", _too_many_of_a_kind),
            ("quick replies go side by side", _quick_replies_split),
            (
                "for MARKETING templates|exactly one OTP button|OTP buttons are for",
                _category_buttons,
            ),
            ("Meta writes an AUTHENTICATION template's text", _authentication_text),
            ("may not start or end with a parameter", _edge_parameter),
        )
    ),
)


def _excused(case: Any, answer: dict[str, Any]) -> bool:
    error = answer.get("error") or {}
    method, path = case.operation.method.upper(), case.operation.path
    given = case.query or {} if method == "GET" else case.body
    if path == "/v1/media":  # an upload's ?type= (a form's own field wins)
        given = dict(given) if isinstance(given, dict) else {"file": given}  # a form, in order
        for name, value in (case.query or {}).items():
            if given.get(name) in ("", None):
                given[name] = value
    for rule in RULES:
        if (rule.method, rule.path) != (method, path):
            continue
        if re.search(rule.message, error.get("message", "")) and rule.broken(
            given, error.get("param") or ""
        ):
            return True
    return False


def _kept_by_design(failure: Any, case: Any) -> bool:
    """Two answers that are waport's design, not a fault:
    - ST301 on a sender: ``DELETE /v1/senders/{id}`` retires it; it stays readable (with
      ``active: false``, because its messages name it) and a PATCH may bring it back.
    - ST201 for a form field given a value of another type: a multipart field is text
      on the wire, so an "array" arrives as its JSON text, which is a valid string; and
      for a form whose ``file`` the fuzzer meant to leave out, as schemathesis still
      sends a file part.
    """
    if failure.code == "ST301":
        return bool(case.operation.path == "/v1/senders/{sender_id}")
    form = str(case.media_type or "").startswith("multipart/")
    message = str(failure.message)
    return (
        failure.code == "ST201"
        and form
        and ("violates `type`" in message or "(was file)" in message)
    )


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a valid-data refusal that a rule above explains, and the
    two answers ``_kept_by_design`` names."""
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    if _kept_by_design(failure, case):
        return False
    if failure.code != "ST202" or response.status_code != 400:
        return True
    return not (isinstance(answer, dict) and _excused(case, answer))
