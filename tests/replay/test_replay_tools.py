"""``@otel_flywheel.tool``: TOOL spans as OpenInference specifies them, and replay from recordings
that never calls the real tool."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_flywheel
from otel_flywheel.model import AgentTrace, StepKind
from otel_flywheel.replay import (
    RecordedToolError,
    ToolRecording,
    ToolReplayMiss,
    recordings_from_trace,
    replay_tools,
    tool,
)
from otel_flywheel.replay._tools import RECORDED_ATTRIBUTE

calls: Counter[str] = Counter()


@tool
def issue_refund(order_id: str, amount: float, reason: str = "other") -> dict[str, Any]:
    """Refund an order.

    Side effects: money leaves the company.
    """
    calls["issue_refund"] += 1
    return {"refund_id": f"R-{order_id[2:]}", "amount": amount, "reason": reason}


@tool(name="kb.search")
async def search_kb(query: str) -> list[str]:
    calls["search_kb"] += 1
    return [f"live article about {query}"]


class Orders:
    @tool
    def cancel(self, order_id: str) -> str:
        calls["cancel"] += 1
        return f"cancelled {order_id}"


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    calls.clear()


def test_package_exports_the_decorator_lazily() -> None:
    assert otel_flywheel.tool is tool


def test_a_decorated_call_records_an_openinference_tool_span_with_json_arguments_and_result(
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    finished_traces: Callable[[], list[AgentTrace]],
) -> None:
    with replay_tools(None, tracer_provider=tracer_provider):
        result = issue_refund("A-1003", 45.5)

    assert result == {"refund_id": "R-1003", "amount": 45.5, "reason": "other"}
    (span,) = span_exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert span.name == "issue_refund"
    assert attributes["openinference.span.kind"] == "TOOL"
    assert attributes["tool.name"] == "issue_refund"
    assert attributes["tool.description"] == "Refund an order."
    assert json.loads(str(attributes["input.value"])) == {
        "order_id": "A-1003",
        "amount": 45.5,
        "reason": "other",
    }
    assert attributes["input.mime_type"] == "application/json"
    assert json.loads(str(attributes["output.value"])) == result
    assert attributes["output.mime_type"] == "application/json"
    assert RECORDED_ATTRIBUTE not in attributes
    (trace,) = finished_traces()
    (step,) = trace.steps
    assert step.kind is StepKind.TOOL
    assert step.tool is not None
    assert step.tool.name == "issue_refund"
    assert step.tool.arguments == {"order_id": "A-1003", "amount": 45.5, "reason": "other"}


def test_replay_answers_a_matching_call_from_the_recording_and_never_calls_the_tool(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    recorded = ToolRecording(
        name="issue_refund",
        arguments={"order_id": "A-1003", "amount": 45.5, "reason": "late"},
        output={"refund_id": "R-recorded", "amount": 45.5},
    )
    with replay_tools([recorded], tracer_provider=tracer_provider) as replay:
        # Keyword order and 45.5 written differently do not matter: arguments are canonical.
        result = issue_refund(reason="late", amount=45.50, order_id="A-1003")

    assert result == {"refund_id": "R-recorded", "amount": 45.5}
    assert calls["issue_refund"] == 0
    assert replay.replayed == 1
    assert replay.live == 0
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[RECORDED_ATTRIBUTE] is True
    assert json.loads(str(span.attributes["output.value"])) == result


def test_integral_floats_and_ints_match_as_a_model_writes_them() -> None:
    recorded = ToolRecording(
        name="issue_refund",
        arguments={"order_id": "A-1005", "amount": 720.0, "reason": "other"},
        output={"refund_id": "R-1005"},
    )
    with replay_tools([recorded]):
        assert issue_refund("A-1005", 720) == {"refund_id": "R-1005"}
    assert calls["issue_refund"] == 0


def test_repeated_calls_get_the_recorded_answers_in_order_then_the_last_again() -> None:
    recordings = [
        ToolRecording(name="kb.search", arguments={"query": "returns"}, output=["first"]),
        ToolRecording(name="kb.search", arguments={"query": "returns"}, output=["second"]),
    ]

    async def three_searches() -> list[list[str]]:
        return [await search_kb("returns") for _ in range(3)]

    with replay_tools(recordings):
        answers = asyncio.run(three_searches())

    assert answers == [["first"], ["second"], ["second"]]
    assert calls["search_kb"] == 0


def test_an_unmatched_call_passes_through_to_the_real_tool_by_default() -> None:
    recorded = ToolRecording(name="kb.search", arguments={"query": "returns"}, output=["recorded"])
    with replay_tools([recorded]) as replay:
        answer = asyncio.run(search_kb("warranty"))

    assert answer == ["live article about warranty"]
    assert calls["search_kb"] == 1
    assert replay.live == 1


def test_an_unmatched_call_fails_when_configured_and_the_real_tool_is_not_called(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    with (
        replay_tools([], unmatched="fail", tracer_provider=tracer_provider) as replay,
        pytest.raises(ToolReplayMiss, match=r"issue_refund.*A-1001.*--tool-replay passthrough"),
    ):
        issue_refund("A-1001", 10.0, "damaged")

    assert calls["issue_refund"] == 0
    assert replay.missed == 1
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code.name == "ERROR"


def test_a_recorded_failure_is_raised_again_without_calling_the_tool() -> None:
    recorded = ToolRecording(
        name="cancel", arguments={"order_id": "A-1001"}, error="ToolFailedError: 409 shipped"
    )
    with replay_tools([recorded]), pytest.raises(RecordedToolError, match="409 shipped"):
        Orders().cancel("A-1001")
    assert calls["cancel"] == 0


def test_methods_record_their_arguments_without_self(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    with replay_tools(None, tracer_provider=tracer_provider):
        assert Orders().cancel("A-1002") == "cancelled A-1002"
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes is not None
    assert json.loads(str(span.attributes["input.value"])) == {"order_id": "A-1002"}


def test_recordings_from_a_captured_trace_replay_its_outputs_and_errors(
    tracer_provider: TracerProvider, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    tracer = tracer_provider.get_tracer("tests.replay")
    with (
        replay_tools(None, tracer_provider=tracer_provider),
        tracer.start_as_current_span("agent"),
    ):
        first = issue_refund("A-1003", 45.5, "late")
        asyncio.run(search_kb("returns"))
        with pytest.raises(ValueError, match="boom"):
            _failing_tool("x")
    (trace,) = finished_traces()
    recordings = recordings_from_trace(trace)
    assert [r.name for r in recordings] == ["issue_refund", "kb.search", "failing_tool"]
    assert recordings[2].error is not None
    calls.clear()

    with replay_tools(recordings) as replay:
        assert issue_refund("A-1003", 45.5, "late") == first
        assert asyncio.run(search_kb("returns")) == ["live article about returns"]
        with pytest.raises(RecordedToolError, match="boom"):
            _failing_tool("x")

    assert sum(calls.values()) == 0
    assert replay.replayed == 3
    round_trip = [ToolRecording.from_dict(r.to_dict()) for r in recordings]
    assert round_trip == recordings


def test_outside_replay_a_tool_runs_and_returns_its_result_without_a_provider() -> None:
    assert issue_refund("A-1001", 5, reason="damaged")["amount"] == 5
    assert calls["issue_refund"] == 1


@tool(name="failing_tool")
def _failing_tool(value: str) -> str:
    calls["failing_tool"] += 1
    raise ValueError(f"boom {value}")
