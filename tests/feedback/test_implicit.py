"""Implicit feedback detected from sessions: rephrase, retry, correction phrases, escalation,
abandonment; each with evidence and a weight below explicit feedback."""

from __future__ import annotations

from trace_builders import build_trace, check_failure, verdict_of

from otel_flywheel._feedback import ImplicitSignalDetector
from otel_flywheel.model import AgentTrace


class StepClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def turn(goal: str, *, session: str | None = "s1", tool: str = "lookup_order") -> AgentTrace:
    return build_trace(goal, seed=f"{session}:{goal}", session_id=session, tool=tool)


def signals(
    detector: ImplicitSignalDetector, trace: AgentTrace
) -> list[tuple[str | None, str | None]]:
    return [(f.signal, f.trace_id) for f in detector.observe(trace)]


def test_a_rephrased_question_flags_the_previous_answer() -> None:
    detector = ImplicitSignalDetector()
    first = turn("Where is my order A-1001?")
    assert signals(detector, first) == []
    found = detector.observe(turn("where's my order A-1001 ??"))
    assert [(f.signal, f.trace_id) for f in found] == [("rephrase", first.trace_id)]
    assert found[0].weight < 1.0
    assert "rephrased" in (found[0].evidence or "")


def test_the_same_message_again_is_a_retry_and_unrelated_ones_are_nothing() -> None:
    detector = ImplicitSignalDetector()
    first = turn("Cancel order A-1001")
    detector.observe(first)
    assert signals(detector, first) == []  # the same turn seen again (re-judged) says nothing
    again = build_trace("cancel  order a-1001", seed="again", session_id="s1")
    assert signals(detector, again) == [("retry", first.trace_id)]
    assert signals(detector, turn("What are your opening hours?")) == []


def test_correction_phrases_flag_the_previous_answer() -> None:
    detector = ImplicitSignalDetector()
    first = turn("What is the refund window?")
    detector.observe(first)
    assert signals(detector, turn("That's not right, I bought it in May")) == [
        ("correction_phrase", first.trace_id)
    ]


def test_an_escalation_tool_call_flags_the_turn_itself_even_without_a_session() -> None:
    detector = ImplicitSignalDetector()
    trace = turn("I want a human", session=None, tool="escalate_to_human")
    assert signals(detector, trace) == [("escalation", trace.trace_id)]


def test_signals_outside_the_window_or_across_sessions_are_not_raised() -> None:
    clock = StepClock()
    detector = ImplicitSignalDetector(window_seconds=60, clock=clock)
    detector.observe(turn("Where is my order A-1001?"))
    assert signals(detector, turn("where is my order A-1001 please", session="s2")) == []
    clock.now += 120
    assert signals(detector, turn("where is my order A-1001 now?")) == []


def test_a_session_that_ends_after_a_failed_turn_is_abandonment() -> None:
    clock = StepClock()
    detector = ImplicitSignalDetector(abandon_after_seconds=300, clock=clock)
    failed = turn("Where is my order A-1001?")
    detector.observe(failed, verdict_of(failed, check_failure(failed)))
    passed = turn("Opening hours?", session="s2")
    detector.observe(passed, verdict_of(passed))
    assert detector.sweep() == []
    clock.now += 301
    (abandoned,) = detector.sweep()
    assert (abandoned.signal, abandoned.trace_id) == ("abandonment", failed.trace_id)
    assert detector.sweep() == []  # reported once
