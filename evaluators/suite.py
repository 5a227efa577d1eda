"""`EvaluatorSuite`: the checks, the rubric judge and the roll-up, assembled once.

The library reaches it through ``otel_flywheel.evaluation.load_trace_evaluator`` (a typed
Protocol); the pipeline, ``evaluate``, ``judge``, the demo and replay all evaluate through it, so a
trace gets the same verdict whichever way it came in.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from types import ModuleType
from typing import Any

from otel_flywheel.config import AnalysisSettings, resolve_settings
from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import JudgeResult
from otel_flywheel.model import AgentTrace, Evaluation, Verdict
from otel_flywheel.privacy import Redactor, build_redactor
from otel_flywheel.verdict_context import with_context

from .checks import (
    EMPTY_CATALOG,
    Check,
    ExpectedCall,
    ExpectedToolCallsCheck,
    ToolCatalog,
    default_checks,
)
from .judge import LLMJudge
from .references import References, ReferencesFile, read_references
from .rubric import Rubric, Taxonomy, load_rubrics, load_taxonomy
from .tools import load_tool_catalog
from .verdict import roll_up

__all__ = ["TRACE_REFERENCES", "EvaluatorSuite"]

# References every trace carries itself; the others come from a references file or an example.
TRACE_REFERENCES = frozenset(
    {"retrieved_documents", "tool_schemas", "tool_results", "conversation"}
)


class EvaluatorSuite:
    """Evaluates one trace at a time; safe to share across concurrent ``judge`` calls.

    ``tools`` says which tools only read and which retrieve knowledge (the default checks use
    it; references may add read-only tools for their trace). References reach the checks and the
    judge redacted: those not redacted yet (built in code rather than read by
    ``read_references``) go through ``redactor``, by default the one capture uses
    (``build_redactor()``, built on first need), so their values match the trace's pseudonyms
    and no raw value reaches the judge.
    """

    def __init__(
        self,
        *,
        taxonomy: Taxonomy,
        checks: Sequence[Check] | None = None,
        rubrics: Sequence[Rubric] = (),
        judge: LLMJudge | None = None,
        cohort_attributes: Sequence[str] | None = None,
        tools: ToolCatalog = EMPTY_CATALOG,
        redactor: Redactor | None = None,
    ) -> None:
        """``cohort_attributes`` (default: ``FLYWHEEL_COHORT_ATTRIBUTES``) are recorded on every
        verdict, with its time and agent version (``otel_flywheel.verdict_context``)."""
        if rubrics and judge is None:
            raise ConfigError("rubrics were given without a judge to apply them: pass judge=")
        self.taxonomy = taxonomy
        self.tools = tools
        # Checks given explicitly are used as they are; the defaults follow ``tools`` per trace.
        self._default_checks = checks is None
        self.checks = list(checks) if checks is not None else default_checks(tools=tools)
        self.rubrics = list(rubrics)
        self._judge = judge
        self._owners = {cid: c.root_cause_owner for cid, c in taxonomy.categories.items()}
        self.cohort_attributes = tuple(
            cohort_attributes
            if cohort_attributes is not None
            else resolve_settings(AnalysisSettings).cohort_attributes
        )
        self._redactor = redactor
        self._redactor_built = redactor is not None
        # Guards building the default redactor once. Held while building: a first build may
        # generate the redaction key file, which must happen once.
        self._redactor_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        *,
        judge: bool = True,
        rubrics_dir: str | os.PathLike[str] | None = None,
        rubric_ids: Collection[str] | None = None,
        judge_options: Mapping[str, Any] | None = None,
        cohort_attributes: Sequence[str] | None = None,
        tools: ToolCatalog | None = None,
    ) -> EvaluatorSuite:
        """The shipped checks and rubrics (or ``rubrics_dir``), with an ``LLMJudge`` if asked.

        The class is the shipped suite's plugin (the ``default`` entry point of the
        ``otel_flywheel.evaluators`` group): ``load``, `read_references`, `load_tool_catalog`.
        """
        tools = tools if tools is not None else EMPTY_CATALOG
        if rubrics_dir is not None:
            own = os.path.join(rubrics_dir, "taxonomy.yaml")
            taxonomy = load_taxonomy(extra=own if os.path.isfile(own) else None)
        else:
            taxonomy = load_taxonomy()
        if not judge:
            return cls(taxonomy=taxonomy, tools=tools, cohort_attributes=cohort_attributes)
        rubrics = load_rubrics(rubrics_dir, taxonomy=taxonomy)
        if rubric_ids is not None:
            unknown = sorted(set(rubric_ids) - set(rubrics))
            if unknown:
                raise ConfigError(
                    f"unknown rubric ids {unknown}. Fix: choose among {sorted(rubrics)}"
                )
            rubrics = {rid: rubrics[rid] for rid in rubric_ids}
        llm_judge = LLMJudge(taxonomy=taxonomy, **dict(judge_options or {}))
        return cls(
            taxonomy=taxonomy,
            rubrics=list(rubrics.values()),
            judge=llm_judge,
            tools=tools,
            cohort_attributes=cohort_attributes,
        )

    @staticmethod
    def read_references(
        path: str | os.PathLike[str], *, redactor: Redactor | bool | None = True
    ) -> ReferencesFile:
        """A references file, validated (see ``otel-flywheel evaluate --help``)."""
        return read_references(path, redactor=redactor)

    @staticmethod
    def load_tool_catalog(
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: Sequence[str] = (),
        retrieval: Sequence[str] = (),
    ) -> ToolCatalog:
        """What a tools file (MCP ``tools/list``) and name patterns declare about the tools."""
        return load_tool_catalog(path, read_only=read_only, retrieval=retrieval)

    @staticmethod
    def call_scorer() -> ModuleType:
        """What scores tool calls outside a trace (rewards): the same check and matchers."""
        from . import call_score

        return call_score

    def references_for(
        self,
        *,
        expected_output: str | None = None,
        expected_tool_calls: Sequence[Mapping[str, Any]] | None = None,
    ) -> References | None:
        """An example's expectations as references (replay); ``None`` when it has none."""
        if expected_output is None and expected_tool_calls is None:
            return None
        calls = (
            tuple(ExpectedCall.from_dict(call) for call in expected_tool_calls)
            if expected_tool_calls is not None
            else None
        )
        return References(expected_output=expected_output, expected_tool_calls=calls)

    @property
    def judge_model(self) -> str | None:
        return self._judge.model if self._judge is not None else None

    def check(self, trace: AgentTrace, references: References | None = None) -> list[Evaluation]:
        """Every deterministic check's evaluations, plus expected calls when references have them."""
        references = self.redacted(references)
        tools = self.tools
        active = list(self.checks)
        if references is not None and references.read_only:
            tools = tools.merged(ToolCatalog(read_only=references.read_only))
            if self._default_checks:
                active = default_checks(tools=tools)
        if references is not None and references.expected_tool_calls is not None:
            active.append(
                ExpectedToolCallsCheck(
                    references.expected_tool_calls,
                    matching=references.call_matching,
                    tools=tools,
                )
            )
        return [evaluation for check in active for evaluation in check.evaluate(trace)]

    def redacted(self, references: References | None) -> References | None:
        """``references`` as the checks and the judge may see them: redacted like the traces."""
        if references is None or references.redacted:
            return references
        return references.redact(self._references_redactor())

    def _references_redactor(self) -> Redactor | None:
        if not self._redactor_built:
            with self._redactor_lock:
                if not self._redactor_built:
                    self._redactor = build_redactor()
                    self._redactor_built = True
        return self._redactor

    def applicable_rubrics(self, references: References | None = None) -> list[Rubric]:
        """The rubrics whose required references are available for a trace with ``references``."""
        available = TRACE_REFERENCES | set(references.names if references is not None else ())
        return [r for r in self.rubrics if set(r.required_references) <= available]

    async def judge(
        self,
        trace: AgentTrace,
        references: References | None = None,
        *,
        rubric_ids: Collection[str] | None = None,
    ) -> JudgeResult:
        """The judge's evaluations of ``trace`` for every applicable rubric (or ``rubric_ids``)."""
        if self._judge is None:
            return JudgeResult()
        references = self.redacted(references)
        rubrics = [
            r
            for r in self.applicable_rubrics(references)
            if rubric_ids is None or r.id in rubric_ids
        ]
        # The checks' findings point the judge at their culprit steps: never cut from a prompt.
        flagged = {
            e.culprit_span_id
            for e in self.check(trace, references)
            if e.passed is False and e.culprit_span_id is not None
        }
        judge = self._judge
        runs = await asyncio.gather(
            *(judge.run(trace, r, references, flagged=flagged) for r in rubrics)
        )
        return JudgeResult(
            evaluations=[run.evaluation for run in runs],
            failed_rubrics=frozenset(
                rubric.id
                for rubric, run in zip(rubrics, runs, strict=True)
                if run.status == "failed"
            ),
        )

    def roll_up(self, trace: AgentTrace, evaluations: Sequence[Evaluation]) -> Verdict:
        verdict = roll_up(trace, evaluations, root_cause_owners=self._owners)
        return with_context(verdict, trace, cohort_attributes=self.cohort_attributes)

    async def aclose(self) -> None:
        if self._judge is not None:
            await self._judge.aclose()
