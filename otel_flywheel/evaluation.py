"""The evaluators as the rest of the library sees them: one typed interface, loaded at run time.

The checks, the rubric judge and the verdict roll-up ship in ``evaluators/`` as
``otel_flywheel.evaluators`` (a package-dir mapping mypy cannot follow, see docs/decisions.md). The
pipeline, the CLI, the demo and replay reach them through `TraceEvaluator` and
`load_trace_evaluator`, the one place that imports them, so everything above stays typed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

from otel_flywheel.model import AgentTrace, Evaluation, ToolDefinition, Verdict

__all__ = [
    "CallScore",
    "CallScorer",
    "JudgeResult",
    "TraceEvaluator",
    "load_call_scorer",
    "load_references",
    "load_tool_catalog",
    "load_trace_evaluator",
    "read_references",
]


@dataclass(frozen=True, kw_only=True)
class JudgeResult:
    """The rubric judge's evaluations of one trace.

    ``failed_rubrics`` names the rubrics whose requests got no usable reply (retries ran out, the
    endpoint was down or refused): their evaluations are unscored, and judging them again later may
    succeed. A reply that came back but did not parse is unscored too, but not retried: the same
    input would get the same reply.
    """

    evaluations: list[Evaluation] = field(default_factory=list)
    failed_rubrics: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class CallScore:
    """The ``expected_tool_calls`` check's verdict on some tool calls, and how close they came.

    ``passed`` is the check's verdict, exactly as ``evaluate`` reaches it; ``findings`` its
    failing evaluations. ``required`` counts the calls the references require, ``matched`` those
    made with matching arguments; ``near_misses`` holds, per required call answered only by a
    same-named call with other arguments, the share of its arguments that match; ``beyond``
    counts findings about calls the references do not allow (unnecessary, repeated, misordered).
    """

    passed: bool
    findings: tuple[Evaluation, ...] = ()
    required: int = 0
    matched: int = 0
    near_misses: tuple[float, ...] = ()
    beyond: int = 0


class CallScorer(Protocol):
    """Expected tool calls as training rows hold them, and calls scored against them."""

    def parse_expected(self, value: Any) -> Any:
        """A row's references (an object in the references format without ``trace_id``, or a
        list of expected calls); ``ConfigError`` names what is wrong."""
        ...

    def score_calls(
        self, trace: AgentTrace, references: Any, *, tools: Sequence[ToolDefinition] = ()
    ) -> CallScore: ...

    def result_failure(self, name: str, result: str | None) -> str | None:
        """Why a tool result says its call failed, as the checks read it; ``None`` if it does
        not."""
        ...


@runtime_checkable
class TraceEvaluator(Protocol):
    """Deterministic checks, the rubric judge and the roll-up for one trace at a time.

    ``references`` is whatever `load_references` returns for a trace (expected output, expected
    tool calls, a policy document), or ``None``: the trace's own documents, tool schemas and results
    are always used.
    """

    @property
    def judge_model(self) -> str | None:
        """The judge's model, or ``None`` when only the deterministic checks run."""
        ...

    def check(self, trace: AgentTrace, references: Any = None) -> list[Evaluation]: ...

    async def judge(
        self,
        trace: AgentTrace,
        references: Any = None,
        *,
        rubric_ids: Collection[str] | None = None,
    ) -> JudgeResult: ...

    def roll_up(self, trace: AgentTrace, evaluations: Sequence[Evaluation]) -> Verdict: ...

    async def aclose(self) -> None: ...


def load_trace_evaluator(
    *,
    judge: bool = True,
    rubrics_dir: str | os.PathLike[str] | None = None,
    rubric_ids: Collection[str] | None = None,
    judge_options: Mapping[str, Any] | None = None,
    cohort_attributes: Sequence[str] | None = None,
    tools: Any = None,
) -> TraceEvaluator:
    """The shipped evaluators: default checks, plus the rubric judge unless ``judge=False``.

    ``cohort_attributes``: what every verdict records as its cohort (default:
    ``FLYWHEEL_COHORT_ATTRIBUTES``).

    ``rubrics_dir`` replaces the shipped rubrics; ``rubric_ids`` keeps only those; ``judge_options``
    go to ``LLMJudge`` (model, base_url, concurrency, ...; the rest comes from ``FLYWHEEL_JUDGE_*``);
    ``tools`` is what `load_tool_catalog` returns (read-only and retrieval tools).
    Raises ``ConfigError`` naming the fix when the judge is asked for but not configured.
    """
    suite = importlib.import_module("otel_flywheel.evaluators.suite")
    options: dict[str, Any] = {} if tools is None else {"tools": tools}
    evaluator = suite.EvaluatorSuite.load(
        judge=judge,
        rubrics_dir=rubrics_dir,
        rubric_ids=rubric_ids,
        judge_options=dict(judge_options or {}),
        cohort_attributes=cohort_attributes,
        **options,
    )
    return cast(TraceEvaluator, evaluator)


def load_references(path: str | os.PathLike[str], *, redactor: Any = True) -> dict[str, Any]:
    """``trace_id -> references`` from a JSON-lines file (see ``otel-flywheel evaluate --help``),
    redacted as capture redacts traces unless ``redactor`` says otherwise; warnings are logged."""
    module = importlib.import_module("otel_flywheel.evaluators.references")
    return cast(dict[str, Any], module.load_references(path, redactor=redactor))


def read_references(path: str | os.PathLike[str], *, redactor: Any = True) -> Any:
    """The references file with its warnings (``ReferencesFile``: ``references``, ``warnings``,
    ``check_against(traces, tools=...)``); raises ``ConfigError`` listing every bad line."""
    module = importlib.import_module("otel_flywheel.evaluators.references")
    return module.read_references(path, redactor=redactor)


def load_tool_catalog(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: Sequence[str] = (),
    retrieval: Sequence[str] = (),
) -> Any:
    """What a tools file (MCP ``tools/list`` JSON) and name patterns say about the tools: which
    are read-only, which are retrieval (a ``ToolCatalog`` for `load_trace_evaluator`)."""
    module = importlib.import_module("otel_flywheel.evaluators.tools")
    return module.load_tool_catalog(path, read_only=read_only, retrieval=retrieval)


def load_call_scorer() -> CallScorer:
    """The ``expected_tool_calls`` check and its matchers, for scoring calls outside a trace
    (``otel_flywheel.rewards``)."""
    return cast(CallScorer, importlib.import_module("otel_flywheel.evaluators.call_score"))
