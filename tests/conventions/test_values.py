"""The value readers on the capture path: what they return for any key and value.

``unflatten_list`` and ``jsonable`` run for every span ``serve`` delivers, so they were written for
speed (no regex per key, no call per ASCII string). These tests pin down what they return
against plain definitions of the same contract, on generated keys and values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_flywheel.conventions._values import jsonable, unflatten_list

PREFIX = "llm.input_messages."
_INDEXED = re.compile(r"(\d+)\.(.+)")


def reference_unflatten(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``<prefix><index>.<key>``: the index decimal digits, the key one line of any length."""
    buckets: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if key.startswith(prefix) and (match := _INDEXED.fullmatch(key[len(prefix) :])):
            buckets.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [buckets[index] for index in sorted(buckets)]


KEY_TAILS = st.one_of(
    st.builds(
        lambda index, key: f"{index}.{key}",
        st.one_of(st.integers(0, 12).map(str), st.sampled_from(["01", "٣", "²", "1a", "", " 1"])),
        st.one_of(
            st.sampled_from(["message.role", "message.content", "", "a\nb", "x.y.z", "\n"]),
            st.text(max_size=6),
        ),
    ),
    st.text(max_size=8),
)
ATTRIBUTES = st.dictionaries(
    st.one_of(KEY_TAILS.map(PREFIX.__add__), st.text(max_size=10)), st.integers(), max_size=12
)


@settings(max_examples=500, deadline=None)
@given(ATTRIBUTES)
def test_unflatten_list_reads_what_the_regex_definition_reads(attributes: dict[str, int]) -> None:
    assert unflatten_list(attributes, PREFIX) == reference_unflatten(attributes, PREFIX)


def test_unflatten_list_orders_by_index_and_closes_gaps() -> None:
    attributes = {
        f"{PREFIX}10.message.role": "tool",
        f"{PREFIX}2.message.role": "user",
        f"{PREFIX}2.message.content": "hi",
        f"{PREFIX}x.message.role": "ignored",
        "llm.output_messages.0.message.role": "assistant",
    }
    assert unflatten_list(attributes, PREFIX) == [
        {"message.role": "user", "message.content": "hi"},
        {"message.role": "tool"},
    ]


def reference_jsonable(value: Any) -> Any:
    if isinstance(value, str):
        return re.sub("[\ud800-\udfff]", "\ufffd", value)
    if isinstance(value, Mapping):
        return {str(k): reference_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reference_jsonable(v) for v in value]
    return value


VALUES = st.recursive(
    st.one_of(
        st.text(max_size=8),
        st.sampled_from(["\ud800", "a\udfffb", "é"]),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), children, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_jsonable_is_the_value_after_a_json_round_trip(value: Any) -> None:
    assert jsonable(value) == reference_jsonable(value)


def test_lone_surrogates_become_replacement_characters_in_values_of_a_dict() -> None:
    assert jsonable({"a": "x\ud800y", 1: ("ok",)}) == {"a": "x\ufffdy", "1": ["ok"]}
