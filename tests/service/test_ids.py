"""RandomIds: unique, sortable, drawn from a buffer of system randomness."""

from __future__ import annotations

import os
import re
import time

import pytest

from waport.service import RandomIds
from waport.service import clock as clock_module

ULID = re.compile(r"msg_[0-9A-HJKMNP-TV-Z]{26}")


def test_ids_are_unique_well_formed_and_outlast_a_buffer() -> None:
    ids = RandomIds()
    made = [ids.new_id("msg") for _ in range(2_000)]  # about five refills of the buffer
    assert len(set(made)) == len(made)
    assert all(ULID.fullmatch(i) for i in made)


def test_later_ids_sort_after_earlier_ones() -> None:
    ids = RandomIds()
    first = ids.new_id("msg")
    time.sleep(0.002)  # the time part counts milliseconds
    assert ids.new_id("msg") > first


def test_a_forked_child_does_not_reuse_the_parents_random_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = RandomIds()
    ids.new_id("msg")
    drawn: list[int] = []
    real = os.urandom
    monkeypatch.setattr(clock_module.os, "urandom", lambda n: drawn.append(n) or real(n))
    ids.new_id("msg")
    assert drawn == []  # the parent still has bits buffered
    monkeypatch.setattr(clock_module.os, "getpid", lambda: -1)  # now "in the child"
    ids.new_id("msg")
    assert drawn == [4090]
