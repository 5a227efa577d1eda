"""OutboxWorker with real outbox files and small sinks of our own: batching, backoff, lifecycle.

Delivery into a real Phoenix (down, up, rejecting) is in tests/sinks/test_outbox_to_phoenix.py.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value

from otel_flywheel.errors import ConfigError
from otel_flywheel.outbox import Outbox, OutboxWorker
from otel_flywheel.sinks import ExampleWrite, InMemorySink, Write, WriteOutcome, WriteSink


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingSink(InMemorySink):
    """Accepts everything; remembers each batch's size and whether tracing was suppressed."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.suppressed: list[bool] = []

    def write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]:
        self.batches.append(len(writes))
        self.suppressed.append(bool(get_value(_SUPPRESS_INSTRUMENTATION_KEY)))
        return super().write(writes)


class ScriptedSink:
    """Answers with the next outcome of its script for every write of a call, then ``done``."""

    def __init__(self, *script: WriteOutcome | Exception | None) -> None:
        self.script = list(script)
        self.calls = 0

    def write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]:
        self.calls += 1
        step = self.script.pop(0) if self.script else WriteOutcome.done()
        if isinstance(step, Exception):
            raise step
        if step is None:
            return {}  # forgets to answer
        return {write.key: step for write in writes}


def example(example_id: str) -> ExampleWrite:
    return ExampleWrite(dataset="p/regression", example_id=example_id, input={"q": example_id})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite", clock=clock) as box:
        yield box


@pytest.fixture
def live_outbox(tmp_path: Path) -> Iterator[Outbox]:
    """On the wall clock, for workers that run their own thread."""
    with Outbox(tmp_path / "live.sqlite") as box:
        yield box


@pytest.fixture
def workers() -> Iterator[list[OutboxWorker]]:
    """Workers to shut down after the test (before the outboxes they use are closed)."""
    started: list[OutboxWorker] = []
    yield started
    for worker in started:
        worker.shutdown(timeout_millis=5_000)


def test_a_started_worker_delivers_due_writes_in_batches(
    live_outbox: Outbox, workers: list[OutboxWorker]
) -> None:
    sink = RecordingSink()
    live_outbox.put([example(f"{index}") for index in range(7)])
    worker = OutboxWorker(live_outbox, sink, batch_size=3, interval_millis=10)
    workers.append(worker)
    worker.start()

    assert worker.force_flush(timeout_millis=10_000)

    assert sorted(sink.batches) == [1, 3, 3]
    assert len(sink.writes) == 7
    assert live_outbox.stats().done_total == 7
    assert worker.counts["done"] == 7


def test_force_flush_before_start_delivers_on_the_callers_thread(outbox: Outbox) -> None:
    sink = RecordingSink()
    outbox.put([example("a")])
    worker = OutboxWorker(outbox, sink)

    assert worker.force_flush(timeout_millis=5_000)
    assert list(sink.writes) == [example("a").key]
    worker.shutdown()


def test_the_sink_is_called_with_instrumentation_suppressed(
    live_outbox: Outbox, workers: list[OutboxWorker]
) -> None:
    outbox = live_outbox
    sink = RecordingSink()
    outbox.put([example("a")])
    inline = OutboxWorker(outbox, sink)
    assert inline.force_flush(timeout_millis=5_000)
    outbox.put([example("b")])
    threaded = OutboxWorker(outbox, sink, interval_millis=10)
    workers.append(threaded)
    threaded.start()
    assert threaded.force_flush(timeout_millis=5_000)

    assert sink.suppressed == [True, True]
    assert not get_value(_SUPPRESS_INSTRUMENTATION_KEY)  # the caller's context is untouched


def test_each_failure_backs_off_longer_and_retry_after_is_a_floor(
    outbox: Outbox, clock: Clock
) -> None:
    busy = WriteOutcome.retry("HTTP 503")
    sink = ScriptedSink(
        busy, busy, busy, busy, WriteOutcome.retry("HTTP 429", retry_after_seconds=100)
    )
    outbox.put([example("a")])
    worker = OutboxWorker(
        outbox, sink, initial_backoff_seconds=1.0, max_backoff_seconds=6.0, rng=random.Random(7)
    )
    delays = []
    for _ in range(5):  # each flush tries the write once, whatever its backoff, then gives up
        assert not worker.force_flush(timeout_millis=50)
        entry = outbox.get(example("a").key)
        assert entry is not None
        assert entry.last_attempt_at is not None
        delays.append(entry.next_attempt_at - entry.last_attempt_at)

    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert 2.0 <= delays[2] <= 4.0
    assert 3.0 <= delays[3] <= 6.0  # capped at max_backoff_seconds
    assert delays[4] == 100.0  # the sink's Retry-After wins over a shorter backoff
    entry = outbox.get(example("a").key)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.last_error) == ("pending", 5, "HTTP 429")
    assert worker.force_flush(timeout_millis=5_000)
    assert outbox.stats().done_total == 1


