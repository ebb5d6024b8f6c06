"""The storage codec's JSON output: fast (orjson) without refusing or rounding anything."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from waport import codec

# JSON values as a request's metadata may carry them, integers of any size included
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.booleans())
def test_json_bytes_is_the_value_and_compact(value: Any, sort_keys: bool) -> None:
    out = codec.json_bytes(value, sort_keys=sort_keys)
    assert json.loads(out) == value
    assert b"\n" not in out
    if sort_keys:

        def sorted_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in pairs]
            assert keys == sorted(keys)
            return dict(pairs)

        json.loads(out, object_pairs_hook=sorted_pairs)


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    big = {"order": 2**70 + 1, "nested": [{"id": -(2**90)}]}
    assert json.loads(codec.json_bytes(big)) == big
    assert codec.json_bytes({"b": 1, "a": 2}, sort_keys=True) == b'{"a":2,"b":1}'
