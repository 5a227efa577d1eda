"""TraceAssembler: when traces close, what it drops and counts. A step clock, no sleeping."""

from __future__ import annotations

import pytest

from otel_flywheel.capture import ClosedTrace, TraceAssembler
from otel_flywheel.conventions import SpanView
from otel_flywheel.errors import ConfigError

MS = 1_000_000  # nanoseconds per millisecond


class StepClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now_ns = 1_000 * MS

    def advance(self, millis: int) -> int:
        self.now_ns += millis * MS
        return self.now_ns


def span(trace: int, span_id: int, parent: int | None = None) -> SpanView:
    return SpanView(
        trace_id=f"{trace:032x}",
        span_id=f"{span_id:016x}",
        parent_id=None if parent is None else f"{parent:016x}",
        name=f"span-{span_id}",
    )


def span_ids(closed: ClosedTrace) -> list[int]:
    return [int(s.span_id, 16) for s in closed.spans]


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


def make(**overrides: int) -> TraceAssembler:
    options = {"trace_grace_millis": 100, "trace_idle_timeout_millis": 1000} | overrides
    return TraceAssembler(**options)


def test_trace_closes_when_grace_passed_after_root_ended(clock: StepClock) -> None:
    assembler = make()
    assembler.add(span(1, 2, parent=1), now_ns=clock.now_ns)
    assembler.add(span(1, 1), now_ns=clock.now_ns)

    assert assembler.pop_due(now_ns=clock.advance(99)) == []
    (closed,) = assembler.pop_due(now_ns=clock.advance(1))

    assert closed.trace_id == f"{1:032x}"
    assert span_ids(closed) == [2, 1]
    assert closed.complete
    assert not closed.truncated
    assert closed.close_reason == "root_ended"
    assert assembler.open_trace_count == 0


def test_late_child_within_grace_is_included_without_extending_grace(clock: StepClock) -> None:
    assembler = make()
    assembler.add(span(1, 1), now_ns=clock.now_ns)
    assembler.add(span(1, 3, parent=1), now_ns=clock.advance(90))

    (closed,) = assembler.pop_due(now_ns=clock.advance(10))

    assert span_ids(closed) == [1, 3]
    assert closed.close_reason == "root_ended"


def test_zero_grace_closes_at_the_first_pop_after_the_root(clock: StepClock) -> None:
    assembler = make(trace_grace_millis=0)
    assembler.add(span(1, 1), now_ns=clock.now_ns)

    assert [c.close_reason for c in assembler.pop_due(now_ns=clock.now_ns)] == ["root_ended"]


def test_trace_without_root_closes_incomplete_after_idle_timeout(clock: StepClock) -> None:
    assembler = make()
    assembler.add(span(1, 2, parent=1), now_ns=clock.now_ns)
    assembler.add(span(1, 3, parent=1), now_ns=clock.advance(500))

    assert assembler.pop_due(now_ns=clock.advance(999)) == []  # idle counts from the last span
    (closed,) = assembler.pop_due(now_ns=clock.advance(1))

    assert span_ids(closed) == [2, 3]
    assert not closed.complete
    assert closed.close_reason == "idle_timeout"


def test_is_root_marks_a_span_with_a_remote_parent_as_the_root(clock: StepClock) -> None:
    assembler = make()
    assembler.add(span(1, 1, parent=99), now_ns=clock.now_ns, is_root=True)

    (closed,) = assembler.pop_due(now_ns=clock.advance(100))

    assert closed.complete
    assert closed.close_reason == "root_ended"


def test_buffer_full_closes_oldest_trace_early_and_counts(clock: StepClock) -> None:
    assembler = make(max_buffered_traces=2)
    assembler.add(span(1, 11, parent=10), now_ns=clock.now_ns)
    assembler.add(span(2, 21, parent=20), now_ns=clock.advance(1))
    assembler.add(span(1, 12, parent=10), now_ns=clock.advance(1))  # still trace 1: no eviction
    assembler.add(span(3, 31, parent=30), now_ns=clock.advance(1))

    (closed,) = assembler.pop_due(now_ns=clock.now_ns)

    assert closed.trace_id == f"{1:032x}"
    assert span_ids(closed) == [11, 12]
    assert closed.close_reason == "buffer_full"
    assert not closed.complete
    assert assembler.open_trace_count == 2
    assert assembler.counts["closed_early_buffer_full"] == 1


