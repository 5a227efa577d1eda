"""Whatever a client sends, the server answers without a 5xx and stays up."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from serve_harness import FEEDBACK_AUTH, RunningServer, start_in_process

from otel_flywheel.otlp import encode_otlp_json


def _valid_request() -> bytes:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("fuzz")
    with tracer.start_as_current_span("agent", attributes={"input.value": "hi", "n": 3}) as span:
        span.add_event("gen_ai.user.message", {"content": "hi"})
        with tracer.start_as_current_span("tool", attributes={"tool.name": "lookup"}):
            pass
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans()).SerializeToString()


VALID_PROTOBUF = _valid_request()
VALID_JSON = encode_otlp_json(ExportTraceServiceRequest.FromString(VALID_PROTOBUF)).encode()

# The types each path takes come up three times in four; the rest must get 415.
VALID_TYPES = {
    "/v1/traces": [
        "application/x-protobuf",
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/X-PROTOBUF",
        "application/protobuf",
    ],
    "/v1/feedback": ["application/json", "application/json; charset=utf-8"],
}
OTHER_TYPES = st.sampled_from(
    ["text/plain", "multipart/form-data; boundary=x", "application/xml", "", "json"]
)
# Keys an OTLP/JSON body uses, so random JSON reaches past the first checks.
OTLP_KEYS = [
    "resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "attributes",
    "key", "value", "stringValue", "arrayValue", "resource", "name", "resourceLogs", "events",
]  # fmt: skip
ENCODINGS = st.sampled_from(["", "", "", "identity", "gzip", "gzip", "deflate", "br", "GZIP"])
FEEDBACK_VALUES = (
    st.none() | st.booleans() | st.floats() | st.text(max_size=40)
    | st.sampled_from(["up", "down", "ab" * 16, "cd" * 8, "retry"])
)  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    valid = draw(st.sampled_from([VALID_PROTOBUF, VALID_JSON]))
    kind = draw(
        st.sampled_from(["random", "truncated", "mutated", "json", "feedback", "valid", "spliced"])
    )
    if kind == "random":
        return draw(st.binary(max_size=1024))
    if kind == "truncated":
        return valid[: draw(st.integers(0, len(valid)))]
    if kind == "mutated":
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 8))):
            index = draw(st.integers(0, len(data) - 1))
            data[index] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "json":
        value = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                lambda children: (
                    st.lists(children, max_size=4)
                    | st.dictionaries(
                        st.sampled_from(OTLP_KEYS),
                        children,
                        max_size=4,
                    )
                ),
                max_leaves=20,
            )
        )
        return json.dumps(value).encode()
    if kind == "feedback":
        keys = st.sampled_from(
            ["trace_id", "span_id", "thumbs", "correction", "chosen", "rejected", "signal",
             "weight", "feedback_id", "created_at_unix", "evidence", "annotator"]
        )  # fmt: skip
        value = draw(st.dictionaries(keys, FEEDBACK_VALUES, max_size=6))
        if draw(st.booleans()):
            value = {**value, "trace_id": "ab" * 16, "thumbs": "down"}
        return json.dumps(value).encode()
    if kind == "spliced":
        cut = draw(st.integers(0, len(valid)))
        return valid[:cut] + draw(st.binary(max_size=64)) + valid[cut:]
    return valid


def encode(body: bytes, encoding: str, how: str) -> bytes:
    if encoding.lower() == "gzip" and how == "right":
        return gzip.compress(body)
    if encoding == "deflate" and how == "right":
        return zlib.compress(body)
    if how == "truncated":
        compressed = gzip.compress(body)
        return compressed[: len(compressed) // 2]
    return body  # claimed but not applied: a bad stream


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Feedback for any trace is taken, so that fuzzed bodies reach validation.
    server = start_in_process(
        tmp_path_factory.mktemp("fuzz") / "spool.sqlite",
        max_body_bytes=256 * 1024,
        unknown_trace_feedback="accept",
    )
    yield server
    server.stop()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/traces", "/v1/feedback"]),
    valid_type=st.sampled_from([True, True, True, False]),
    other_type=OTHER_TYPES,
    data=st.data(),
    encoding=ENCODINGS,
    how=st.sampled_from(["right", "right", "raw", "truncated"]),
    body=bodies(),
)
def test_no_body_content_type_or_encoding_gets_a_5xx(
    fuzz_server, path, valid_type, other_type, data, encoding, how, body
):
    content_type = data.draw(st.sampled_from(VALID_TYPES[path])) if valid_type else other_type
    headers = {"Content-Type": content_type, **(FEEDBACK_AUTH if path == "/v1/feedback" else {})}
    if encoding:
        headers["Content-Encoding"] = encoding
    response = httpx.post(
        f"{fuzz_server.base_url}{path}", content=encode(body, encoding, how), headers=headers
    )

    event(f"{path} {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 202, 400, 413, 415)


def test_the_server_is_still_up_and_ready_after_the_fuzzing(fuzz_server):
    assert httpx.get(f"{fuzz_server.base_url}/healthz").status_code == 200
    assert httpx.get(f"{fuzz_server.base_url}/readyz").status_code == 200
    assert (
        fuzz_server.metric(
            "flywheel_server_requests_total", {"path": "/v1/traces", "status": "500"}
        )
        == 0
    )
