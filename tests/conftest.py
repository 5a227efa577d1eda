"""Fixtures shared by the whole suite: a real SDK TracerProvider recording into memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.conventions import normalize_trace, span_view_from_readable
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
