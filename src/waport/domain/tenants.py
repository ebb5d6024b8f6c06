"""Workspaces and senders through the API (``/v1/workspaces``, ``/v1/senders``): the
fields a request may set, checked field by field, and who may set which.

An operator (a key with the ``operator`` scope) manages every workspace; a workspace's
admin key reads and changes its own, but not what the operator decides for it: its
status (suspension), its messaging tier and its billing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from waport.domain import consent
from waport.domain.consent import ConsentRules
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import CATEGORIES
from waport.domain.records import Sender, Workspace
from waport.domain.urls import check_http_url

TIERS: Final[tuple[int | None, ...]] = (250, 2_000, 10_000, 100_000, None)
"""Business-initiated conversations per moving 24 h (``None``: unlimited)."""
STATUSES: Final = ("active", "suspended")
BILLING: Final = ("unlimited", "prepaid")
NAME_MAX: Final = 120
PACING_MAX_SECONDS: Final = 3_600.0
RATE_MAX: Final = 1_000.0
RATE_MIN: Final = 0.001
"""The slowest pace a workspace may set: one send every 1,000 s (a slower one would
overflow the pacing arithmetic, and is no pace anyone means)."""
REPLY_MAX: Final = 1_024

_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
ID_PATTERN: Final = f"^{_ID.pattern}$"
"""A workspace's or a sender's id, as the OpenAPI document states it."""
_SENDER_PHONE: Final = re.compile(r"\+?[0-9]{6,15}")
SENDER_PHONE_PATTERN: Final = f"^{_SENDER_PHONE.pattern}$"
WORKSPACE_FIELDS: Final = (
    "id",
    "name",
    "status",
    "messaging_tier",
    "template_opens_window",
    "default_sender_id",
    "webhook_url",
    "billing",
    "pacing",
    "max_sends_per_second",
    "opt_out",
)
OPERATOR_FIELDS: Final = frozenset({"status", "messaging_tier", "billing"})
"""What only an operator may change."""
SENDER_FIELDS: Final = ("id", "phone", "name", "active")


def _refuse(message: str, param: str) -> WaportError:
    return WaportError(ErrorCode.VALIDATION_FAILED, message, param)


def _object(body: object, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _refuse("the body must be a JSON object", "body")
    for name in body:
        if name not in allowed:
            raise _refuse(f"unknown field (allowed: {', '.join(allowed)})", str(name))
    return body


def parse_id(value: object, param: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _refuse(
            "1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", param
        )
    return value


def _name(value: object, param: str = "name") -> str:
    if not isinstance(value, str) or len(value) > NAME_MAX:
        raise _refuse(f"a name is a string of at most {NAME_MAX} characters", param)
    return value


def _tier(value: object) -> int | None:
    if value not in TIERS or isinstance(value, bool):
        shown = ", ".join("null" if t is None else str(t) for t in TIERS)
        raise _refuse(f"a messaging tier is one of {shown}", "messaging_tier")
    return value


def _flag(value: object, param: str) -> bool:
    if not isinstance(value, bool):
        raise _refuse("true or false", param)
    return value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _pacing(value: object) -> dict[str, tuple[float, float]] | None:
    """``{"MARKETING": [8, 25]}``: a random gap of 8-25 s between two marketing sends
    of a sender; ``null``: the gateway's."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _refuse("an object of category: [min, max] seconds, or null", "pacing")
    out: dict[str, tuple[float, float]] = {}
    for category, gap in value.items():
        param = f"pacing.{category}"
        if category not in CATEGORIES:
            raise _refuse(f"a category is one of {', '.join(CATEGORIES)}", param)
        low = high = None
        if isinstance(gap, list) and len(gap) == len(("min", "max")):
            low, high = _number(gap[0]), _number(gap[1])
        if low is None or high is None or not 0 <= low <= high <= PACING_MAX_SECONDS:
            raise _refuse(f"[min, max] seconds, 0 <= min <= max <= {PACING_MAX_SECONDS:g}", param)
        out[category] = (low, high)
    return out


def _rate(value: object) -> float | None:
    if value is None:
        return None
    rate = _number(value)
    if rate is None or not RATE_MIN <= rate <= RATE_MAX:
        raise _refuse(
            f"sends a second, from {RATE_MIN:g} to {RATE_MAX:g}, or null", "max_sends_per_second"
        )
    return rate


