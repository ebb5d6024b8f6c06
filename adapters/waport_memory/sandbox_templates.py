"""The sandbox's template management: a draft is approved at once (a harness wants to
send it next), and deleting forgets the name in every language."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from waport.domain.template_drafts import TemplateDraft
from waport.domain.templates import TemplateSpec, TemplateStatus


@attrs.frozen
class SandboxTemplates:
    catalogue: Callable[[str], list[TemplateSpec]]
    """A sender's templates, as the sandbox keeps them (changed in place)."""

    async def create_template(self, draft: TemplateDraft, *, sender: str) -> TemplateSpec:
        spec = draft.spec(
            status=TemplateStatus.APPROVED, provider_id=f"sbx-tpl-{draft.name}-{draft.language}"
        )
        spec = attrs.evolve(spec, sender_id=sender)
        found = self.catalogue(sender)
        found[:] = [s for s in found if s.key != spec.key] + [spec]
        return spec

    async def delete_template(self, name: str, *, sender: str) -> None:
        found = self.catalogue(sender)
        found[:] = [s for s in found if s.name != name]
