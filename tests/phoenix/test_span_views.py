"""``span_view_from_phoenix``: spans read back from a real Phoenix normalize as the spans sent.

The demo agent's real OpenInference spans (and a few hand-made ones with the attributes Phoenix
reshapes) go to the session's ``phoenix serve`` through the real OTLP/HTTP exporter and come back
through ``phoenix.client``'s REST API; the normalizer must see the same steps in both.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanContext, Status, StatusCode, set_span_in_context
from phoenix.client import Client

from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.model import AgentTrace, StepKind
from otel_flywheel.phoenix import span_view_from_phoenix
from otel_flywheel.phoenix._span_views import iso_to_unix_nano
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

PROJECT_KEY = "openinference.project.name"


def recast(spans: list[ReadableSpan], *, project: str) -> list[ReadableSpan]:
    """Copies under fresh trace and span ids (Phoenix keys both across projects, and other tests
    send the same session spans), in ``project``."""
    ids = RandomIdGenerator()
    trace_ids: dict[int, int] = {}
    span_ids: dict[int, int] = {}

    def context(old: SpanContext) -> SpanContext:
        return SpanContext(
            trace_ids.setdefault(old.trace_id, ids.generate_trace_id()),
            span_ids.setdefault(old.span_id, ids.generate_span_id()),
            is_remote=old.is_remote,
            trace_flags=old.trace_flags,
        )

    resource = Resource.create({"service.name": "support-agent", PROJECT_KEY: project})
    copies = []
    for span in spans:
        assert span.context is not None
        copies.append(
            ReadableSpan(
                name=span.name,
                context=context(span.context),
                parent=context(span.parent) if span.parent is not None else None,
                resource=resource,
                attributes=span.attributes,
                events=span.events,
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=span.start_time,
                end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return copies


def send_to_phoenix(
    spans: list[ReadableSpan], phoenix: LocalPhoenix, client: Client, *, project: str
) -> list[dict[str, Any]]:
    exporter = OTLPSpanExporter(endpoint=phoenix.otlp_traces_endpoint, timeout=30)
    try:
        assert exporter.export(spans).name == "SUCCESS"
    finally:
        exporter.shutdown()
    read = wait_for_spans(
        client, project=project, min_count=len(spans), timeout_seconds=120, limit=len(spans) + 100
    )
    return [dict(span) for span in read]


def by_trace(views: list[SpanView]) -> dict[str, AgentTrace]:
    grouped: dict[str, list[SpanView]] = {}
    for view in views:
        grouped.setdefault(view.trace_id, []).append(view)
    return {trace_id: normalize_trace(group) for trace_id, group in grouped.items()}


def without_times(trace: AgentTrace) -> list[dict[str, Any]]:
    return [
        dataclasses.asdict(dataclasses.replace(s, start_time_unix_nano=0, end_time_unix_nano=0))
        for s in trace.steps
    ]


@pytest.fixture(scope="module")
def demo_round_trip(
    demo_spans: list[ReadableSpan], phoenix_server: LocalPhoenix
) -> tuple[str, list[ReadableSpan], list[dict[str, Any]]]:
    """The demo's spans sent to Phoenix: (project, the spans sent, the spans read back)."""
    import httpx

    project = f"test-phoenix-spans-{uuid.uuid4().hex[:10]}"
    sent = recast(demo_spans, project=project)
    with httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http:
        read = send_to_phoenix(sent, phoenix_server, Client(http_client=http), project=project)
    return project, sent, read


