"""``register()``: one call exports to Phoenix and feeds the flywheel, alone or beside phoenix.otel."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openinference.instrumentation import OITracer, TraceConfig, using_session, using_user
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from phoenix.client import Client
from phoenix.otel import register as phoenix_register

from otel_flywheel._flywheel import build_flywheel
from otel_flywheel._register import register, resolve_otlp_traces_endpoint
from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Step, StepKind, ToolCall, Verdict
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

PROJECT_NAME = "openinference.project.name"
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
QUESTION = "Where is my order A-1001?"
ANSWER = "Order A-1001 has shipped."


@pytest.fixture(autouse=True)
def no_global_sdk_provider() -> None:
    # register() attaches to a global SDK provider when one is set; these tests need it to create one.
    assert not isinstance(trace.get_tracer_provider(), TracerProvider), (
        "a test set the global TracerProvider; register() would attach to it instead"
    )


def unique_project(label: str) -> str:
    return f"test-register-{label}-{uuid.uuid4().hex[:10]}"


def run_small_agent(provider: TracerProvider) -> str:
    """An AGENT span with one TOOL child, made with OpenInference's helpers; returns the trace id."""
    tracer = OITracer(provider.get_tracer("tests.test_register"), config=TraceConfig())

    @tracer.tool(name="lookup_order", description="Find an order", parameters=ORDER_SCHEMA)
    def lookup_order(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "status": "shipped"}

    @tracer.agent(name="support-agent")
    def agent(question: str) -> str:
        order = lookup_order("A-1001")
        return f"Order {order['order_id']} has {order['status']}."

    with (
        using_session("session-1"),
        using_user("user-ada"),
        tracer.start_as_current_span("outer", openinference_span_kind="chain") as outer,
    ):
        trace_id = format(outer.get_span_context().trace_id, "032x")
        assert agent(QUESTION) == ANSWER
    return trace_id


def phoenix_spans_by_name(
    client: Client, *, project: str, trace_id: str, count: int
) -> dict[str, Any]:
    spans = wait_for_spans(
        client, project=project, trace_ids=[trace_id], min_count=count, timeout_seconds=60
    )
    names = [span["name"] for span in spans]
    assert sorted(names) == sorted(set(names)), f"a span arrived twice: {names}"
    return {span["name"]: span for span in spans}


def assert_captured_tool_call(pipeline: InMemoryPipeline, trace_id: str) -> None:
    (captured,) = pipeline.wait_for(1, timeout_seconds=10)
    assert captured.trace_id == trace_id
    assert captured.session_id == "session-1"
    # user.id is always pseudonymized: joinable across traces, never the raw id.
    assert captured.user_id is not None
    assert re.fullmatch(r"<USER:[0-9a-f]{8}>", captured.user_id)
    assert [(s.kind, s.name) for s in captured.steps] == [
        (StepKind.CHAIN, "outer"),
        (StepKind.AGENT, "support-agent"),
        (StepKind.TOOL, "lookup_order"),
    ]
    ((step, call),) = captured.tool_calls()
    assert step.parent_id == captured.steps[1].span_id
    assert call.name == "lookup_order"
    assert call.arguments == {"order_id": "A-1001"}
    assert json.loads(call.result or "") == {"order_id": "A-1001", "status": "shipped"}


# --- against the session's real Phoenix ------------------------------------------------------------


def test_register_exports_to_phoenix_under_the_given_project_and_feeds_the_pipeline(
    phoenix_server: LocalPhoenix, phoenix_server_client: Client
) -> None:
    project = unique_project("export")
    pipeline = InMemoryPipeline()
    provider = register(
        project=project, endpoint=phoenix_server.base_url, pipeline=pipeline, set_global=False
    )
    try:
        assert provider.resource.attributes[PROJECT_NAME] == project
        trace_id = run_small_agent(provider)
        assert provider.force_flush()
        assert_captured_tool_call(pipeline, trace_id)
    finally:
        provider.shutdown()

    # Queried by project name: a span exported under any other project would not be found.
    spans = phoenix_spans_by_name(
        phoenix_server_client, project=project, trace_id=trace_id, count=3
    )
    assert set(spans) == {"outer", "support-agent", "lookup_order"}
    assert spans["support-agent"]["span_kind"] == "AGENT"
    assert spans["support-agent"]["parent_id"] == spans["outer"]["context"]["span_id"]
    tool = spans["lookup_order"]
    assert tool["span_kind"] == "TOOL"
    assert tool["parent_id"] == spans["support-agent"]["context"]["span_id"]
    assert tool["status_code"] == "OK"
    attributes = tool["attributes"]
    assert attributes["tool.name"] == "lookup_order"
    assert attributes["tool.description"] == "Find an order"
    assert json.loads(attributes["input.value"]) == {"order_id": "A-1001"}
    assert json.loads(attributes["output.value"]) == {"order_id": "A-1001", "status": "shipped"}
    assert attributes["session.id"] == "session-1"
    assert re.fullmatch(r"<USER:[0-9a-f]{8}>", attributes["user.id"])
    assert spans["support-agent"]["attributes"]["output.value"] == ANSWER


