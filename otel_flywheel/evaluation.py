"""The evaluators as the rest of the library sees them: one typed interface, loaded by name.

Evaluator suites plug in through the ``otel_flywheel.evaluators`` entry-point group: each entry
names an `EvaluatorPlugin` (what loads the suite and reads the files it understands). The shipped
checks, rubric judge and roll-up register as ``default`` (``evaluators/`` ships as
``otel_flywheel.evaluators``; see docs/decisions.md); a third-party package registers its own the
same way, and ``FLYWHEEL_EVALUATORS=<name>`` (or ``suite=``) picks it. The pipeline, the CLI, the
demo and replay reach evaluators only through `TraceEvaluator` and the loaders here, so nothing
above imports an evaluator module by name and everything stays typed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Final, Protocol, cast, runtime_checkable

from otel_flywheel import _env
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation, ToolDefinition, Verdict

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SUITE",
    "ENTRY_POINT_GROUP",
    "CallScore",
    "CallScorer",
    "EvaluatorPlugin",
    "JudgeResult",
    "TraceEvaluator",
    "evaluate_traces",
    "evaluator_plugin",
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

    def references_for(
        self,
        *,
        expected_output: str | None = None,
        expected_tool_calls: Sequence[Mapping[str, Any]] | None = None,
    ) -> Any:
        """This suite's references for an example's expectations (replay), or ``None`` when it
        has none. Raises ``ConfigError`` for expectations the suite cannot read."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EvaluatorPlugin(Protocol):
    """What an entry of the ``otel_flywheel.evaluators`` group names: it loads a suite and reads
    the files the suite's references and tool declarations come in."""

    def load(
        self,
        *,
        judge: bool,
        rubrics_dir: str | os.PathLike[str] | None,
        rubric_ids: Collection[str] | None,
        judge_options: Mapping[str, Any],
        cohort_attributes: Sequence[str] | None,
        tools: Any,
    ) -> TraceEvaluator: ...

    def read_references(self, path: str | os.PathLike[str], *, redactor: Any) -> Any: ...

    def load_tool_catalog(
        self,
        path: str | os.PathLike[str] | None,
        *,
        read_only: Sequence[str],
        retrieval: Sequence[str],
    ) -> Any: ...


ENTRY_POINT_GROUP: Final = "otel_flywheel.evaluators"
DEFAULT_SUITE: Final = "default"


def evaluator_plugin(name: str | None = None) -> EvaluatorPlugin:
    """The plugin registered as ``name`` (default: ``FLYWHEEL_EVALUATORS``, else ``default``).

    Raises ``ConfigError`` naming the installed ones when there is no such entry point.
    """
    return _plugin(name or os.environ.get(_env.FLYWHEEL_EVALUATORS) or DEFAULT_SUITE)


@cache
def _plugin(name: str) -> EvaluatorPlugin:
    found = entry_points(group=ENTRY_POINT_GROUP)
    matches = [entry for entry in found if entry.name == name]
    if not matches:
        installed = sorted(entry.name for entry in found) or ["none"]
        raise ConfigError(
            f"no evaluator suite {name!r} in the {ENTRY_POINT_GROUP!r} entry-point group "
            f"(installed: {', '.join(installed)}). Fix: install the package that provides it, "
            f"or set {_env.FLYWHEEL_EVALUATORS} to one of those"
        )
    plugin = matches[0].load()
    if not isinstance(plugin, EvaluatorPlugin):
        raise ConfigError(
            f"entry point {name!r} of {ENTRY_POINT_GROUP!r} ({matches[0].value}) is not an "
            "evaluator plugin: it needs load(), read_references() and load_tool_catalog()"
        )
    return plugin


