"""``otel-flywheel inspect`` on OTLP files recorded from real instrumented agent runs.

The runs use the real ``openai`` client, wrapped by OpenInference's OpenAI instrumentor, against a
scripted model server, plus OpenInference AGENT, RETRIEVER and TOOL spans around it: the spans a
user's agent would produce. They are written the two ways the Collector's file exporter writes
them, with one trace split over two requests, as a batching exporter does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI
from openinference.instrumentation import (
    OITracer,
    TraceConfig,
    get_retriever_attributes,
    using_session,
    using_user,
)
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_flywheel.cli import main
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls

MODEL = "gpt-4o-mini"
ORDER_QUESTION = "Where is my order A-1001?"
ORDER_ANSWER = "Order A-1001 has shipped with UPS."
REFUND_QUESTION = "Refund order A-1003, it was late"
REFUND_ANSWER = "Your refund is on its way."
TRUNCATED_ARGUMENTS = '{"order_id": "A-1003", "amount": 45.5, "rea'
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
    for name in ("lookup_order", "issue_refund")
]


@dataclass(frozen=True)
class Recording:
    spans: list[ReadableSpan]
    order_trace_id: str
    refund_trace_id: str

    def of_trace(self, trace_id: str) -> list[ReadableSpan]:
        return [s for s in self.spans if _hex(s.context.trace_id, 32) == trace_id]

    def span_id(self, trace_id: str, name: str, index: int = 0) -> str:
        matching = sorted(
            (s for s in self.of_trace(trace_id) if s.name == name),
            key=lambda s: s.start_time or 0,
        )
        return _hex(matching[index].context.span_id, 16)


def _hex(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


def _agent(tracer: OITracer, client: OpenAI, *, question: str, query: str) -> str:
    """One turn of a support agent: search the KB, ask the model, run its tool call, answer."""
    with tracer.start_as_current_span("support-agent", openinference_span_kind="agent") as agent:
        trace_id = _hex(agent.get_span_context().trace_id, 32)
        agent.set_input(question)
        with tracer.start_as_current_span("kb.search", openinference_span_kind="retriever") as kb:
            kb.set_input(query)
            if query.startswith("order"):
                documents = [
                    {"id": "kb-shipping", "content": "Orders ship in 2 days.", "score": 0.82},
                    {"id": "kb-carriers", "content": "We ship with UPS.", "score": 0.41},
                ]
                kb.set_attributes(get_retriever_attributes(documents=documents))
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        asked = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        (call,) = asked.choices[0].message.tool_calls or []
        name, arguments = call.function.name, call.function.arguments  # type: ignore[union-attr]
        with tracer.start_as_current_span(name, openinference_span_kind="tool") as tool:
            tool.set_tool(name=name, description=f"{name} tool", parameters={"type": "object"})
            tool.set_input(arguments, mime_type="application/json")
            try:
                result = json.dumps({"order_id": json.loads(arguments)["order_id"], "ok": True})
            except json.JSONDecodeError as exc:
                tool.record_exception(exc)
                tool.set_status(Status(StatusCode.ERROR, "arguments are not valid JSON"))
                result = json.dumps({"error": "arguments are not valid JSON"})
            else:
                tool.set_status(Status(StatusCode.OK))
            tool.set_output(result, mime_type="application/json")
        messages.append(asked.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        answered = client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
        answer = answered.choices[0].message.content or ""
        agent.set_output(answer)
        agent.set_status(Status(StatusCode.OK))
    return trace_id


@pytest.fixture(scope="module")
def recording() -> Iterator[Recording]:
    """Two real agent runs: a clean order lookup, and a refund whose arguments were cut off."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "support-agent", "openinference.project.name": "inspect-tests"}
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        tracer = OITracer(provider.get_tracer("tests.cli.test_inspect"), config=TraceConfig())
        with (
            ScriptedLLMServer() as llm,
            OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
        ):
            llm.enqueue(
                ToolCalls([ToolCallReply("lookup_order", {"order_id": "A-1001"})]),
                Text(ORDER_ANSWER),
                ToolCalls([ToolCallReply("issue_refund", TRUNCATED_ARGUMENTS)]),
                Text(REFUND_ANSWER),
            )
            with using_session("session-7"), using_user("user-ada"):
                order = _agent(tracer, client, question=ORDER_QUESTION, query="order status")
            with using_session("session-8"), using_user("user-ben"):
                refund = _agent(tracer, client, question=REFUND_QUESTION, query="refund policy")
            assert llm.pending_replies == 0
        yield Recording(list(exporter.get_finished_spans()), order, refund)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def split_requests(recording: Recording) -> list[ExportTraceServiceRequest]:
    """Two requests; the order trace's spans are split between them (inspect must rejoin them)."""
    order = recording.of_trace(recording.order_trace_id)
    first = order[:3]
    rest = [s for s in recording.spans if s not in first]
    assert {s.context.trace_id for s in first} == {order[0].context.trace_id}
    return [encode_spans(first), encode_spans(rest)]


