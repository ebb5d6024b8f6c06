"""Every bundled plugin passes its port's contract: a store or provider entry point of the
waport distribution without a contract subclass here fails this test."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import distribution

import pytest

import tests.contracts
from waport.testing.contracts import ProviderContract, StoreContract


def _subclasses(base: type) -> set[str]:
    found: set[str] = set()
    todo = list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("tests.contracts") and cls.plugin_name:  # type: ignore[attr-defined]
            found.add(cls.plugin_name)  # type: ignore[attr-defined]
    return found


def _bundled(group: str) -> set[str]:
    return {ep.name for ep in distribution("waport").entry_points if ep.group == group}


@pytest.mark.parametrize(
    ("group", "contract"),
    [("waport.stores", StoreContract), ("waport.providers", ProviderContract)],
)
def test_every_bundled_plugin_has_a_contract_subclass(group: str, contract: type) -> None:
    for module in pkgutil.iter_modules(tests.contracts.__path__):
        if module.name.startswith("test_"):
            importlib.import_module(f"tests.contracts.{module.name}")
    bundled = _bundled(group)
    assert bundled, f"no {group} entry points: is waport installed (pip install -e .)?"
    missing = bundled - _subclasses(contract)
    assert not missing, f"{group} plugins without a contract test subclass: {sorted(missing)}"
