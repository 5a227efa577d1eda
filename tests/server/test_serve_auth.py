"""Bearer auth: with a token every POST needs it (401 otherwise); probes and metrics stay open."""

from __future__ import annotations

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_harness import RunningServer

TOKEN = "a-long-random-token-0123456789"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
FEEDBACK = {"trace_id": "ab" * 16, "thumbs": "down"}


def spans_of_one_trace(recorded_provider):
    provider, recorded = recorded_provider
    with provider.get_tracer("t").start_as_current_span("root"):
        pass
    return recorded.get_finished_spans()


def test_with_a_token_the_exporter_sending_it_is_accepted(serve, recorded_provider):
    server: RunningServer = serve(token=TOKEN)
    exporter = OTLPSpanExporter(
        endpoint=server.traces_url, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert exporter.export(spans_of_one_trace(recorded_provider)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert len(server.pipeline.wait_for(1, timeout_seconds=30)) == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
def test_with_a_token_a_missing_or_wrong_one_gets_401(serve, recorded_provider, authorization):
    server: RunningServer = serve(token=TOKEN)
    body = encode_spans(spans_of_one_trace(recorded_provider)).SerializeToString()
    headers = {**PROTOBUF, **({"Authorization": authorization} if authorization else {})}

    traces = httpx.post(server.traces_url, content=body, headers=headers)
    feedback = httpx.post(
        f"{server.base_url}/v1/feedback",
        json=FEEDBACK,
        headers={"Authorization": authorization} if authorization else {},
    )

    assert traces.status_code == 401
    assert traces.headers["www-authenticate"] == "Bearer"
    assert "FLYWHEEL_SERVER_TOKEN" in Status.FromString(traces.content).message
    assert feedback.status_code == 401
    assert server.spool.depth_spans == 0
    assert server.spool.depth_feedback == 0


def test_with_a_token_probes_and_metrics_stay_open(serve):
    server: RunningServer = serve(token=TOKEN)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{server.base_url}{path}").status_code == 200


def test_without_a_token_posts_need_no_authorization(serve, recorded_provider):
    server: RunningServer = serve()
    body = encode_spans(spans_of_one_trace(recorded_provider)).SerializeToString()

    assert httpx.post(server.traces_url, content=body, headers=PROTOBUF).status_code == 200
    assert httpx.post(f"{server.base_url}/v1/feedback", json=FEEDBACK).status_code == 202


def test_a_blank_token_setting_means_no_auth(serve, recorded_provider):
    server: RunningServer = serve(token="   ")
    body = encode_spans(spans_of_one_trace(recorded_provider)).SerializeToString()

    assert httpx.post(server.traces_url, content=body, headers=PROTOBUF).status_code == 200