def test_spans_past_the_per_trace_cap_are_dropped_counted_and_mark_truncated(
    clock: StepClock,
) -> None:
    assembler = make(max_spans_per_trace=2)
    for child in (2, 3, 4, 5):
        assembler.add(span(1, child, parent=1), now_ns=clock.now_ns)
    assembler.add(span(1, 1), now_ns=clock.now_ns)  # the root is kept past the cap

    (closed,) = assembler.pop_due(now_ns=clock.advance(100))

    assert span_ids(closed) == [2, 3, 1]
    assert closed.truncated
    assert closed.complete
    assert assembler.counts["trace_too_large"] == 2


def test_late_span_after_close_is_dropped_and_counted(clock: StepClock) -> None:
    assembler = make()
    assembler.add(span(1, 1), now_ns=clock.now_ns)
    assert len(assembler.pop_due(now_ns=clock.advance(100))) == 1

    assembler.add(span(1, 2, parent=1), now_ns=clock.advance(1))

    assert assembler.open_trace_count == 0
    assert assembler.pop_due(now_ns=clock.advance(10_000)) == []
    assert assembler.counts["late_span"] == 1


def test_a_span_delivered_twice_while_its_trace_is_open_is_kept_once(clock: StepClock) -> None:
    assembler = make()
    assembler.add(span(1, 2, parent=1), now_ns=clock.now_ns)
    assembler.add(span(1, 2, parent=1), now_ns=clock.advance(1))  # an exporter's retry
    assembler.add(span(1, 1), now_ns=clock.advance(1))

    (closed,) = assembler.pop_due(now_ns=clock.advance(100))

    assert span_ids(closed) == [2, 1]
    assert assembler.counts["duplicate_span"] == 1


def test_closed_trace_memory_is_bounded_and_forgets_the_oldest(clock: StepClock) -> None:
    assembler = make(trace_grace_millis=0, max_closed_trace_ids=2)
    for trace in (1, 2, 3):
        assembler.add(span(trace, 1), now_ns=clock.now_ns)
    assert len(assembler.pop_due(now_ns=clock.now_ns)) == 3

    assembler.add(span(3, 2, parent=1), now_ns=clock.now_ns)  # remembered: late
    assembler.add(span(1, 2, parent=1), now_ns=clock.now_ns)  # forgotten: opens a new trace

    assert assembler.counts["late_span"] == 1
    (reopened,) = assembler.pop_all()
    assert reopened.trace_id == f"{1:032x}"
    assert not reopened.complete


def test_pop_all_closes_every_open_trace_with_reason_flush(clock: StepClock) -> None:
    assembler = make(max_buffered_traces=1)
    assembler.add(span(1, 1), now_ns=clock.now_ns)  # root ended, grace not over
    assembler.add(span(2, 2, parent=1), now_ns=clock.now_ns)  # evicts trace 1 early

    closed = assembler.pop_all()

    assert [(c.trace_id[-1], c.close_reason, c.complete) for c in closed] == [
        ("1", "buffer_full", True),
        ("2", "flush", False),
    ]
    assert assembler.pop_all() == []
    assert assembler.open_trace_count == 0


def test_counts_start_at_zero_and_are_read_only() -> None:
    counts = make().counts

    assert dict(counts) == {
        "late_span": 0,
        "duplicate_span": 0,
        "trace_too_large": 0,
        "closed_early_buffer_full": 0,
    }
    with pytest.raises(TypeError):
        counts["late_span"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    "option", ["trace_idle_timeout_millis", "max_buffered_traces", "max_spans_per_trace"]
)
def test_non_positive_limits_raise_config_error_naming_the_option(option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        make(**{option: 0})
