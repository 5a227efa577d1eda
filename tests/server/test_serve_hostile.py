"""Hostile input: gzip bodies built to burn CPU are refused at once, and no error answer quotes
what the request carried (a Collector logs the bodies of permanent errors)."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from serve_harness import RunningServer

from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.server import MAX_GZIP_MEMBERS
from otel_flywheel.server._body import ClientError, decompress

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
EMPTY_MEMBER = gzip.compress(b"")
# PII-looking values a sender might put where they do not belong.
EMAIL = "jane.roe@example.com"
PHONE = "+14155550132"
CARD = "4111111111111111"
SECRET = "sk-live-0123456789abcdefABCDEF"


def one_trace(recorded_provider) -> list:
    provider, recorded = recorded_provider
    recorded.clear()
    with provider.get_tracer("t").start_as_current_span("root", attributes={"n": 1}):
        pass
    return list(recorded.get_finished_spans())


def json_body(recorded_provider) -> dict:
    return json.loads(encode_otlp_json(encode_spans(one_trace(recorded_provider))))


def assert_echoes_nothing(response: httpx.Response, *values: str) -> None:
    text = response.content.decode("utf-8", "replace")
    for value in values:
        assert value not in text, f"the {response.status_code} answer quotes {value!r}"


# --- gzip built to burn CPU ---------------------------------------------------------------------


@pytest.mark.parametrize("size_bytes", [100 * 1024, 1024 * 1024, 8 * 1024 * 1024])
def test_a_body_of_many_empty_gzip_members_is_refused_with_400(serve, size_bytes):
    server: RunningServer = serve(max_body_bytes=16 * 1024 * 1024)
    body = EMPTY_MEMBER * (size_bytes // len(EMPTY_MEMBER))

    response = httpx.post(
        server.traces_url,
        content=body,
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
        timeout=60,
    )

    assert response.status_code == 400
    assert f"more than {MAX_GZIP_MEMBERS} members" in Status.FromString(response.content).message
    assert server.spool.depth_spans == 0


def test_valid_requests_are_answered_while_cpu_bomb_bodies_arrive(serve, recorded_provider):
    server: RunningServer = serve(max_body_bytes=16 * 1024 * 1024)
    bomb = EMPTY_MEMBER * (8 * 1024 * 1024 // len(EMPTY_MEMBER))
    answers: list[int] = []

    def attack() -> None:
        for _ in range(3):
            answers.append(
                httpx.post(
                    server.traces_url,
                    content=bomb,
                    headers={**PROTOBUF, "Content-Encoding": "gzip"},
                    timeout=120,
                ).status_code
            )

    attackers = [threading.Thread(target=attack) for _ in range(2)]
    for attacker in attackers:
        attacker.start()
    for _ in range(5):
        valid = gzip.compress(encode_spans(one_trace(recorded_provider)).SerializeToString())
        response = httpx.post(
            server.traces_url,
            content=valid,
            headers={**PROTOBUF, "Content-Encoding": "gzip"},
            timeout=120,
        )
        assert response.status_code == 200
    for attacker in attackers:
        attacker.join(120)

    assert answers == [400] * 6
    assert len(server.pipeline.wait_for(5, timeout_seconds=30)) == 5


def test_up_to_the_member_limit_a_multi_member_body_is_decoded_whole(serve, recorded_provider):
    server: RunningServer = serve()
    data = encode_spans(one_trace(recorded_provider)).SerializeToString()
    # Protobuf messages concatenate: each slice in its own member, the same request in the end.
    cut = len(data) // 2
    members = gzip.compress(data[:cut]) + gzip.compress(data[cut:])
    members += EMPTY_MEMBER * (MAX_GZIP_MEMBERS - 2)

    response = httpx.post(
        server.traces_url, content=members, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert response.status_code == 200
    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert trace.steps[0].name == "root"


def test_decoding_hands_zlib_no_more_than_a_small_multiple_of_the_body(monkeypatch) -> None:
    """The quadratic case, counted rather than timed: each member used to be handed the whole
    rest of the body (and zlib copies what is left after a member's end)."""
    body = EMPTY_MEMBER * 20_000  # 400 kB
    fed: list[int] = []
    real_decompressobj = zlib.decompressobj

    class CountingInflater:
        def __init__(self, wbits: int) -> None:
            self._inner = real_decompressobj(wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            fed.append(len(data))
            return self._inner.decompress(data, max_length)

        @property
        def eof(self) -> bool:
            return self._inner.eof

        @property
        def unused_data(self) -> bytes:
            return self._inner.unused_data

    monkeypatch.setattr(zlib, "decompressobj", CountingInflater)

    assert decompress(body, "gzip", limit=1024, max_members=10**6) == b""
    assert len(fed) == 20_000
    assert sum(fed) <= 16 * len(body)  # linear; the old decoder handed zlib 10 000 x the body


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        (EMPTY_MEMBER * (MAX_GZIP_MEMBERS + 1), "gzip", 400),
        (gzip.compress(b"\0" * 10_000_000) * 3, "gzip", 413),
        (zlib.compress(b"x") + b"trailing", "deflate", 400),
        (gzip.compress(b"x")[:-3], "gzip", 400),
    ],
)
def test_the_decoder_refuses_bad_shapes_with_the_right_status(body, encoding, status) -> None:
    started = time.perf_counter()
    with pytest.raises(ClientError) as refused:
        decompress(body, encoding, limit=1_000_000)
    assert refused.value.status == status
    assert time.perf_counter() - started < 5  # a generous bound: it is microseconds


