"""Routing a trace again (``serve`` judges a trace again when a crash came before its writes were in
the outbox) puts the same writes under the same keys: nothing is lost, nothing is duplicated."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_builders import build_trace, check_failure, verdict_of

from otel_flywheel.config import RoutingSettings
from otel_flywheel.model import Feedback
from otel_flywheel.outbox import Outbox, OutboxClosedError
from otel_flywheel.routing import RoutingSink, RoutingStore
from otel_flywheel.sinks import ExampleWrite


def routing(tmp_path: Path) -> RoutingSink:
    """A process's routing, on the state files in ``tmp_path`` (the next process opens them)."""
    return RoutingSink(
        Outbox(tmp_path / "outbox.sqlite"),
        store=RoutingStore(tmp_path / "routing.sqlite"),
        settings=RoutingSettings(project="support"),
    )


def keys(outbox: Outbox) -> set[str]:
    return {entry.key for entry in outbox.due(limit=1000, now=float("inf"))}


def test_the_same_verdict_routed_twice_gives_the_same_keys_and_no_new_writes(
    tmp_path: Path,
) -> None:
    sink = routing(tmp_path)
    trace = build_trace()
    verdict = verdict_of(trace, check_failure(trace))

    sink.submit_verdict(trace, verdict)
    first = keys(sink.outbox)
    sink.submit_verdict(trace, verdict)

    assert keys(sink.outbox) == first
    assert any(key.startswith("example:") for key in first)
    assert sink.outbox.put([]) == 0
    assert sink.outbox.stats().depth == len(first)
    sink.shutdown()
    sink.outbox.close()


def route_once(tmp_path: Path, *, crash_first: bool) -> set[str]:
    """The outbox keys after routing one failed trace with a correction waiting for it; with
    ``crash_first``, a first process claims its examples and dies before its outbox put."""
    trace = build_trace()
    verdict = verdict_of(trace, check_failure(trace))
    correction = Feedback(
        trace_id=trace.trace_id,
        thumbs="down",
        correction="It has not shipped yet.",
        feedback_id="fb-1",
    )
    first = routing(tmp_path)
    first.store.put_pending_feedback(correction)
    if crash_first:
        first.outbox.close()  # the outbox put fails: the process dies here, claims made
        with pytest.raises(OutboxClosedError):
            first.submit_verdict(trace, verdict)
        first.store.close()
        first = routing(tmp_path)  # the next process judges the trace again
    first.submit_verdict(trace, verdict)
    routed = keys(first.outbox)
    assert first.store.pending_feedback_count() == 0
    first.shutdown()
    first.outbox.close()
    return routed


def test_a_crash_after_the_claim_and_before_the_outbox_loses_no_write(tmp_path: Path) -> None:
    uninterrupted = route_once(tmp_path / "a", crash_first=False)
    after_a_crash = route_once(tmp_path / "b", crash_first=True)

    assert after_a_crash == uninterrupted
    datasets = {key.split(":")[1] for key in after_a_crash if key.startswith("example:")}
    # The judged failure's examples, and the waiting correction's.
    assert {"support/regression", "support/preference"} <= datasets


def example_writes(outbox: Outbox) -> dict[str, ExampleWrite]:
    return {
        entry.key: entry.write
        for entry in outbox.due(limit=1000, now=float("inf"))
        if isinstance(entry.write, ExampleWrite)
    }


@pytest.mark.parametrize("thumbs", ["up", "down"])
def test_a_persons_feedback_on_a_later_asking_moves_the_example_and_relinks_it(
    tmp_path: Path, thumbs: str
) -> None:
    sink = routing(tmp_path)
    first = build_trace(seed="first")
    later = build_trace(seed="later")  # the same question, asked again
    sink.submit_verdict(first, verdict_of(first, check_failure(first)))
    inferred = example_writes(sink.outbox)
    sink.submit_verdict(later, verdict_of(later, check_failure(later)))
    assert example_writes(sink.outbox) == inferred  # a duplicate: nothing new
    assert not any(write.relink for write in inferred.values())

    sink.submit_feedback(Feedback(trace_id=later.trace_id, thumbs=thumbs, feedback_id="fb"))

    moved = {
        key: write
        for key, write in example_writes(sink.outbox).items()
        if write.metadata["source_trace_id"] == later.trace_id
    }
    assert moved
    assert all(write.relink for write in moved.values())
    assert later.root is not None
    assert all(write.span_id == later.root.span_id for write in moved.values())
    sink.shutdown()
    sink.outbox.close()