def test_a_dead_outcome_is_kept_with_its_reason_and_the_rest_of_the_batch_is_delivered(
    outbox: Outbox,
) -> None:
    class RejectsOne(InMemorySink):
        def write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]:
            outcomes = super().write(writes)
            outcomes[example("bad").key] = WriteOutcome.dead("HTTP 422: no such example id")
            return outcomes

    outbox.put([example("a"), example("bad"), example("b")])
    worker = OutboxWorker(outbox, RejectsOne())

    assert worker.force_flush(timeout_millis=5_000)  # nothing pending: dead is settled too

    stats = outbox.stats()
    assert (stats.depth, stats.dead, stats.done_total) == (0, 1, 2)
    (dead,) = outbox.list_entries(state="dead")
    assert (dead.key, dead.last_error) == (example("bad").key, "HTTP 422: no such example id")
    assert dict(worker.counts) == {"done": 2, "retry": 0, "failed": 0, "dead": 1, "sink_error": 0}


def test_a_sink_that_raises_is_logged_and_its_batch_retried(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    sink = ScriptedSink(ConnectionResetError("peer went away"))
    outbox.put([example("a"), example("b")])
    worker = OutboxWorker(outbox, sink)

    with caplog.at_level(logging.WARNING, logger="otel_flywheel.outbox"):
        assert not worker.force_flush(timeout_millis=50)

    [logged] = caplog.records  # the outage, once, with the sink's traceback
    assert "deliveries to ScriptedSink are failing: sink ScriptedSink raised" in logged.message
    assert logged.exc_info is not None
    entry = outbox.get(example("a").key)
    assert entry is not None
    assert (entry.state, entry.last_error) == (
        "pending",
        "sink ScriptedSink raised ConnectionResetError: peer went away",
    )
    assert worker.counts["sink_error"] == 1
    assert worker.force_flush(timeout_millis=5_000)


def test_a_write_the_sink_gives_no_outcome_for_is_retried(outbox: Outbox) -> None:
    outbox.put([example("a")])
    worker = OutboxWorker(outbox, ScriptedSink(None))

    assert not worker.force_flush(timeout_millis=50)

    entry = outbox.get(example("a").key)
    assert entry is not None
    assert entry.last_error == "sink ScriptedSink returned no outcome for it"


def test_a_flush_stops_calling_a_sink_that_retries_a_whole_batch(outbox: Outbox) -> None:
    down = WriteOutcome.retry("Phoenix unreachable")
    sink = ScriptedSink(down, down, down)
    outbox.put([example(f"{index}") for index in range(6)])
    worker = OutboxWorker(outbox, sink, batch_size=2)

    assert not worker.force_flush(timeout_millis=50)

    assert sink.calls == 1  # the other two batches were not sent into the same wall
    assert outbox.stats().retrying == 2


def test_shutdown_makes_one_last_pass_and_is_idempotent(live_outbox: Outbox) -> None:
    sink = RecordingSink()
    worker = OutboxWorker(live_outbox, sink, interval_millis=60_000)  # never wakes by itself
    worker.start()
    live_outbox.put([example("a")])

    worker.shutdown(timeout_millis=5_000)
    worker.shutdown(timeout_millis=5_000)

    assert list(sink.writes) == [example("a").key]
    live_outbox.put([example("b")])
    assert not worker.force_flush(timeout_millis=100)
    worker.start()  # no-op after shutdown
    assert live_outbox.stats().depth == 1


def test_closing_the_outbox_before_its_worker_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.put([example("a")])
    worker = OutboxWorker(outbox, RecordingSink(), interval_millis=10)
    worker.start()
    outbox.close()

    with caplog.at_level(logging.WARNING, logger="otel_flywheel.outbox"):
        assert not worker.force_flush(timeout_millis=5_000)
        worker.shutdown(timeout_millis=5_000)

    assert "was closed before its worker was shut down" in caplog.text
    with Outbox(tmp_path / "outbox.sqlite") as reopened:
        assert reopened.stats().depth == 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("batch_size", 0, "batch_size must be > 0"),
        ("interval_millis", -1, "interval_millis must be > 0"),
        ("max_backoff_seconds", 0.5, "must be >= initial_backoff_seconds"),
    ],
)
def test_bad_options_are_config_errors(
    outbox: Outbox, option: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        OutboxWorker(outbox, InMemorySink(), **{option: value})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_delivers_with_its_own_worker_and_connection(
    live_outbox: Outbox, workers: list[OutboxWorker]
) -> None:
    outbox = live_outbox
    sink = RecordingSink()
    worker = OutboxWorker(outbox, sink, interval_millis=10)
    workers.append(worker)
    worker.start()
    outbox.put([example("parent")])
    assert worker.force_flush(timeout_millis=5_000)  # idle when we fork

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reports through the pipe
        code = 1
        try:
            os.close(read_end)
            outbox.put([example("child")])
            flushed = worker.force_flush(timeout_millis=5_000)
            report = {
                "flushed": flushed,
                "threads": [t.name for t in threading.enumerate()],
                "deliveries": sink.deliveries,  # counting the parent's, copied by the fork
            }
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)

    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert report["flushed"]
    assert "otel-flywheel-outbox" in report["threads"]
    assert outbox.stats().done_total == 2  # the child wrote to the same file
    # Both workers watch the file; the child's write went out once, from one of them.
    assert (report["deliveries"] - 1) + sink.deliveries == 2


def test_any_object_with_a_matching_write_method_is_a_sink() -> None:
    assert isinstance(ScriptedSink(), WriteSink)
