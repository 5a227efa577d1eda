"""``POST /v1/feedback``: validated, spooled before the 202, then handed (redacted) to the sink;
feedback on a trace the server never received is refused, or held until the trace arrives."""

from __future__ import annotations

import gzip
import json
import threading

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from serve_harness import FEEDBACK_AUTH, RunningServer, wait_until

from otel_flywheel.model import Feedback

TRACE_ID = "ab" * 16
EMAIL = "joe.bloggs@example.com"


class RecordingSink:
    def __init__(self, *, failures: int = 0) -> None:
        self._lock = threading.Lock()  # guards received and failures
        self.received: list[Feedback] = []
        self.failures = failures

    def submit_feedback(self, feedback: Feedback) -> None:
        with self._lock:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the feedback store is down")
            self.received.append(feedback)

    def recover(self) -> None:
        with self._lock:
            self.failures = 0

    def count(self) -> int:
        with self._lock:
            return len(self.received)


def post(server: RunningServer, body: object) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/feedback", json=body, headers=FEEDBACK_AUTH)


def send_trace(server: RunningServer, recorded_provider) -> tuple[str, str]:
    """Export one trace of two spans to ``server``; its trace id and its child's span id."""
    provider, recorded = recorded_provider
    recorded.clear()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child") as child:
        pass
    body = encode_spans(recorded.get_finished_spans()).SerializeToString()
    response = httpx.post(
        server.traces_url, content=body, headers={"Content-Type": "application/x-protobuf"}
    )
    assert response.status_code == 200
    context = child.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def test_feedback_is_answered_202_with_its_id_and_reaches_the_sink_redacted(serve):
    sink = RecordingSink()
    server: RunningServer = serve(feedback_sink=sink, unknown_trace_feedback="accept")

    response = post(
        server,
        {
            "trace_id": TRACE_ID,
            "thumbs": "down",
            "correction": f"Send the refund confirmation to {EMAIL}",
            "annotator": EMAIL,
            "feedback_id": "fb-1",
        },
    )

    assert response.status_code == 202
    assert response.json() == {"feedback_id": "fb-1", "status": "accepted"}
    wait_until(lambda: sink.count() == 1, "the sink to receive the feedback")
    [feedback] = sink.received
    assert (feedback.feedback_id, feedback.trace_id, feedback.thumbs) == ("fb-1", TRACE_ID, "down")
    assert feedback.correction is not None
    assert EMAIL not in feedback.correction
    assert feedback.correction.startswith("Send the refund confirmation to <EMAIL:")
    assert feedback.annotator is not None
    assert feedback.annotator.startswith("<EMAIL:")
    wait_until(lambda: server.spool.depth_feedback == 0, "the spool to release it")
    assert server.metric("flywheel_server_feedback_received_total") == 1
    assert server.metric("flywheel_server_feedback_submitted_total") == 1


def test_gzip_feedback_is_accepted(serve, recorded_provider):
    sink = RecordingSink()
    server: RunningServer = serve(feedback_sink=sink)
    _, span_id = send_trace(server, recorded_provider)
    body = gzip.compress(json.dumps({"span_id": span_id, "thumbs": "up"}).encode())
    wait_until(lambda: server.metric("flywheel_server_traces_submitted_total") == 1, "the trace")

    response = httpx.post(
        f"{server.base_url}/v1/feedback",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **FEEDBACK_AUTH},
    )

    assert response.status_code == 202
    wait_until(lambda: sink.count() == 1, "the sink to receive the feedback")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"trace_id": TRACE_ID, "thumbs": "sideways"}, "thumbs: Input should be 'up' or 'down'"),
        ({"trace_id": TRACE_ID, "weight": "heavy", "thumbs": "up"}, "weight:"),
        ({"trace_id": "XYZ", "thumbs": "up"}, "trace_id must be 32 lowercase hex characters"),
        ({"trace_id": TRACE_ID}, "feedback says nothing"),
        ({"thumbs": "up"}, "feedback needs trace_id or span_id"),
        (["not", "an", "object"], "feedback: Input should be a dictionary"),
    ],
)
def test_invalid_feedback_gets_400_naming_the_problem(serve, body, named):
    server: RunningServer = serve(unknown_trace_feedback="accept")
    response = post(server, body)

    assert response.status_code == 400
    assert named in response.json()["message"]
    assert server.spool.depth_feedback == 0


