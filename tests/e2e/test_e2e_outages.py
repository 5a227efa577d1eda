"""Outages in the middle of a run: Phoenix killed and restarted, and our own process restarted.
Afterwards every annotation and every example the flywheel routed is in Phoenix exactly once."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flywheel_e2e import (
    copy_demo,
    delivered_writes,
    demo_questions,
    export,
    export_and_wait,
    phoenix,
    phoenix_writes,
)
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel._flywheel import Flywheel, build_flywheel
from otel_flywheel.model import Feedback
from otel_flywheel.outbox import Outbox, default_outbox_path
from otel_flywheel.testing.phoenix import LocalPhoenix, find_free_port

CORRECTED = "How many days do I have to return a jacket?"
THUMBS_UP = "How long does standard shipping take?"
REPEATED = "Has A-1001 shipped yet?"


@pytest.fixture
def flywheels() -> Iterator[list[Flywheel]]:
    """Flywheels to shut down after the test, whatever happened."""
    started: list[Flywheel] = []
    yield started
    for flywheel in started:
        flywheel.shutdown(timeout_millis=5_000)


@pytest.fixture
def phoenixes() -> Iterator[list[LocalPhoenix]]:
    started: list[LocalPhoenix] = []
    yield started
    for server in started:
        server.stop()


def test_phoenix_killed_and_restarted_mid_run_ends_with_every_write_in_phoenix_exactly_once(
    demo_spans: list[ReadableSpan],
    state_dir: Path,
    tmp_path: Path,
    flywheels: list[Flywheel],
    phoenixes: list[LocalPhoenix],
) -> None:
    port, grpc_port = find_free_port(), find_free_port()

    def same_phoenix() -> LocalPhoenix:
        return LocalPhoenix(working_dir=tmp_path / "phoenix", port=port, grpc_port=grpc_port)

    first = same_phoenix()
    phoenixes.append(first.start())
    project = f"e2e-outage-{uuid.uuid4().hex[:10]}"
    copy = copy_demo(demo_spans, demo_questions(demo_spans), project=project)
    questions = list(copy.trace_ids)
    before, after = questions[:10], questions[10:]
    early = [s for q in before for s in copy.spans_of(q)]
    late = [s for q in after for s in copy.spans_of(q)]
    export_and_wait(early, base_url=first.base_url, project=project)  # stored before the kill
    export(late, endpoint=first.otlp_traces_endpoint)  # maybe still queued in memory: lost
    traces = copy.traces()

    flywheel = build_flywheel(project=project, phoenix_url=first.base_url, judge=False)
    flywheels.append(flywheel)
    for question in before:
        flywheel.submit(traces[question])
    assert flywheel.force_flush(60_000)
    delivered_before_kill = flywheel.outbox.stats().done_total
    assert delivered_before_kill > 0

    os.killpg(first.pid, signal.SIGKILL)
    first.stop()  # reaps it
    for question in after:
        flywheel.submit(traces[question])
    for feedback in (
        Feedback(trace_id=traces[CORRECTED].trace_id, thumbs="down", correction="30 days."),
        Feedback(trace_id=traces[REPEATED].trace_id, thumbs="down", correction="It shipped."),
        Feedback(trace_id=traces[THUMBS_UP].trace_id, thumbs="up"),
    ):
        flywheel.submit_feedback(feedback)
    assert not flywheel.force_flush(2_000)  # Phoenix is down: the writes wait
    waiting = flywheel.outbox.stats()
    assert waiting.depth > 0
    assert waiting.dead == 0
    assert waiting.done_total == delivered_before_kill

    second = same_phoenix()
    phoenixes.append(second.start())
    # The agent's exporter retries what Phoenix lost; the flywheel's writes wait for the spans.
    export_and_wait(copy.spans, base_url=second.base_url, project=project)
    assert flywheel.force_flush(60_000)

    stats = flywheel.outbox.stats()
    assert (stats.depth, stats.dead) == (0, 0)
    with phoenix(second.base_url) as client:
        in_phoenix = phoenix_writes(client, copy)
    delivered = delivered_writes(flywheel.outbox)
    assert in_phoenix == delivered
    assert set(in_phoenix.values()) == {1}
    corrected = ("span", copy.root_span_id(CORRECTED), "user_feedback", "user")
    assert corrected in in_phoenix


def test_a_flywheel_restarted_on_the_same_state_dir_delivers_what_the_last_one_could_not(
    demo_spans: list[ReadableSpan],
    phoenix_server: LocalPhoenix,
    state_dir: Path,
    flywheels: list[Flywheel],
) -> None:
    project = f"e2e-restart-{uuid.uuid4().hex[:10]}"
    copy = copy_demo(demo_spans, demo_questions(demo_spans), project=project)
    export_and_wait(copy.spans, base_url=phoenix_server.base_url, project=project)
    traces = copy.traces()
    nowhere = f"http://127.0.0.1:{find_free_port()}"  # nothing listens there

    first = build_flywheel(project=project, phoenix_url=nowhere, judge=False)
    for trace in traces.values():
        first.submit(trace)
    first.submit_feedback(
        Feedback(trace_id=traces[CORRECTED].trace_id, thumbs="down", correction="30 days.")
    )
    first.submit_feedback(Feedback(trace_id=traces[THUMBS_UP].trace_id, thumbs="up"))
    assert not first.force_flush(2_000)
    first.shutdown(timeout_millis=5_000)  # the process ends with writes undelivered
    with Outbox(default_outbox_path()) as outbox:
        left = outbox.stats()
    assert (left.done_total, left.dead) == (0, 0)
    assert left.depth > 0

    second = build_flywheel(project=project, phoenix_url=phoenix_server.base_url, judge=False)
    flywheels.append(second)
    # A restarted receiver replays its spool: the same traces may come again.
    for trace in traces.values():
        second.submit(trace)
    assert second.force_flush(60_000)

    stats = second.outbox.stats()
    assert (stats.depth, stats.dead, stats.done_total) == (0, 0, left.depth)
    with phoenix(phoenix_server.base_url) as client:
        in_phoenix = phoenix_writes(client, copy)
    assert in_phoenix == delivered_writes(second.outbox)
    assert set(in_phoenix.values()) == {1}
    assert sum(1 for key in in_phoenix if key[0] == f"{project}/golden") == 1
