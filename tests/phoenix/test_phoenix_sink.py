"""PhoenixSink against a real ``phoenix serve``: annotations, datasets, and Phoenix's answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from phoenix.client import Client
from phoenix_helpers import (
    CannedPhoenix,
    SpanSource,
    dataset_examples,
    span_annotations,
    trace_annotations,
)

from otel_flywheel.errors import ConfigError
from otel_flywheel.phoenix import PhoenixSink
from otel_flywheel.sinks import AnnotationWrite, ExampleWrite, Write
from otel_flywheel.testing.phoenix import LocalPhoenix, find_free_port

UNKNOWN_SPAN = "00000000000000ab"
# Phoenix reads an example id that decodes as a DatasetExample node id ("DatasetExample:999999")
# as a reference to an existing example, and rejects it with 422 when there is none.
REJECTED_EXAMPLE_ID = "RGF0YXNldEV4YW1wbGU6OTk5OTk5"


def span_annotation(span_id: str, **fields: Any) -> AnnotationWrite:
    values: dict[str, Any] = {"name": "tool_selection", "annotator_kind": "LLM", "label": "fail"}
    values.update(fields)
    return AnnotationWrite(target="span", target_id=span_id, **values)


def example(dataset: str, example_id: str, **fields: Any) -> ExampleWrite:
    values: dict[str, Any] = {"input": {"question": example_id}, "output": {"answer": "42"}}
    values.update(fields)
    return ExampleWrite(dataset=dataset, example_id=example_id, **values)


def kinds(outcomes: dict[str, Any]) -> dict[str, str]:
    return {key: outcome.kind for key, outcome in outcomes.items()}


# --- annotations ---------------------------------------------------------------------------------


def test_span_and_trace_annotations_land_with_every_field(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    trace_id, (root, tool) = spans.trace(children=1)
    spans.export()
    writes: list[Write] = [
        span_annotation(
            tool,
            score=0.0,
            explanation="called search_orders for a refund",
            metadata={"category": "tool_selection", "rubric_version": "abc123"},
            identifier="flywheel",
        ),
        AnnotationWrite(
            target="trace",
            target_id=trace_id,
            name="flywheel.verdict",
            annotator_kind="CODE",
            label="fail",
            score=0.0,
            metadata={"culprit_span_id": tool},
        ),
    ]

    assert kinds(sink.write(writes)) == dict.fromkeys((w.key for w in writes), "done")

    (on_span,) = span_annotations(phoenix_server_client, spans.project, tool)
    assert on_span["name"] == "tool_selection"
    assert on_span["annotator_kind"] == "LLM"
    assert on_span["result"] == {
        "label": "fail",
        "score": 0.0,
        "explanation": "called search_orders for a refund",
    }
    assert on_span["metadata"] == {"category": "tool_selection", "rubric_version": "abc123"}
    assert on_span["identifier"] == "flywheel"
    assert span_annotations(phoenix_server_client, spans.project, root) == []
    (on_trace,) = trace_annotations(phoenix_server_client, spans.project, trace_id)
    assert (on_trace["name"], on_trace["annotator_kind"]) == ("flywheel.verdict", "CODE")
    assert on_trace["result"]["label"] == "fail"
    assert on_trace["metadata"] == {"culprit_span_id": tool}


def test_rewriting_an_annotation_upserts_one_annotation_with_the_new_label(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    _, (span_id,) = spans.trace()
    spans.export()
    first = span_annotation(span_id, label="fail", metadata={"round": 1})
    second = span_annotation(span_id, label="pass", score=1.0, metadata={"round": 2})
    assert first.key == second.key

    assert kinds(sink.write([first])) == {first.key: "done"}
    assert kinds(sink.write([second])) == {second.key: "done"}

    (annotation,) = span_annotations(phoenix_server_client, spans.project, span_id)
    assert annotation["result"]["label"] == "pass"
    assert annotation["result"]["score"] == 1.0
    assert annotation["metadata"] == {"round": 2}


def test_a_batch_naming_an_unknown_span_lands_the_known_ones_and_retries_the_rest(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    _, (first, second) = spans.trace(children=1)
    spans.export()
    known = [span_annotation(first), span_annotation(second)]
    unknown = span_annotation(UNKNOWN_SPAN)

    outcomes = sink.write([known[0], unknown, known[1]])

    assert kinds(outcomes) == {known[0].key: "done", known[1].key: "done", unknown.key: "retry"}
    assert UNKNOWN_SPAN in outcomes[unknown.key].reason
    retry_after = outcomes[unknown.key].retry_after_seconds
    assert retry_after is not None
    assert retry_after >= 10  # Phoenix ingests ~125 spans/s: no point asking again at once
    for span_id in (first, second):
        assert len(span_annotations(phoenix_server_client, spans.project, span_id)) == 1


def test_an_unknown_trace_is_retried_and_its_annotation_lands_once_the_trace_is_there(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    trace_id, _ = spans.trace()
    verdict = AnnotationWrite(
        target="trace",
        target_id=trace_id,
        name="flywheel.verdict",
        annotator_kind="CODE",
        label="x",
    )
    assert kinds(sink.write([verdict])) == {verdict.key: "retry"}

    spans.export()

    assert kinds(sink.write([verdict])) == {verdict.key: "done"}
    assert len(trace_annotations(phoenix_server_client, spans.project, trace_id)) == 1


def test_a_span_missing_for_longer_than_span_wait_goes_dead_with_the_fix(
    phoenix_server: LocalPhoenix,
) -> None:
    write = span_annotation(UNKNOWN_SPAN)
    with PhoenixSink(base_url=phoenix_server.base_url, span_wait_seconds=0) as sink:
        outcome = sink.write([write])[write.key]
    assert outcome.kind == "dead"
    assert "was not found in Phoenix" in outcome.reason
    assert "requeue" in outcome.reason


# --- dataset examples ----------------------------------------------------------------------------


def test_examples_create_the_dataset_then_append_linked_to_their_spans(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    _, (first_span,) = spans.trace()
    _, (second_span,) = spans.trace()
    spans.export()
    dataset = f"{spans.project}/regression"
    first = example(dataset, "a" * 16, span_id=first_span, splits=["regression"])
    second = example(dataset, "b" * 16, span_id=second_span, metadata={"category": "parameter"})

    assert kinds(sink.write([first])) == {first.key: "done"}
    assert kinds(sink.write([second])) == {second.key: "done"}

    examples = {e["id"]: e for e in dataset_examples(phoenix_server_client, dataset)}
    assert set(examples) == {first.example_id, second.example_id}
    assert examples[first.example_id]["input"] == first.input
    assert examples[first.example_id]["output"] == first.output
    assert examples[first.example_id]["source"]["span_id"] == first_span
    assert examples[second.example_id]["source"]["span_id"] == second_span
    assert examples[second.example_id]["metadata"] == {"category": "parameter"}


def test_an_existing_dataset_keeps_its_other_examples(
    sink: PhoenixSink, project: str, phoenix_server_client: Client
) -> None:
    dataset = f"{project}/golden"
    phoenix_server_client.datasets.create_dataset(
        name=dataset,
        examples=[
            {"input": {"question": "curated 1"}, "output": {"answer": "1"}},
            {"input": {"question": "curated 2"}, "output": {"answer": "2"}},
        ],
    )
    ours = example(dataset, "c" * 16)

    assert kinds(sink.write([ours])) == {ours.key: "done"}

    questions = {e["input"]["question"] for e in dataset_examples(phoenix_server_client, dataset)}
    assert questions == {"curated 1", "curated 2", ours.example_id}


def test_the_same_example_written_again_is_not_duplicated_and_a_change_patches_it(
    sink: PhoenixSink, project: str, phoenix_server_client: Client
) -> None:
    dataset = f"{project}/review"
    original = example(dataset, "d" * 16, output={"answer": "first"})
    corrected = example(dataset, "d" * 16, output={"answer": "corrected"})

    for write in (original, original, corrected, corrected):
        assert kinds(sink.write([write])) == {write.key: "done"}
    # A new sink has no cache: what keeps the example single is Phoenix matching its id.
    with PhoenixSink(client=phoenix_server_client) as fresh:
        assert kinds(fresh.write([corrected])) == {corrected.key: "done"}

    (stored,) = dataset_examples(phoenix_server_client, dataset)
    assert (stored["id"], stored["output"]) == (corrected.example_id, {"answer": "corrected"})


def test_an_example_waits_for_its_span_and_is_linked_once_phoenix_has_it(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    _, (span_id,) = spans.trace()
    dataset = f"{spans.project}/regression"
    write = example(dataset, "e" * 16, span_id=span_id)

    outcome = sink.write([write])[write.key]
    assert outcome.kind == "retry"
    assert span_id in outcome.reason

    spans.export()

    assert kinds(sink.write([write])) == {write.key: "done"}
    (stored,) = dataset_examples(phoenix_server_client, dataset)
    assert stored["source"]["span_id"] == span_id


def test_an_example_whose_span_never_arrives_is_uploaded_unlinked_after_span_wait(
    phoenix_server: LocalPhoenix, project: str, phoenix_server_client: Client
) -> None:
    dataset = f"{project}/regression"
    write = example(dataset, "f" * 16, span_id=UNKNOWN_SPAN)
    with PhoenixSink(base_url=phoenix_server.base_url, span_wait_seconds=0) as sink:
        assert kinds(sink.write([write])) == {write.key: "done"}
    (stored,) = dataset_examples(phoenix_server_client, dataset)
    assert stored["id"] == write.example_id
    assert stored["source"] is None


def test_a_rejected_example_goes_dead_with_phoenixs_message_and_the_rest_land(
    sink: PhoenixSink, project: str, phoenix_server_client: Client
) -> None:
    dataset = f"{project}/regression"
    good = [example(dataset, f"{index:016x}") for index in range(5)]
    bad = example(dataset, REJECTED_EXAMPLE_ID)

    outcomes = sink.write([*good[:2], bad, *good[2:]])

    assert kinds(outcomes) == {**{w.key: "done" for w in good}, bad.key: "dead"}
    assert "HTTP 422" in outcomes[bad.key].reason
    assert REJECTED_EXAMPLE_ID in outcomes[bad.key].reason
    ids = {e["id"] for e in dataset_examples(phoenix_server_client, dataset)}
    assert ids == {w.example_id for w in good}


def test_annotations_and_examples_go_in_one_call_grouped_by_kind_and_dataset(
    sink: PhoenixSink, spans: SpanSource, phoenix_server_client: Client
) -> None:
    trace_id, (span_id,) = spans.trace()
    spans.export()
    writes: list[Write] = [
        example(f"{spans.project}/golden", "1" * 16, span_id=span_id),
        span_annotation(span_id),
        example(f"{spans.project}/regression", "2" * 16),
        AnnotationWrite(
            target="trace", target_id=trace_id, name="verdict", annotator_kind="CODE", score=1.0
        ),
    ]

    assert set(kinds(sink.write(writes)).values()) == {"done"}

    assert len(dataset_examples(phoenix_server_client, f"{spans.project}/golden")) == 1
    assert len(dataset_examples(phoenix_server_client, f"{spans.project}/regression")) == 1
    assert len(span_annotations(phoenix_server_client, spans.project, span_id)) == 1
    assert len(trace_annotations(phoenix_server_client, spans.project, trace_id)) == 1


# --- when Phoenix is not there, or says no -------------------------------------------------------


@pytest.fixture
def canned() -> Iterator[list[CannedPhoenix]]:
    servers: list[CannedPhoenix] = []
    yield servers
    for server in servers:
        server.close()


ALL_KINDS: list[Write] = [
    span_annotation(UNKNOWN_SPAN),
    AnnotationWrite(
        target="trace", target_id="0" * 31 + "1", name="verdict", annotator_kind="CODE", label="x"
    ),
    example("p/regression", "0" * 16),
]


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
        (500, {}, None),
    ],
)
def test_overload_and_server_errors_are_retried_honoring_retry_after(
    canned: list[CannedPhoenix], status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    server = CannedPhoenix(status, headers, body="busy")
    canned.append(server)
    with PhoenixSink(base_url=server.base_url) as sink:
        outcomes = sink.write(ALL_KINDS)
    assert kinds(outcomes) == dict.fromkeys((w.key for w in ALL_KINDS), "retry")
    for outcome in outcomes.values():
        assert f"HTTP {status}" in outcome.reason
        assert outcome.retry_after_seconds == retry_after


def test_refused_credentials_fail_with_a_reason_naming_the_api_key(
    canned: list[CannedPhoenix],
) -> None:
    server = CannedPhoenix(401, {}, body='{"detail": "Invalid token"}')
    canned.append(server)
    with PhoenixSink(base_url=server.base_url, api_key="wrong") as sink:
        outcomes = sink.write(ALL_KINDS[:1])
    (outcome,) = outcomes.values()
    assert outcome.kind == "failed"  # retried a bounded number of times, then dead
    assert "PHOENIX_API_KEY" in outcome.reason
    assert "Invalid token" in outcome.reason


def test_an_unreachable_phoenix_makes_every_write_wait() -> None:
    closed_port = find_free_port()
    with PhoenixSink(base_url=f"http://127.0.0.1:{closed_port}") as sink:
        outcomes = sink.write(ALL_KINDS)
    assert kinds(outcomes) == dict.fromkeys((w.key for w in ALL_KINDS), "retry")
    assert all("unreachable" in outcome.reason for outcome in outcomes.values())


def test_a_phoenix_answering_503_is_asked_once_per_group_of_writes(
    canned: list[CannedPhoenix],
) -> None:
    server = CannedPhoenix(503, {})
    canned.append(server)
    with PhoenixSink(base_url=server.base_url) as sink:
        sink.write(ALL_KINDS)
    # A 503 is an answer: each group (span and trace annotations, one dataset) is asked once.
    assert sorted(server.requests) == [
        "/v1/datasets/upload?sync=true",
        "/v1/span_annotations?sync=true",
        "/v1/trace_annotations?sync=true",
    ]


def test_client_and_base_url_together_are_a_config_error(phoenix_server_client: Client) -> None:
    with pytest.raises(ConfigError, match="either client= or base_url="):
        PhoenixSink(client=phoenix_server_client, base_url="http://localhost:6006")


def test_a_timeout_that_is_not_positive_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="timeout_seconds must be > 0"):
        PhoenixSink(base_url="http://localhost:6006", timeout_seconds=0)
