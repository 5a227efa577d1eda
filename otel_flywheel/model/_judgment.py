"""What evaluation says about a trace: each evaluator's `Evaluation`, and the `Verdict` rolled up
from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from otel_flywheel.model._trace import TokenUsage

__all__ = [
    "CallEffect",
    "Evaluation",
    "JudgeCoverage",
    "Verdict",
    "failure_label",
    "parse_step_ranges",
    "step_ranges",
]

CallEffect = Literal["state_changing", "read_only"]


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