def test_register_on_phoenix_otel_provider_keeps_its_exporter_and_exports_each_span_once(
    phoenix_server: LocalPhoenix, phoenix_server_client: Client
) -> None:
    project = unique_project("coexist")
    phoenix_provider = phoenix_register(
        endpoint=phoenix_server.otlp_traces_endpoint,
        project_name=project,
        batch=False,
        set_global_tracer_provider=False,
        verbose=False,
    )
    pipeline = InMemoryPipeline()
    try:
        # The trap: phoenix.otel's add_span_processor drops its exporter unless told not to.
        exporting = phoenix_provider._active_span_processor._span_processors
        assert len(exporting) == 1  # phoenix.otel's own SimpleSpanProcessor + OTLP exporter
        assert register(tracer_provider=phoenix_provider, pipeline=pipeline) is phoenix_provider
        # Its exporting processor stays, and no second exporter joins it (Phoenix ignores a span id
        # it already stored, so counting spans there alone could not show a duplicate export).
        processors = phoenix_provider._active_span_processor._span_processors
        assert processors[:-1] == exporting
        assert isinstance(processors[-1], FlywheelSpanProcessor)
        trace_id = run_small_agent(phoenix_provider)
        assert phoenix_provider.force_flush()
        assert_captured_tool_call(pipeline, trace_id)
    finally:
        phoenix_provider.shutdown()

    spans = phoenix_spans_by_name(
        phoenix_server_client, project=project, trace_id=trace_id, count=3
    )
    assert set(spans) == {"outer", "support-agent", "lookup_order"}
    assert len(wait_for_spans(phoenix_server_client, project=project, min_count=3)) == 3


def test_register_twice_on_one_provider_adds_one_processor_and_warns(
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = InMemoryPipeline(), InMemoryPipeline()

    assert register(tracer_provider=tracer_provider, pipeline=first) is tracer_provider
    with caplog.at_level(logging.WARNING, logger="otel_flywheel._register"):
        assert register(tracer_provider=tracer_provider, pipeline=second) is tracer_provider

    messages = [r.getMessage() for r in caplog.records if r.name == "otel_flywheel._register"]
    # The first call warns that the provider's own exporter is not ours to redact; the second
    # that it adds nothing.
    assert [m for m in messages if "already registered" in m] == [
        "otel-flywheel is already registered on this TracerProvider"
    ]
    assert sum("send them unredacted" in m for m in messages) == 1
    processors = tracer_provider._active_span_processor._span_processors
    assert sum(isinstance(p, FlywheelSpanProcessor) for p in processors) == 1
    trace_id = run_small_agent(tracer_provider)
    assert tracer_provider.force_flush()
    assert_captured_tool_call(first, trace_id)
    assert second.traces == []
    # Attaching adds no exporter: the provider's own exporter got each span once.
    assert len(span_exporter.get_finished_spans()) == 3


# --- where spans go --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "environ", "expected"),
    [
        pytest.param(
            "http://phoenix.internal:6006",
            {
                "PHOENIX_COLLECTOR_ENDPOINT": "http://collector:6006",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/custom",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
            },
            "http://phoenix.internal:6006/v1/traces",
            id="explicit-beats-every-variable",
        ),
        pytest.param(
            "https://phoenix.internal/v1/traces/",
            {},
            "https://phoenix.internal/v1/traces",
            id="explicit-traces-url-kept-without-trailing-slash",
        ),
        pytest.param(
            None,
            {
                "PHOENIX_COLLECTOR_ENDPOINT": "http://collector:6006/",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/custom",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
            },
            "http://collector:6006/v1/traces",
            id="phoenix-collector-endpoint-beats-otel-variables",
        ),
        pytest.param(
            None,
            {"PHOENIX_COLLECTOR_ENDPOINT": "http://collector:6006/v1/traces"},
            "http://collector:6006/v1/traces",
            id="phoenix-collector-traces-url-not-doubled",
        ),
        pytest.param(
            None,
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/custom/path",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
            },
            "http://otel:4318/custom/path",
            id="otlp-traces-endpoint-used-as-is",
        ),
        pytest.param(
            None,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/prefix/"},
            "http://otel:4318/prefix/v1/traces",
            id="otlp-endpoint-gets-traces-path",
        ),
        pytest.param(
            "",
            {"PHOENIX_COLLECTOR_ENDPOINT": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"},
            "http://otel:4318/v1/traces",
            id="empty-values-count-as-unset",
        ),
        pytest.param(None, {}, "http://localhost:6006/v1/traces", id="default-local-phoenix"),
    ],
)
def test_otlp_traces_endpoint_follows_precedence_and_path_rules(
    endpoint: str | None, environ: dict[str, str], expected: str
) -> None:
    assert resolve_otlp_traces_endpoint(endpoint, environ=environ) == expected


