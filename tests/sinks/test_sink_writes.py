"""AnnotationWrite and ExampleWrite: keys, JSON round trips, and the checks made at construction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_flywheel.sinks import (
    AnnotationWrite,
    ExampleWrite,
    InMemorySink,
    WriteOutcome,
    WriteSink,
    write_from_dict,
)

SPAN = "0123456789abcdef"
TRACE = "0123456789abcdef0123456789abcdef"


def annotation(**fields: Any) -> AnnotationWrite:
    values: dict[str, Any] = {
        "target": "span",
        "target_id": SPAN,
        "name": "correctness",
        "annotator_kind": "LLM",
        "label": "fail",
    }
    values.update(fields)
    return AnnotationWrite(**values)


def example(**fields: Any) -> ExampleWrite:
    values: dict[str, Any] = {
        "dataset": "support-agent/regression",
        "example_id": "9f86d081884c7d65",
        "input": {"question": "where is my order?"},
    }
    values.update(fields)
    return ExampleWrite(**values)


def test_keys_name_what_is_written_not_its_content() -> None:
    assert annotation().key == f"annotation:span:{SPAN}:correctness:"
    assert annotation(label="pass", score=1.0).key == annotation().key
    assert annotation(identifier="judge-2").key == f"annotation:span:{SPAN}:correctness:judge-2"
    assert annotation(target="trace", target_id=TRACE).key.startswith(f"annotation:trace:{TRACE}:")
    assert example().key == "example:support-agent/regression:9f86d081884c7d65"
    assert example(output={"answer": "changed"}).key == example().key


def test_colons_in_names_cannot_make_two_writes_share_a_key() -> None:
    assert annotation(name="a:b").key != annotation(name="a", identifier="b:").key
    assert example(dataset="p:x", example_id="y").key != example(dataset="p", example_id="x:y").key


def test_writes_round_trip_through_json_as_the_outbox_stores_them() -> None:
    writes = [
        annotation(
            score=0.25,
            explanation="wrong tool",
            metadata={"category": "tool_selection", "references": ["doc-1"]},
            identifier="flywheel",
            user_id="<USER:1a2b3c4d>",
        ),
        example(
            output={"answer": "A-9"},
            metadata={"source_trace_id": TRACE},
            span_id=SPAN,
            splits=["regression", "train"],
            user_id="<USER:1a2b3c4d>",
        ),
    ]
    for write in writes:
        stored = json.loads(json.dumps(write.to_dict()))
        assert write_from_dict(stored) == write
        assert type(write).from_dict(stored) == write


@given(
    metadata=st.dictionaries(
        st.text(),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.text()
            | st.floats(allow_nan=False, allow_infinity=False),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_any_json_metadata_survives_the_round_trip(metadata: dict[str, Any]) -> None:
    write = annotation(metadata=metadata)
    assert write_from_dict(json.loads(json.dumps(write.to_dict()))) == write


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "note"}, "reserved by Phoenix"),
        ({"label": None}, "give a label, a score or an explanation"),
        ({"target_id": "ABCDEF0123456789"}, "16 lowercase hex"),
        ({"target": "trace", "target_id": SPAN}, "32 lowercase hex"),
        ({"target": "session"}, "target must be 'span' or 'trace'"),
        ({"annotator_kind": "ROBOT"}, "annotator_kind must be one of"),
        ({"name": " padded "}, "without surrounding whitespace"),
        ({"score": float("nan")}, "non-finite score"),
        ({"metadata": {"when": object()}}, "metadata must be JSON"),
    ],
)
def test_an_annotation_phoenix_would_reject_fails_at_construction(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        annotation(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dataset": ""}, "dataset name must be a non-empty string"),
        ({"example_id": "x" * 257}, "more than 256"),
        ({"span_id": "not-a-span"}, "16 lowercase hex"),
        ({"splits": [""]}, "split name"),
        ({"input": ["not", "a", "dict"]}, "input must be a dict"),
        ({"output": {"score": float("inf")}}, "output must be JSON"),
    ],
)
def test_an_example_phoenix_would_reject_fails_at_construction(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        example(**fields)


def test_an_unknown_serialized_type_is_refused_naming_the_types() -> None:
    with pytest.raises(ValueError, match="'annotation' or 'example'"):
        write_from_dict({"type": "verdict"})


def test_in_memory_sink_is_a_sink_that_keeps_the_latest_write_per_key() -> None:
    sink = InMemorySink()
    assert isinstance(sink, WriteSink)
    first, rewritten = annotation(label="fail"), annotation(label="pass")

    outcomes = sink.write([first, example()])
    outcomes.update(sink.write([rewritten]))

    assert outcomes == {first.key: WriteOutcome.done(), example().key: WriteOutcome.done()}
    assert sink.writes == {first.key: rewritten, example().key: example()}
    assert sink.deliveries == 3