def load_trace_evaluator(
    *,
    judge: bool = True,
    rubrics_dir: str | os.PathLike[str] | None = None,
    rubric_ids: Collection[str] | None = None,
    judge_options: Mapping[str, Any] | None = None,
    cohort_attributes: Sequence[str] | None = None,
    tools: Any = None,
    suite: str | None = None,
) -> TraceEvaluator:
    """The evaluator ``suite`` (default: the shipped checks, plus the rubric judge unless
    ``judge=False``), loaded through its entry point.

    ``cohort_attributes``: what every verdict records as its cohort (default:
    ``FLYWHEEL_COHORT_ATTRIBUTES``). ``rubrics_dir`` replaces the shipped rubrics; ``rubric_ids``
    keeps only those; ``judge_options`` go to the judge (model, base_url, concurrency, ...; the
    rest comes from ``FLYWHEEL_JUDGE_*``); ``tools`` is what `load_tool_catalog` returns (read-only
    and retrieval tools). Raises ``ConfigError`` naming the fix when the judge is asked for but
    not configured, or the suite is not installed.
    """
    return evaluator_plugin(suite).load(
        judge=judge,
        rubrics_dir=rubrics_dir,
        rubric_ids=rubric_ids,
        judge_options=dict(judge_options or {}),
        cohort_attributes=cohort_attributes,
        tools=tools,
    )


async def evaluate_traces(
    evaluator: TraceEvaluator,
    traces: Sequence[AgentTrace],
    references: Mapping[str, Any] | None = None,
    *,
    on_verdict: Callable[[Verdict], None] | None = None,
) -> list[Verdict]:
    """Verdicts for ``traces``, in order: checks, then the judge (the judge's requests of all traces
    run concurrently, bounded by the judge), then the roll-up. ``references`` maps trace ids to
    what `read_references` read; ``on_verdict`` hears each verdict as it is reached. The evaluator
    is closed at the end."""
    references = references or {}

    async def one(trace: AgentTrace) -> Verdict:
        supplied = references.get(trace.trace_id)
        evaluations = evaluator.check(trace, supplied)
        judged = await evaluator.judge(trace, supplied)
        verdict = evaluator.roll_up(trace, evaluations + judged.evaluations)
        if on_verdict is not None:
            on_verdict(verdict)
        return verdict

    try:
        return list(await asyncio.gather(*(one(trace) for trace in traces)))
    finally:
        await evaluator.aclose()


def load_references(path: str | os.PathLike[str], *, redactor: Any = True) -> dict[str, Any]:
    """``trace_id -> references`` from a JSON-lines file (see ``otel-flywheel evaluate --help``),
    redacted as capture redacts traces unless ``redactor`` says otherwise; warnings are logged."""
    found = read_references(path, redactor=redactor)
    for warning in found.warnings:
        logger.warning("%s", warning)
    return cast(dict[str, Any], found.references)


def read_references(path: str | os.PathLike[str], *, redactor: Any = True) -> Any:
    """The references file with its warnings (``ReferencesFile``: ``references``, ``warnings``,
    ``check_against(traces, tools=...)``); raises ``ConfigError`` listing every bad line."""
    return evaluator_plugin().read_references(path, redactor=redactor)


def load_tool_catalog(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: Sequence[str] = (),
    retrieval: Sequence[str] = (),
) -> Any:
    """What a tools file (MCP ``tools/list`` JSON) and name patterns say about the tools: which
    are read-only, which are retrieval (a ``ToolCatalog`` for `load_trace_evaluator`)."""
    return evaluator_plugin().load_tool_catalog(path, read_only=read_only, retrieval=retrieval)


def load_call_scorer(suite: str | None = None) -> CallScorer:
    """The suite's ``expected_tool_calls`` check and matchers, for scoring calls outside a trace
    (``otel_flywheel.rewards``). Raises ``ConfigError`` when the suite cannot score calls."""
    plugin = evaluator_plugin(suite)
    scorer = getattr(plugin, "call_scorer", None)
    if scorer is None:
        raise ConfigError(
            f"the evaluator suite {suite or 'in use'} cannot score tool calls outside a trace "
            "(its plugin has no call_scorer()). Fix: use the default suite for rewards"
        )
    return cast(CallScorer, scorer())
