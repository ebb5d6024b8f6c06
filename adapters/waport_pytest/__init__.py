"""waport's pytest plugin: a fake clock, the sandbox, a ready Messenger and a running
gateway as fixtures, registered by entry point (``pytest11``) when waport is installed.

See ``waport_pytest.plugin`` for the fixtures and ``docs/guides/testing.md`` for how to
use them. ``running_gateway`` starts a gateway without pytest too.
"""

from __future__ import annotations

from waport_pytest.gateway import Gateway, running_gateway

__all__ = ["Gateway", "running_gateway"]
