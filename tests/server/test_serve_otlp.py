"""``POST /v1/traces`` with the real OTLP exporter and hand-built bodies: protobuf, JSON, gzip,
split traces, partial success, and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import re
import zlib

import httpx
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from prometheus_client import CollectorRegistry, Counter
from serve_harness import FAST_CAPTURE, RunningServer, wait_until

from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.semconv import OpenInferenceSpanKindValues, SpanAttributes

SA = SpanAttributes
EMAIL = "jane.doe@example.com"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def run_agent(provider: TracerProvider, question: str = f"Refund my order, I am {EMAIL}") -> None:
    """An OpenInference AGENT root around a TOOL call, both carrying PII."""
    tracer = provider.get_tracer("support-agent")
    with tracer.start_as_current_span(
        "support_agent",
        attributes={
            SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.AGENT.value,
            SA.INPUT_VALUE: question,
        },
    ) as root:
        with tracer.start_as_current_span(
            "lookup_order",
            attributes={
                SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.TOOL.value,
                SA.TOOL_NAME: "lookup_order",
                SA.INPUT_VALUE: json.dumps({"order_id": "A-1001", "email": EMAIL}),
            },
        ) as tool:
            tool.set_attribute(SA.OUTPUT_VALUE, json.dumps({"status": "delivered"}))
        root.set_attribute(SA.OUTPUT_VALUE, "Your refund for A-1001 is on its way.")


def exporting_provider(endpoint: str, **exporter_options: object) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "support-agent"}), shutdown_on_exit=False
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, **exporter_options))  # type: ignore[arg-type]
    )
    return provider


def request_of(spans: list) -> ExportTraceServiceRequest:
    return encode_spans(spans)


# --- the real exporter ------------------------------------------------------------------------


def test_spans_from_the_otlp_exporter_reach_the_pipeline_assembled_normalized_and_redacted(serve):
    server: RunningServer = serve()
    provider = exporting_provider(server.traces_url)
    run_agent(provider)
    assert provider.force_flush(30_000)
    provider.shutdown()

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert trace.complete
    assert [step.name for step in trace.steps] == ["support_agent", "lookup_order"]
    assert trace.steps[1].tool is not None
    assert trace.steps[1].tool.name == "lookup_order"
    assert trace.steps[1].tool.arguments["order_id"] == "A-1001"
    assert EMAIL not in trace.to_json()
    assert trace.goal is not None
    assert "<EMAIL:" in trace.goal
    assert trace.steps[1].tool.arguments["email"].startswith("<EMAIL:")
    assert trace.steps[0].attributes["flywheel.redaction.count"] == 1


def test_credentials_in_otel_header_arrays_never_reach_the_pipeline(serve):
    # OTel's HTTP instrumentations record headers as arrays: "http.request.header.<name>".
    server: RunningServer = serve()
    provider = exporting_provider(server.traces_url)
    secrets = ("Token a1b2c3d4e5f6a7b8c9d0", "sessionid=abc123def456ghi789jkl012mno345pq")
    with provider.get_tracer("support-agent").start_as_current_span(
        "GET /orders",
        attributes={
            SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.CHAIN.value,
            "http.request.header.authorization": [secrets[0]],
            "http.request.header.cookie": [secrets[1]],
            "http.request.header.accept": ["application/json"],
        },
    ):
        pass
    assert provider.force_flush(30_000)
    provider.shutdown()

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    exported = trace.to_json()
    assert all(secret.split()[-1] not in exported for secret in secrets)
    attributes = trace.steps[0].attributes
    assert list(attributes["http.request.header.authorization"]) == ["<API_KEY>"]
    assert list(attributes["http.request.header.accept"]) == ["application/json"]


def test_a_payment_agent_s_card_code_stack_key_and_markdown_phone_never_reach_the_pipeline(serve):
    # What a payment agent's trace holds: the card's code beside its number in a tool's
    # arguments, its search tool's key in a logged configuration, and the model's Markdown.
    server: RunningServer = serve()
    provider = exporting_provider(server.traces_url)
    tracer = provider.get_tracer("support-agent")
    values = {
        "cvc": "314",
        "card": "4242424242424242",
        "tavily": "tvly-" + "a1B2c3D4" * 4,
        "phone": "4155550132",
        "pin": "4921",
    }
    with tracer.start_as_current_span(
        "support_agent",
        attributes={
            SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.AGENT.value,
            SA.INPUT_VALUE: f"Pay my order, and call me back. PIN: {values['pin']}",
        },
    ) as root:
        with tracer.start_as_current_span(
            "create_payment",
            attributes={
                SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.TOOL.value,
                SA.TOOL_NAME: "create_payment",
                SA.INPUT_VALUE: json.dumps(
                    {
                        "amount": 4999,
                        "card": {"number": values["card"], "exp_month": 12, "cvc": values["cvc"]},
                    }
                ),
                "tool.config": f"TavilyClient(api_key={values['tavily']!r}, max_results=5)",
            },
        ) as tool:
            tool.set_attribute(SA.OUTPUT_VALUE, json.dumps({"status": "succeeded"}))
        root.set_attribute(
            SA.OUTPUT_VALUE,
            f"Paid.\n\n| Field | Value |\n|---|---|\n| **Phone** | {values['phone']} |",
        )
    assert provider.force_flush(30_000)
    provider.shutdown()

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert leaked_values(trace.to_json(), values) == []
    payment = trace.steps[1].tool
    assert payment is not None
    assert payment.arguments["card"]["cvc"] == "<PASSWORD>"
    assert payment.arguments["card"]["exp_month"] == 12
    assert payment.arguments["amount"] == 4999


def test_a_data_agent_s_tables_never_reach_the_pipeline(serve):
    # What a data agent's trace holds: a SQL tool's psql output, a CSV export, and the model's
    # request quoting the tool's JSON result in its messages.
    server: RunningServer = serve()
    provider = exporting_provider(server.traces_url)
    tracer = provider.get_tracer("data-agent")
    values = {
        "phone": "4155550132",
        "ssn": "078051120",
        "password": "Tr0ub4dor3",
        "mobile": "6125550199",
    }
    psql = (
        " id | name | phone      | ssn\n----+------+------------+-----------\n"
        f"  1 | Jane | {values['phone']} | {values['ssn']}\n(1 row)\n"
    )
    csv = f"user,password,mobile\njane,{values['password']},{values['mobile']}\n"
    result = json.dumps({"columns": ["name", "phone"], "rows": [["Jane", int(values["phone"])]]})
    with tracer.start_as_current_span(
        "data_agent",
        attributes={SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.AGENT.value},
    ):
        for name, output in (("run_sql", psql), ("export_csv", csv), ("query_api", result)):
            with tracer.start_as_current_span(
                name,
                attributes={
                    SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.TOOL.value,
                    SA.TOOL_NAME: name,
                    SA.OUTPUT_VALUE: output,
                },
            ):
                pass
        messages = [{"role": "tool", "content": output} for output in (psql, csv, result)]
        with tracer.start_as_current_span(
            "llm",
            attributes={
                SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.LLM.value,
                SA.INPUT_VALUE: json.dumps({"model": "gpt-4o-mini", "messages": messages}),
            },
        ):
            pass
    assert provider.force_flush(30_000)
    provider.shutdown()

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert leaked_values(trace.to_json(), values) == []
    assert "Jane" in trace.to_json()  # the columns no header names, as they were


def leaked_values(written: str, values: dict[str, str]) -> list[str]:
    """The names of ``values`` written in ``written`` standing alone: span ids and timestamps
    hold short digit runs by chance."""
    return [
        name
        for name, value in values.items()
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", written)
    ]


def test_a_trace_through_serve_equals_the_trace_the_in_process_processor_captures(serve):
    server: RunningServer = serve()
    in_process = InMemoryPipeline()
    provider = exporting_provider(server.traces_url)
    processor = FlywheelSpanProcessor(
        pipeline=in_process,
        trace_grace_millis=FAST_CAPTURE.trace_grace_millis,
        schedule_delay_millis=FAST_CAPTURE.schedule_delay_millis,
    )
    provider.add_span_processor(processor)
    run_agent(provider)
    assert provider.force_flush(30_000)
    provider.shutdown()

    [received] = server.pipeline.wait_for(1, timeout_seconds=30)
    [captured] = in_process.traces
    assert received.to_dict() == captured.to_dict()


def test_gzip_compressed_exports_are_accepted(serve):
    server: RunningServer = serve()
    provider = exporting_provider(server.traces_url, compression=Compression.Gzip)
    run_agent(provider)
    assert provider.force_flush(30_000)
    provider.shutdown()

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert len(trace.steps) == 2
    assert (
        server.metric("flywheel_server_requests_total", {"path": "/v1/traces", "status": "200"})
        == 1
    )


def test_spans_of_one_trace_split_over_two_requests_become_one_trace(serve, recorded_provider):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    root, tool = sorted(recorded.get_finished_spans(), key=lambda s: s.parent is not None)
    exporter = OTLPSpanExporter(endpoint=server.traces_url)
    assert exporter.export([tool]) is SpanExportResult.SUCCESS  # the child first, as BSP may
    assert exporter.export([root]) is SpanExportResult.SUCCESS
    exporter.shutdown()

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert trace.complete
    assert {step.span_id for step in trace.steps} == {
        f"{root.context.span_id:016x}",
        f"{tool.context.span_id:016x}",
    }


def test_otlp_json_bodies_are_accepted_and_answered_in_json(serve, recorded_provider):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    body = encode_otlp_json(request_of(recorded.get_finished_spans()))

    response = httpx.post(server.traces_url, content=body.encode(), headers=JSON)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert len(trace.steps) == 2
    assert EMAIL not in trace.to_json()


def test_gzip_json_and_deflate_protobuf_bodies_are_accepted(serve, recorded_provider):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    run_agent(provider)
    spans = recorded.get_finished_spans()
    json_body = gzip.compress(encode_otlp_json(request_of(spans[:2])).encode())
    protobuf_body = zlib.compress(request_of(spans[2:]).SerializeToString())

    as_json = httpx.post(
        server.traces_url, content=json_body, headers={**JSON, "Content-Encoding": "gzip"}
    )
    as_protobuf = httpx.post(
        server.traces_url,
        content=protobuf_body,
        headers={**PROTOBUF, "Content-Encoding": "deflate"},
    )

    assert (as_json.status_code, as_protobuf.status_code) == (200, 200)
    assert (
        ExportTraceServiceResponse.FromString(as_protobuf.content) == ExportTraceServiceResponse()
    )
    traces = server.pipeline.wait_for(2, timeout_seconds=30)
    assert sorted(len(trace.steps) for trace in traces) == [2, 2]


# --- partial success ----------------------------------------------------------------------------


def test_a_span_with_an_invalid_id_is_rejected_and_the_rest_accepted_in_protobuf(
    serve, recorded_provider
):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    request = request_of(recorded.get_finished_spans())
    bad = request.resource_spans[0].scope_spans[0].spans.add()
    bad.CopyFrom(request.resource_spans[0].scope_spans[0].spans[0])
    bad.trace_id = b"\x01\x02\x03"

    response = httpx.post(server.traces_url, content=request.SerializeToString(), headers=PROTOBUF)

    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "traceId: 3 bytes, expected 16" in answer.partial_success.error_message
    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert len(trace.steps) == 2
    assert server.metric("flywheel_server_spans_rejected_total", {"reason": "invalid_span"}) == 1
    assert server.metric("flywheel_server_spans_received_total") == 2


def test_a_span_with_an_invalid_id_is_rejected_and_the_rest_accepted_in_json(
    serve, recorded_provider
):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    value = json.loads(encode_otlp_json(request_of(recorded.get_finished_spans())))
    spans = value["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "spanId": "not-hex"})

    response = httpx.post(server.traces_url, content=json.dumps(value).encode(), headers=JSON)

    assert response.status_code == 200
    answer = response.json()["partialSuccess"]
    assert int(answer["rejectedSpans"]) == 1
    assert "spanId" in answer["errorMessage"]
    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert len(trace.steps) == 2


# --- bad input ----------------------------------------------------------------------------------


def test_malformed_protobuf_gets_400_with_an_otlp_status_in_protobuf(serve):
    server: RunningServer = serve()
    response = httpx.post(server.traces_url, content=b"\x0a\xff\xff\xff", headers=PROTOBUF)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status.FromString(response.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert "not a valid OTLP traces request" in status.message


def test_malformed_json_gets_400_with_an_otlp_status_in_json(serve):
    server: RunningServer = serve()
    response = httpx.post(server.traces_url, content=b'{"resourceSpans": [', headers=JSON)

    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert "not valid JSON" in response.json()["message"]


def test_another_signal_gets_400_naming_it(serve):
    server: RunningServer = serve()
    response = httpx.post(server.traces_url, content=b'{"resourceLogs": []}', headers=JSON)

    assert response.status_code == 400
    assert "OTLP logs export" in response.json()["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_an_unsupported_content_type_gets_415(serve, content_type):
    server: RunningServer = serve()
    response = httpx.post(server.traces_url, content=b"{}", headers={"Content-Type": content_type})

    assert response.status_code == 415
    assert "application/x-protobuf" in response.text


def test_an_unsupported_content_encoding_gets_415(serve):
    server: RunningServer = serve()
    response = httpx.post(
        server.traces_url, content=b"{}", headers={**JSON, "Content-Encoding": "br"}
    )

    assert response.status_code == 415
    assert "gzip" in response.json()["message"]


def test_bad_gzip_gets_400(serve):
    server: RunningServer = serve()
    truncated = gzip.compress(b'{"resourceSpans": []}')[:-6]

    for body in (b"not gzip at all", truncated):
        response = httpx.post(
            server.traces_url, content=body, headers={**JSON, "Content-Encoding": "gzip"}
        )
        assert response.status_code == 400
        assert "gzip" in response.json()["message"]


def test_a_body_over_the_limit_gets_413(serve):
    server: RunningServer = serve(max_body_bytes=4096)
    response = httpx.post(server.traces_url, content=b"\0" * 5000, headers=PROTOBUF)

    assert response.status_code == 413
    assert "4096" in Status.FromString(response.content).message


def test_a_gzip_bomb_gets_413(serve):
    server: RunningServer = serve(max_body_bytes=64 * 1024)
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024  # small on the wire: only the inflated size is over the limit

    response = httpx.post(
        server.traces_url, content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert response.status_code == 413
    assert "inflates to more than 65536 bytes" in Status.FromString(response.content).message
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_an_empty_request_is_answered_200_and_stores_nothing(serve):
    server: RunningServer = serve()
    response = httpx.post(server.traces_url, content=b"", headers=PROTOBUF)

    assert response.status_code == 200
    assert server.spool.depth_spans == 0


def test_get_on_the_traces_path_is_405(serve):
    server: RunningServer = serve()
    assert httpx.get(server.traces_url).status_code == 405


# --- probes and metrics -------------------------------------------------------------------------


def test_healthz_and_readyz_answer_200_when_the_spool_is_writable(serve):
    server: RunningServer = serve()
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}


def test_metrics_count_spans_requests_and_body_bytes_in_prometheus_text(serve, recorded_provider):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    body = request_of(recorded.get_finished_spans()).SerializeToString()
    assert httpx.post(server.traces_url, content=body, headers=PROTOBUF).status_code == 200
    assert httpx.post(server.traces_url, content=b"{", headers=JSON).status_code == 400
    server.pipeline.wait_for(1, timeout_seconds=30)
    wait_until(lambda: server.spool.depth_spans == 0, "the spool to drain")

    assert server.metric("flywheel_server_spans_received_total") == 2
    assert server.metric("flywheel_server_traces_submitted_total") == 1
    assert (
        server.metric("flywheel_server_requests_total", {"path": "/v1/traces", "status": "200"})
        == 1
    )
    assert (
        server.metric("flywheel_server_requests_total", {"path": "/v1/traces", "status": "400"})
        == 1
    )
    assert (
        server.metric("flywheel_server_request_body_bytes_sum", {"path": "/v1/traces"})
        == len(body) + 1
    )
    assert server.metric("flywheel_server_request_body_bytes_count", {"path": "/v1/traces"}) == 2
    assert server.metric("flywheel_server_spool_spans") == 0
    assert server.metric("flywheel_server_spool_feedback") == 0
    assert server.metric("flywheel_server_open_traces") == 0
    response = httpx.get(f"{server.base_url}/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")


def test_the_pipelines_own_collectors_are_served_on_metrics(serve):
    pipeline_registry = CollectorRegistry()
    judged = Counter("flywheel_pipeline_traces_judged", "judged", registry=pipeline_registry)
    judged.inc(3)
    server: RunningServer = serve(registry=pipeline_registry)

    assert server.metric("flywheel_pipeline_traces_judged_total") == 3
    assert server.metric("flywheel_server_spool_spans") == 0


def test_a_json_response_round_trips_through_the_otlp_json_parser(serve, recorded_provider):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    run_agent(provider)
    value = json.loads(encode_otlp_json(request_of(recorded.get_finished_spans())))
    value["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "ab"

    response = httpx.post(server.traces_url, content=json.dumps(value).encode(), headers=JSON)

    parsed = json_format.Parse(response.text, ExportTraceServiceResponse())
    assert parsed.partial_success.rejected_spans == 1
