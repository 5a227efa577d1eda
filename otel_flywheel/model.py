"""The flywheel's one vocabulary: normalized steps and the agent traces they form.

Every later stage (redaction, evaluators, routing, replay, export) reads these records, never raw span
attributes. They are plain dataclasses; JSON round-trips go through one pydantic ``TypeAdapter`` per
record type, so nested records, enums and optional fields need no hand-written (de)serializers.

Ids are lowercase hex, as Phoenix and OTLP/JSON spell them: 32 characters for a trace, 16 for a span.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import TypeAdapter

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
    "TokenUsage",
    "ToolCall",
    "ToolDefinition",
    "Verdict",
    "failure_label",
    "parse_step_ranges",
    "step_ranges",
]

StepStatus = Literal["unset", "ok", "error"]
Thumbs = Literal["up", "down"]
ImplicitSignal = Literal["rephrase", "retry", "escalation", "abandonment", "correction_phrase"]
CallEffect = Literal["state_changing", "read_only"]


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


def step_ranges(numbers: Iterable[int]) -> str:
    """Step numbers as ranges: ``[1, 2, 3, 7]`` -> ``"1-3, 7"`` (sorted, repeats dropped)."""
    ordered = sorted(set(numbers))
    if not ordered:
        return ""
    out: list[str] = []
    start = previous = ordered[0]
    for number in [*ordered[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        out.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(out)


def parse_step_ranges(ranges: str) -> list[int]:
    """The step numbers ``step_ranges`` wrote: ``"1-3, 7"`` -> ``[1, 2, 3, 7]``."""
    numbers: list[int] = []
    for piece in ranges.split(","):
        if not piece.strip():
            continue
        first, _, last = piece.strip().partition("-")
        numbers += range(int(first), int(last or first) + 1)
    return numbers


@dataclass(kw_only=True)
class JudgeCoverage:
    """What the LLM judge was shown of a trace for one judgment.

    Steps are numbered as the judge saw them: their position in ``AgentTrace.steps``, from 1,
    written as ranges (``"1-12, 37"``). ``shown`` steps were shown whole, ``cut`` ones with a long
    text shortened, ``elided`` ones not at all. ``share_shown`` is the share of the trace's text
    (a text repeated across steps counted once) that reached the judge's prompts. A judgment made
    on long traces may take several ``requests`` (parts, then the whole); ``prompt_tokens`` is
    their estimated size, ``budget_tokens`` the budget each was fit into.
    """

    steps: int
    shown: str = ""
    cut: str = ""
    elided: str = ""
    share_shown: float = 1.0
    budget_tokens: int = 0
    prompt_tokens: int = 0
    requests: int = 1
    parts: int = 0
    """How many parts a trace too long for one prompt was judged in (0: one prompt)."""

    MOSTLY_UNSEEN_BELOW: ClassVar[float] = 0.5

    @property
    def mostly_unseen(self) -> bool:
        """Whether most of the trace's text was not shown: the verdict rests on a part of it."""
        return self.share_shown < self.MOSTLY_UNSEEN_BELOW

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "shown": self.shown,
            "cut": self.cut,
            "elided": self.elided,
            "share_shown": self.share_shown,
            "mostly_unseen": self.mostly_unseen,
            "budget_tokens": self.budget_tokens,
            "prompt_tokens": self.prompt_tokens,
            "requests": self.requests,
            "parts": self.parts,
        }


@dataclass(kw_only=True)
class Evaluation:
    """One evaluator's judgment of one trace (or of one step in it).

    ``passed`` is ``None`` when the evaluation is *unscored* (a judge reply that could not be
    parsed, an evaluator error): never counted as a pass. ``raw`` then keeps what came back.
    ``category``/``subcategory`` come from the badcase taxonomy (rubrics/taxonomy.yaml) and are set
    when the evaluation failed; ``culprit_span_id`` names the step that caused it. ``effect`` says
    what the finding is about, when a check knows: a ``state_changing`` call (a write: book,
    cancel, refund) or a ``read_only`` one (a lookup); the verdict ranks the former first.
    """

    evaluator: str
    label: str
    passed: bool | None
    score: float | None = None
    category: str | None = None
    subcategory: str | None = None
    culprit_span_id: str | None = None
    explanation: str = ""
    rubric_id: str | None = None
    rubric_version: str | None = None
    confidence: float | None = None
    judge_model: str | None = None
    references: list[str] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_millis: float | None = None
    raw: str | None = None
    coverage: JudgeCoverage | None = None
    """For the LLM judge: which steps it was shown, cut or not shown, and the prompts' size."""
    effect: CallEffect | None = None

    @property
    def unscored(self) -> bool:
        return self.passed is None


