"""OTLP trace decoding: OTLP/JSON (hex ids) and protobuf, and the files the Collector writes.

Requests come from a real ``TracerProvider`` encoded by ``encode_spans``, the encoder the OTLP exporter
itself uses, so what we decode is what agents actually send.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

from otel_flywheel.conventions import SpanEvent, SpanView, span_views_from_request
from otel_flywheel.errors import ConfigError, OTLPDecodeError
from otel_flywheel.otlp import (
    decode_otlp_json,
    decode_otlp_json_value,
    decode_otlp_protobuf,
    encode_otlp_json,
    read_otlp_file,
)

# -- real requests --------------------------------------------------------------------------------


class CountingIdGenerator(IdGenerator):
    """Deterministic ids: every id is the next integer, trace ids in their own high range."""

    def __init__(self) -> None:
        self._last = 0

    def generate_span_id(self) -> int:
        self._last += 1
        return self._last

    def generate_trace_id(self) -> int:
        self._last += 1
        return (0xABC << 64) | self._last


def export_request(record: Callable[[Tracer], None]) -> ExportTraceServiceRequest:
    """What the OTLP exporter would send for the spans ``record`` makes."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "agent", "deployment.environment": "test"}),
        id_generator=CountingIdGenerator(),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        record(provider.get_tracer("tests.otlp", "1.0"))
    finally:
        provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def agent_run(tracer: Tracer) -> None:
    with tracer.start_as_current_span("agent", kind=SpanKind.SERVER) as root:
        root.set_attribute("input.value", "What's the weather in Paris?")
        with tracer.start_as_current_span("llm", kind=SpanKind.CLIENT) as llm:
            llm.set_attributes(
                {
                    "llm.token_count.total": 42,
                    "llm.invocation_parameters.temperature": 0.2,
                    "llm.stream": False,
                    "tags": ["weather", "paris"],
                    "scores": [0.5, 1.5],
                }
            )
            llm.add_event("first_token", {"latency_ms": 120})
        with tracer.start_as_current_span(
            "tool", links=[Link(root.get_span_context(), {"reason": "retry"})]
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "weather API timed out"))
            tool.record_exception(TimeoutError("weather API timed out"))


@pytest.fixture
def request_() -> ExportTraceServiceRequest:
    return export_request(agent_run)


def framed(*messages: bytes) -> bytes:
    """The Collector file exporter's `format: proto` framing: 4-byte big-endian length, message."""
    return b"".join(len(message).to_bytes(4, "big") + message for message in messages)


def two_requests() -> list[ExportTraceServiceRequest]:
    first = export_request(agent_run)
    second = export_request(lambda tracer: tracer.start_span("lonely").end())
    return [first, second]


# -- OTLP/JSON ------------------------------------------------------------------------------------


def test_json_round_trip_reproduces_the_exported_request(
    request_: ExportTraceServiceRequest,
) -> None:
    assert decode_otlp_json(encode_otlp_json(request_)) == request_
    assert decode_otlp_json(encode_otlp_json(request_).encode()) == request_


def test_encoded_json_is_one_line_with_hex_ids_integer_enums_and_string_int64(
    request_: ExportTraceServiceRequest,
) -> None:
    line = encode_otlp_json(request_)
    assert "\n" not in line
    assert ", " not in line  # compact, as the Collector writes it
    spans = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    llm = next(span for span in spans if span["name"] == "llm")
    assert llm["traceId"] == request_.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert re.fullmatch(r"[0-9a-f]{32}", llm["traceId"])
    assert re.fullmatch(r"[0-9a-f]{16}", llm["spanId"])
    assert re.fullmatch(r"[0-9a-f]{16}", llm["parentSpanId"])
    assert llm["kind"] == 3  # SPAN_KIND_CLIENT, as an integer as the spec requires
    assert isinstance(llm["startTimeUnixNano"], str)
    tool = next(span for span in spans if span["name"] == "tool")
    assert re.fullmatch(r"[0-9a-f]{16}", tool["links"][0]["spanId"])
    assert tool["status"] == {"code": 2, "message": "weather API timed out"}


