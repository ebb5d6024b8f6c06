"""Tenant isolation over the API (issue 26), as a Hypothesis state machine against a real
``waport serve``: two workspaces act in any order (sends, contacts writing in, contact
changes, keys, senders, opt-outs), and after every step each workspace's key lists
exactly its own messages, contacts, senders and keys, and every attempt to read or
change the other's data by id is ``NOT_FOUND``, never an answer."""

from __future__ import annotations

import itertools
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from .conftest import Server, drop_schema, waport_serve

HELLO = {"name": "hello_world", "language": "en_US"}
PHONES = ("255716000001", "255716000002", "255716000003")
TENANTS = ("a", "b")
_made = itertools.count()
_server: Server | None = None


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("tenants")
    env = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}
    schema = f"isolation{os.getpid()}"
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    if url is not None:
        env |= {"WAPORT_DATABASE": url, "WAPORT_POSTGRES_SCHEMA": schema}
    with waport_serve(folder, env) as server:
        yield server
    if url is not None:
        anyio.run(drop_schema, url, schema)


def call(key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    assert _server is not None
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the gateway on 127.0.0.1
        _server.base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


class Tenants(RuleBasedStateMachine):
    """Two fresh workspaces per example, and what each has made."""

    @initialize()
    def make_tenants(self) -> None:
        assert _server is not None
        self.keys: dict[str, str] = {}
        self.workspace: dict[str, str] = {}
        self.messages: dict[str, set[str]] = {t: set() for t in TENANTS}
        self.contacts: dict[str, set[str]] = {t: set() for t in TENANTS}
        self.senders: dict[str, set[str]] = {t: set() for t in TENANTS}
        self.key_ids: dict[str, set[str]] = {t: set() for t in TENANTS}
        n = next(_made)
        for tenant in TENANTS:
            workspace_id = f"iso-{n}-{tenant}"
            status, made = call(_server.key, "POST", "/v1/workspaces", {"id": workspace_id})
            assert status == 201, made
            self.keys[tenant] = made["data"]["admin_key"]["key"]
            self.key_ids[tenant].add(made["data"]["admin_key"]["id"])
            self.workspace[tenant] = workspace_id
            sender = f"{workspace_id}-s1"
            status, _ = call(self.keys[tenant], "POST", "/v1/senders", {"id": sender})
            assert status == 201
            self.senders[tenant].add(sender)

    def other(self, tenant: str) -> str:
        return "b" if tenant == "a" else "a"

    @rule(tenant=st.sampled_from(TENANTS), phone=st.sampled_from(PHONES))
    def send_a_template(self, tenant: str, phone: str) -> None:
        status, sent = call(
            self.keys[tenant], "POST", "/v1/messages", {"to": phone, "template": HELLO}
        )
        assert status in (200, 202), sent
        self.messages[tenant].add(sent["data"]["message_id"])
        self.contacts[tenant].add(phone)

    @rule(
        tenant=st.sampled_from(TENANTS),
        phone=st.sampled_from(PHONES),
        text=st.sampled_from(["hi", "STOP", "START"]),
    )
    def a_contact_writes(self, tenant: str, phone: str, text: str) -> None:
        status, wrote = call(
            self.keys[tenant], "POST", "/v1/sandbox/inbound", {"from": phone, "text": text}
        )
        assert status == 200, wrote
        self.messages[tenant].add(wrote["data"]["message_id"])
        self.contacts[tenant].add(phone)

    @rule(tenant=st.sampled_from(TENANTS), phone=st.sampled_from(PHONES))
    def label_a_contact(self, tenant: str, phone: str) -> None:
        change = {"labels": {"add": [f"of-{tenant}"]}, "name": f"seen by {tenant}"}
        status, _ = call(self.keys[tenant], "PATCH", f"/v1/contacts/{phone}", change)
        assert status == 200
        self.contacts[tenant].add(phone)

    @rule(tenant=st.sampled_from(TENANTS))
    def make_a_key(self, tenant: str) -> None:
        status, made = call(self.keys[tenant], "POST", "/v1/keys", {"scopes": ["messages:read"]})
        assert status == 201, made
        self.key_ids[tenant].add(made["data"]["id"])

    @rule(tenant=st.sampled_from(TENANTS))
    def add_a_sender(self, tenant: str) -> None:
        sender = f"{self.workspace[tenant]}-s{len(self.senders[tenant]) + 1}"
        status, _ = call(self.keys[tenant], "POST", "/v1/senders", {"id": sender})
        assert status == 201
        self.senders[tenant].add(sender)

    @rule(tenant=st.sampled_from(TENANTS), data=st.data())
    def reach_for_the_others(self, tenant: str, data: st.DataObject) -> None:
        """Every read or change by id of the other tenant's data is NOT_FOUND."""
        other = self.other(tenant)
        key = self.keys[tenant]
        if self.messages[other]:
            message_id = data.draw(st.sampled_from(sorted(self.messages[other])))
            status, answer = call(key, "GET", f"/v1/messages/{message_id}")
            assert (status, answer["error"]["code"]) == (404, "MESSAGE_NOT_FOUND")
            status, answer = call(key, "POST", f"/v1/messages/{message_id}/read", {})
            assert status in (403, 404), answer
        sender = data.draw(st.sampled_from(sorted(self.senders[other])))
        status, answer = call(key, "GET", f"/v1/senders/{sender}")
        assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
        status, answer = call(key, "PATCH", f"/v1/senders/{sender}", {"name": "taken"})
        assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
        status, answer = call(key, "POST", "/v1/senders", {"id": sender})
        assert (status, answer["error"]["code"]) == (409, "SENDER_IN_USE")
        status, answer = call(key, "GET", f"/v1/workspaces/{self.workspace[other]}")
        assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
        status, answer = call(
            key, "PATCH", f"/v1/workspaces/{self.workspace[other]}", {"name": "x"}
        )
        assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
        key_id = data.draw(st.sampled_from(sorted(self.key_ids[other])))
        status, answer = call(key, "DELETE", f"/v1/keys/{key_id}")
        assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
        only_theirs = self.contacts[other] - self.contacts[tenant]
        for phone in sorted(only_theirs):
            status, answer = call(key, "GET", f"/v1/contacts/{phone}")
            assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")

    @invariant()
    def each_sees_exactly_its_own(self) -> None:
        if not hasattr(self, "keys"):
            return
        for tenant in TENANTS:
            key = self.keys[tenant]
            status, listed = call(key, "GET", "/v1/messages?limit=200")
            assert status == 200
            assert {m["message_id"] for m in listed["data"]} == self.messages[tenant]
            status, listed = call(key, "GET", "/v1/contacts?limit=200")
            assert {c["phone"] for c in listed["data"]} == self.contacts[tenant]
            for contact in listed["data"]:
                assert set(contact["labels"]) <= {f"of-{tenant}"}
            status, listed = call(key, "GET", "/v1/senders")
            assert {s["id"] for s in listed["data"]} == self.senders[tenant]
            status, listed = call(key, "GET", "/v1/keys")
            assert {k["id"] for k in listed["data"]} == self.key_ids[tenant]
            status, listed = call(key, "GET", "/v1/templates")
            assert status == 200
            assert {t["sender_id"] for t in listed["data"]} <= self.senders[tenant]
            status, listed = call(key, "GET", "/v1/conversations?limit=200")
            assert {c["contact"] for c in listed["data"]} <= self.contacts[tenant]
            status, listed = call(key, "GET", f"/v1/workspaces/{self.workspace[tenant]}/ledger")
            assert status == 200
            assert listed["data"] == []  # unlimited: no entries


def test_tenants_never_see_each_other(gateway: Server) -> None:
    global _server  # noqa: PLW0603 - the state machine's handle on the gateway
    _server = gateway
    try:
        run_state_machine_as_test(
            Tenants,
            settings=settings(
                max_examples=15,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            ),
        )
    finally:
        _server = None
