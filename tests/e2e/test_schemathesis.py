"""Schemathesis against a live ``waport serve``: no 5xx, and every response matches the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Server, waport_serve

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    env = {
        "WAPORT_RATE_LIMIT_PER_MINUTE": "1000000",
        "WAPORT_PROVIDER_TIMEOUT_SECONDS": "0.5",  # a scripted delay can never stall the run
        "WAPORT_ATTEMPT_LEASE_SECONDS": "2",
    }
    with waport_serve(folder, env) as server:
        yield server


def test_the_live_api_keeps_its_contract(live: Server) -> None:
    """Every operation of /openapi.json, with generated requests (30 per operation, seeded).

    Driven through schemathesis's strategies (its pytest plugin does not run on pytest 9).
    """
    api = schemathesis.openapi.from_url(live.base + "/openapi.json")
    headers = {"Authorization": f"Bearer {live.key}"}
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path == "/v1/events/stream":
            # an answer that never ends: each case would wait out the timeout. Its only
            # input is Last-Event-ID, tested with its edges in test_event_stream.py
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live.base, headers=headers, checks=CHECKS, timeout=30)

        exercise()
    assert operations >= 17
