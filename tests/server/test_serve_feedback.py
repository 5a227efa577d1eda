"""``POST /v1/feedback``: validated, spooled before the 202, then handed (redacted) to the sink."""

from __future__ import annotations

import gzip
import json
import threading

import httpx
import pytest
from serve_harness import RunningServer, wait_until

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


def post(server: RunningServer, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/feedback", json=body, headers=headers)


def test_feedback_is_answered_202_with_its_id_and_reaches_the_sink_redacted(serve):
    sink = RecordingSink()
    server: RunningServer = serve(feedback_sink=sink)

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
    assert response.json() == {"feedback_id": "fb-1"}
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


def test_gzip_feedback_is_accepted(serve):
    sink = RecordingSink()
    server: RunningServer = serve(feedback_sink=sink)
    body = gzip.compress(json.dumps({"span_id": "cd" * 8, "thumbs": "up"}).encode())

    response = httpx.post(
        f"{server.base_url}/v1/feedback",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
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
    server: RunningServer = serve()
    response = post(server, body)

    assert response.status_code == 400
    assert named in response.json()["message"]
    assert server.spool.depth_feedback == 0


def test_feedback_that_is_not_json_gets_400_and_another_content_type_415(serve):
    server: RunningServer = serve()
    not_json = httpx.post(
        f"{server.base_url}/v1/feedback",
        content=b"thumbs=up",
        headers={"Content-Type": "application/json"},
    )
    form = httpx.post(f"{server.base_url}/v1/feedback", data={"thumbs": "up"})

    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["message"]
    assert form.status_code == 415


def test_feedback_the_sink_refuses_stays_spooled_and_is_delivered_when_it_recovers(serve):
    sink = RecordingSink(failures=2)
    server: RunningServer = serve(feedback_sink=sink)

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
    server: RunningServer = serve(feedback_sink=sink, max_spool_feedback=1, retry_after_seconds=3)

    first = post(server, {"trace_id": TRACE_ID, "thumbs": "up", "feedback_id": "a"})
    second = post(server, {"trace_id": TRACE_ID, "thumbs": "up", "feedback_id": "b"})

    assert first.status_code == 202
    assert second.status_code == 503
    assert second.headers["retry-after"] == "3"
    sink.recover()  # the shutdown delivers it