def test_demo_traces_read_back_from_phoenix_normalize_to_the_same_steps(
    demo_round_trip: tuple[str, list[ReadableSpan], list[dict[str, Any]]],
) -> None:
    project, sent, read = demo_round_trip
    resource = {PROJECT_KEY: project}
    original = by_trace([span_view_from_readable(span) for span in sent])
    from_phoenix = by_trace([span_view_from_phoenix(span, resource=resource) for span in read])

    assert from_phoenix.keys() == original.keys()
    assert len(original) == 20
    for trace_id, expected in original.items():
        actual = from_phoenix[trace_id]
        # Every step field: ids, parents, kind, name, status, error, input, output, tool calls
        # with arguments and schema, retrievals with documents, LLM messages, tools offered, the
        # raw attributes. Only the times differ: Phoenix keeps microseconds.
        assert without_times(actual) == without_times(expected)
        for got, sent_step in zip(actual.steps, expected.steps, strict=True):
            assert abs(got.start_time_unix_nano - sent_step.start_time_unix_nano) <= 1_000
            assert abs(got.end_time_unix_nano - sent_step.end_time_unix_nano) <= 1_000
        assert (actual.goal, actual.final_output) == (expected.goal, expected.final_output)
        assert (actual.session_id, actual.user_id) == (expected.session_id, expected.user_id)
        assert (actual.metadata, actual.consent) == (expected.metadata, expected.consent)
        assert actual.project == expected.project == project
        assert actual.warnings == expected.warnings == []


def test_the_demo_round_trip_exercises_what_phoenix_reshapes(
    demo_round_trip: tuple[str, list[ReadableSpan], list[dict[str, Any]]],
) -> None:
    _, sent, read = demo_round_trip
    sent_by_id = {f"{s.context.span_id:016x}": s for s in sent if s.context is not None}
    tool_spans = [s for s in read if s["span_kind"] == "TOOL"]
    assert tool_spans
    for span in tool_spans:
        attributes = span["attributes"]
        # Phoenix parsed the JSON schema and flattened it; the kind moved out of the attributes.
        assert "tool.parameters" not in attributes
        assert attributes["tool.parameters.type"] == "object"
        assert "openinference.span.kind" not in attributes
        original = sent_by_id[span["context"]["span_id"]]
        view = span_view_from_phoenix(span)
        # Rebuilt to the very JSON string the agent sent (Python's json.dumps on both sides).
        assert view.attributes["tool.parameters"] == (original.attributes or {})["tool.parameters"]
        assert view.attributes["openinference.span.kind"] == "TOOL"
    assert isinstance(tool_spans[0]["start_time"], str)  # ISO 8601, not unix nanoseconds

    failed = [s for s in read if s["status_code"] == "ERROR"]
    assert failed
    view = span_view_from_phoenix(failed[0])
    assert view.status_code == "error"
    assert view.status_message
    assert [event.name for event in view.events] == ["exception"]
    assert view.events[0].attributes["exception.type"]


# --- attributes Phoenix parses as JSON, a span without a kind, explicit times ----------------------

TOOL_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^A-[0-9]{4}$"},
        "reason": {"type": "string", "enum": ["late", "broken"]},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["order_id"],
    "additionalProperties": False,
}
METADATA = {"tenant": "acme", "flags": {"beta": True, "tier": 2}, "tags": ["a", "b"], "empty": []}
START_NANOS = 1_795_000_000_123_456_789


