"""What people say about a run, and what their behaviour implies: explicit and implicit `Feedback`."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pydantic import TypeAdapter

__all__ = ["Feedback", "ImplicitSignal", "Thumbs"]

Thumbs = Literal["up", "down"]
ImplicitSignal = Literal["rephrase", "retry", "escalation", "abandonment", "correction_phrase"]


@dataclass(kw_only=True)
class Feedback:
    """What a user (or a reviewer, or their behaviour) said about one trace or one span of it.

    Explicit feedback carries ``thumbs``, a ``correction`` (the answer that should have been given)
    and/or a pairwise preference (``chosen`` over ``rejected``). Implicit feedback is detected from
    sessions: ``signal`` names it, ``evidence`` says what was seen, and its ``weight`` is below the
    1.0 of explicit feedback. ``feedback_id`` is the idempotency key: submitting the same feedback
    twice routes it once. ``sender`` is who sent it as authenticated (``otel-flywheel serve``
    records the name of the credential used); ``annotator`` is what the sender says about who
    gave it, free text.
    """

    trace_id: str | None = None
    span_id: str | None = None
    thumbs: Thumbs | None = None
    correction: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    reason: str | None = None
    annotator: str | None = None
    sender: str | None = None
    signal: ImplicitSignal | None = None
    evidence: str | None = None
    weight: float = 1.0
    created_at_unix: float = field(default_factory=time.time)
    feedback_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.trace_id is None and self.span_id is None:
            raise ValueError("feedback needs trace_id or span_id: say which run it is about")
        for name, value, length in (("trace_id", self.trace_id, 32), ("span_id", self.span_id, 16)):
            if value is not None and not _is_hex_id(value, length):
                # The value is not quoted: error messages reach logs, and a bad id may be PII.
                raise ValueError(
                    f"{name} must be {length} lowercase hex characters as OTel and Phoenix spell it"
                )
        if (self.chosen is None) != (self.rejected is None):
            raise ValueError("a preference needs both chosen and rejected")
        if (
            self.thumbs is None
            and self.correction is None
            and self.chosen is None
            and self.signal is None
        ):
            raise ValueError(
                "feedback says nothing: give thumbs, a correction, chosen/rejected or a signal"
            )
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError("weight must be within [0, 1]")

    @property
    def negative(self) -> bool:
        """Thumbs down, a correction, or an implicit signal: the run fell short."""
        return self.thumbs == "down" or self.correction is not None or self.signal is not None

    @property
    def explicit(self) -> bool:
        return self.signal is None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _feedback_adapter().dump_python(self, mode="json")
        return data

    @staticmethod
    def from_dict(data: Any) -> Feedback:
        """Validate JSON-shaped input; raises ``pydantic.ValidationError`` naming the bad field."""
        return _feedback_adapter().validate_python(data)


def _is_hex_id(value: str, length: int) -> bool:
    return len(value) == length and all(c in "0123456789abcdef" for c in value)


@cache
def _feedback_adapter() -> TypeAdapter[Feedback]:
    return TypeAdapter(Feedback)
