"""waport's pytest plugin as a user meets it: a sample project (``sample/``) that uses only
the plugin's fixtures runs through pytester in a pytest of its own, on anyio's asyncio and
trio backends and under pytest-asyncio, and passes ``mypy --strict``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent / "sample"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    for source in SAMPLE.glob("*.py"):
        shutil.copy(source, pytester.path / source.name)
    return pytester


def test_the_fixtures_serve_anyio_on_asyncio_and_trio(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        "-p", "no:asyncio", "-v", "test_library.py", "test_gateway.py"
    )
    result.assert_outcomes(passed=7)
    for backend in ("asyncio", "trio"):
        result.stdout.fnmatch_lines(
            [f"*test_the_durable_messenger_keeps_what_it_sent?{backend}? PASSED*"]
        )
    result.stdout.fnmatch_lines(["*test_a_template_goes_out_through_the_gateway PASSED*"])


def test_the_fixtures_serve_pytest_asyncio(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "test_with_pytest_asyncio.py",
    )
    result.assert_outcomes(passed=1)


def test_the_plugin_is_found_by_its_entry_point(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--fixtures", "-p", "no:asyncio")
    result.stdout.fnmatch_lines(
        [
            "*fixtures defined from waport_pytest.plugin*",
            "waport_clock*",
            "*waport_gateway*",
        ]
    )
    assert result.ret == 0


def _mypy_strict(folder: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", target],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_sample_passes_mypy_strict(tmp_path: Path) -> None:
    for source in SAMPLE.glob("*.py"):
        shutil.copy(source, tmp_path / source.name)
    checked = _mypy_strict(tmp_path, ".")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / "test_wrong.py").write_text(
        "from waport_pytest import Gateway\n\n\ndef test_x(waport_gateway: Gateway) -> None:\n"
        "    port: int = waport_gateway.url\n"
    )
    wrong = _mypy_strict(tmp_path, "test_wrong.py")
    assert "Incompatible types in assignment" in wrong.stdout  # the plugin's types are read