# One span as the Collector's file exporter writes it: hex ids, enum and status codes as integers,
# 64-bit integers as strings, nested array and kvlist values, an event with attributes.
COLLECTOR_LINE = (
    '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":'
    '"agent"}}]},"scopeSpans":[{"scope":{"name":"openinference.instrumentation.openai","version":'
    '"0.1.30"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
    '"parentSpanId":"eee19b7ec3c1b173","flags":257,"name":"ChatCompletion","kind":3,'
    '"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",'
    '"attributes":[{"key":"llm.token_count.total","value":{"intValue":"42"}},{"key":'
    '"llm.model_name","value":{"stringValue":"gpt-4o"}},{"key":"temperature","value":'
    '{"doubleValue":0.2}},{"key":"stream","value":{"boolValue":false}},{"key":"tags","value":'
    '{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"7"}]}}},{"key":"metadata","value":'
    '{"kvlistValue":{"values":[{"key":"user","value":{"stringValue":"u1"}},{"key":"ids","value":'
    '{"arrayValue":{"values":[{"intValue":"1"},{"intValue":"2"}]}}}]}}}],"events":[{"timeUnixNano":'
    '"1544712660500000000","name":"exception","attributes":[{"key":"exception.type","value":'
    '{"stringValue":"RateLimitError"}}]}],"status":{"code":2,"message":"rate limited"}}]}],'
    '"schemaUrl":"https://opentelemetry.io/schemas/1.4.0"}]}'
)


def test_collector_style_line_decodes_to_the_expected_span_view() -> None:
    request = decode_otlp_json(COLLECTOR_LINE)

    assert list(span_views_from_request(request)) == [
        SpanView(
            trace_id="5b8efff798038103d269b633813fc60c",
            span_id="eee19b7ec3c1b174",
            parent_id="eee19b7ec3c1b173",
            name="ChatCompletion",
            start_time_unix_nano=1544712660000000000,
            end_time_unix_nano=1544712661000000000,
            status_code="error",
            status_message="rate limited",
            attributes={
                "llm.token_count.total": 42,
                "llm.model_name": "gpt-4o",
                "temperature": 0.2,
                "stream": False,
                "tags": ("a", 7),
                "metadata": {"user": "u1", "ids": (1, 2)},
            },
            events=(
                SpanEvent(
                    name="exception",
                    time_unix_nano=1544712660500000000,
                    attributes={"exception.type": "RateLimitError"},
                ),
            ),
            resource={"service.name": "agent"},
            scope_name="openinference.instrumentation.openai",
        )
    ]
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.kind == 3
    assert span.flags == 257
    # Same content as the Collector's line; key order may differ (protobuf writes field-number order).
    assert json.loads(encode_otlp_json(request)) == json.loads(COLLECTOR_LINE)