@pytest.mark.parametrize(
    ("endpoint", "environ", "setting"),
    [
        pytest.param("localhost:6006", {}, "endpoint", id="explicit-without-scheme"),
        pytest.param(
            None,
            {"PHOENIX_COLLECTOR_ENDPOINT": "phoenix:6006"},
            "PHOENIX_COLLECTOR_ENDPOINT",
            id="phoenix-collector-endpoint",
        ),
        pytest.param(
            None,
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://otel:4317"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            id="otlp-traces-endpoint",
        ),
        pytest.param(
            None,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://"},
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            id="otlp-endpoint-without-host",
        ),
    ],
)
def test_a_bad_endpoint_url_raises_config_error_naming_the_setting(
    endpoint: str | None, environ: dict[str, str], setting: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{setting}=.*is not an http\(s\) URL"):
        resolve_otlp_traces_endpoint(endpoint, environ=environ)


def capture_workers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "otel-flywheel-capture"}


def test_a_bad_endpoint_raises_before_register_starts_a_capture_worker() -> None:
    before = capture_workers()

    with pytest.raises(ConfigError, match=r"^endpoint='localhost:6006' is not an http\(s\) URL"):
        register(endpoint="localhost:6006", pipeline=InMemoryPipeline(), set_global=False)

    assert capture_workers() - before == set()


# --- which project ---------------------------------------------------------------------------------


SOURCES_BELOW_ARGUMENT = {
    "FLYWHEEL_PROJECT": "from-flywheel-env",
    "PHOENIX_PROJECT_NAME": "from-phoenix-env",
}


