"""Normalized steps and the agent traces they form: what every stage after capture reads."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pydantic import TypeAdapter

__all__ = [
    "AgentTrace",
    "Document",
    "LLMCall",
    "Message",
    "Retrieval",
    "Step",
    "StepKind",
    "StepStatus",
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
]

StepStatus = Literal["unset", "ok", "error"]


class StepKind(str, enum.Enum):
    """What a span did, in the flywheel's terms (OpenInference span kinds, lower-cased)."""

    AGENT = "agent"
    CHAIN = "chain"
    LLM = "llm"
    TOOL = "tool"
    RETRIEVER = "retriever"
    RERANKER = "reranker"
    EMBEDDING = "embedding"
    GUARDRAIL = "guardrail"
    EVALUATOR = "evaluator"
    OTHER = "other"


@dataclass(kw_only=True)
class ToolCall:
    """A tool invocation: requested by an LLM (no result yet) or executed by a TOOL span.

    ``arguments`` is always a dict. When the recorded arguments are not a JSON object (truncated,
    free text, a bare list), ``arguments`` is empty, ``arguments_malformed`` is set and the text is
    kept verbatim in ``raw_arguments`` so that nothing the agent produced is lost.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    arguments_malformed: bool = False
    raw_arguments: str | None = None
    call_id: str | None = None
    result: str | None = None
    error: str | None = None
    schema: dict[str, Any] | None = None
    description: str | None = None
    annotations: dict[str, Any] | None = None


@dataclass(kw_only=True)
class ToolDefinition:
    """A tool offered to an LLM: its name, description and JSON schema for the arguments.

    ``annotations`` are the tool's behaviour hints when its definition carries them, as MCP
    defines them (``readOnlyHint``, ``destructiveHint``, ``idempotentHint``, ``openWorldHint``).
    """

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


@dataclass(kw_only=True)
class Message:
    """One chat message. ``tool_calls`` holds the calls an assistant message requests."""

    role: str
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(kw_only=True)
class TokenUsage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(kw_only=True)
class LLMCall:
    """A model invocation: the messages in and out, the tool calls it asked for, what it was offered."""

    model: str | None = None
    provider: str | None = None
    messages: list[Message] = field(default_factory=list)
    output_messages: list[Message] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tools: list[ToolDefinition] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    invocation_parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Document:
    id: str | None = None
    content: str | None = None
    score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Retrieval:
    query: str | None = None
    documents: list[Document] = field(default_factory=list)


@dataclass(kw_only=True)
class Step:
    """One normalized span.

    ``attributes`` keeps the span's raw attributes so that nothing a convention we do not model carries
    is lost; the typed fields (``tool``, ``retrieval``, ``llm``) are what evaluators read.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    kind: StepKind
    name: str
    status: StepStatus = "unset"
    error: str | None = None
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    input: str | None = None
    output: str | None = None
    tool: ToolCall | None = None
    retrieval: Retrieval | None = None
    llm: LLMCall | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_millis(self) -> float:
        return max(0, self.end_time_unix_nano - self.start_time_unix_nano) / 1e6


@dataclass(kw_only=True)
class AgentTrace:
    """One agent run: its steps in tree order (parents before children, siblings by start time).

    ``goal`` is what the user asked (the root's input, else the first user message);
    ``final_output`` is what the agent answered (the root's output, else the last assistant
    message). ``complete`` is false when the trace was closed without its root span; ``warnings``
    says what the normalizer had to repair (re-attached orphans, unreadable attributes).
    """

    trace_id: str
    steps: list[Step] = field(default_factory=list)
    session_id: str | None = None
    user_id: str | None = None
    consent: bool | None = None
    goal: str | None = None
    final_output: str | None = None
    project: str | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def root(self) -> Step | None:
        return self.steps[0] if self.steps else None

    def step(self, span_id: str) -> Step | None:
        return next((s for s in self.steps if s.span_id == span_id), None)

    def children(self, span_id: str) -> list[Step]:
        return [s for s in self.steps if s.parent_id == span_id]

    def steps_of_kind(self, kind: StepKind) -> list[Step]:
        return [s for s in self.steps if s.kind is kind]

    def tool_calls(self) -> Iterator[tuple[Step, ToolCall]]:
        """Executed tool calls (TOOL steps), in tree order."""
        for step in self.steps:
            if step.tool is not None:
                yield step, step.tool

    @property
    def models(self) -> list[str]:
        """The distinct model names the trace's LLM steps used, sorted."""
        return sorted({s.llm.model for s in self.steps if s.llm is not None and s.llm.model})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _trace_adapter().dump_python(self, mode="json")
        return data

    def to_json(self) -> str:
        return _trace_adapter().dump_json(self).decode()

    @staticmethod
    def from_dict(data: dict[str, Any]) -> AgentTrace:
        return _trace_adapter().validate_python(data)

    @staticmethod
    def from_json(text: str | bytes) -> AgentTrace:
        return _trace_adapter().validate_json(text)


@cache
def _trace_adapter() -> TypeAdapter[AgentTrace]:
    # Built on first use: compiling the validator for the nested records takes milliseconds.
    return TypeAdapter(AgentTrace)
