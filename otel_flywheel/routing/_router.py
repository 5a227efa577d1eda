"""The routing rules: verdicts and feedback in, annotation and dataset-example writes out.

Annotations (triage in the Phoenix UI):

- each judge evaluation (annotator LLM) and each failed or unscored check (CODE), named after
  its evaluator, on its culprit span (the root span when it has none);
- the verdict, named ``flywheel.verdict``, on the trace and on its root span (Phoenix filters
  spans by span annotations);
- feedback (HUMAN for people, CODE for implicit signals) on the span it names, else the root.

Datasets (the defaults of issue 5; names from `RoutingSettings`):

==================================================  ==========================================
thumbs up                                           golden (output becomes the expected output)
thumbs up on a trace a check or the judge failed    review, with both signals (never golden)
thumbs down with a correction                       regression (expected = correction) and
                                                    preference (chosen = correction,
                                                    rejected = original output)
thumbs down without a correction                    review (marked a conflict when the
                                                    verdict passed)
an implicit signal (rephrase, retry, ...)           review, priority 0.5 x its weight
a confident judged or checked failure               regression (with its failing rubrics) and
                                                    review (it has no expected output)
an uncertain judgment                               review, with a priority score
pairwise preference feedback                        preference
consent false on the trace                          annotations only
==================================================  ==========================================

Raw thumbs are evidence, never ground truth: when a person and the evaluators disagree, the case
goes to review with both signals, so the loop does not learn its own mistakes (or the user's).

Annotation labels say what failed at a glance in the Phoenix UI: ``pass``, ``unscored`` or the
failure's ``category/subcategory`` (``parameter/missing_required``); the score stays for sorting,
and the evaluator's own label is kept in the metadata as ``result``.

Review priority is uncertainty x rarity: ``(1 - confidence) * 1 / (1 + n)`` where ``n`` is how
many examples of the category were routed in the window, so a reviewer sees first the cases the
judge was least sure of in categories seen least.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.model import AgentTrace, Evaluation, Feedback, Verdict, failure_label
from otel_flywheel.routing._datasets import DATASET_PURPOSES, Route
from otel_flywheel.routing._examples import (
    example_id,
    example_input,
    expected_tool_calls,
    source_metadata,
)
from otel_flywheel.sinks import AnnotationWrite, ExampleWrite

__all__ = ["FEEDBACK_ANNOTATION", "VERDICT_ANNOTATION", "Route", "RoutedExample", "Router"]

VERDICT_ANNOTATION = "flywheel.verdict"
FEEDBACK_ANNOTATION = "user_feedback"
IMPLICIT_ANNOTATION = "implicit_feedback"
_IDENTIFIER = "otel-flywheel"


@dataclass(frozen=True, kw_only=True)
class RoutedExample:
    """An example routing wants to write, before dedupe and caps."""

    route: Route
    reason: str
    trace: AgentTrace
    output: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    category: str | None = None


class Router:
    """The rules: what to write for a verdict or a feedback. Dedupe and caps happen in the sink.

    ``category_counts`` (examples routed per category in the window) feeds review priorities.
    """

    def __init__(
        self,
        settings: RoutingSettings | None = None,
        *,
        category_counts: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.settings = settings if settings is not None else resolve_settings(RoutingSettings)
        self._category_counts = category_counts

    # ------------------------------------------------------------------------ annotations

    def verdict_annotations(self, trace: AgentTrace, verdict: Verdict) -> list[AnnotationWrite]:
        root = trace.root
        writes: list[AnnotationWrite] = []
        seen: dict[tuple[str, str], int] = {}
        for evaluation in verdict.evaluations:
            judged = evaluation.judge_model is not None
            if (
                not judged
                and evaluation.passed is True
                and not self.settings.annotate_passing_checks
            ):
                continue
            span_id = evaluation.culprit_span_id or (root.span_id if root else None)
            if span_id is None:
                continue
            # One annotation per (name, span); a second finding of one check on one span gets
            # its own identifier, stable because evaluations come in a stable order.
            count = seen.get((evaluation.evaluator, span_id), 0)
            seen[(evaluation.evaluator, span_id)] = count + 1
            writes.append(
                AnnotationWrite(
                    target="span",
                    target_id=span_id,
                    name=evaluation.evaluator,
                    annotator_kind="LLM" if judged else "CODE",
                    label=_label(evaluation),
                    score=evaluation.score,
                    explanation=evaluation.explanation or None,
                    metadata=_evaluation_metadata(evaluation, trace),
                    identifier=_IDENTIFIER if count == 0 else f"{_IDENTIFIER}:{count}",
                    user_id=trace.user_id,
                )
            )
        summary = _verdict_summary(verdict)
        verdict_fields: dict[str, Any] = {
            "name": VERDICT_ANNOTATION,
            "annotator_kind": "LLM" if any(e.judge_model for e in verdict.evaluations) else "CODE",
            "label": verdict.label,
            "score": None if verdict.passed is None else float(verdict.passed),
            "explanation": summary,
            "metadata": verdict_metadata(verdict),
            "identifier": _IDENTIFIER,
            "user_id": trace.user_id,
        }
        writes.append(AnnotationWrite(target="trace", target_id=trace.trace_id, **verdict_fields))
        if root is not None:
            writes.append(AnnotationWrite(target="span", target_id=root.span_id, **verdict_fields))
        return writes

    def feedback_annotation(self, trace: AgentTrace | None, feedback: Feedback) -> AnnotationWrite:
        span_id = feedback.span_id or (trace.root.span_id if trace and trace.root else None)
        explicit = feedback.explicit
        label = (
            feedback.thumbs
            or ("corrected" if feedback.correction is not None else None)
            or ("preference" if feedback.chosen is not None else None)
            or feedback.signal
        )
        explanation = "\n".join(
            part
            for part in (
                feedback.reason,
                f"correction: {feedback.correction}" if feedback.correction else None,
                f"evidence: {feedback.evidence}" if feedback.evidence else None,
            )
            if part
        )
        target: Literal["span", "trace"] = "span" if span_id is not None else "trace"
        return AnnotationWrite(
            target=target,
            target_id=span_id if span_id is not None else _trace_id(trace, feedback),
            name=FEEDBACK_ANNOTATION if explicit else f"{IMPLICIT_ANNOTATION}.{feedback.signal}",
            annotator_kind="HUMAN" if explicit else "CODE",
            label=label,
            score=(1.0 if feedback.thumbs == "up" else 0.0) if label else None,
            explanation=explanation or None,
            metadata={
                "feedback_id": feedback.feedback_id,
                "annotator": feedback.annotator,
                "sender": feedback.sender,
                "weight": feedback.weight,
                "signal": feedback.signal,
                "has_correction": feedback.correction is not None,
            },
            # The latest feedback of one annotator on one span wins; implicit signals by kind. An
            # authenticated sender scopes its annotators: one sender cannot overwrite another's.
            identifier=_feedback_identifier(feedback, explicit=explicit),
            user_id=trace.user_id if trace else None,
        )

    # ----------------------------------------------------------------------------- examples

    def verdict_examples(self, trace: AgentTrace, verdict: Verdict) -> list[RoutedExample]:
        if trace.consent is False:
            return []
        failed = [e for e in verdict.evaluations if e.passed is False and e.category is not None]
        uncertain = [e for e in verdict.evaluations if self._uncertain(e)]
        examples: list[RoutedExample] = []
        if verdict.passed is False and any(self._confident(e) for e in failed):
            failing_rubrics = sorted({e.rubric_id for e in failed if e.rubric_id is not None})
            failing_checks = sorted({e.evaluator for e in failed if e.judge_model is None})
            meta = {
                "failing_rubrics": failing_rubrics,
                "failing_checks": failing_checks,
                "explanation": _primary_explanation(verdict),
            }
            examples.append(
                RoutedExample(
                    route="regression",
                    reason="confident_failure",
                    trace=trace,
                    output={"output": trace.final_output},
                    metadata={**meta, "expected_output_known": False},
                    category=verdict.category,
                )
            )
            examples.append(
                RoutedExample(
                    route="review",
                    reason="failure_without_expected_output",
                    trace=trace,
                    output={"output": trace.final_output},
                    metadata={**meta, "priority": self._priority(0.0, verdict.category)},
                    category=verdict.category,
                )
            )
        elif uncertain:
            least = min(uncertain, key=lambda e: e.confidence if e.confidence is not None else 0.0)
            confidence = least.confidence if least.confidence is not None else 0.0
            category = least.category or verdict.category
            examples.append(
                RoutedExample(
                    route="review",
                    reason="uncertain_judgment",
                    trace=trace,
                    output={"output": trace.final_output},
                    metadata={
                        "priority": self._priority(confidence, category),
                        "uncertain_rubric": least.rubric_id,
                        "confidence": confidence,
                        "label": least.label,
                        "explanation": least.explanation,
                    },
                    category=category,
                )
            )
        return examples

    def feedback_examples(
        self, trace: AgentTrace, feedback: Feedback, verdict: Verdict | None = None
    ) -> list[RoutedExample]:
        """``verdict`` is the trace's, when known: feedback that contradicts it goes to review."""
        if trace.consent is False:
            return []
        original = trace.final_output
        if not feedback.explicit:
            # Behaviour is evidence, not a label: the case goes to review, ranked below what
            # people reported themselves (priority 1.0).
            return [
                RoutedExample(
                    route="review",
                    reason=f"implicit_{feedback.signal}",
                    trace=trace,
                    output={"output": original},
                    metadata={
                        "feedback_id": feedback.feedback_id,
                        "evidence": feedback.evidence,
                        "priority": round(0.5 * feedback.weight, 6),
                    },
                )
            ]
        meta: dict[str, Any] = {
            "feedback_id": feedback.feedback_id,
            "annotator": feedback.annotator,
            "sender": feedback.sender,
            "reason": feedback.reason,
        }
        examples: list[RoutedExample] = []
        if feedback.chosen is not None and feedback.rejected is not None:
            examples.append(
                RoutedExample(
                    route="preference",
                    reason="pairwise_feedback",
                    trace=trace,
                    output={"chosen": feedback.chosen, "rejected": feedback.rejected},
                    metadata=meta,
                )
            )
        failed = verdict is not None and verdict.passed is False
        if feedback.thumbs == "up" and feedback.correction is None and failed:
            assert verdict is not None
            # A person liked what a check or the judge failed: one of them is wrong, and a
            # golden example would teach the mistake either way. A reviewer decides.
            examples.append(
                RoutedExample(
                    route="review",
                    reason="thumbs_up_on_failed_verdict",
                    trace=trace,
                    output={"output": original},
                    metadata={
                        **meta,
                        "priority": 1.0,
                        "conflict": True,
                        "signals": {"feedback": "up", "verdict": verdict.label},
                    },
                    category=verdict.category,
                )
            )
        elif feedback.thumbs == "up" and feedback.correction is None:
            examples.append(
                RoutedExample(
                    route="golden",
                    reason="thumbs_up",
                    trace=trace,
                    output={"output": original, "expected_tool_calls": expected_tool_calls(trace)},
                    metadata=meta,
                )
            )
        elif feedback.correction is not None:
            examples.append(
                RoutedExample(
                    route="regression",
                    reason="correction",
                    trace=trace,
                    output={"output": feedback.correction},
                    metadata={**meta, "expected_output_known": True, "original_output": original},
                )
            )
            if original is not None:
                examples.append(
                    RoutedExample(
                        route="preference",
                        reason="correction",
                        trace=trace,
                        output={"chosen": feedback.correction, "rejected": original},
                        metadata=meta,
                    )
                )
        elif feedback.thumbs == "down":
            conflict = verdict is not None and verdict.passed is True
            examples.append(
                RoutedExample(
                    route="review",
                    reason="thumbs_down",
                    trace=trace,
                    output={"output": original},
                    metadata={
                        **meta,
                        "priority": 1.0,
                        "conflict": conflict,
                        **(
                            {"signals": {"feedback": "down", "verdict": verdict.label}}
                            if verdict is not None
                            else {}
                        ),
                    },
                )
            )
        return examples

    def example_write(self, routed: RoutedExample, verdict: Verdict | None) -> ExampleWrite:
        dataset = self.settings.dataset(routed.route)
        trace = routed.trace
        metadata = {
            **source_metadata(trace, verdict),
            **routed.metadata,
            "route": routed.route,
            "route_reason": routed.reason,
        }
        if routed.category is not None:
            metadata["category"] = routed.category
        root = trace.root
        identifier = example_id(dataset, trace)
        metadata["example_id"] = identifier  # survives any id scheme Phoenix applies
        metadata["routed_at"] = (
            _now_rfc3339()
        )  # when the dataset grew, for the report's stall check
        purpose = DATASET_PURPOSES[routed.route]
        return ExampleWrite(
            dataset=dataset,
            example_id=identifier,
            input=example_input(trace),
            output=routed.output,
            metadata=metadata,
            span_id=root.span_id if root is not None else None,
            splits=[routed.route],
            user_id=trace.user_id,
            dataset_description=purpose.description,
            dataset_labels=dict(purpose.labels),
        )

    # ---------------------------------------------------------------------------- internals

    def _confident(self, evaluation: Evaluation) -> bool:
        if evaluation.judge_model is None:
            return True  # deterministic checks do not guess
        confidence = evaluation.confidence
        return confidence is not None and confidence >= self.settings.min_confidence

    def _uncertain(self, evaluation: Evaluation) -> bool:
        return evaluation.judge_model is not None and (
            evaluation.unscored
            or (
                evaluation.confidence is not None
                and evaluation.confidence < self.settings.min_confidence
            )
        )

    def _priority(self, confidence: float, category: str | None) -> float:
        """``uncertainty x rarity``; rarity is 1 / (1 + examples of the category in the window)."""
        seen = self._category_counts().get(category, 0) if category is not None else 0
        return round((1.0 - confidence) / (1 + seen), 6)


