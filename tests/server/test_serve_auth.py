"""Credentials: the traces token guards /v1/traces, feedback has its own credential (a leaked
Collector config cannot write labels), and probes and metrics stay open."""

from __future__ import annotations

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from pydantic import SecretStr
from serve_harness import FEEDBACK_AUTH, RunningServer, wait_until

from otel_flywheel.model import Feedback

TOKEN = "a-long-random-token-0123456789"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


class RecordingSink:
    def __init__(self) -> None:
        self.received: list[Feedback] = []

    def submit_feedback(self, feedback: Feedback) -> None:
        self.received.append(feedback)


def spans_of_one_trace(recorded_provider):
    provider, recorded = recorded_provider
    recorded.clear()
    with provider.get_tracer("t").start_as_current_span("root"):
        pass
    return recorded.get_finished_spans()


def feedback_on(spans) -> dict[str, str]:
    return {"trace_id": f"{spans[0].context.trace_id:032x}", "thumbs": "down"}


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

    assert traces.status_code == 401
    assert traces.headers["www-authenticate"] == "Bearer"
    assert "FLYWHEEL_SERVER_TOKEN" in Status.FromString(traces.content).message
    assert server.spool.depth_spans == 0


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Bearer {TOKEN}"])
def test_feedback_needs_the_feedback_credential_not_the_traces_token(
    serve, recorded_provider, authorization
):
    server: RunningServer = serve(token=TOKEN, unknown_trace_feedback="accept")
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.post(
        f"{server.base_url}/v1/feedback",
        json=feedback_on(spans_of_one_trace(recorded_provider)),
        headers=headers,
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "FLYWHEEL_SERVER_FEEDBACK_TOKEN" in response.json()["message"]
    assert server.spool.depth_feedback == 0


def test_the_feedback_credential_does_not_open_the_traces_path(serve, recorded_provider):
    server: RunningServer = serve(token=TOKEN)
    body = encode_spans(spans_of_one_trace(recorded_provider)).SerializeToString()

    response = httpx.post(server.traces_url, content=body, headers={**PROTOBUF, **FEEDBACK_AUTH})

    assert response.status_code == 401


def test_without_a_feedback_credential_feedback_is_off_and_says_how_to_turn_it_on(
    serve, recorded_provider
):
    server: RunningServer = serve(feedback_token=None)
    spans = spans_of_one_trace(recorded_provider)

    for headers in ({}, FEEDBACK_AUTH, {"Authorization": "Bearer anything"}):
        response = httpx.post(
            f"{server.base_url}/v1/feedback", json=feedback_on(spans), headers=headers
        )
        assert response.status_code == 403
        assert "FLYWHEEL_SERVER_FEEDBACK_TOKEN" in response.json()["message"]
    assert server.spool.depth_feedback == 0


def test_each_label_records_the_credential_it_came_with_not_what_the_body_claims(
    serve, recorded_provider
):
    sink = RecordingSink()
    server: RunningServer = serve(
        feedback_token=None,
        feedback_tokens={"support-ui": SecretStr("ui-token-0123456789"), "crm": "crm-0123456789"},
        feedback_sink=sink,
        unknown_trace_feedback="accept",
    )
    spans = spans_of_one_trace(recorded_provider)
    url = f"{server.base_url}/v1/feedback"

    from_ui = httpx.post(
        url,
        json={**feedback_on(spans), "annotator": "crm"},  # a free-text claim, kept as such
        headers={"Authorization": "Bearer ui-token-0123456789"},
    )
    from_crm = httpx.post(
        url, json=feedback_on(spans), headers={"Authorization": "Bearer crm-0123456789"}
    )
    forged = httpx.post(
        url,
        json={**feedback_on(spans), "sender": "support-ui"},
        headers={"Authorization": "Bearer crm-0123456789"},
    )

    assert (from_ui.status_code, from_crm.status_code) == (202, 202)
    assert forged.status_code == 400
    assert "sender" in forged.json()["message"]
    wait_until(lambda: len(sink.received) == 2, "both records to reach the sink")
    senders = {feedback.feedback_id: feedback.sender for feedback in sink.received}
    assert senders == {
        from_ui.json()["feedback_id"]: "support-ui",
        from_crm.json()["feedback_id"]: "crm",
    }
    annotators = {feedback.sender: feedback.annotator for feedback in sink.received}
    assert annotators == {"support-ui": "crm", "crm": None}


def test_with_a_token_probes_and_metrics_stay_open(serve):
    server: RunningServer = serve(token=TOKEN)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{server.base_url}{path}").status_code == 200


def test_without_a_traces_token_spans_need_no_authorization(serve, recorded_provider):
    server: RunningServer = serve()
    spans = spans_of_one_trace(recorded_provider)
    body = encode_spans(spans).SerializeToString()

    assert httpx.post(server.traces_url, content=body, headers=PROTOBUF).status_code == 200
    feedback = httpx.post(
        f"{server.base_url}/v1/feedback", json=feedback_on(spans), headers=FEEDBACK_AUTH
    )
    assert feedback.status_code == 202


def test_a_blank_token_setting_means_no_auth(serve, recorded_provider):
    server: RunningServer = serve(token="   ")
    body = encode_spans(spans_of_one_trace(recorded_provider)).SerializeToString()

    assert httpx.post(server.traces_url, content=body, headers=PROTOBUF).status_code == 200