@pytest.fixture(scope="module")
def reshaped(
    phoenix_server: LocalPhoenix,
) -> tuple[list[SpanView], list[dict[str, Any]]]:
    """One hand-made trace: (views of the spans sent, the spans Phoenix returned)."""
    import httpx

    project = f"test-phoenix-reshaped-{uuid.uuid4().hex[:10]}"
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({PROJECT_KEY: project}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.phoenix.test_span_views")
    root = tracer.start_span(
        "agent",
        start_time=START_NANOS,
        attributes={
            "openinference.span.kind": "AGENT",
            "input.value": "Refund A-1003, it was late",
            # `{}` and null members disappear in Phoenix: nothing can bring them back.
            "metadata": json.dumps({**METADATA, "nothing": {}, "unset": None}),
            "llm.prompt_template.variables": json.dumps({"customer": "Ada"}),
        },
    )
    context = set_span_in_context(root)
    retriever = tracer.start_span(
        "kb.search",
        context=context,
        start_time=START_NANOS + 1_000,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": "refund policy",
            "retrieval.documents.0.document.id": "kb-1",
            "retrieval.documents.0.document.content": "Late orders are refunded in full.",
            "retrieval.documents.0.document.metadata": json.dumps({"source": "kb", "page": 3}),
            "retrieval.documents.1.document.id": "kb-2",
            "retrieval.documents.1.document.content": "Refunds take 5 days.",
            "retrieval.documents.1.document.metadata": "{}",
            "retrieval.documents.1.document.score": 0.5,
        },
    )
    retriever.end(end_time=START_NANOS + 2_000_999)
    tool = tracer.start_span(
        "issue_refund",
        context=context,
        start_time=START_NANOS + 3_000_000,
        attributes={
            "openinference.span.kind": "TOOL",
            "tool.name": "issue_refund",
            "tool.parameters": json.dumps(TOOL_SCHEMA),
            "input.value": json.dumps({"order_id": "A-1003", "reason": "late"}),
            "metadata": "not json, kept as text",
            "user_metadata": json.dumps({"k": "v"}),
        },
    )
    tool.end(end_time=START_NANOS + 4_000_000)
    untyped = tracer.start_span("GET /orders", context=context, start_time=START_NANOS + 5_000_000)
    untyped.set_attribute("http.request.method", "GET")
    untyped.set_attribute("metadata", "42")
    untyped.add_event("retry", {"attempt": 2}, timestamp=START_NANOS + 5_500_000)
    untyped.set_status(Status(StatusCode.ERROR, "upstream 503"))
    untyped.end(end_time=START_NANOS + 6_000_000)
    root.end(end_time=START_NANOS + 7_000_000)
    provider.shutdown()
    sent = list(memory.get_finished_spans())
    with httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http:
        read = send_to_phoenix(sent, phoenix_server, Client(http_client=http), project=project)
    return [span_view_from_readable(span) for span in sent], read