def test_feedback_that_is_not_json_gets_400_and_another_content_type_415(serve):
    server: RunningServer = serve()
    not_json = httpx.post(
        f"{server.base_url}/v1/feedback",
        content=b"thumbs=up",
        headers={"Content-Type": "application/json", **FEEDBACK_AUTH},
    )
    form = httpx.post(
        f"{server.base_url}/v1/feedback", data={"thumbs": "up"}, headers=FEEDBACK_AUTH
    )

    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["message"]
    assert form.status_code == 415


def test_feedback_the_sink_refuses_stays_spooled_and_is_delivered_when_it_recovers(serve):
    sink = RecordingSink(failures=2)
    server: RunningServer = serve(feedback_sink=sink, unknown_trace_feedback="accept")

    assert (
        post(server, {"trace_id": TRACE_ID, "thumbs": "up", "feedback_id": "a"}).status_code == 202
    )
    wait_until(lambda: server.metric("flywheel_server_feedback_errors_total") >= 1, "a refusal")
    assert server.spool.depth_feedback == 1
    wait_until(lambda: sink.count() == 1, "delivery after the sink recovered")

    assert sink.received[0].feedback_id == "a"
    wait_until(lambda: server.spool.depth_feedback == 0, "the spool to release it")


def test_feedback_past_the_spool_limit_answers_503_with_retry_after(serve):
    sink = RecordingSink(failures=1_000_000)  # a sink that is down: feedback piles up
    server: RunningServer = serve(
        feedback_sink=sink,
        max_spool_feedback=1,
        retry_after_seconds=3,
        unknown_trace_feedback="accept",
    )

    first = post(server, {"trace_id": TRACE_ID, "thumbs": "up", "feedback_id": "a"})
    second = post(server, {"trace_id": TRACE_ID, "thumbs": "up", "feedback_id": "b"})

    assert first.status_code == 202
    assert second.status_code == 503
    assert second.headers["retry-after"] == "3"
    sink.recover()  # the shutdown delivers it


# --- feedback on traces the server never received -------------------------------------------------


def test_feedback_on_a_trace_never_received_is_refused_with_404_and_nothing_is_routed(
    serve, recorded_provider
):
    sink = RecordingSink()
    server: RunningServer = serve(feedback_sink=sink)
    known_trace, known_span = send_trace(server, recorded_provider)

    injected = [
        {"trace_id": "ab" * 16, "thumbs": "up"},
        {"span_id": "cd" * 8, "thumbs": "down", "correction": "Refunds are never possible."},
        {"trace_id": "ef" * 16, "chosen": "yes", "rejected": "no"},
    ]
    answers = [post(server, body) for body in injected]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert "trace_id: this server has not received that trace" in answers[0].json()["message"]
    assert "FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK=hold" in answers[0].json()["message"]
    assert answers[1].json()["message"].startswith("span_id:")
    assert (
        server.metric("flywheel_server_feedback_rejected_total", {"reason": "unknown_trace"}) == 3
    )
    # The trace it did receive takes feedback, by trace id at once and by span id once read.
    assert post(server, {"trace_id": known_trace, "thumbs": "up"}).status_code == 202
    wait_until(lambda: server.metric("flywheel_server_traces_submitted_total") == 1, "the trace")
    assert post(server, {"span_id": known_span, "thumbs": "down"}).status_code == 202
    wait_until(lambda: sink.count() == 2, "the two records on known traces")
    assert {feedback.trace_id or feedback.span_id for feedback in sink.received} == {
        known_trace,
        known_span,
    }


