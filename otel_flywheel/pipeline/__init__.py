"""The evaluation pipeline: assembled traces in, verdicts out to sinks, on a background worker.

``EvaluationPipeline`` is the ``TracePipeline`` that ``register()`` and ``otel-flywheel serve`` hand
traces to once evaluators are configured; ``JudgeSamplingPolicy`` decides which traces the LLM
judge sees; ``VerdictSink`` is what routing (and ``VerdictFile``) implement.
``AcknowledgingPipeline`` is the hand-over that says when a trace's verdict is durable, which
``otel-flywheel serve`` waits for before it releases the trace from its spool.
"""

from __future__ import annotations

from otel_flywheel.pipeline._ack import (
    PIPELINE_EVALUATOR,
    AcknowledgingPipeline,
    TraceAck,
    TraceSettlement,
)
from otel_flywheel.pipeline._files import VerdictFile
from otel_flywheel.pipeline._judge_cost import JudgeCost
from otel_flywheel.pipeline._metrics import PipelineCollector
from otel_flywheel.pipeline._pipeline import EvaluationPipeline, PipelineStats, VerdictSink
from otel_flywheel.pipeline._policy import JudgeDecision, JudgeReason, JudgeSamplingPolicy

__all__ = [
    "PIPELINE_EVALUATOR",
    "AcknowledgingPipeline",
    "EvaluationPipeline",
    "JudgeCost",
    "JudgeDecision",
    "JudgeReason",
    "JudgeSamplingPolicy",
    "PipelineCollector",
    "PipelineStats",
    "TraceAck",
    "TraceSettlement",
    "VerdictFile",
    "VerdictSink",
]
