"""The annotations routing writes for triage in the Phoenix UI: each evaluation on its culprit
span, the verdict on the trace and its root span, feedback on the span it names.

Labels say what failed at a glance: ``pass``, ``unscored`` or the failure's
``category/subcategory`` (``parameter/missing_required``); the score stays for sorting, and the
evaluator's own label is kept in the metadata as ``result``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Final, Literal

from otel_flywheel.model import AgentTrace, Evaluation, Feedback, Verdict, failure_label
from otel_flywheel.sinks import AnnotationWrite

__all__ = [
    "FEEDBACK_ANNOTATION",
    "IMPLICIT_ANNOTATION",
    "VERDICT_ANNOTATION",
    "feedback_annotation",
    "now_rfc3339",
    "primary_explanation",
    "verdict_annotations",
    "verdict_metadata",
]

VERDICT_ANNOTATION: Final = "flywheel.verdict"
FEEDBACK_ANNOTATION: Final = "user_feedback"
IMPLICIT_ANNOTATION: Final = "implicit_feedback"
_IDENTIFIER: Final = "otel-flywheel"


def verdict_annotations(
    trace: AgentTrace, verdict: Verdict, *, annotate_passing_checks: bool = False
) -> list[AnnotationWrite]:
    """Each evaluation on its culprit span (passing checks only with ``annotate_passing_checks``),
    and the verdict on the trace and on its root span."""
    root = trace.root
    writes: list[AnnotationWrite] = []
    seen: dict[tuple[str, str], int] = {}
    for evaluation in verdict.evaluations:
        judged = evaluation.judge_model is not None
        if not judged and evaluation.passed is True and not annotate_passing_checks:
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


def feedback_annotation(trace: AgentTrace | None, feedback: Feedback) -> AnnotationWrite:
    """Feedback on the span it names (else the trace's root): HUMAN for people, CODE for implicit
    signals."""
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


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _verdict_summary(verdict: Verdict) -> str:
    if verdict.passed is None:
        return "Some evaluations are unscored; no evaluation failed."
    if verdict.passed:
        return "Every evaluation passed."
    where = f" at span {verdict.culprit_span_id}" if verdict.culprit_span_id else ""
    kind = "/".join(part for part in (verdict.category, verdict.subcategory) if part)
    return f"{kind}{where}: {primary_explanation(verdict)}"


def primary_explanation(verdict: Verdict) -> str:
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
