"""``benchmarks.floor_server``: both servers answer a send as the gateway does on the
wire, on one kept-alive connection, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json

import pytest

from benchmarks import procs


@pytest.mark.parametrize("kind", ["aiohttp", "raw"])
def test_a_send_is_answered_like_the_gateways_on_a_kept_alive_connection(kind: str) -> None:
    with procs.floor_server(kind) as server:
        host, port = server.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            ids = []
            for n in range(2):  # the second request reuses the connection
                body = json.dumps({"to": f"+2557000000{n:02d}", "text": {"body": "hi"}})
                conn.request("POST", "/v1/messages", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = json.loads(response.read())
                assert response.status == 200
                assert response.getheader("Content-Type", "").startswith("application/json")
                assert answer["data"]["to"] == f"+2557000000{n:02d}"
                ids.append(answer["data"]["provider_message_id"])
            assert len(set(ids)) == 2
            conn.request("GET", "/healthz")
            health = conn.getresponse()
            assert (health.status, health.read()) == (200, b"ok")
        finally:
            conn.close()
