"""The flywheel's one vocabulary: normalized steps and the agent traces they form, what evaluation
says about them, and what people say.

Every later stage (redaction, evaluators, routing, replay, export) reads these records, never raw span
attributes. They are plain dataclasses; JSON round-trips go through one pydantic ``TypeAdapter`` per
record type, so nested records, enums and optional fields need no hand-written (de)serializers.

Ids are lowercase hex, as Phoenix and OTLP/JSON spell them: 32 characters for a trace, 16 for a span.
"""

from __future__ import annotations

from otel_flywheel.model._feedback import Feedback, ImplicitSignal, Thumbs
from otel_flywheel.model._judgment import (
    CallEffect,
    Evaluation,
    JudgeCoverage,
    Verdict,
    failure_label,
    parse_step_ranges,
    step_ranges,
)
from otel_flywheel.model._trace import (
    AgentTrace,
    Document,
    LLMCall,
    Message,
    Retrieval,
    Step,
    StepKind,
    StepStatus,
    TokenUsage,
    ToolCall,
    ToolDefinition,
)

__all__ = [
    "AgentTrace",
    "CallEffect",
    "Document",
    "Evaluation",
    "Feedback",
    "ImplicitSignal",
    "JudgeCoverage",
    "LLMCall",
    "Message",
    "Retrieval",
    "Step",
    "StepKind",
    "StepStatus",
    "Thumbs",
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
    "Verdict",
    "failure_label",
    "parse_step_ranges",
    "step_ranges",
]
