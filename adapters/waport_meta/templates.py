"""Meta's template management: ``POST`` and ``DELETE /{waba-id}/message_templates``.
Review takes minutes to days; its outcome arrives as a ``message_template_status_update``
webhook (see ``template_wire``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.template_drafts import TemplateDraft
from waport.domain.templates import TemplateCategory, TemplateSpec, TemplateStatus
from waport_meta import template_wire


class _Graph(Protocol):
    """What template management needs of the provider: its account and its calls."""

    waba_id: str | None

    def _url(self, *parts: str) -> str: ...

    async def _call(
        self, method: str, url: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> Any: ...


@attrs.frozen
class MetaTemplates:
    graph: _Graph

    def _templates_url(self) -> str:
        if not self.graph.waba_id:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                "set the WhatsApp Business Account id (waba_id) to manage templates",
            )
        return self.graph._url(self.graph.waba_id, "message_templates")

    async def create_template(self, draft: TemplateDraft, *, sender: str) -> TemplateSpec:
        url = self._templates_url()
        answer = await self.graph._call("POST", url, json=template_wire.draft_to_graph(draft))
        if not isinstance(answer, Mapping) or answer.get("id") is None:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "Meta's answer to a new template had no id",
                provider="meta",
            )
        status = str(answer.get("status", "")).upper()
        category = str(answer.get("category", "")).upper()
        spec = draft.spec(
            status=TemplateStatus(status)
            if status in TemplateStatus.__members__
            else TemplateStatus.PENDING,
            provider_id=str(answer["id"]),
        )
        if category in TemplateCategory.__members__:  # Meta may have chosen another
            spec = attrs.evolve(spec, category=TemplateCategory(category))
        return attrs.evolve(spec, sender_id=sender)

    async def delete_template(self, name: str, *, sender: str) -> None:
        await self.graph._call("DELETE", self._templates_url(), params={"name": name})
