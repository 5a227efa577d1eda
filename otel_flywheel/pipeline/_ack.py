"""Acknowledged hand-over: a trace is settled only once its verdict is durable downstream.

``TracePipeline.submit`` returns as soon as the pipeline has the trace in memory, which is what
the in-process span processor needs (its queue is memory anyway). ``otel-flywheel serve`` holds
every accepted span in a durable spool and must not release a trace before the flywheel has made
something durable of it; otherwise a crash while the judge thinks loses acknowledged data. A
pipeline that can say when that point is reached implements ``AcknowledgingPipeline``:

- ``submit_acknowledged(trace, ack)`` returns ``False`` when it cannot take the trace now (its
  bounded queue is full, it is shutting down): the caller keeps the trace and offers it again
  later, so back-pressure reaches the sender instead of a drop.
- When it returned ``True``, ``ack`` is called at most once, from any thread, with a
  ``TraceSettlement``: ``durable`` when the verdict and every write routed from it are committed
  (the outbox, with ``synchronous=FULL``), including a verdict recorded *unscored* with its
  reason; not durable (with the reason) when a sink failed or the pipeline shut down first. No
  call at all (a crash) means not durable.

The caller releases what it holds for a trace only on a durable settlement, and offers the trace
again otherwise, after a restart included. Pipelines key their writes by trace (annotation target
and name, dataset and example id), so a trace settled twice changes nothing downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from otel_flywheel.model import AgentTrace, Evaluation, Verdict

__all__ = [
    "PIPELINE_EVALUATOR",
    "AcknowledgingPipeline",
    "TraceAck",
    "TraceSettlement",
    "settle",
    "unscored_verdict",
]

logger = logging.getLogger(__name__)

PIPELINE_EVALUATOR: Final = "otel_flywheel.pipeline"
"""The ``evaluator`` of the unscored evaluation a trace gets when evaluating it failed."""


@dataclass(frozen=True, slots=True)
class TraceSettlement:
    """What became of a trace handed over with an acknowledgement."""

    trace_id: str
    durable: bool
    reason: str = ""  # why it is not durable; empty when it is


TraceAck = Callable[[TraceSettlement], None]


@runtime_checkable
class AcknowledgingPipeline(Protocol):
    """A ``TracePipeline`` that can say when a trace is durable downstream (see the module)."""

    def submit_acknowledged(self, trace: AgentTrace, ack: TraceAck) -> bool: ...


def unscored_verdict(trace: AgentTrace, checks: Sequence[Evaluation], error: Exception) -> Verdict:
    """The verdict of a trace whose evaluation failed in our own code: unscored (never a pass),
    with the checks that ran and an evaluation naming the error's type (its message may quote
    trace content)."""
    return Verdict(
        trace_id=trace.trace_id,
        passed=None,
        severity="low",
        evaluations=[
            *checks,
            Evaluation(
                evaluator=PIPELINE_EVALUATOR,
                label="unscored",
                passed=None,
                explanation=f"evaluating the trace failed ({type(error).__name__}); it is "
                "recorded unscored, see the server's log",
            ),
        ],
    )


def settle(ack: TraceAck, trace_id: str, failure: str | None) -> None:
    """Call ``ack`` with the settlement (durable unless ``failure`` says why); never raises."""
    try:
        ack(TraceSettlement(trace_id=trace_id, durable=failure is None, reason=failure or ""))
    except Exception:
        logger.exception("the acknowledgement callback failed for %s", trace_id)
