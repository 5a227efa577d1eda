"""The demo agent's conversations, captured and redacted as the flywheel stores them, as golden
examples: what a few-shot library loads in production."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.datasets import DatasetExample
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import build_redactor, redact_span_view


@pytest.fixture(scope="session")
def redacted_demo_traces(demo_spans: list[ReadableSpan]) -> dict[str, AgentTrace]:
    """Question -> the demo's trace, redacted with the session's key (emails as <EMAIL:...>)."""
    from otel_flywheel.demo._script import SCENARIOS

    redactor = build_redactor()
    assert redactor is not None
    grouped: dict[str, list[SpanView]] = {}
    for span in demo_spans:
        view = redact_span_view(span_view_from_readable(span), redactor)
        grouped.setdefault(view.trace_id, []).append(view)
    by_session = {trace.session_id: trace for trace in map(normalize_trace, grouped.values())}
    return {
        scenario.question: by_session[scenario.conversation(index).session_id]
        for index, scenario in enumerate(SCENARIOS, start=1)
    }


@pytest.fixture
def golden() -> Callable[..., DatasetExample]:
    """A golden dataset example of ``trace``, as routing writes it."""

    def make(trace: AgentTrace, **metadata: object) -> DatasetExample:
        return DatasetExample(
            example_id=f"golden-{trace.trace_id[:12]}",
            dataset="support/golden",
            input={"input": trace.goal, "session_id": trace.session_id},
            output={
                "output": trace.final_output,
                "expected_tool_calls": [
                    {"name": call.name, "arguments": call.arguments}
                    for _, call in trace.tool_calls()
                ],
            },
            metadata={
                "route": "golden",
                "source_trace_id": trace.trace_id,
                "user_id": trace.user_id,
                "session_id": trace.session_id,
                "consent": trace.consent,
                **metadata,
            },
        )

    return make
