"""The browser pages of a real ``waport serve``: ``/`` and ``/console`` lead to the
console, its files come from the package with a strict policy and no key, an unknown
file is a coded 404, and ``/docs/`` serves Swagger UI's files from the gateway."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from .conftest import waport_serve

pytestmark = pytest.mark.anyio


async def test_pages_files_and_their_policy(tmp_path: Path) -> None:
    with waport_serve(tmp_path) as gateway:
        async with aiohttp.ClientSession() as http:
            for path in ("/", "/console"):
                async with http.get(gateway.base + path, allow_redirects=False) as r:
                    assert (r.status, r.headers["Location"]) == (302, "/console/")
            async with http.get(gateway.base + "/docs", allow_redirects=False) as r:
                assert (r.status, r.headers["Location"]) == (302, "/docs/")
            for path, kind in (
                ("/console/", "text/html"),
                ("/console/app.js", "text/javascript"),
                ("/console/console.css", "text/css"),
                ("/docs/", "text/html"),
                ("/docs/explorer.js", "text/javascript"),
                ("/docs/assets/swagger-ui-bundle.js", "text/javascript"),
            ):
                async with http.get(gateway.base + path) as r:
                    assert r.status == 200, path
                    assert r.content_type == kind, path
                    policy = r.headers["Content-Security-Policy"]
                    assert "script-src 'self';" in policy
                    assert "frame-ancestors 'none'" in policy
                    assert r.headers["X-Content-Type-Options"] == "nosniff"
                    inline_styles = "style-src 'self' 'unsafe-inline'" in policy
                    assert inline_styles == path.startswith("/docs/"), path
            async with http.get(gateway.base + "/console/settings.json") as r:
                assert await r.json() == {"provider": "sandbox", "sandbox": True}
            for path in ("/console/nope.js", "/console/..%2Fapp.py", "/docs/assets/index.html"):
                async with http.get(gateway.base + path) as r:
                    assert r.status == 404, path
                    assert (await r.json())["error"]["code"] == "NOT_FOUND"
            html = (await (await http.get(gateway.base + "/console/")).text()).lower()
            assert "<script>" not in html  # no inline script: the policy would refuse it
            assert "http://" not in html
            assert "https://" not in html  # nothing fetched from elsewhere