@pytest.fixture(scope="module")
def jsonl_file(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("otlp") / "traces.jsonl"
    path.write_text("".join(encode_otlp_json(r) + "\n" for r in split_requests(recording)))
    return path


@pytest.fixture(scope="module")
def protobuf_file(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("otlp") / "traces.pb"
    with path.open("wb") as file:
        for request in split_requests(recording):
            payload = request.SerializeToString()
            file.write(len(payload).to_bytes(4, "big") + payload)
    return path


def run_inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["inspect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_traces(out: str) -> dict[str, dict[str, Any]]:
    traces = [json.loads(line) for line in out.splitlines()]
    return {trace["trace_id"]: trace for trace in traces}


def step_outline(trace: dict[str, Any]) -> list[tuple[str, str | None, str, str, str]]:
    return [
        (s["span_id"], s["parent_id"], s["kind"], s["name"], s["status"]) for s in trace["steps"]
    ]


# --- --format json ---------------------------------------------------------------------------------


@pytest.mark.parametrize("file_fixture", ["jsonl_file", "protobuf_file"])
def test_json_output_has_one_assembled_trace_per_line_with_typed_steps(
    request: pytest.FixtureRequest,
    file_fixture: str,
    recording: Recording,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path: Path = request.getfixturevalue(file_fixture)

    code, out, err = run_inspect(capsys, str(path), "--format", "json")

    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 2  # the split trace is printed once, assembled
    traces = json_traces(out)
    assert set(traces) == {recording.order_trace_id, recording.refund_trace_id}

    order = traces[recording.order_trace_id]
    assert order["session_id"] == "session-7"
    # As the flywheel sees it: user ids are always pseudonymized (see --no-redact below).
    assert re.fullmatch(r"<USER:[0-9a-f]{8}>", order["user_id"])
    assert order["goal"] == ORDER_QUESTION
    assert order["final_output"] == ORDER_ANSWER
    assert order["project"] == "inspect-tests"
    ids = recording.order_trace_id
    agent = recording.span_id(ids, "support-agent")
    assert step_outline(order) == [
        (agent, None, "agent", "support-agent", "ok"),
        (recording.span_id(ids, "kb.search"), agent, "retriever", "kb.search", "unset"),
        (recording.span_id(ids, "ChatCompletion", 0), agent, "llm", "ChatCompletion", "ok"),
        (recording.span_id(ids, "lookup_order"), agent, "tool", "lookup_order", "ok"),
        (recording.span_id(ids, "ChatCompletion", 1), agent, "llm", "ChatCompletion", "ok"),
    ]
    _, retriever, asking, tool, answering = order["steps"]
    assert retriever["retrieval"]["query"] == "order status"
    assert [(d["id"], d["content"], d["score"]) for d in retriever["retrieval"]["documents"]] == [
        ("kb-shipping", "Orders ship in 2 days.", 0.82),
        ("kb-carriers", "We ship with UPS.", 0.41),
    ]
    assert asking["llm"]["model"] == MODEL
    assert [(c["name"], c["arguments"]) for c in asking["llm"]["tool_calls"]] == [
        ("lookup_order", {"order_id": "A-1001"})
    ]
    assert {k: tool["tool"][k] for k in ("name", "arguments", "result", "error")} == {
        "name": "lookup_order",
        "arguments": {"order_id": "A-1001"},
        "result": '{"order_id": "A-1001", "ok": true}',
        "error": None,
    }
    assert answering["llm"]["tool_calls"] == []
    assert answering["output"] == ORDER_ANSWER
    assert all(step["tool"] is None for step in order["steps"] if step["kind"] != "tool")
    assert all("attributes" not in step for step in order["steps"])


def test_json_output_keeps_malformed_arguments_empty_retrieval_and_tool_errors(
    jsonl_file: Path, recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_inspect(capsys, str(jsonl_file), "--format", "json")

    assert code == 0
    refund = json_traces(out)[recording.refund_trace_id]
    assert refund["session_id"] == "session-8"
    assert re.fullmatch(r"<USER:[0-9a-f]{8}>", refund["user_id"])
    assert (refund["goal"], refund["final_output"]) == (REFUND_QUESTION, REFUND_ANSWER)
    assert [(s["kind"], s["name"], s["status"]) for s in refund["steps"]] == [
        ("agent", "support-agent", "ok"),
        ("retriever", "kb.search", "unset"),
        ("llm", "ChatCompletion", "ok"),
        ("tool", "issue_refund", "error"),
        ("llm", "ChatCompletion", "ok"),
    ]
    _, retriever, asking, tool, _ = refund["steps"]
    assert retriever["retrieval"] == {"query": "refund policy", "documents": []}
    (asked,) = asking["llm"]["tool_calls"]
    assert asked["name"] == "issue_refund"
    assert asked["arguments"] == {}
    assert asked["arguments_malformed"] is True
    assert asked["raw_arguments"] == TRUNCATED_ARGUMENTS
    executed = tool["tool"]
    assert executed["name"] == "issue_refund"
    assert (executed["arguments"], executed["arguments_malformed"]) == ({}, True)
    assert executed["raw_arguments"] == TRUNCATED_ARGUMENTS
    assert executed["result"] == '{"error": "arguments are not valid JSON"}'
    assert executed["error"] == "json.decoder.JSONDecodeError: arguments are not valid JSON"
    assert tool["error"] == executed["error"]


def test_attributes_flag_adds_each_steps_raw_span_attributes(
    jsonl_file: Path, recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_inspect(capsys, str(jsonl_file), "--format", "json", "--attributes")

    assert code == 0
    order = json_traces(out)[recording.order_trace_id]
    by_name = {step["name"]: step for step in order["steps"]}
    assert by_name["lookup_order"]["attributes"]["tool.name"] == "lookup_order"
    assert by_name["lookup_order"]["attributes"]["openinference.span.kind"] == "TOOL"
    assert by_name["kb.search"]["attributes"]["retrieval.documents.0.document.id"] == "kb-shipping"
    assert by_name["ChatCompletion"]["attributes"]["llm.model_name"] == MODEL
    assert by_name["support-agent"]["attributes"]["session.id"] == "session-7"


# --- --format tree (the default) -------------------------------------------------------------------


def test_tree_output_shows_goal_answer_tool_calls_and_indents_children(
    protobuf_file: Path, recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_inspect(capsys, str(protobuf_file))

    assert (code, err) == (0, "")
    order_block, refund_block = out.split("\n\n")
    lines = order_block.splitlines()
    assert lines[0].startswith(f"trace {recording.order_trace_id}  project=inspect-tests")
    assert re.search(r"session=session-7  user=<USER:[0-9a-f]{8}>", lines[0])
    assert f"  goal:   {ORDER_QUESTION}" in lines
    assert f"  output: {ORDER_ANSWER}" in lines
    assert lines[3].startswith("  agent support-agent  ")
    # Children sit one level (three spaces) deeper than their parent; details deeper still.
    assert any(line.startswith("     retriever kb.search  ") for line in lines)
    assert any(line.startswith("     tool lookup_order  ") for line in lines)
    assert '          call   lookup_order({"order_id": "A-1001"})' in lines
    assert '          asks   lookup_order({"order_id": "A-1001"})' in lines
    assert "          doc    kb-shipping (0.82): Orders ship in 2 days." in lines
    assert f"          says   {ORDER_ANSWER}" in lines
    assert any(line.startswith("     llm ChatCompletion  ") and MODEL in line for line in lines)

    assert f"trace {recording.refund_trace_id}" in refund_block
    assert "     tool issue_refund [ERROR]  " in refund_block
    assert f"call   issue_refund(<malformed arguments: {TRUNCATED_ARGUMENTS!r}>)" in refund_block
    assert "error  json.decoder.JSONDecodeError: arguments are not valid JSON" in refund_block


# --- damaged and missing files ---------------------------------------------------------------------


def test_no_redact_shows_the_files_values_as_they_are(
    jsonl_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_inspect(capsys, str(jsonl_file), "--format", "json", "--no-redact")

    assert code == 0
    assert {json.loads(line)["user_id"] for line in out.splitlines()} == {"user-ada", "user-ben"}


def test_a_bad_line_is_reported_on_stderr_the_good_trace_printed_and_exit_code_is_1(
    recording: Recording, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "damaged.jsonl"
    good = encode_otlp_json(encode_spans(recording.of_trace(recording.order_trace_id)))
    path.write_text(f'{good}\n{{"resourceSpans": [{{"oops": \n')

    code, out, err = run_inspect(capsys, str(path), "--format", "json")

    assert code == 1
    (trace,) = json_traces(out).values()
    assert trace["trace_id"] == recording.order_trace_id
    assert len(trace["steps"]) == 5
    assert err.startswith(f"otel-flywheel inspect: skipped: {path}, line 2: not valid JSON")
    assert len(err.splitlines()) == 1


def test_a_missing_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"

    code, out, err = run_inspect(capsys, str(missing))

    assert (code, out) == (2, "")
    assert err == f"otel-flywheel inspect: no such file: {missing}\n"


# --- help and the installed command ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            ["--help"],
            ["usage: otel-flywheel", "inspect", "demo", "otel-flywheel COMMAND --help"],
            id="top-level",
        ),
        pytest.param(
            ["inspect", "--help"],
            [
                "usage: otel-flywheel inspect",
                "examples:",
                "otel-flywheel inspect traces.jsonl",
                "--format json | jq",
                "exit codes: 0",
            ],
            id="inspect",
        ),
    ],
)
def test_help_exits_0_and_shows_usage_and_examples(
    argv: Sequence[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_installed_console_script_runs_inspect(jsonl_file: Path) -> None:
    script = shutil.which("otel-flywheel", path=os.path.dirname(sys.executable))
    assert script is not None, "the otel-flywheel console script is not installed in this venv"

    result = subprocess.run(
        [script, "inspect", str(jsonl_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert f"  goal:   {ORDER_QUESTION}" in result.stdout
    assert f"  goal:   {REFUND_QUESTION}" in result.stdout
