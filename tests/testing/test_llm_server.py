"""The scripted OpenAI-compatible server, driven by the real ``openai`` clients."""

from __future__ import annotations

import asyncio
import base64
import math
import signal
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from otel_flywheel.testing.llm_server import (
    Disconnect,
    Error,
    Garbage,
    RejectResponseFormat,
    Reply,
    ScriptedLLMServer,
    Slow,
    StructuredJSON,
    Text,
    ToolCallReply,
    ToolCalls,
)

USER_TURN: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the weather in Paris today?"}
]


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def client(llm: ScriptedLLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client:
        yield client


def test_text_reply_reaches_client_as_assistant_message(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Text("It is sunny and mild."))

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "It is sunny and mild."
    assert choice.message.tool_calls is None
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 5)
    assert completion.usage.total_tokens == 12


def test_tool_call_reply_reaches_client_as_parsed_tool_call(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(ToolCalls([ToolCallReply("get_weather", {"city": "Paris", "unit": "C"})]))

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.id == "call_1_0"
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city": "Paris", "unit": "C"}'


def test_raw_string_arguments_arrive_verbatim(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    truncated = '{"city": "Par'
    llm.enqueue(ToolCalls([ToolCallReply("get_weather", truncated, call_id="call_custom")]))

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    [call] = completion.choices[0].message.tool_calls or []
    assert call.id == "call_custom"
    assert call.type == "function"
    assert call.function.arguments == truncated


def test_length_finish_reason_is_scriptable(llm: ScriptedLLMServer, client: openai.OpenAI) -> None:
    llm.enqueue(Text("It is sunny and", finish_reason="length"))

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert completion.choices[0].finish_reason == "length"


def test_stream_sends_content_in_pieces_then_usage_chunk(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Text("It is sunny and mild."))

    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER_TURN,
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        chunks = list(stream)

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert len([piece for piece in pieces if piece]) == 5
    assert "".join(pieces) == "It is sunny and mild."
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 12
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_stream_without_include_usage_sends_no_usage_and_ends_with_done(
    llm: ScriptedLLMServer,
) -> None:
    llm.enqueue(Text("Sunny."))
    body = {"model": "gpt-4o-mini", "messages": USER_TURN, "stream": True}

    with httpx.Client() as http:
        response = http.post(f"{llm.base_url}/chat/completions", json=body)

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(event.startswith("data: {") for event in events[:-1])
    assert '"usage"' not in response.text


def test_streamed_tool_calls_reassemble_into_the_scripted_calls(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    calls = [
        ToolCallReply("get_weather", {"city": "Paris, France", "days": 3}),
        ToolCallReply("lookup_user", "not json at all"),
    ]
    llm.enqueue(ToolCalls(calls))

    with client.chat.completions.stream(model="gpt-4o-mini", messages=USER_TURN) as stream:
        completion = stream.get_final_completion()

    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert [(call.function.name, call.function.arguments) for call in message.tool_calls or []] == [
        ("get_weather", '{"city": "Paris, France", "days": 3}'),
        ("lookup_user", "not json at all"),
    ]


class Verdict(BaseModel):
    explanation: str
    label: str


def test_structured_json_reply_parses_against_response_format(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(StructuredJSON({"explanation": "Grounded in the tool output.", "label": "pass"}))

    completion = client.chat.completions.parse(
        model="gpt-4o-mini", messages=USER_TURN, response_format=Verdict
    )

    assert completion.choices[0].message.parsed == Verdict(
        explanation="Grounded in the tool output.", label="pass"
    )
    assert llm.requests[0]["response_format"]["type"] == "json_schema"


def test_reject_response_format_answers_400_naming_the_parameter(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(RejectResponseFormat())

    with pytest.raises(openai.BadRequestError, match="response_format") as caught:
        client.chat.completions.parse(
            model="gpt-4o-mini", messages=USER_TURN, response_format=Verdict
        )

    assert caught.value.param == "response_format"
    assert caught.value.type == "invalid_request_error"


def test_reject_response_format_against_plain_request_fails_loudly(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(RejectResponseFormat())

    with pytest.raises(openai.InternalServerError, match="no response_format"):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)


def test_rate_limit_surfaces_as_rate_limit_error_with_retry_after(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Error(429, "Rate limit reached for requests", retry_after_seconds=7))

    with pytest.raises(openai.RateLimitError, match="Rate limit reached") as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body == {
        "message": "Rate limit reached for requests",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


def test_server_error_surfaces_as_internal_server_error(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Error(500, "The server had an error"))

    with pytest.raises(openai.InternalServerError, match="The server had an error") as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert caught.value.type == "server_error"


def test_client_retries_honor_retry_after_then_succeed(llm: ScriptedLLMServer) -> None:
    llm.enqueue(Error(503, "Overloaded", retry_after_seconds=0.05), Text("Recovered."))

    with openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=1) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert completion.choices[0].message.content == "Recovered."
    assert len(llm.requests) == 2


def test_slow_reply_past_client_timeout_raises_timeout_and_closes_quickly() -> None:
    with ScriptedLLMServer() as llm:
        llm.enqueue(Slow(30, then=Text("Too late.")))
        with (
            openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
            pytest.raises(openai.APITimeoutError),
        ):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN, timeout=0.2)
        closing_started = time.monotonic()

    assert time.monotonic() - closing_started < 2


def test_slow_reply_within_client_timeout_arrives(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Slow(0.1, then=ToolCalls([ToolCallReply("get_weather", {"city": "Paris"})])))

    started = time.monotonic()
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert time.monotonic() - started >= 0.1
    assert completion.choices[0].finish_reason == "tool_calls"


def test_garbage_body_fails_client_parsing(llm: ScriptedLLMServer, client: openai.OpenAI) -> None:
    llm.enqueue(Garbage(b"<html>502 Bad Gateway</html>"))

    with pytest.raises(ValueError, match="Expecting value"):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)


def test_wrong_shaped_body_reaches_client_without_choices(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Garbage(b'{"unexpected": true}'))

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert completion.choices is None


def test_disconnect_surfaces_as_connection_error(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Disconnect(), Text("The next request is served normally."))

    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert completion.choices[0].message.content == "The next request is served normally."


def test_responder_sees_the_conversation_and_picks_the_reply() -> None:
    def agent_script(request: dict[str, Any]) -> Reply:
        if request["messages"][-1]["role"] == "tool":
            return Text(f"The tool said: {request['messages'][-1]['content']}")
        return ToolCalls([ToolCallReply("get_weather", {"city": "Paris"})])

    with (
        ScriptedLLMServer(responder=agent_script) as llm,
        openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
    ):
        first = client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)
        [call] = first.choices[0].message.tool_calls or []
        conversation: list[Any] = [
            *USER_TURN,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18C, sunny"},
        ]
        second = client.chat.completions.create(model="gpt-4o-mini", messages=conversation)

    assert second.choices[0].message.content == "The tool said: 18C, sunny"
    assert [len(request["messages"]) for request in llm.requests] == [1, 3]


def test_queued_replies_are_used_before_the_responder() -> None:
    with (
        ScriptedLLMServer(responder=lambda request: Text("from the responder")) as llm,
        openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
    ):
        llm.enqueue(Text("from the queue"))
        contents = [
            client.chat.completions.create(model="m", messages=USER_TURN).choices[0].message.content
            for _ in range(2)
        ]

    assert contents == ["from the queue", "from the responder"]


def test_responder_that_raises_answers_500_naming_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(request: dict[str, Any]) -> Reply:
        raise KeyError("tool_calls")

    with (
        ScriptedLLMServer(responder=broken) as llm,
        openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
        pytest.raises(openai.InternalServerError, match="responder raised KeyError"),
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert "responder raised" in caplog.text


def test_exhausted_script_answers_500_saying_the_script_ran_out(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Text("The only scripted reply."))
    client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    with pytest.raises(openai.InternalServerError, match="script ran out") as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)

    assert caught.value.code == "script_exhausted"
    assert llm.pending_replies == 0


def test_requests_are_recorded_in_order_as_snapshots(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    llm.enqueue(Text("one"), Text("two"))
    client.chat.completions.create(model="model-a", messages=USER_TURN, temperature=0)
    snapshot = llm.requests
    client.chat.completions.create(
        model="model-b", messages=[{"role": "user", "content": "And tomorrow?"}]
    )

    assert len(snapshot) == 1
    assert [request["model"] for request in llm.requests] == ["model-a", "model-b"]
    assert llm.requests[0]["messages"] == USER_TURN
    assert llm.requests[0]["temperature"] == 0
    assert llm.pending_replies == 0


def _unit_norm(vector: list[float]) -> float:
    return math.sqrt(sum(value * value for value in vector))


def test_embeddings_are_deterministic_unit_vectors(
    llm: ScriptedLLMServer, client: openai.OpenAI
) -> None:
    texts = ["refund policy", "shipping times", "refund policy"]

    default = client.embeddings.create(model="text-embedding-3-small", input=texts)
    small = client.embeddings.create(
        model="text-embedding-3-small", input="refund policy", dimensions=8, encoding_format="float"
    )

    vectors = [item.embedding for item in default.data]
    assert [item.index for item in default.data] == [0, 1, 2]
    assert all(len(vector) == 1536 for vector in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert _unit_norm(vectors[1]) == pytest.approx(1, abs=1e-5)
    assert len(small.data[0].embedding) == 8
    assert default.usage.prompt_tokens == 6
    assert [request["encoding_format"] for request in llm.embedding_requests] == [
        "base64",
        "float",
    ]
    assert llm.requests == []


def test_base64_embeddings_decode_to_float32_vectors(llm: ScriptedLLMServer) -> None:
    body = {"model": "m", "input": "refund policy", "dimensions": 4, "encoding_format": "base64"}

    with httpx.Client() as http:
        response = http.post(f"{llm.base_url}/embeddings", json=body)

    packed = base64.b64decode(response.json()["data"][0]["embedding"])
    assert _unit_norm(list(struct.unpack("<4f", packed))) == pytest.approx(1, abs=1e-5)


def test_models_lists_the_configured_model_ids() -> None:
    with (
        ScriptedLLMServer(model_ids=("judge-model",)) as llm,
        openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
    ):
        models = client.models.list()

    assert [model.id for model in models] == ["judge-model"]


def test_async_client_gets_replies_and_streams_concurrently(llm: ScriptedLLMServer) -> None:
    llm.enqueue(*(Text(f"reply {index}") for index in range(5)))

    async def scenario() -> tuple[list[str | None], str]:
        async with openai.AsyncOpenAI(
            base_url=llm.base_url, api_key="test", max_retries=0
        ) as client:
            completions = await asyncio.gather(
                *(
                    client.chat.completions.create(model="gpt-4o-mini", messages=USER_TURN)
                    for _ in range(4)
                )
            )
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=USER_TURN, stream=True
            )
            pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
        return [completion.choices[0].message.content for completion in completions], "".join(
            pieces
        )

    contents, streamed = asyncio.run(scenario())

    assert sorted(content or "" for content in contents) == [f"reply {i}" for i in range(4)]
    assert streamed == "reply 4"
    assert len(llm.requests) == 5


def test_malformed_request_and_unknown_path_answer_openai_shaped_errors(
    llm: ScriptedLLMServer,
) -> None:
    with httpx.Client() as http:
        malformed = http.post(f"{llm.base_url}/chat/completions", content=b"{not json")
        unknown = http.get(f"{llm.base_url}/assistants")

    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "invalid_request_error"
    assert unknown.status_code == 404
    assert set(unknown.json()["error"]) == {"message", "type", "param", "code"}
    assert llm.requests == []


def test_lifecycle_is_checked_leaves_signals_alone_and_close_is_idempotent() -> None:
    server = ScriptedLLMServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url

    sigint_handler = signal.getsignal(signal.SIGINT)
    server.start()
    assert server.base_url.startswith("http://127.0.0.1:")
    assert signal.getsignal(signal.SIGINT) is sigint_handler
    server.close()
    server.close()

    with pytest.raises(RuntimeError, match="once"):
        server.start()


def test_enqueue_rejects_what_is_not_a_reply(llm: ScriptedLLMServer) -> None:
    with pytest.raises(TypeError, match="not a scripted reply"):
        llm.enqueue("It is sunny.")  # type: ignore[arg-type]

    assert llm.pending_replies == 0
