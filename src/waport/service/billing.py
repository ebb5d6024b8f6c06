"""The ``Billing`` port's default: every send allowed.

``Billing`` is a hook for an external billing system (reserve before a send is stored,
refund when it fails). waport's own prepaid balances need none: they are a ledger the
stores keep with the messages (``waport.domain.ledger``, ``Policy.prices``), so that a
crash never loses or doubles a debit or a refund.
"""

from __future__ import annotations

import attrs


@attrs.define
class UnlimitedBilling:
    """Every send is allowed. (A workspace marked ``billing_suspended`` is refused by the
    Messenger itself, whatever the billing adapter.)"""

    async def reserve(self, workspace_id: str, *, category: str, count: int) -> None:
        return None

    async def refund(self, workspace_id: str, *, category: str, count: int) -> None:
        return None
