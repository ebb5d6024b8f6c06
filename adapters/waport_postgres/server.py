"""A throwaway PostgreSQL server for tests and benchmarks, from the distribution's binaries.

``python -m waport_postgres.server start DIR`` initialises a cluster in DIR (trust
authentication, for tests only), starts it on 127.0.0.1 on a free port and prints its
URL; ``python -m waport_postgres.server stop DIR`` stops it, and ``start`` on the same
DIR starts it again, with its data, on the same port. waport's own tests use
``WAPORT_TEST_POSTGRES_URL`` when it is set (``.ci/run`` sets it), else start one with
this, else skip, unless ``WAPORT_REQUIRE_POSTGRES=1`` (CI), where a missing server is a
failure.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

USER = "postgres"


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, if PostgreSQL is installed."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(command: list[str], netns: str | None = None) -> list[str]:
    """PostgreSQL refuses to run as root: run as the ``postgres`` user then (in network
    namespace ``netns``, if given)."""
    inside = ["ip", "netns", "exec", netns] if netns else []
    if os.geteuid() == 0:
        return [*inside, "runuser", "-u", USER, "--", *command]
    return [*inside, *command]


def start(folder: Path, *, listen: str = "127.0.0.1", netns: str | None = None) -> str:
    """Start the server in ``folder`` on ``listen`` (addresses, comma-separated), in
    network namespace ``netns`` if given; returns its URL on the first address."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl)")
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, USER, USER)
    if (folder / "port").exists():  # started before and stopped: start it again
        port = int((folder / "port").read_text())
    else:
        port = _free_port()
        subprocess.run(  # noqa: S603 - our own fixed command line
            _as_owner(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
        with (data / "pg_hba.conf").open("a") as hba:  # trust the networks it listens on
            for address in listen.split(","):
                network = ipaddress.ip_network(f"{address}/24", strict=False)
                hba.write(f"host all all {network} trust\n")
    options = (
        f"-c listen_addresses={listen} -p {port} -k {folder} -c fsync=on -c max_connections=200"
    )
    subprocess.run(  # noqa: S603 - our own fixed command line
        _as_owner(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "start",
            ],
            netns,
        ),
        check=True,
        capture_output=True,
    )
    (folder / "port").write_text(str(port))
    return f"postgresql://{USER}@{listen.split(',', maxsplit=1)[0]}:{port}/postgres"


def stop(folder: Path, *, netns: str | None = None) -> None:
    bin_dir = binaries()
    if bin_dir is None or not (folder / "data").exists():
        return
    subprocess.run(  # noqa: S603 - our own fixed command line
        _as_owner(
            [str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"],
            netns,
        ),
        check=False,
        capture_output=True,
    )


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(where))
    else:
        stop(where)
