"""Fixtures shared by the whole suite: a real SDK TracerProvider recording into memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.model import AgentTrace

TEST_PROJECT = "flywheel-tests"
TEST_REDACTION_KEY = "test-redaction-key-0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def _isolated_flywheel_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test writes state (keys, outboxes) into the checkout, and pseudonyms are reproducible."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path_factory.mktemp("flywheel-state")))
        monkeypatch.setenv("FLYWHEEL_REDACTION_KEY", TEST_REDACTION_KEY)
        yield


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "support-agent", "openinference.project.name": TEST_PROJECT}
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def finished_traces(span_exporter: InMemorySpanExporter) -> Callable[[], list[AgentTrace]]:
    """Normalize what the exporter holds, one AgentTrace per trace id, in first-seen order."""

    def collect() -> list[AgentTrace]:
        grouped: dict[str, list] = {}
        for span in span_exporter.get_finished_spans():
            view = span_view_from_readable(span)
            grouped.setdefault(view.trace_id, []).append(view)
        return [normalize_trace(views) for views in grouped.values()]

    return collect


@pytest.fixture(scope="session")
def demo_spans() -> list[ReadableSpan]:
    """The demo agent's 20 conversations run once per session: real `openai` client, OpenInference
    instrumentation, the scripted model. Raw spans, as an exporter would receive them."""
    from openai import OpenAI
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor

    from otel_flywheel.demo._agent import SupportAgent
    from otel_flywheel.demo._script import SCENARIOS, respond
    from otel_flywheel.testing.llm_server import ScriptedLLMServer

    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=respond) as llm,
            OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
        ):
            tracer = OITracer(provider.get_tracer("tests.demo"), config=TraceConfig())
            agent = SupportAgent(client=client, tracer=tracer)
            for index, scenario in enumerate(SCENARIOS, start=1):
                agent.run(scenario.conversation(index))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    return list(exporter.get_finished_spans())


@pytest.fixture(scope="session")
def demo_traces(demo_spans: list[ReadableSpan]) -> dict[str, AgentTrace]:
    """The demo's traces, normalized (not redacted), keyed by the question the agent was asked."""
    from otel_flywheel.demo._script import SCENARIOS

    grouped: dict[str, list[SpanView]] = {}
    for span in demo_spans:
        view = span_view_from_readable(span)
        grouped.setdefault(view.trace_id, []).append(view)
    by_session = {trace.session_id: trace for trace in map(normalize_trace, grouped.values())}
    return {
        scenario.question: by_session[scenario.conversation(index).session_id]
        for index, scenario in enumerate(SCENARIOS, start=1)
    }


@pytest.fixture(scope="session")
def airline_recordings() -> Callable[[str], Any]:
    """The airline agent's scenarios (tests/airline_agent.py), run once per convention per
    session: ``airline_recordings("openinference")`` or ``airline_recordings("genai")``."""
    from airline_agent import Recording, record

    recorded: dict[str, Recording] = {}

    def get(convention: str) -> Recording:
        if convention not in recorded:
            recorded[convention] = record(convention)  # type: ignore[arg-type]
        return recorded[convention]

    return get
