"""otel-flywheel: an OpenTelemetry-native data flywheel for AI agents.

``register()`` is the one call an agent needs; ``feedback()`` records what users say about a run;
``FlywheelSpanProcessor`` is for those who build their own TracerProvider. The records in ``otel_flywheel.model`` are the vocabulary every stage shares.

Importing this package is cheap: the SDK-facing pieces load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from otel_flywheel.model import (
    AgentTrace,
    Document,
    Feedback,
    LLMCall,
    Message,
    Retrieval,
    Step,
    StepKind,
    TokenUsage,
    ToolCall,
    ToolDefinition,
)

if TYPE_CHECKING:
    from otel_flywheel._feedback import (
        FeedbackSink,
        ImplicitSignalDetector,
        feedback,
        set_feedback_sink,
    )
    from otel_flywheel._register import register
    from otel_flywheel.capture import FlywheelSpanProcessor
    from otel_flywheel.replay import tool

__version__ = "0.1.0"

__all__ = [
    "AgentTrace",
    "Document",
    "Feedback",
    "FeedbackSink",
    "FlywheelSpanProcessor",
    "ImplicitSignalDetector",
    "LLMCall",
    "Message",
    "Retrieval",
    "Step",
    "StepKind",
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
    "__version__",
    "feedback",
    "register",
    "set_feedback_sink",
    "tool",
]

_LAZY = {
    "FlywheelSpanProcessor": "otel_flywheel.capture",
    # A private package: a public `otel_flywheel.feedback` module would shadow the function.
    "feedback": "otel_flywheel._feedback",
    "FeedbackSink": "otel_flywheel._feedback",
    "ImplicitSignalDetector": "otel_flywheel._feedback",
    "set_feedback_sink": "otel_flywheel._feedback",
    "register": "otel_flywheel._register",
    "tool": "otel_flywheel.replay",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_flywheel' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
