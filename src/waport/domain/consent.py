"""Opt-out: a contact who writes STOP is not sent marketing any more, until START.

An inbound text that is, as a whole, an opt-out keyword (any case, spacing, accents
or trailing punctuation) opts the contact out; an opt-in keyword opts it back in; the
API may set either. A change older than the contact's last one is ignored, so a
provider's late retry of an old STOP never undoes a newer START. While opted out, a
template of a blocked category (MARKETING by default) is refused with
``RECIPIENT_OPTED_OUT``; utility and authentication templates and replies inside the
window still go.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Collection
from datetime import datetime
from typing import Final

import attrs

from waport.domain.errors import ErrorCode, WaportError

OPT_OUT_KEYWORDS: Final = frozenset(
    {
        # English
        "stop", "stop all", "stopall", "unsubscribe", "cancel", "end", "quit", "opt out",
        "optout", "remove me",
        # Spanish
        "baja", "darme de baja", "cancelar suscripcion", "no mas", "alto",
        # Portuguese
        "parar", "sair", "cancelar", "descadastrar",
        # French
        "arret", "arreter", "desabonner", "desinscrire", "stop pub",
        # German
        "stopp", "abmelden", "abbestellen", "austragen",
    }
)  # fmt: skip
"""The default opt-out keywords, as ``normalise`` leaves them."""
OPT_IN_KEYWORDS: Final = frozenset(
    {"start", "unstop", "subscribe", "resume", "opt in", "optin", "alta", "reanudar",
     "voltar", "reprendre", "anmelden"}
)  # fmt: skip
"""The default opt-in keywords, as ``normalise`` leaves them."""
BLOCKED_CATEGORIES: Final = frozenset({"MARKETING"})
"""Template categories an opted-out contact is not sent, by default."""
HISTORY_MAX: Final = 50
"""Changes kept per contact (the newest)."""
MAX_KEYWORD: Final = 40
"""A longer text is never a keyword (and is not normalised to find out)."""

_SPACES: Final = re.compile(r"\s+")
_EDGE_PUNCTUATION: Final = re.compile(r"^[\W_]+|[\W_]+$")


class Consent(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"

    @property
    def opted_out(self) -> bool:
        return self is Consent.OPT_OUT


@attrs.frozen(kw_only=True)
class ConsentChange:
    """One change of a contact's opt-out state, kept in its history."""

    opted_out: bool
    at: datetime
    source: str
    """``keyword`` (the contact wrote it) or ``api``."""
    message_id: str | None = None
    """The inbound message that said it, for a keyword."""


def _fold_once(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _EDGE_PUNCTUATION.sub("", _SPACES.sub(" ", plain).strip())


def normalise(text: str) -> str:
    """``text`` as keywords are compared: case-folded, accents dropped, inner spaces
    collapsed to one, punctuation at either end removed. Folded again until nothing
    changes (decomposing may uncover a capital: "ᴬ" is "A")."""
    for _ in range(5):
        folded = _fold_once(text)
        if folded == text:
            break
        text = folded
    return text


def keyword_sets(
    opt_out: Collection[str] | None = None, opt_in: Collection[str] | None = None
) -> tuple[frozenset[str], frozenset[str]]:
    """Configured keywords as ``classify`` compares them (defaults where not given). A
    word in both lists is refused: it could not mean both."""
    outs = frozenset(normalise(k) for k in opt_out) if opt_out is not None else OPT_OUT_KEYWORDS
    ins = frozenset(normalise(k) for k in opt_in) if opt_in is not None else OPT_IN_KEYWORDS
    both = sorted(outs & ins)
    if both or "" in outs | ins:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"a keyword may not be empty nor both opt-out and opt-in: {both}",
            "opt_out_keywords",
        )
    return outs, ins


def classify(
    text: str | None,
    opt_out: frozenset[str] = OPT_OUT_KEYWORDS,
    opt_in: frozenset[str] = OPT_IN_KEYWORDS,
) -> Consent | None:
    """Whether an inbound text, as a whole, opts its sender out or in."""
    if not text or len(text) > MAX_KEYWORD * 2:
        return None
    said = normalise(text)
    if said in opt_out:
        return Consent.OPT_OUT
    if said in opt_in:
        return Consent.OPT_IN
    return None


def decide(
    history: tuple[ConsentChange, ...], change: ConsentChange
) -> tuple[ConsentChange, ...] | None:
    """The history after ``change``, or ``None`` when a newer change was made since (a
    late retry of an old STOP is ignored). A change to the state it is already in is
    kept too: it is the newest word, which an older one may not undo."""
    last = history[-1] if history else None
    if last is not None and (change.at < last.at or change == last):
        return None
    return (*history, change)[-HISTORY_MAX:]


def flipped(history: tuple[ConsentChange, ...]) -> bool:
    """Whether the newest change moved the state (everyone starts opted in)."""
    if not history:
        return False
    before = history[-2].opted_out if len(history) > 1 else False
    return history[-1].opted_out != before


def refuses(category: str | None, opted_out: bool, blocked: Collection[str]) -> bool:
    """Whether a template of ``category`` may not go to a contact in this state."""
    return opted_out and category is not None and category.upper() in blocked


def opted_out_error() -> WaportError:
    return WaportError(
        ErrorCode.RECIPIENT_OPTED_OUT,
        "the contact opted out of this category of messages (they wrote an opt-out"
        " keyword, or the API set it); utility and authentication templates still go",
        "to",
    )


@attrs.frozen(kw_only=True)
class ConsentRules:
    """One workspace's opt-out rules (``Workspace.consent``; unset: the gateway's)."""

    opt_out_keywords: frozenset[str] = OPT_OUT_KEYWORDS
    """As ``classify`` compares them (``normalise``d)."""
    opt_in_keywords: frozenset[str] = OPT_IN_KEYWORDS
    blocked: frozenset[str] = BLOCKED_CATEGORIES
    """Template categories an opted-out contact is not sent."""
    reply: str | None = None
    """The confirmation sent back to a contact who opts out."""