def _label(evaluation: Evaluation) -> str:
    """``pass``, ``unscored``, ``category/subcategory``; an uncategorized failure (an observation
    such as a tool's own 404) keeps the evaluator's label."""
    if evaluation.unscored:
        return "unscored"
    if evaluation.passed:
        return "pass"
    if evaluation.category is None:
        return evaluation.label
    return failure_label(evaluation.category, evaluation.subcategory)


def verdict_metadata(verdict: Verdict) -> dict[str, Any]:
    """The ``flywheel.verdict`` annotation's metadata: the verdict and its analysis context, what
    ``otel-flywheel report`` reads back from Phoenix."""
    return {
        "category": verdict.category,
        "subcategory": verdict.subcategory,
        "culprit_span_id": verdict.culprit_span_id,
        "severity": verdict.severity,
        "root_cause_owner": verdict.root_cause_owner,
        "evaluators": sorted({e.evaluator for e in verdict.evaluations}),
        "start_time": verdict.start_time,
        "service": dict(verdict.service),
        "cohort": dict(verdict.cohort),
        "culprit": dict(verdict.culprit),
        "tools": list(verdict.tools),
        "goal": verdict.goal,
        "rubric_versions": {
            e.rubric_id: e.rubric_version for e in verdict.evaluations if e.rubric_id is not None
        },
        "judge_models": sorted({e.judge_model for e in verdict.evaluations if e.judge_model}),
        # Per evaluation, as the report's calibration reads them (passing checks included).
        "evaluations": [
            {
                "name": e.evaluator,
                "rubric_id": e.rubric_id,
                "rubric_version": e.rubric_version,
                "passed": e.passed,
            }
            for e in verdict.evaluations
        ],
    }


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _verdict_summary(verdict: Verdict) -> str:
    if verdict.passed is None:
        return "Some evaluations are unscored; no evaluation failed."
    if verdict.passed:
        return "Every evaluation passed."
    where = f" at span {verdict.culprit_span_id}" if verdict.culprit_span_id else ""
    kind = "/".join(part for part in (verdict.category, verdict.subcategory) if part)
    return f"{kind}{where}: {_primary_explanation(verdict)}"