# --- error bodies never echo request content ----------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "named"),
    [
        ("intValue", EMAIL, "value.intValue: not a valid integer"),
        ("doubleValue", PHONE + "x", "value.doubleValue: not a valid number"),
        ("boolValue", CARD, "value.boolValue: not true or false"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_named_by_field_not_quoted(
    serve, recorded_provider, where, value, named
):
    server: RunningServer = serve()
    body = json_body(recorded_provider)
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [{"key": "customer", "value": {where: value}}]

    response = httpx.post(server.traces_url, content=json.dumps(body).encode(), headers=JSON)

    assert response.status_code == 400
    assert named in response.json()["message"]
    assert_echoes_nothing(response, value)


@pytest.mark.parametrize("bad_id", [EMAIL, PHONE, CARD, SECRET])
def test_a_bad_trace_id_is_named_by_field_not_quoted(serve, recorded_provider, bad_id):
    server: RunningServer = serve()
    body = json_body(recorded_provider)
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "traceId": bad_id})

    response = httpx.post(server.traces_url, content=json.dumps(body).encode(), headers=JSON)

    assert response.status_code == 200  # the good span is kept: partial success
    message = response.json()["partialSuccess"]["errorMessage"]
    assert "spans[1].traceId: not 32 hex characters" in message
    assert_echoes_nothing(response, bad_id)


def test_a_whole_request_of_bad_ids_is_refused_without_quoting_them(serve, recorded_provider):
    server: RunningServer = serve()
    body = json_body(recorded_provider)
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = EMAIL

    response = httpx.post(server.traces_url, content=json.dumps(body).encode(), headers=JSON)

    assert response.status_code == 400
    assert "spanId: not 16 hex characters" in response.json()["message"]
    assert_echoes_nothing(response, EMAIL)


def test_a_protobuf_with_a_short_id_is_answered_in_protobuf_without_content(
    serve, recorded_provider
):
    server: RunningServer = serve()
    request = encode_spans(one_trace(recorded_provider))
    bad = request.resource_spans[0].scope_spans[0].spans.add()
    bad.CopyFrom(request.resource_spans[0].scope_spans[0].spans[0])
    bad.span_id = EMAIL.encode()[:5]
    bad.name = EMAIL

    response = httpx.post(server.traces_url, content=request.SerializeToString(), headers=PROTOBUF)

    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "spanId: 5 bytes, expected 8" in answer.partial_success.error_message
    assert_echoes_nothing(response, EMAIL, EMAIL[:5])


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": f"application/{EMAIL}"},
        {"Content-Type": f"text/plain; name={EMAIL}"},
        {**JSON, "Content-Encoding": EMAIL},
        {**PROTOBUF, "Content-Encoding": f"br, {SECRET}"},
    ],
)
def test_header_values_are_never_quoted_back(serve, headers):
    server: RunningServer = serve()

    for path in ("/v1/traces", "/v1/feedback"):
        response = httpx.post(
            f"{server.base_url}{path}",
            content=b"{}",
            headers={**headers, "Authorization": f"Bearer {SECRET}"},
        )
        assert response.status_code in (401, 415)
        assert_echoes_nothing(response, EMAIL, SECRET)


def test_json_that_does_not_parse_is_located_not_quoted(serve):
    server: RunningServer = serve()
    body = b'{"resourceSpans": [{"note": "' + EMAIL.encode() + b'" ' + CARD.encode() + b"}]}"

    response = httpx.post(server.traces_url, content=body, headers=JSON)

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert_echoes_nothing(response, EMAIL, CARD)