def test_held_feedback_waits_for_its_trace_and_then_reaches_the_sink(serve, recorded_provider):
    sink = RecordingSink()
    server: RunningServer = serve(feedback_sink=sink, unknown_trace_feedback="hold")
    provider, recorded = recorded_provider
    with provider.get_tracer("t").start_as_current_span("root") as root:
        pass
    trace_id = f"{root.get_span_context().trace_id:032x}"

    early = post(server, {"trace_id": trace_id, "thumbs": "down", "feedback_id": "early"})

    assert early.status_code == 202
    assert early.json() == {"feedback_id": "early", "status": "held"}
    assert server.spool.depth_held_feedback == 1
    assert server.metric("flywheel_server_held_feedback") == 1
    assert sink.count() == 0
    body = encode_spans(recorded.get_finished_spans()).SerializeToString()
    assert (
        httpx.post(
            server.traces_url, content=body, headers={"Content-Type": "application/x-protobuf"}
        ).status_code
        == 200
    )
    wait_until(lambda: sink.count() == 1, "the held feedback to reach the sink")
    assert sink.received[0].feedback_id == "early"
    assert server.spool.depth_held_feedback == 0


def test_held_feedback_is_dropped_and_counted_when_its_trace_never_comes(serve, caplog):
    sink = RecordingSink()
    server: RunningServer = serve(
        feedback_sink=sink, unknown_trace_feedback="hold", feedback_hold_seconds=0.3
    )

    assert (
        post(server, {"trace_id": "ab" * 16, "thumbs": "up", "feedback_id": "x"}).status_code == 202
    )

    wait_until(lambda: server.metric("flywheel_server_feedback_expired_total") == 1, "expiry")
    assert server.spool.depth_feedback == 0
    assert sink.count() == 0
    assert "dropped 1 held feedback records" in caplog.text


def test_held_feedback_is_bounded_and_past_the_bound_answers_503(serve):
    server: RunningServer = serve(
        unknown_trace_feedback="hold", max_held_feedback=2, retry_after_seconds=4
    )
    answers = [
        post(server, {"trace_id": f"{index:032x}", "thumbs": "up"}).status_code
        for index in (1, 2, 3)
    ]

    assert answers == [202, 202, 503]
    assert server.spool.depth_held_feedback == 2


# --- error bodies never echo what was sent --------------------------------------------------------

PII = ("jane.roe@example.com", "+1 415 555 0132", "4111 1111 1111 1111")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"trace_id": PII[0], "thumbs": "up"}, "trace_id must be 32 lowercase hex characters"),
        ({"span_id": PII[1], "thumbs": "up"}, "span_id must be 16 lowercase hex characters"),
        ({"trace_id": TRACE_ID, "thumbs": PII[0]}, "thumbs: Input should be 'up' or 'down'"),
        ({"trace_id": TRACE_ID, "thumbs": "up", "weight": PII[2]}, "weight: Input should be"),
        ({"trace_id": TRACE_ID, "thumbs": "up", "weight": 4111}, "weight must be within [0, 1]"),
        ({"trace_id": TRACE_ID, "signal": PII[1]}, "signal: Input should be"),
        ({"trace_id": TRACE_ID, "thumbs": "up", "correction": {"to": PII[0]}}, "correction:"),
        ({"trace_id": TRACE_ID, "chosen": PII[0]}, "a preference needs both chosen and rejected"),
    ],
)
def test_a_feedback_error_names_the_field_and_never_the_value(serve, body, named):
    server: RunningServer = serve(unknown_trace_feedback="accept")

    response = post(server, body)

    assert response.status_code == 400
    assert named in response.json()["message"]
    for value in PII:
        assert value not in response.text
        assert value.replace(" ", "") not in response.text


def test_an_unknown_trace_answer_never_echoes_the_id(serve):
    server: RunningServer = serve()
    trace_id = "0123456789abcdef" * 2

    response = post(server, {"trace_id": trace_id, "thumbs": "up"})

    assert response.status_code == 404
    assert trace_id not in response.text