def _primary_explanation(verdict: Verdict) -> str:
    for evaluation in verdict.evaluations:
        if (
            evaluation.passed is False
            and evaluation.category == verdict.category
            and evaluation.culprit_span_id == verdict.culprit_span_id
        ):
            return evaluation.explanation
    return ""


def _feedback_identifier(feedback: Feedback, *, explicit: bool) -> str:
    who = feedback.annotator or ("user" if explicit else "detector")
    return f"{feedback.sender}/{who}" if feedback.sender else who


def _evaluation_metadata(evaluation: Evaluation, trace: AgentTrace) -> dict[str, Any]:
    return {
        "category": evaluation.category,
        "subcategory": evaluation.subcategory,
        "rubric_id": evaluation.rubric_id,
        "rubric_version": evaluation.rubric_version,
        "judge_model": evaluation.judge_model,
        "confidence": evaluation.confidence,
        "references": list(evaluation.references),
        "trace_id": trace.trace_id,
        # What the judge saw: a report counts the verdicts made with most of the trace unseen.
        **({"coverage": evaluation.coverage.to_dict()} if evaluation.coverage is not None else {}),
        "result": evaluation.label,
    }


def _trace_id(trace: AgentTrace | None, feedback: Feedback) -> str:
    trace_id = trace.trace_id if trace is not None else feedback.trace_id
    assert trace_id is not None  # Feedback requires a trace or a span id
    return trace_id
