"""The architecture page's table of rooms names every module of the domain, the
service and the gateway's routes (a new module without a line there fails)."""

from __future__ import annotations

import pkgutil
from importlib import import_module
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[2] / "docs" / "concepts" / "architecture.md"


@pytest.mark.parametrize("package", ["waport.domain", "waport.service", "waport_http.routes"])
def test_every_module_has_a_room_on_the_architecture_page(package: str) -> None:
    text = PAGE.read_text()
    modules = [m.name for m in pkgutil.iter_modules(import_module(package).__path__)]
    assert modules
    missing = [m for m in modules if f"`{package}.{m}`" not in text]
    assert not missing, f"add these to docs/concepts/architecture.md: {missing}"
