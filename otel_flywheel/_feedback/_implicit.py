"""Implicit feedback: what users' behaviour in a session says about the answers they got.

Explicit feedback is rare; behaviour is not. Watching each session's turns in order:

- ``rephrase``: the next user message is highly similar to the previous one (within
  ``window_seconds``): the previous answer did not help;
- ``retry``: the same message sent again, or a turn marked as a regeneration
  (``flywheel.regenerate`` / ``metadata.regenerate``);
- ``correction_phrase``: the next message opens with "that's not right", "no, I meant", ...;
- ``escalation``: the turn calls a handoff or escalation tool, or carries ``flywheel.escalated``;
- ``abandonment``: the session ends (no turn for ``abandon_after_seconds``) right after a turn
  that failed evaluation.

Each becomes a `Feedback` with ``signal``, ``evidence`` (what was seen, redacted text only) and a
weight below explicit feedback's 1.0. Memory is bounded to ``max_sessions`` open sessions.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otel_flywheel.model import AgentTrace, Feedback, ImplicitSignal, Verdict

__all__ = ["SIGNAL_WEIGHTS", "ImplicitSignalDetector"]

SIGNAL_WEIGHTS: Mapping[ImplicitSignal, float] = {
    "rephrase": 0.5,
    "retry": 0.6,
    "correction_phrase": 0.6,
    "escalation": 0.7,
    "abandonment": 0.3,
}

_CORRECTION = re.compile(
    r"^\W*(that'?s not (right|correct|what i)|that is (wrong|not (right|correct))|wrong|"
    r"incorrect|no,? i (meant|asked|said)|not what i (asked|meant|wanted)|you misunderstood)",
    re.IGNORECASE,
)
_ESCALATION_TOOL = re.compile(r"escalat|handoff|hand_off|transfer_to|human_agent|live_agent")
_REGENERATE_KEYS = ("flywheel.regenerate", "regenerate")
_ESCALATED_KEYS = ("flywheel.escalated", "escalated")


@dataclass(slots=True)
class _Turn:
    trace_id: str
    message: str
    failed: bool
    seen_at: float


class ImplicitSignalDetector:
    """Thread-safe; call ``observe`` with each evaluated trace and ``sweep`` now and then."""

    def __init__(
        self,
        *,
        similarity: float = 0.8,
        window_seconds: float = 600.0,
        abandon_after_seconds: float = 1800.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.similarity = similarity
        self.window_seconds = window_seconds
        self.abandon_after_seconds = abandon_after_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._lock = threading.Lock()  # guards _sessions
        self._sessions: OrderedDict[str, _Turn] = OrderedDict()

    def observe(self, trace: AgentTrace, verdict: Verdict | None = None) -> list[Feedback]:
        """Signals this turn reveals, about the previous turn of its session or about itself."""
        now = self._clock()
        signals: list[Feedback] = []
        escalation = _escalation(trace)
        if escalation is not None:
            signals.append(_signal(trace.trace_id, "escalation", escalation))
        if trace.session_id is None:
            return signals
        message = (trace.goal or "").strip()
        turn = _Turn(
            trace_id=trace.trace_id,
            message=message,
            failed=verdict is not None and verdict.passed is False,
            seen_at=now,
        )
        with self._lock:
            previous = self._sessions.pop(trace.session_id, None)
            self._sessions[trace.session_id] = turn
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        if previous is not None and previous.trace_id == trace.trace_id:
            # The same turn again (judged again after feedback): nothing new about the session.
            turn.seen_at = previous.seen_at
            return signals
        if previous is not None and now - previous.seen_at <= self.window_seconds:
            about = previous.trace_id
            if _regenerated(trace) or _same(previous.message, message):
                signals.append(_signal(about, "retry", f"the user sent again: {message[:200]!r}"))
            elif _CORRECTION.match(message):
                signals.append(
                    _signal(about, "correction_phrase", f"next message: {message[:200]!r}")
                )
            elif self._similar(previous.message, message):
                signals.append(
                    _signal(
                        about,
                        "rephrase",
                        f"rephrased {previous.message[:120]!r} as {message[:120]!r}",
                    )
                )
        return signals

    def sweep(self) -> list[Feedback]:
        """Sessions idle past ``abandon_after_seconds``: abandonment if the last turn failed."""
        now = self._clock()
        ended: list[_Turn] = []
        with self._lock:
            for session_id, turn in list(self._sessions.items()):
                if now - turn.seen_at >= self.abandon_after_seconds:
                    del self._sessions[session_id]
                    ended.append(turn)
        return [
            _signal(
                turn.trace_id,
                "abandonment",
                f"the session ended after this failed turn ({now - turn.seen_at:.0f}s idle)",
            )
            for turn in ended
            if turn.failed
        ]

    def _similar(self, before: str, after: str) -> bool:
        if not before or not after:
            return False
        ratio = difflib.SequenceMatcher(None, before.casefold(), after.casefold()).ratio()
        return ratio >= self.similarity


def _signal(trace_id: str, signal: ImplicitSignal, evidence: str) -> Feedback:
    return Feedback(
        trace_id=trace_id,
        signal=signal,
        evidence=evidence,
        weight=SIGNAL_WEIGHTS[signal],
        annotator="otel-flywheel",
        # One signal of a kind per trace: re-observing the same turns is idempotent.
        feedback_id=f"implicit-{signal}-{trace_id}",
    )


def _same(before: str, after: str) -> bool:
    return bool(before) and " ".join(before.casefold().split()) == " ".join(
        after.casefold().split()
    )


def _regenerated(trace: AgentTrace) -> bool:
    root = trace.root
    attributes = root.attributes if root is not None else {}
    return any(bool(attributes.get(k)) or bool(trace.metadata.get(k)) for k in _REGENERATE_KEYS)


def _escalation(trace: AgentTrace) -> str | None:
    for _, call in trace.tool_calls():
        if _ESCALATION_TOOL.search(call.name.lower()):
            return f"the agent called {call.name!r}"
    root = trace.root
    attributes = root.attributes if root is not None else {}
    for key in _ESCALATED_KEYS:
        if attributes.get(key) or trace.metadata.get(key):
            return f"the turn carries {key}"
    return None
