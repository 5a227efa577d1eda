"""otel-flywheel: an OpenTelemetry-native data flywheel for AI agents.

``register()`` is the one call an agent needs; ``FlywheelSpanProcessor`` is for those who build their
own TracerProvider. The records in ``otel_flywheel.model`` are the vocabulary every stage shares.

Importing this package is cheap: the SDK-facing pieces load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from otel_flywheel.model import (
    AgentTrace,
    Document,
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
    from otel_flywheel._register import register
    from otel_flywheel.capture import FlywheelSpanProcessor

__version__ = "0.1.0"

__all__ = [
    "AgentTrace",
    "Document",
    "FlywheelSpanProcessor",
    "LLMCall",
    "Message",
    "Retrieval",
    "Step",
    "StepKind",
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
    "__version__",
    "register",
]

_LAZY = {
    "FlywheelSpanProcessor": "otel_flywheel.capture",
    "register": "otel_flywheel._register",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_flywheel' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
