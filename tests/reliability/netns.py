"""Hosts for multi-host tests: network namespaces joined by veth links.

The test process stays in the root namespace on a bridge (the "front" network, where
clients and fake remote servers are); each host is a namespace with a front link to
that bridge and, if asked, a private "back" link to another host (the database). A
link can be cut (set down) and restored. Traffic only ever goes to the namespaces' own
10.77.x.y addresses; everything is removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import attrs

FRONT = "10.77.0"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def why_not() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    probe = f"wpprobe{secrets.token_hex(2)}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"ip netns add failed: {exc.stderr!r}"
    _ip("netns", "del", probe)
    return None


@attrs.define
class Hosts:
    tag: str = attrs.Factory(lambda: secrets.token_hex(2))
    namespaces: list[str] = attrs.Factory(list)
    ends: dict[tuple[str, str], str] = attrs.Factory(dict)
    """(host, other host) -> host's end of their link."""
    bridge: str = ""
    _next_front: int = 2
    _next_back: int = 1

    def __attrs_post_init__(self) -> None:
        self.bridge = f"wp{self.tag}br"
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{FRONT}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @property
    def front(self) -> str:
        """The test process's own address on the front network."""
        return f"{FRONT}.1"

    def ns(self, name: str) -> str:
        return f"wp{self.tag}{name}"

    def add(self, name: str) -> str:
        """A host on the front network; returns its front address."""
        ns = self.ns(name)
        _ip("netns", "add", ns)
        self.namespaces.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        outside, inside = f"wp{self.tag}{name}f", f"wp{self.tag}{name}g"
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", ns)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        address = f"{FRONT}.{self._next_front}"
        self._next_front += 1
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", ns, "link", "set", inside, "up")
        return address

    def join(self, a: str, b: str) -> tuple[str, str]:
        """A private link between hosts ``a`` and ``b``; returns their addresses on it."""
        net = f"10.77.{self._next_back}"
        self._next_back += 1
        end_a, end_b = f"wp{self.tag}{a}{b}", f"wp{self.tag}{b}{a}"
        _ip("link", "add", end_a, "netns", self.ns(a), "type", "veth", "peer", "name", end_b)
        _ip("link", "set", end_b, "netns", self.ns(b))
        addresses = (f"{net}.1", f"{net}.2")
        for ns, end, address in (
            (self.ns(a), end_a, addresses[0]),
            (self.ns(b), end_b, addresses[1]),
        ):
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", end)
            _ip("-n", ns, "link", "set", end, "up")
        self.ends[(a, b)], self.ends[(b, a)] = end_a, end_b
        return addresses

    def cut(self, a: str, b: str) -> None:
        """Take the a-b link down at a's end (packets between them are dropped)."""
        _ip("-n", self.ns(a), "link", "set", self.ends[(a, b)], "down")

    def restore(self, a: str, b: str) -> None:
        _ip("-n", self.ns(a), "link", "set", self.ends[(a, b)], "up")

    def remove(self) -> None:
        for ns in self.namespaces:  # a namespace's links go with it
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)
