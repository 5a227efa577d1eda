"""RoutingStore: traces for later feedback, the dedupe and cap ledger, erasure and retention."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from trace_builders import build_trace, check_failure, verdict_of

from otel_flywheel.model import Feedback
from otel_flywheel.routing import RoutingStore


class StepClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def store(tmp_path: Path, clock: StepClock) -> Iterator[RoutingStore]:
    store = RoutingStore(tmp_path / "routing.sqlite", clock=clock)
    yield store
    store.close()


def claim(
    store: RoutingStore, example: str, *, category: str | None = "parameter", rank: int = 0
) -> str:
    return store.claim_example(
        dataset="p/regression",
        example_id=example,
        category=category,
        trace_id="t" * 32,
        user_id="<USER:1>",
        rank=rank,
        cap=2,
        window_seconds=3600,
    )


def test_traces_come_back_by_trace_or_span_id_with_their_verdict(store: RoutingStore) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, check_failure(trace))
    store.put_trace(trace, verdict)
    by_span = store.get_trace(span_id=trace.steps[1].span_id)
    assert by_span is not None
    assert by_span.trace == trace
    assert by_span.verdict == verdict
    assert store.get_trace(trace_id="f" * 32) is None


def test_the_ledger_dedupes_caps_per_window_and_upgrades_by_rank(
    store: RoutingStore, clock: StepClock
) -> None:
    assert claim(store, "a") == "routed"
    assert claim(store, "a") == "duplicate"
    assert claim(store, "b") == "routed"
    assert claim(store, "c") == "capped"  # cap 2 per category per window
    assert claim(store, "d", category="business_rule") == "routed"
    assert claim(store, "a", rank=1) == "upgraded"  # a person's correction replaces it
    assert claim(store, "a", rank=1) == "duplicate"
    clock.now += 3601
    assert claim(store, "c") == "routed"  # the window moved on
    assert store.category_counts(window_seconds=3600) == {"parameter": 1}


def test_ledger_survives_a_restart(tmp_path: Path, clock: StepClock) -> None:
    first = RoutingStore(tmp_path / "r.sqlite", clock=clock)
    assert claim(first, "a") == "routed"
    first.close()
    second = RoutingStore(tmp_path / "r.sqlite", clock=clock)
    assert claim(second, "a") == "duplicate"
    second.close()


def test_feedback_waits_for_its_trace_by_trace_or_span_id(store: RoutingStore) -> None:
    trace = build_trace()
    by_trace = Feedback(trace_id=trace.trace_id, thumbs="up")
    by_span = Feedback(span_id=trace.steps[1].span_id, thumbs="down")
    other = Feedback(trace_id="e" * 32, thumbs="down")
    for feedback in (by_trace, by_span, other, by_trace):
        store.put_pending_feedback(feedback)
    assert store.pending_feedback_count() == 3
    taken = store.take_pending_feedback(trace)
    assert sorted(f.feedback_id for f in taken) == sorted(
        [by_trace.feedback_id, by_span.feedback_id]
    )
    assert store.take_pending_feedback(trace) == []
    assert store.pending_feedback_count() == 1


def test_purge_user_erases_their_traces_feedback_and_ledger(store: RoutingStore) -> None:
    mine = build_trace(user_id="<USER:1>", seed="mine")
    theirs = build_trace(user_id="<USER:2>", seed="theirs")
    store.put_trace(mine, None)
    store.put_trace(theirs, None)
    store.put_pending_feedback(Feedback(trace_id=mine.trace_id, thumbs="down"))
    assert claim(store, "x") == "routed"  # user_id <USER:1>
    counts = store.purge_user("<USER:1>")
    assert (counts.traces, counts.feedback, counts.routed) == (1, 1, 1)
    assert store.get_trace(trace_id=mine.trace_id) is None
    assert store.get_trace(span_id=mine.steps[0].span_id) is None
    assert store.get_trace(trace_id=theirs.trace_id) is not None


def test_retention_drops_old_traces_but_keeps_the_ledger(
    store: RoutingStore, clock: StepClock
) -> None:
    old = build_trace(seed="old")
    store.put_trace(old, None)
    assert claim(store, "x") == "routed"
    clock.now += 100 * 86400
    new = build_trace(seed="new")
    store.put_trace(new, None)
    counts = store.purge_older_than(90 * 86400)
    assert counts.traces == 1
    assert store.get_trace(trace_id=old.trace_id) is None
    assert store.get_trace(trace_id=new.trace_id) is not None
    assert claim(store, "x") == "duplicate"