def _consent(value: object) -> ConsentRules | None:
    """``{"keywords": [...], "opt_in_keywords": [...], "blocked_categories": [...],
    "reply": "..."}`` (each optional: the defaults); ``null``: the gateway's rules."""
    if value is None:
        return None
    fields = _object(value, ("keywords", "opt_in_keywords", "blocked_categories", "reply"))
    lists = {}
    for name in ("keywords", "opt_in_keywords", "blocked_categories"):
        given = fields.get(name)
        if given is not None and (
            not isinstance(given, list)
            or not all(isinstance(k, str) and 0 < len(k) <= consent.MAX_KEYWORD for k in given)
        ):
            raise _refuse(f"a list of 1-{consent.MAX_KEYWORD} character strings", f"opt_out.{name}")
        lists[name] = given
    try:
        outs, ins = consent.keyword_sets(lists["keywords"], lists["opt_in_keywords"])
    except WaportError as err:
        raise _refuse(err.message, "opt_out.keywords") from None
    blocked = lists["blocked_categories"]
    if blocked is not None and not {b.upper() for b in blocked} <= set(CATEGORIES):
        raise _refuse(f"categories of {', '.join(CATEGORIES)}", "opt_out.blocked_categories")
    reply = fields.get("reply")
    if reply is not None and (not isinstance(reply, str) or not 0 < len(reply) <= REPLY_MAX):
        raise _refuse(f"a text of 1-{REPLY_MAX} characters, or null", "opt_out.reply")
    return ConsentRules(
        opt_out_keywords=outs,
        opt_in_keywords=ins,
        blocked=(
            frozenset(b.upper() for b in blocked)
            if blocked is not None
            else consent.BLOCKED_CATEGORIES
        ),
        reply=reply,
    )


def patch_workspace(workspace: Workspace, body: object, *, operator: bool) -> Workspace:
    """``workspace`` with the fields of a ``PATCH`` (or of a creation's body) applied.
    ``FORBIDDEN`` naming the field when a workspace's own key changes what only an
    operator may."""
    fields = _object(body, WORKSPACE_FIELDS[1:])
    for name in fields:
        if name in OPERATOR_FIELDS and not operator:
            raise WaportError(ErrorCode.FORBIDDEN, "only an operator key may change this", name)
    changes: dict[str, Any] = {}
    if "name" in fields:
        changes["name"] = _name(fields["name"])
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise _refuse("active or suspended", "status")
        changes["billing_suspended"] = fields["status"] == "suspended"
    if "messaging_tier" in fields:
        changes["messaging_tier"] = _tier(fields["messaging_tier"])
    if "template_opens_window" in fields:
        changes["template_opens_window"] = _flag(
            fields["template_opens_window"], "template_opens_window"
        )
    if "default_sender_id" in fields:
        value = fields["default_sender_id"]
        changes["default_sender_id"] = (
            None if value is None else parse_id(value, "default_sender_id")
        )
    if "webhook_url" in fields:
        url = fields["webhook_url"]
        if url is not None:
            check_http_url(url, "webhook_url")
        changes["webhook_url"] = url
    if "pacing" in fields:
        changes["category_pacing"] = _pacing(fields["pacing"])
    if "max_sends_per_second" in fields:
        changes["max_sends_per_second"] = _rate(fields["max_sends_per_second"])
    if "opt_out" in fields:
        changes["consent"] = _consent(fields["opt_out"])
    if "billing" in fields:
        if fields["billing"] not in BILLING:
            raise _refuse("unlimited or prepaid", "billing")
        prepaid = fields["billing"] == "prepaid"
        # a prepaid workspace starts at 0 (the operator credits it); its balance then
        # moves with the ledger only
        changes["balance"] = (workspace.balance or 0) if prepaid else None
    return attrs.evolve(workspace, **changes)


def billing_of(workspace: Workspace) -> str:
    return "unlimited" if workspace.balance is None else "prepaid"


def new_workspace(body: object) -> Workspace:
    """A workspace as ``POST /v1/workspaces`` creates it: its ``id`` and any of the
    other fields (an operator's request). New workspaces start at the first tier."""
    fields = _object(body, WORKSPACE_FIELDS)
    if "id" not in fields:
        raise _refuse("a workspace needs an id", "id")
    workspace_id = parse_id(fields["id"], "id")
    base = Workspace(id=workspace_id, name=workspace_id, messaging_tier=TIERS[0])
    rest = {k: v for k, v in fields.items() if k != "id"}
    return patch_workspace(base, rest, operator=True)


def status_of(workspace: Workspace) -> str:
    return "suspended" if workspace.billing_suspended else "active"


def new_sender(body: object, workspace_id: str) -> Sender:
    """A sender as ``POST /v1/senders`` adds it: ``id`` (the provider's number: a Meta
    phone number id, a WAHA session), ``phone`` (the number people see), ``name``."""
    fields = _object(body, SENDER_FIELDS)
    if "id" not in fields:
        raise _refuse("a sender needs the provider's id of its number", "id")
    sender = Sender(id=parse_id(fields["id"], "id"), workspace_id=workspace_id)
    return patch_sender(sender, {k: v for k, v in fields.items() if k != "id"})


def patch_sender(sender: Sender, body: object) -> Sender:
    fields = _object(body, SENDER_FIELDS[1:])
    changes: dict[str, Any] = {}
    if "phone" in fields:
        phone = fields["phone"]
        if phone is not None and (not isinstance(phone, str) or not _SENDER_PHONE.fullmatch(phone)):
            raise _refuse("the number people see: digits, with or without +", "phone")
        changes["phone"] = phone
    if "name" in fields:
        changes["name"] = _name(fields["name"])
    if "active" in fields:
        changes["active"] = _flag(fields["active"], "active")
    return attrs.evolve(sender, **changes)
