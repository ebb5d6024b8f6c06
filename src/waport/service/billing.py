"""Billing adapters: unlimited (the default) and a store-backed prepaid balance."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.ports import Store


@attrs.define
class UnlimitedBilling:
    """Every send is allowed. (A workspace marked ``billing_suspended`` is refused by the
    Messenger itself, whatever the billing adapter.)"""

    async def reserve(self, workspace_id: str, *, category: str, count: int) -> None:
        return None

    async def refund(self, workspace_id: str, *, category: str, count: int) -> None:
        return None


@attrs.define
class PrepaidBilling:
    """A prepaid balance per workspace (``Workspace.balance``), debited per message by category.

    ``prices`` maps a category (MARKETING, UTILITY, AUTHENTICATION, SERVICE) to a
    price in the smallest currency unit; categories not listed are free.
    """

    store: Store
    prices: Mapping[str, int] = attrs.field(factory=dict)

    async def reserve(self, workspace_id: str, *, category: str, count: int) -> None:
        cost = self.prices.get(category, 0) * count
        if cost == 0:
            return
        if await self.store.workspaces.adjust_balance(workspace_id, -cost) is None:
            raise WaportError(
                ErrorCode.INSUFFICIENT_BALANCE,
                f"the balance cannot cover {count} {category} message(s)",
            )

    async def refund(self, workspace_id: str, *, category: str, count: int) -> None:
        cost = self.prices.get(category, 0) * count
        if cost:
            await self.store.workspaces.adjust_balance(workspace_id, cost)