@pytest.fixture
def clean_project_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("FLYWHEEL_PROJECT", "PHOENIX_PROJECT_NAME", "FLYWHEEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no flywheel.yaml from the developer's working directory
    return monkeypatch


@pytest.fixture
def new_provider() -> Iterator[Callable[..., TracerProvider]]:
    """``register(set_global=False, ...)``; the providers it creates are shut down afterwards."""
    providers: list[TracerProvider] = []

    def create(**kwargs: Any) -> TracerProvider:
        providers.append(register(set_global=False, **kwargs))
        return providers[-1]

    yield create
    for provider in providers:
        provider.shutdown()


def use_config_file(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = Path.cwd() / "config" / "flywheel.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    monkeypatch.setenv("FLYWHEEL_CONFIG", str(path))


def test_project_argument_beats_environment_and_config_file(
    clean_project_env: pytest.MonkeyPatch, new_provider: Callable[..., TracerProvider]
) -> None:
    for name, value in SOURCES_BELOW_ARGUMENT.items():
        clean_project_env.setenv(name, value)
    use_config_file(clean_project_env, "project: from-file\n")

    provider = new_provider(project="from-argument")

    assert provider.resource.attributes[PROJECT_NAME] == "from-argument"
    assert trace.get_tracer_provider() is not provider


@pytest.mark.parametrize(
    ("environ", "config", "expected"),
    [
        pytest.param(
            SOURCES_BELOW_ARGUMENT,
            "project: from-file\n",
            "from-flywheel-env",
            id="flywheel-project-env",
        ),
        pytest.param(
            {"PHOENIX_PROJECT_NAME": "from-phoenix-env"},
            "project: from-file\n",
            "from-phoenix-env",
            id="phoenix-project-name-env",
        ),
        pytest.param({}, "project: from-file\n", "from-file", id="config-file"),
        pytest.param({}, "capture:\n  max_queue_size: 64\n", "default", id="default"),
    ],
)
def test_project_falls_back_from_env_to_config_file_to_default(
    clean_project_env: pytest.MonkeyPatch,
    new_provider: Callable[..., TracerProvider],
    environ: dict[str, str],
    config: str,
    expected: str,
) -> None:
    for name, value in environ.items():
        clean_project_env.setenv(name, value)
    use_config_file(clean_project_env, config)

    assert new_provider().resource.attributes[PROJECT_NAME] == expected


def test_config_file_in_working_directory_sets_the_project(
    clean_project_env: pytest.MonkeyPatch, new_provider: Callable[..., TracerProvider]
) -> None:
    Path("flywheel.yaml").write_text("project: from-cwd-file\n")

    assert new_provider().resource.attributes[PROJECT_NAME] == "from-cwd-file"


def test_a_project_in_the_config_file_that_is_not_a_string_raises_config_error(
    clean_project_env: pytest.MonkeyPatch,
) -> None:
    use_config_file(clean_project_env, "project: [a, b]\n")
    before = capture_workers()

    with pytest.raises(ConfigError, match="'project' must be a string"):
        register(set_global=False)

    assert capture_workers() - before == set()


# --- the public name -------------------------------------------------------------------------------


def test_package_register_stays_the_function_after_its_module_is_imported() -> None:
    # The implementation lives in `_register` so that importing it cannot shadow the function.
    code = (
        "import otel_flywheel, otel_flywheel._register as module\n"
        "from otel_flywheel import register\n"
        "assert callable(otel_flywheel.register), otel_flywheel.register\n"
        "assert register is module.register, register\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


# --- a tool file -----------------------------------------------------------------------------------


def test_a_bad_tool_file_raises_before_register_starts_a_capture_worker(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text('{"tools": [{"description": "no name"}]}', encoding="utf-8")
    before = capture_workers()

    with pytest.raises(ConfigError, match=re.escape("tools[0] has no name")):
        register(endpoint="http://127.0.0.1:9", tools=tools, set_global=False)

    assert capture_workers() - before == set()


class _Verdicts:
    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        self.verdicts.append(verdict)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


def _booking_trace() -> AgentTrace:
    trace_id, root, read, write = "ab" * 16, "1" * 16, "2" * 16, "3" * 16

    def tool(span_id: str, name: str) -> Step:
        return Step(
            trace_id=trace_id,
            span_id=span_id,
            parent_id=root,
            kind=StepKind.TOOL,
            name=name,
            tool=ToolCall(name=name, arguments={"booking_id": 7}, result='{"ok": true}'),
        )

    return AgentTrace(
        trace_id=trace_id,
        goal="Cancel booking 7",
        final_output="Done.",
        steps=[
            Step(trace_id=trace_id, span_id=root, parent_id=None, kind=StepKind.AGENT, name="a"),
            tool(read, "get_booking"),
            tool(write, "cancel_booking"),
        ],
    )


def test_the_flywheel_checks_calls_against_the_tool_file_and_ranks_the_write_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """register(tools=...) and serve --tools build the flywheel with the file: its schemas reach
    the checks, and its readOnlyHint makes a finding about the write the primary one, though the
    read came first."""
    schema = {
        "type": "object",
        "properties": {"booking_id": {"type": "string"}},
        "required": ["booking_id"],
    }
    tools = tmp_path / "tools.json"
    tools.write_text(
        json.dumps(
            {
                "tools": [
                    {
                        "name": "get_booking",
                        "inputSchema": schema,
                        "annotations": {"readOnlyHint": True},
                    },
                    {
                        "name": "cancel_booking",
                        "inputSchema": schema,
                        "annotations": {"destructiveHint": True},
                    },
                ]
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path / "state"))
    verdicts = _Verdicts()
    trace = _booking_trace()
    flywheel = build_flywheel(
        project=unique_project("tools"),
        phoenix_url="http://127.0.0.1:9",  # nothing listens: writes wait in the outbox
        judge=False,
        tools=tools,
        extra_sinks=(verdicts,),
    )
    try:
        flywheel.pipeline.submit(trace)
        deadline = time.monotonic() + 30
        while not verdicts.verdicts and time.monotonic() < deadline:  # the outbox cannot deliver
            time.sleep(0.05)
    finally:
        flywheel.shutdown(5_000)
    (verdict,) = verdicts.verdicts
    assert verdict.passed is False
    failing = [e for e in verdict.evaluations if e.passed is False]
    assert {e.culprit_span_id for e in failing} == {"2" * 16, "3" * 16}
    assert verdict.culprit_span_id == "3" * 16  # the write, though the read came first
