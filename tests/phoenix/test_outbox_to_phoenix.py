"""The outbox delivering into a real Phoenix through PhoenixSink: crashes, outages, late spans,
rejected writes. Nothing accepted is lost; nothing is written twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from phoenix.client import Client
from phoenix_helpers import (
    CannedPhoenix,
    Forwarder,
    SpanSource,
    dataset_examples,
    span_annotations,
    trace_annotations,
)

from otel_flywheel.outbox import Outbox, OutboxWorker
from otel_flywheel.phoenix import PhoenixSink
from otel_flywheel.sinks import AnnotationWrite, ExampleWrite, Write
from otel_flywheel.testing.phoenix import LocalPhoenix

REJECTED_EXAMPLE_ID = "RGF0YXNldEV4YW1wbGU6OTk5OTk5"  # see test_phoenix_sink.py
WAIT_SECONDS = 60.0

CRASHING_PROCESS = """
import json, os, sys
from otel_flywheel.outbox import Outbox
from otel_flywheel.sinks import write_from_dict

outbox = Outbox(sys.argv[1])
outbox.put([write_from_dict(data) for data in json.loads(sys.argv[2])])
os._exit(1)  # killed: no close(), no worker, nothing flushed
"""


def verdict_writes(project: str, trace_id: str, span_id: str) -> list[Write]:
    return [
        AnnotationWrite(
            target="span",
            target_id=span_id,
            name="tool_selection",
            annotator_kind="LLM",
            label="fail",
            score=0.0,
        ),
        AnnotationWrite(
            target="trace",
            target_id=trace_id,
            name="flywheel.verdict",
            annotator_kind="CODE",
            label="fail",
        ),
        ExampleWrite(
            dataset=f"{project}/regression",
            example_id=trace_id[:16],
            input={"question": "refund order A-1"},
            output={"answer": "refunded"},
            span_id=span_id,
        ),
    ]


def assert_landed_once(client: Client, project: str, trace_id: str, span_id: str) -> None:
    assert len(span_annotations(client, project, span_id)) == 1
    assert len(trace_annotations(client, project, trace_id)) == 1
    (stored,) = dataset_examples(client, f"{project}/regression")
    assert stored["source"]["span_id"] == span_id


def wait_until(condition: Any, *, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {WAIT_SECONDS:g} s")
        time.sleep(0.05)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite") as box:
        yield box


@pytest.fixture
def workers() -> Iterator[list[OutboxWorker]]:
    started: list[OutboxWorker] = []
    yield started
    for worker in started:
        worker.shutdown(timeout_millis=5_000)


def test_writes_put_before_a_crash_are_delivered_once_by_the_next_process(
    tmp_path: Path, spans: SpanSource, sink: PhoenixSink, phoenix_server_client: Client
) -> None:
    trace_id, (span_id,) = spans.trace()
    spans.export()
    writes = verdict_writes(spans.project, trace_id, span_id)
    path = tmp_path / "outbox.sqlite"
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_PROCESS,
            str(path),
            json.dumps([w.to_dict() for w in writes]),
        ],
        env={**os.environ, "PHOENIX_DISCOVER_CONFIG": "false"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert crashed.returncode == 1, crashed.stderr.decode()

    for _ in range(2):  # a second restart finds nothing left to send
        with Outbox(path) as outbox:
            worker = OutboxWorker(outbox, sink)
            assert worker.force_flush(timeout_millis=30_000)
            worker.shutdown()
            assert outbox.stats().done_total == 3

    assert_landed_once(phoenix_server_client, spans.project, trace_id, span_id)


def test_writes_phoenix_took_just_before_a_crash_are_not_duplicated_when_sent_again(
    tmp_path: Path, spans: SpanSource, sink: PhoenixSink, phoenix_server_client: Client
) -> None:
    trace_id, (span_id,) = spans.trace()
    spans.export()
    writes = verdict_writes(spans.project, trace_id, span_id)
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox:
        outbox.put(writes)
        # Phoenix accepts the batch; the process dies before the outbox records it.
        assert {o.kind for o in sink.write(writes).values()} == {"done"}

    with Outbox(path) as outbox, PhoenixSink(client=phoenix_server_client) as fresh_sink:
        assert outbox.stats().depth == 3
        worker = OutboxWorker(outbox, fresh_sink)
        assert worker.force_flush(timeout_millis=30_000)
        worker.shutdown()

    assert_landed_once(phoenix_server_client, spans.project, trace_id, span_id)


def test_an_annotation_for_a_span_not_ingested_yet_waits_and_lands_once_it_is(
    outbox: Outbox, spans: SpanSource, sink: PhoenixSink, phoenix_server_client: Client
) -> None:
    trace_id, (span_id,) = spans.trace()
    writes = verdict_writes(spans.project, trace_id, span_id)
    outbox.put(writes)
    worker = OutboxWorker(outbox, sink)

    assert not worker.force_flush(timeout_millis=500)  # Phoenix has not seen the trace yet
    for write in writes:
        entry = outbox.get(write.key)
        assert entry is not None
        assert entry.last_attempt_at is not None
        assert (entry.state, entry.attempts) == ("pending", 1)
        assert "not in Phoenix yet" in (entry.last_error or "")
        assert entry.next_attempt_at - entry.last_attempt_at >= 15  # ingest needs time

    spans.export()

    assert worker.force_flush(timeout_millis=30_000)
    worker.shutdown()
    assert_landed_once(phoenix_server_client, spans.project, trace_id, span_id)


def test_while_phoenix_is_unreachable_writes_wait_with_backoff_then_flush_when_it_is_back(
    outbox: Outbox,
    workers: list[OutboxWorker],
    phoenix_server: LocalPhoenix,
    spans: SpanSource,
    phoenix_server_client: Client,
) -> None:
    trace_id, (span_id,) = spans.trace()
    spans.export()
    writes = verdict_writes(spans.project, trace_id, span_id)
    path_to_phoenix = Forwarder(phoenix_server.port)  # nothing listens until start()
    try:
        with PhoenixSink(base_url=path_to_phoenix.base_url) as sink:
            worker = OutboxWorker(
                outbox,
                sink,
                interval_millis=20,
                initial_backoff_seconds=0.05,
                max_backoff_seconds=0.5,
            )
            workers.append(worker)
            outbox.put(writes)
            worker.start()

            def tried_three_times() -> bool:
                entry = outbox.get(writes[0].key)
                return entry is not None and entry.attempts >= 3

            wait_until(tried_three_times, what="three attempts at an unreachable Phoenix")
            entry = outbox.get(writes[0].key)
            assert entry is not None
            assert entry.state == "pending"
            assert "unreachable" in (entry.last_error or "")
            assert outbox.stats().depth == 3
            assert worker.counts["done"] == 0

            path_to_phoenix.start()
            wait_until(lambda: outbox.stats().depth == 0, what="delivery once Phoenix was back")
            worker.shutdown()
    finally:
        path_to_phoenix.close()

    assert outbox.stats().done_total == 3
    assert_landed_once(phoenix_server_client, spans.project, trace_id, span_id)


def test_a_permanently_rejected_write_goes_dead_and_the_rest_still_flush(
    outbox: Outbox, spans: SpanSource, sink: PhoenixSink, phoenix_server_client: Client
) -> None:
    trace_id, (span_id,) = spans.trace()
    spans.export()
    good = verdict_writes(spans.project, trace_id, span_id)
    bad = ExampleWrite(
        dataset=f"{spans.project}/regression", example_id=REJECTED_EXAMPLE_ID, input={"q": 1}
    )
    outbox.put([*good[:2], bad, good[2]])
    worker = OutboxWorker(outbox, sink)

    assert worker.force_flush(timeout_millis=30_000)
    worker.shutdown()

    stats = outbox.stats()
    assert (stats.depth, stats.dead, stats.done_total) == (0, 1, 3)
    (dead,) = outbox.list_entries(state="dead")
    assert dead.key == bad.key
    assert "HTTP 422" in (dead.last_error or "")
    assert_landed_once(phoenix_server_client, spans.project, trace_id, span_id)


def test_phoenixs_retry_after_holds_the_next_attempt_back(outbox: Outbox, tmp_path: Path) -> None:
    busy = CannedPhoenix(429, {"Retry-After": "120"}, body="slow down")
    try:
        with PhoenixSink(base_url=busy.base_url) as sink:
            write = ExampleWrite(dataset="p/golden", example_id="a" * 16, input={"q": 1})
            outbox.put([write])
            worker = OutboxWorker(outbox, sink, initial_backoff_seconds=0.1)
            assert not worker.force_flush(timeout_millis=200)
            worker.shutdown()
    finally:
        busy.close()

    entry = outbox.get(write.key)
    assert entry is not None
    assert entry.last_attempt_at is not None
    assert entry.next_attempt_at - entry.last_attempt_at == 120
    assert "HTTP 429" in (entry.last_error or "")
    assert busy.requests == ["/v1/datasets/upload?sync=true"]  # asked once, then waited