def test_snake_case_keys_enum_names_numeric_int64_and_uppercase_hex_are_accepted() -> None:
    line = json.dumps(
        {
            "resource_spans": [
                {
                    "scope_spans": [
                        {
                            "spans": [
                                {
                                    "trace_id": "5B8EFFF798038103D269B633813FC60C",
                                    "span_id": "EEE19B7EC3C1B174",
                                    "parent_span_id": "",
                                    "name": "root",
                                    "kind": "SPAN_KIND_SERVER",
                                    "start_time_unix_nano": 1544712660000000000,
                                    "links": [
                                        {
                                            "trace_id": "5b8efff798038103d269b633813fc60d",
                                            "span_id": "eee19b7ec3c1b175",
                                        }
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )

    span = decode_otlp_json(line).resource_spans[0].scope_spans[0].spans[0]

    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.parent_span_id == b""
    assert span.kind == 2
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.links[0].span_id.hex() == "eee19b7ec3c1b175"


def test_unknown_fields_are_ignored_at_every_level() -> None:
    value = json.loads(COLLECTOR_LINE)
    value["futureTopLevel"] = {"x": 1}
    value["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["futureField"] = [1, 2]

    assert decode_otlp_json(json.dumps(value)) == decode_otlp_json(COLLECTOR_LINE)


def test_decoding_a_parsed_value_leaves_it_unchanged() -> None:
    value = json.loads(COLLECTOR_LINE)
    before = json.loads(COLLECTOR_LINE)

    decode_otlp_json_value(value)

    assert value == before


def test_a_root_span_may_omit_its_parent_or_leave_it_empty_or_null() -> None:
    for parent in ({}, {"parentSpanId": ""}, {"parentSpanId": None}):
        span = {"traceId": "01" * 16, "spanId": "02" * 8, "name": "root", **parent}
        request = decode_otlp_json_value({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
        assert next(span_views_from_request(request)).parent_id is None


def test_an_empty_object_is_an_empty_request() -> None:
    assert decode_otlp_json("{}") == ExportTraceServiceRequest()


def spans_json(*spans: dict[str, Any]) -> str:
    """A request whose second scope holds ``spans``, so locations have non-zero indices."""
    scopes = [{"spans": []}, {"spans": list(spans)}]
    return json.dumps({"resourceSpans": [{"scopeSpans": scopes}]})


GOOD = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "s"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            spans_json(GOOD, GOOD, GOOD, {**GOOD, "spanId": "xyz"}),
            "resourceSpans[0].scopeSpans[1].spans[3].spanId: 'xyz' is not 16 hex characters",
            id="bad-hex-span-id",
        ),
        pytest.param(
            spans_json({**GOOD, "traceId": "ab" * 8}),
            f"resourceSpans[0].scopeSpans[1].spans[0].traceId: '{'ab' * 8}' is not 32 hex",
            id="short-trace-id",
        ),
        pytest.param(
            spans_json({**GOOD, "spanId": "zz" * 8}),
            "spans[0].spanId: 'zzzzzzzzzzzzzzzz' is not 16 hex characters",
            id="non-hex-of-right-length",
        ),
        pytest.param(
            spans_json({**GOOD, "traceId": "q+/xOT+XmAOlPyZvPBPGDA=="}),
            "is not 32 hex characters (OTLP/JSON ids are hex, not base64)",
            id="base64-trace-id",
        ),
        pytest.param(
            spans_json({**GOOD, "parentSpanId": "abc"}),
            "spans[0].parentSpanId: 'abc' is not 16 hex characters",
            id="bad-parent",
        ),
        pytest.param(
            spans_json({"traceId": "ab" * 16, "name": "s"}),
            "spans[0].spanId: missing; OTLP requires a 8-byte id here",
            id="missing-span-id",
        ),
        pytest.param(
            spans_json({**GOOD, "traceId": ""}),
            "spans[0].traceId: missing; OTLP requires a 16-byte id here",
            id="empty-trace-id",
        ),
        pytest.param(
            spans_json({**GOOD, "traceId": 12}),
            "spans[0].traceId: expected a hex string, got a number",
            id="numeric-trace-id",
        ),
        pytest.param(
            spans_json({**GOOD, "links": [{"traceId": "ab" * 16, "spanId": "nothex!!"}]}),
            "resourceSpans[0].scopeSpans[1].spans[0].links[0].spanId: 'nothex!!' is not 16 hex",
            id="bad-link-id",
        ),
        pytest.param(
            '{"resourceSpans": {"scopeSpans": []}}',
            "resourceSpans: expected an array, got an object",
            id="resource-spans-not-array",
        ),
        pytest.param(
            '{"resourceSpans": [{"scopeSpans": [{"spans": ["span"]}]}]}',
            "resourceSpans[0].scopeSpans[0].spans[0]: expected an object, got a string",
            id="span-not-object",
        ),
        pytest.param(
            spans_json({**GOOD, "startTimeUnixNano": "yesterday"}),
            "resourceSpans.scopeSpans.spans.startTimeUnixNano: invalid literal for int()",
            id="bad-timestamp",
        ),
        pytest.param(
            spans_json({**GOOD, "startTimeUnixNano": 1.5}),
            "resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano: Couldn't parse integer: 1.5",
            id="fractional-timestamp",
        ),
        pytest.param(
            '{"resourceSpans": [], ',
            "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 23",
            id="malformed-json",
        ),
        pytest.param(
            "[]",
            "expected a JSON object (an ExportTraceServiceRequest) at the top level, got an array",
            id="top-level-array",
        ),
        pytest.param("null", "at the top level, got null", id="top-level-null"),
        pytest.param(
            b'{"resourceSpans": [\xff]}',
            "not valid UTF-8: invalid start byte at byte 19",
            id="invalid-utf8",
        ),
        pytest.param(
            '{"resourceLogs": []}',
            "this is an OTLP logs export ('resourceLogs'), not traces",
            id="logs-export",
        ),
        pytest.param("[" * 100_000, "nested too deeply", id="deep-nesting"),
    ],
)
def test_invalid_json_raises_a_located_decode_error(data: str | bytes, message: str) -> None:
    with pytest.raises(OTLPDecodeError, match=re.escape(message)):
        decode_otlp_json(data)


# -- protobuf -------------------------------------------------------------------------------------


def test_protobuf_round_trip_reproduces_the_exported_request(
    request_: ExportTraceServiceRequest,
) -> None:
    assert decode_otlp_protobuf(request_.SerializeToString()) == request_


def test_truncated_protobuf_raises_a_decode_error(request_: ExportTraceServiceRequest) -> None:
    with pytest.raises(OTLPDecodeError, match="not a valid ExportTraceServiceRequest protobuf"):
        decode_otlp_protobuf(request_.SerializeToString()[:-3])


def test_protobuf_that_parses_but_has_a_wrong_size_id_is_rejected(
    request_: ExportTraceServiceRequest,
) -> None:
    request_.resource_spans[0].scope_spans[0].spans[1].span_id = b"\x01\x02\x03"

    with pytest.raises(
        OTLPDecodeError,
        match=re.escape("resourceSpans[0].scopeSpans[0].spans[1].spanId: 3 bytes, expected 8"),
    ):
        decode_otlp_protobuf(request_.SerializeToString())


# -- files ----------------------------------------------------------------------------------------


def test_json_lines_file_yields_each_request_and_skips_blank_lines(tmp_path: Path) -> None:
    requests = two_requests()
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join(encode_otlp_json(r) for r in requests).replace("\n", "\n\n") + "\n")

    assert list(read_otlp_file(path)) == requests


def test_a_bad_json_line_raises_naming_the_file_and_line(tmp_path: Path) -> None:
    good = encode_otlp_json(export_request(agent_run))
    path = tmp_path / "traces.jsonl"
    path.write_text(f"{good}\n\n{good[: len(good) // 2]}\n{good}\n")

    with pytest.raises(OTLPDecodeError, match=rf"^{re.escape(str(path))}, line 3: not valid JSON"):
        list(read_otlp_file(path))


def test_on_error_callable_collects_bad_lines_and_keeps_reading(tmp_path: Path) -> None:
    good = encode_otlp_json(export_request(agent_run))
    bad_id = good.replace('"spanId":"', '"spanId":"zz', 1)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(f"{good}\n{bad_id}\n".encode() + b'{"x": "\xff"}\n' + f"{good}\n".encode())
    errors: list[OTLPDecodeError] = []

    requests = list(read_otlp_file(path, on_error=errors.append))

    assert len(requests) == 2
    assert [str(error).split(":")[0] for error in errors] == [f"{path}, line 2", f"{path}, line 3"]
    assert "is not 16 hex characters" in str(errors[0])
    assert "not valid UTF-8" in str(errors[1])


def test_on_error_skip_drops_bad_records_silently(tmp_path: Path) -> None:
    good = encode_otlp_json(export_request(agent_run))
    path = tmp_path / "traces.jsonl"
    path.write_text(f"not json}}\n{good}\n")

    assert len(list(read_otlp_file(path, on_error="skip"))) == 1


def test_an_unknown_on_error_is_a_config_error_raised_at_call_time(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="on_error='ignore'"):
        read_otlp_file(tmp_path / "absent", on_error="ignore")  # type: ignore[arg-type]


def test_length_prefixed_protobuf_file_as_the_collector_writes_it(tmp_path: Path) -> None:
    requests = two_requests()
    path = tmp_path / "traces.binpb"
    path.write_bytes(framed(*(r.SerializeToString() for r in requests)))

    assert list(read_otlp_file(path)) == requests


def test_bare_protobuf_file_is_one_request(
    tmp_path: Path, request_: ExportTraceServiceRequest
) -> None:
    path = tmp_path / "request.pb"
    path.write_bytes(request_.SerializeToString())

    assert list(read_otlp_file(path)) == [request_]


@pytest.mark.parametrize("shape", ["json-lines", "length-prefixed"])
def test_gzip_files_are_read_by_magic_bytes_whatever_their_name(tmp_path: Path, shape: str) -> None:
    requests = two_requests()
    if shape == "json-lines":
        data = "\n".join(encode_otlp_json(r) for r in requests).encode()
    else:
        data = framed(*(r.SerializeToString() for r in requests))
    path = tmp_path / "traces.out"  # no .gz: detection is by content
    path.write_bytes(gzip.compress(data))

    assert list(read_otlp_file(path)) == requests


def test_corrupt_gzip_raises_a_decode_error_after_the_good_part(tmp_path: Path) -> None:
    line = encode_otlp_json(export_request(agent_run))
    path = tmp_path / "traces.jsonl.gz"
    path.write_bytes(gzip.compress(f"{line}\n".encode() * 50)[:-40])
    read = read_otlp_file(path)

    assert next(read).resource_spans
    with pytest.raises(OTLPDecodeError, match="corrupt gzip data"):
        list(read)


def test_zstd_file_error_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "traces.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 16)

    with pytest.raises(OTLPDecodeError, match=re.escape("decompress it first with `zstd -d FILE`")):
        list(read_otlp_file(path))


def test_legacy_per_frame_zstd_error_names_the_feature_gate(tmp_path: Path) -> None:
    path = tmp_path / "traces.bin"
    path.write_bytes(framed(b"\x28\xb5\x2f\xfd" + b"\x00" * 16))

    with pytest.raises(OTLPDecodeError, match=r"exporter\.file\.nativeCompression"):
        list(read_otlp_file(path))


def test_truncated_frame_raises_after_yielding_the_complete_ones(tmp_path: Path) -> None:
    first, second = (r.SerializeToString() for r in two_requests())
    path = tmp_path / "traces.binpb"
    path.write_bytes(framed(first, second)[:-5])
    read = read_otlp_file(path)

    assert next(read) == decode_otlp_protobuf(first)
    with pytest.raises(
        OTLPDecodeError,
        match=rf", frame 1 at byte {4 + len(first)}: the length prefix says {len(second)} bytes",
    ):
        next(read)


def test_a_bad_frame_goes_to_on_error_and_reading_continues(tmp_path: Path) -> None:
    first, second = (r.SerializeToString() for r in two_requests())
    path = tmp_path / "traces.binpb"
    path.write_bytes(framed(first, b"\x0a\xff\xff", second))
    errors: list[OTLPDecodeError] = []

    assert len(list(read_otlp_file(path, on_error=errors.append))) == 2
    assert ", frame 1 at byte" in str(errors[0])


def test_framed_json_payloads_are_decoded_as_json(tmp_path: Path) -> None:
    requests = two_requests()
    path = tmp_path / "traces.bin"
    path.write_bytes(framed(*(encode_otlp_json(r).encode() for r in requests)))

    assert list(read_otlp_file(path)) == requests


def test_pretty_printed_json_documents_are_read_whole(tmp_path: Path) -> None:
    requests = two_requests()
    path = tmp_path / "example.json"
    documents = (json.dumps(json.loads(encode_otlp_json(r)), indent=2) for r in requests)
    path.write_text("\ufeff" + "\n".join(documents) + "\n")

    assert list(read_otlp_file(path)) == requests


def test_empty_and_blank_files_hold_no_requests(tmp_path: Path) -> None:
    empty, blank = tmp_path / "empty.jsonl", tmp_path / "blank.jsonl"
    empty.write_bytes(b"")
    blank.write_text("\n  \n")

    assert list(read_otlp_file(empty)) == []
    assert list(read_otlp_file(blank)) == []


def test_a_text_file_is_read_as_json_and_fails_as_json(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, these are not traces\n")

    with pytest.raises(OTLPDecodeError, match="not valid JSON: Expecting value: line 1 column 1"):
        list(read_otlp_file(path))


def test_a_binary_file_that_is_no_otlp_format_says_so(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))

    with pytest.raises(OTLPDecodeError, match="none of OTLP/JSON, length-prefixed OTLP protobuf"):
        list(read_otlp_file(path))


# -- properties -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
# SDK attribute lists must be homogeneous, so each list draws from one scalar strategy.
homogeneous_lists = st.one_of(
    st.lists(st.text(max_size=10), max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4),
    st.lists(st.booleans(), max_size=4),
)
attribute_dicts = st.dictionaries(
    st.text(min_size=1, max_size=15), st.one_of(scalars, homogeneous_lists), max_size=8
)


@settings(max_examples=60, deadline=None)
@given(attributes=attribute_dicts)
def test_any_attribute_dict_survives_json_encode_and_decode(attributes: dict[str, Any]) -> None:
    request = export_request(lambda tracer: tracer.start_span("s", attributes=attributes).end())

    decoded = decode_otlp_json(encode_otlp_json(request))

    assert decoded == request
    expected = {k: tuple(v) if isinstance(v, list) else v for k, v in attributes.items()}
    assert next(span_views_from_request(decoded)).attributes == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "kind", "x"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_decode_json_raises_only_decode_errors(value: Any) -> None:
    with contextlib.suppress(OTLPDecodeError):
        decode_otlp_json(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(gzip.compress),
        st.binary(max_size=300).map(lambda data: gzip.compress(data)[:-4]),
        st.lists(st.binary(max_size=40), max_size=3).map(lambda frames: framed(*frames)),
        st.text(max_size=300).map(str.encode),
    )
)
def test_reading_any_file_yields_requests_or_raises_only_decode_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "traces"
        path.write_bytes(data)
        try:
            for request in read_otlp_file(path):
                assert isinstance(request, ExportTraceServiceRequest)
        except OTLPDecodeError:
            pass


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64))
def test_decode_protobuf_raises_only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(OTLPDecodeError):
        decode_otlp_protobuf(data)
