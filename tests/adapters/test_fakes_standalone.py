"""The fakes run as documented servers for harnesses in other languages or processes:
``python -m waport_meta.fake`` and ``python -m waport_web.fake`` answer ``--help``, and
serve their documented API, with only waport's runtime dependencies (the test extras,
pytest and hypothesis, are made unimportable in the child)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import child_environ, free_port
from waport_meta import fake as meta_fake
from waport_web import fake as web_fake

WITHOUT_TEST_EXTRAS = """
import importlib.abc, runpy, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("pytest", "_pytest", "hypothesis"):
            raise ImportError(f"{name} is a test extra: not installed here")
sys.meta_path.insert(0, Refuse())
module = sys.argv[1]
sys.argv = [module, *sys.argv[2:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

SERVERS = [
    (
        "waport_meta.fake",
        f"/v25.0/{meta_fake.PHONE_NUMBER_ID}",
        {"Authorization": f"Bearer {meta_fake.TOKEN}"},
        "fake Graph API on",
    ),
    (
        "waport_web.fake",
        f"/api/sessions/{web_fake.SESSION}",
        {"X-Api-Key": web_fake.API_KEY},
        "fake WAHA on",
    ),
]


def _run(folder: Path, *args: str) -> list[str]:
    script = folder / "without_test_extras.py"
    script.write_text(WITHOUT_TEST_EXTRAS, encoding="utf-8")
    return [sys.executable, str(script), *args]


@pytest.mark.parametrize(("module", "path", "headers", "banner"), SERVERS)
def test_a_fake_runs_as_a_server_without_the_test_extras(
    tmp_path: Path, module: str, path: str, headers: dict[str, str], banner: str
) -> None:
    helped = subprocess.run(
        _run(tmp_path, module, "--help"),
        env=child_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr
    assert "--port" in helped.stdout

    port = free_port()
    server = subprocess.Popen(
        _run(tmp_path, module, "--port", str(port)),
        env=child_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert banner in first, first + server.stdout.read()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        for _ in range(100):  # the banner comes just before the socket listens
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                    assert answer.status == 200
                    assert isinstance(json.loads(answer.read()), dict)
                    break
            except ConnectionRefusedError:
                pass
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, ConnectionRefusedError):
                    raise
            time.sleep(0.05)
        else:
            raise AssertionError(f"{module} never answered on {port}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
