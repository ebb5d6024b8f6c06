"""Developer and CI sessions. ``nox -s ci`` is what ``.ci/run`` runs, in one environment."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests", "contracts"]

DEV = ".[dev,docs,bench]"


def _install(session: nox.Session, *extra: str) -> None:
    session.install("-e", DEV, *extra)


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", "src", "adapters", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "adapters", "tests", "benchmarks", "noxfile.py")
    session.run("lint-imports")


def _typecheck(session: nox.Session) -> None:
    session.run("mypy")


def _tests(session: nox.Session, *args: str) -> None:
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *args, env={"HYPOTHESIS_PROFILE": "ci"})
    session.run("coverage", "combine")
    session.run("coverage", "report", "--fail-under=90")
    session.run("coverage", "report", "--include=src/waport/domain/*", "--fail-under=95")


def _docs(session: nox.Session) -> None:
    session.run("python", "docs/_generate.py", "--check")
    session.run("python", "docs/_inline.py", "--check")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session
def soak(session: nox.Session) -> None:
    """The reliability campaigns in long mode (``WAPORT_SOAK=1``): 60 SIGKILLs, and
    20,000 examples for each fuzzing and property test of tests/reliability."""
    _install(session)
    session.run("pytest", "-q", "-s", "tests/reliability", env={"WAPORT_SOAK": "1"})


@nox.session
def fuzz(session: nox.Session) -> None:
    """schemathesis against a live gateway with every check, 2,000 cases per operation
    (CI runs 60): about 25 minutes on two cores."""
    _install(session)
    session.run(
        "pytest", "-q", "tests/e2e/test_schemathesis.py", env={"WAPORT_FUZZ_EXAMPLES": "2000"}
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Check the generated pages are current, then build the site in strict mode."""
    _install(session)
    _docs(session)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and the import contracts."""
    _install(session)
    _lint(session)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src and adapters."""
    _install(session)
    _typecheck(session)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite under coverage, with the coverage gates."""
    _install(session)
    _tests(session, *session.posargs)


@nox.session
def contracts(session: nox.Session) -> None:
    """The contract suites against every bundled adapter."""
    _install(session)
    session.run("pytest", "tests/contracts", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite (about 10 minutes; ``-- --smoke`` for a quick run that asserts nothing)."""
    _install(session)
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def ci(session: nox.Session) -> None:
    """Everything CI checks, in one environment."""
    _install(session)
    _lint(session)
    _typecheck(session)
    _tests(session)
    _docs(session)
    session.run("python", "-m", "benchmarks", "--smoke")
