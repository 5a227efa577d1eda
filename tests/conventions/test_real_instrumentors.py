"""The real `openai` client, instrumented by OpenInference and by OTel's openai-v2 instrumentor,
talking to a local OpenAI-compatible server: the normalizer reads both conventions the same way."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as GenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from otel_flywheel.model import AgentTrace, StepKind
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
QUESTION = "What's the weather in Paris, in celsius?"


@pytest.fixture
def llm(llm_server: ScriptedLLMServer) -> ScriptedLLMServer:
    return llm_server


@pytest.fixture
def client(llm: ScriptedLLMServer) -> Iterator[OpenAI]:
    with OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as openai_client:
        yield openai_client


@pytest.fixture
def openinference(tracer_provider: TracerProvider) -> Iterator[None]:
    instrumentor = OpenInferenceInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    yield
    instrumentor.uninstrument()


@pytest.fixture
def genai(tracer_provider: TracerProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Message content on spans needs the latest conventions and content capture, read at instrument().
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    instrumentor = GenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    yield
    instrumentor.uninstrument()


def run_weather_agent(client: OpenAI, tracer: OITracer, *, stream: bool = False) -> str:
    """Ask, execute the tool call the model requests, ask again with the result."""
    with tracer.start_as_current_span("weather-agent", openinference_span_kind="agent") as span:
        span.set_input(QUESTION)
        messages: list[Any] = [{"role": "user", "content": QUESTION}]
        first = _complete(client, messages, stream=stream)
        call = first["tool_calls"][0]
        messages.append({"role": "assistant", "tool_calls": first["tool_calls"]})
        with tracer.start_as_current_span("get_weather", openinference_span_kind="tool") as tool:
            tool.set_tool(name="get_weather", parameters=WEATHER_TOOL["function"]["parameters"])
            tool.set_input(call["function"]["arguments"], mime_type="application/json")
            result = json.dumps({"temp_c": 18, "sky": "cloudy"})
            tool.set_output(result, mime_type="application/json")
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        answer = _complete(client, messages, stream=stream)["content"]
        span.set_output(answer)
        return str(answer)


def _complete(client: OpenAI, messages: list[Any], *, stream: bool) -> dict[str, Any]:
    if not stream:
        response = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
        return response.choices[0].message.model_dump()
    content, calls = "", {}
    chunks = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    with chunks:
        for chunk in chunks:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            content += delta.content or ""
            for part in delta.tool_calls or []:
                entry = calls.setdefault(
                    part.index,
                    {"id": part.id, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                if part.function and part.function.name:
                    entry["function"]["name"] += part.function.name
                if part.function and part.function.arguments:
                    entry["function"]["arguments"] += part.function.arguments
    return {"content": content or None, "tool_calls": [calls[i] for i in sorted(calls)]}


def _script(llm: ScriptedLLMServer, arguments: dict[str, Any] | str) -> None:
    llm.enqueue(
        ToolCalls([ToolCallReply("get_weather", arguments, call_id="call_w1")]),
        Text("It's 18°C and cloudy in Paris."),
    )


def _assert_weather_trace(trace: AgentTrace, *, answer: str) -> None:
    kinds = [s.kind for s in trace.steps]
    assert kinds == [StepKind.AGENT, StepKind.LLM, StepKind.TOOL, StepKind.LLM]
    _, first_llm, tool_step, second_llm = trace.steps
    assert first_llm.llm is not None
    assert first_llm.llm.model is not None
    assert first_llm.llm.model.startswith("gpt-4o-mini")
    assert [(c.name, c.arguments, c.call_id) for c in first_llm.llm.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "c"}, "call_w1")
    ]
    assert [m.role for m in first_llm.llm.messages] == ["user"]
    assert first_llm.llm.messages[0].content == QUESTION
    assert first_llm.llm.usage.input_tokens is not None
    assert tool_step.tool is not None
    assert tool_step.tool.arguments == {"city": "Paris", "unit": "c"}
    assert json.loads(tool_step.tool.result or "") == {"temp_c": 18, "sky": "cloudy"}
    assert second_llm.llm is not None
    assert [m.role for m in second_llm.llm.messages] == ["user", "assistant", "tool"]
    assert second_llm.llm.messages[2].tool_call_id == "call_w1"
    assert second_llm.output == "It's 18°C and cloudy in Paris."
    assert trace.goal == QUESTION
    assert trace.final_output == answer == "It's 18°C and cloudy in Paris."


@pytest.mark.parametrize("instrumentor", ["openinference", "genai"])
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_real_instrumentor_traces_normalize_the_same(
    request: pytest.FixtureRequest,
    llm: ScriptedLLMServer,
    client: OpenAI,
    tracer_provider: TracerProvider,
    finished_traces: Callable[[], list[AgentTrace]],
    instrumentor: str,
    stream: bool,
) -> None:
    request.getfixturevalue(instrumentor)
    _script(llm, {"city": "Paris", "unit": "c"})
    tracer = OITracer(tracer_provider.get_tracer("agent"), config=TraceConfig())

    answer = run_weather_agent(client, tracer, stream=stream)

    [trace] = finished_traces()
    _assert_weather_trace(trace, answer=answer)
    llm_step = trace.steps[1]
    assert llm_step.llm is not None
    if instrumentor == "openinference":
        # OpenInference records the tools offered; openai-v2 2.4b0 does not.
        assert [t.name for t in llm_step.llm.tools] == ["get_weather"]
        assert llm_step.llm.tools[0].parameters == WEATHER_TOOL["function"]["parameters"]
    else:
        assert "gen_ai.operation.name" in llm_step.attributes


@pytest.mark.usefixtures("openinference")
def test_non_json_tool_arguments_from_the_model_are_kept_and_flagged(
    llm: ScriptedLLMServer,
    client: OpenAI,
    tracer_provider: TracerProvider,
    finished_traces: Callable[[], list[AgentTrace]],
) -> None:
    llm.enqueue(ToolCalls([ToolCallReply("get_weather", "city=Paris", call_id="c1")]))

    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}], tools=[WEATHER_TOOL]
    )

    [trace] = finished_traces()
    assert trace.steps[0].llm is not None
    [call] = trace.steps[0].llm.tool_calls
    assert (call.name, call.arguments_malformed, call.raw_arguments) == (
        "get_weather",
        True,
        "city=Paris",
    )