def phoenix_span(read: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (span,) = [s for s in read if s["name"] == name]
    return span


def test_phoenix_returns_json_string_attributes_parsed_and_flattened(
    reshaped: tuple[list[SpanView], list[dict[str, Any]]],
) -> None:
    _, read = reshaped
    agent = phoenix_span(read, "agent")["attributes"]
    assert agent["metadata.flags.beta"] is True
    assert agent["metadata.tags"] == ["a", "b"]
    assert not any(key.startswith(("metadata.nothing", "metadata.unset")) for key in agent)
    assert agent["llm.prompt_template.variables.customer"] == "Ada"
    tool = phoenix_span(read, "issue_refund")["attributes"]
    assert tool["tool.parameters.properties.note.anyOf.1.type"] == "null"
    assert tool["tool.parameters.required"] == ["order_id"]
    assert tool["metadata"] == "not json, kept as text"
    assert tool["user_metadata.k"] == "v"  # any key *ending* in `metadata` is parsed
    assert isinstance(tool["input.value"], str)  # input.value stays a string
    documents = phoenix_span(read, "kb.search")["attributes"]
    assert documents["retrieval.documents.0.document.metadata.page"] == 3
    assert "retrieval.documents.1.document.metadata" not in documents  # `{}` is gone
    untyped = phoenix_span(read, "GET /orders")
    assert untyped["attributes"]["metadata"] == 42
    assert untyped["span_kind"] == "UNKNOWN"


def test_json_string_attributes_are_rebuilt_as_openinference_specifies(
    reshaped: tuple[list[SpanView], list[dict[str, Any]]],
) -> None:
    _, read = reshaped
    agent = span_view_from_phoenix(phoenix_span(read, "agent")).attributes
    assert json.loads(agent["metadata"]) == METADATA
    assert json.loads(agent["llm.prompt_template.variables"]) == {"customer": "Ada"}
    tool = span_view_from_phoenix(phoenix_span(read, "issue_refund")).attributes
    assert tool["tool.parameters"] == json.dumps(TOOL_SCHEMA)
    assert tool["metadata"] == "not json, kept as text"
    assert tool["user_metadata"] == '{"k": "v"}'
    documents = span_view_from_phoenix(phoenix_span(read, "kb.search")).attributes
    assert json.loads(documents["retrieval.documents.0.document.metadata"]) == {
        "source": "kb",
        "page": 3,
    }
    untyped = span_view_from_phoenix(phoenix_span(read, "GET /orders"))
    assert untyped.attributes["metadata"] == "42"
    # No declared kind: none is invented, so the normalizer decides as it does for the SDK span.
    assert "openinference.span.kind" not in untyped.attributes


def test_the_hand_made_trace_normalizes_as_the_spans_sent(
    reshaped: tuple[list[SpanView], list[dict[str, Any]]],
) -> None:
    sent, read = reshaped
    expected = normalize_trace(sent)
    actual = normalize_trace([span_view_from_phoenix(span) for span in read])

    assert [(s.span_id, s.parent_id, s.kind, s.name, s.status, s.error) for s in actual.steps] == [
        (s.span_id, s.parent_id, s.kind, s.name, s.status, s.error) for s in expected.steps
    ]
    assert actual.metadata == METADATA  # the `{}` and null members sent are lost in Phoenix
    assert expected.metadata == {**METADATA, "nothing": {}, "unset": None}
    assert actual.goal == expected.goal == "Refund A-1003, it was late"
    tool = actual.step(expected.steps[2].span_id)
    assert tool is not None
    assert tool.tool is not None
    assert tool.tool.schema == TOOL_SCHEMA
    assert tool.tool.arguments == {"order_id": "A-1003", "reason": "late"}
    retrieval = actual.steps[1].retrieval
    assert retrieval is not None
    assert [(d.id, d.content, d.score, d.metadata) for d in retrieval.documents] == [
        ("kb-1", "Late orders are refunded in full.", None, {"source": "kb", "page": 3}),
        ("kb-2", "Refunds take 5 days.", 0.5, {}),
    ]
    untyped = actual.steps[3]
    assert (untyped.kind, untyped.status, untyped.error) == (
        StepKind.OTHER,
        "error",
        "upstream 503",
    )


def test_times_come_back_to_the_microsecond_with_events(
    reshaped: tuple[list[SpanView], list[dict[str, Any]]],
) -> None:
    sent, read = reshaped
    views = {view.name: view for view in (span_view_from_phoenix(span) for span in read)}
    for original in sent:
        view = views[original.name]
        assert abs(view.start_time_unix_nano - original.start_time_unix_nano) <= 1_000
        assert abs(view.end_time_unix_nano - original.end_time_unix_nano) <= 1_000
    (event,) = views["GET /orders"].events
    assert (event.name, dict(event.attributes)) == ("retry", {"attempt": 2})
    assert abs(event.time_unix_nano - (START_NANOS + 5_500_000)) <= 1_000


# --- without a server ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("2026-11-21T22:19:36.805643+00:00", 1_795_299_576_805_643_000),
        ("2026-11-21T22:19:36.805643Z", 1_795_299_576_805_643_000),
        ("2026-11-21T22:19:36.805643", 1_795_299_576_805_643_000),  # naive is UTC
        ("2026-11-21T23:19:36.805643+01:00", 1_795_299_576_805_643_000),
        ("2026-11-21T22:19:36.123456789+00:00", 1_795_299_576_123_456_789),
        ("2026-11-21T22:19:36+00:00", 1_795_299_576_000_000_000),
        ("not a time", 0),
    ],
)
def test_iso_times_become_exact_unix_nanoseconds(text: str, nanos: int) -> None:
    assert iso_to_unix_nano(text) == nanos


def test_a_span_without_ids_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"context\.span_id"):
        span_view_from_phoenix({"name": "x", "context": {"trace_id": "ab" * 16}})


def test_lists_of_objects_flattened_by_index_become_lists_again() -> None:
    view = span_view_from_phoenix(
        {
            "context": {"trace_id": "AB" * 16, "span_id": "CD" * 8},
            "span_kind": "CHAIN",
            "attributes": {
                "metadata.items.1.sku": "b",
                "metadata.items.0.sku": "a",
                "metadata.items.0.qty": 2,
                "session.id": "s-1",
            },
        }
    )
    assert (view.trace_id, view.span_id) == ("ab" * 16, "cd" * 8)
    assert json.loads(view.attributes["metadata"]) == {
        "items": [{"sku": "a", "qty": 2}, {"sku": "b"}]
    }
    assert view.attributes["session.id"] == "s-1"