@dataclass(kw_only=True)
class Verdict:
    """The roll-up per trace: did it pass, and if not, what kind of badcase and where.

    The analysis context (``otel_flywheel.verdict_context.with_context`` fills it from the trace)
    lets every figure of ``otel-flywheel report`` be cut by time, agent version and cohort:
    ``start_time`` (RFC 3339, the trace's start), ``service`` (``name`` and ``version`` from the
    resource), ``cohort`` (the configured cohort attributes, redacted like the rest of the trace),
    ``culprit`` (the culprit step's ``kind``, ``name`` and ``tool``), ``tools`` (the tools the
    trace called) and ``goal`` (the user's request, redacted, cut to 500 characters).
    """

    trace_id: str
    passed: bool | None
    category: str | None = None
    subcategory: str | None = None
    culprit_span_id: str | None = None
    severity: str | None = None
    root_cause_owner: str | None = None
    evaluations: list[Evaluation] = field(default_factory=list)
    start_time: str | None = None
    service: dict[str, str | None] = field(default_factory=dict)
    cohort: dict[str, str] = field(default_factory=dict)
    culprit: dict[str, str | None] = field(default_factory=dict)
    tools: list[str] = field(default_factory=list)
    goal: str | None = None

    @property
    def outcome(self) -> Literal["pass", "fail", "unscored"]:
        return "unscored" if self.passed is None else "pass" if self.passed else "fail"

    @property
    def label(self) -> str:
        """What the verdict says at a glance: ``pass``, ``unscored``, or the failure's
        ``category/subcategory`` (``parameter/missing_required``)."""
        if self.passed is None:
            return "unscored"
        if self.passed:
            return "pass"
        return failure_label(self.category, self.subcategory)

    def to_dict(self) -> dict[str, Any]:
        """The verdict's JSON line (``evaluate``, ``judge``, verdict files); evaluations name
        their evaluator ``name``."""
        return {
            "trace_id": self.trace_id,
            "passed": self.passed,
            "category": self.category,
            "subcategory": self.subcategory,
            "culprit_span_id": self.culprit_span_id,
            "severity": self.severity,
            "root_cause_owner": self.root_cause_owner,
            "start_time": self.start_time,
            "service": dict(self.service),
            "cohort": dict(self.cohort),
            "culprit": dict(self.culprit),
            "tools": list(self.tools),
            "goal": self.goal,
            "evaluations": [_evaluation_line(e) for e in self.evaluations],
        }


def failure_label(category: str | None, subcategory: str | None) -> str:
    """``category/subcategory`` (or the part that is known; ``fail`` when neither is)."""
    return "/".join(part for part in (category, subcategory) if part) or "fail"


def _evaluation_line(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "name": evaluation.evaluator,
        "label": evaluation.label,
        "score": evaluation.score,
        "passed": evaluation.passed,
        "category": evaluation.category,
        "subcategory": evaluation.subcategory,
        "culprit_span_id": evaluation.culprit_span_id,
        "explanation": evaluation.explanation,
        "rubric_id": evaluation.rubric_id,
        "rubric_version": evaluation.rubric_version,
        "judge_model": evaluation.judge_model,
        "confidence": evaluation.confidence,
        "references": evaluation.references,
        "effect": evaluation.effect,
        **(
            {
                "coverage": evaluation.coverage.to_dict(),
                "input_tokens": evaluation.usage.input_tokens,
                "output_tokens": evaluation.usage.output_tokens,
            }
            if evaluation.coverage is not None
            else {}
        ),
    }


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


@cache
def _trace_adapter() -> TypeAdapter[AgentTrace]:
    # Built on first use: compiling the validator for the nested records takes milliseconds.
    return TypeAdapter(AgentTrace)
