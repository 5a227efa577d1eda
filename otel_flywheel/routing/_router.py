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

The annotations themselves are written as `otel_flywheel.routing._annotations` says.

Review priority is uncertainty x rarity: ``(1 - confidence) * 1 / (1 + n)`` where ``n`` is how
many examples of the category were routed in the window, so a reviewer sees first the cases the
judge was least sure of in categories seen least.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.evaluation import CallScorer, load_call_scorer
from otel_flywheel.model import AgentTrace, Evaluation, Feedback, Verdict
from otel_flywheel.routing._annotations import (
    FEEDBACK_ANNOTATION,
    VERDICT_ANNOTATION,
    feedback_annotation,
    now_rfc3339,
    primary_explanation,
    verdict_annotations,
)
from otel_flywheel.routing._datasets import DATASET_PURPOSES, Route
from otel_flywheel.routing._examples import (
    example_id,
    example_input,
    expected_tool_calls,
    source_metadata,
)
from otel_flywheel.sinks import AnnotationWrite, ExampleWrite

__all__ = ["FEEDBACK_ANNOTATION", "VERDICT_ANNOTATION", "ExampleCandidate", "Route", "Router"]


@dataclass(frozen=True, kw_only=True)
class ExampleCandidate:
    """An example routing wants to write, before dedupe and caps."""

    route: Route
    reason: str
    trace: AgentTrace
    output: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    category: str | None = None


class Router:
    """The rules: what to write for a verdict or a feedback. Dedupe and caps happen in the sink.

    ``category_counts`` (examples routed per category in the window) feeds review priorities;
    ``call_scorer`` says which tool results report a failure (the configured suite's by default).
    """

    def __init__(
        self,
        settings: RoutingSettings | None = None,
        *,
        category_counts: Callable[[], Mapping[str, int]] = dict,
        call_scorer: CallScorer | None = None,
    ) -> None:
        self.settings = settings if settings is not None else resolve_settings(RoutingSettings)
        self._category_counts = category_counts
        # Reads failed calls out of golden examples as the evaluators do; the configured suite's
        # by default, loaded when the first golden example needs it.
        self._call_scorer = call_scorer

    # ------------------------------------------------------------------------ annotations

    def verdict_annotations(self, trace: AgentTrace, verdict: Verdict) -> list[AnnotationWrite]:
        return verdict_annotations(
            trace, verdict, annotate_passing_checks=self.settings.annotate_passing_checks
        )

    def feedback_annotation(self, trace: AgentTrace | None, feedback: Feedback) -> AnnotationWrite:
        return feedback_annotation(trace, feedback)

    def _scorer(self) -> CallScorer:
        if self._call_scorer is None:
            self._call_scorer = load_call_scorer()
        return self._call_scorer

    # ----------------------------------------------------------------------------- examples

    def verdict_examples(self, trace: AgentTrace, verdict: Verdict) -> list[ExampleCandidate]:
        if trace.consent is False:
            return []
        failed = [e for e in verdict.evaluations if e.passed is False and e.category is not None]
        uncertain = [e for e in verdict.evaluations if self._uncertain(e)]
        examples: list[ExampleCandidate] = []
        if verdict.passed is False and any(self._confident(e) for e in failed):
            failing_rubrics = sorted({e.rubric_id for e in failed if e.rubric_id is not None})
            failing_checks = sorted({e.evaluator for e in failed if e.judge_model is None})
            meta = {
                "failing_rubrics": failing_rubrics,
                "failing_checks": failing_checks,
                "explanation": primary_explanation(verdict),
            }
            examples.append(
                ExampleCandidate(
                    route="regression",
                    reason="confident_failure",
                    trace=trace,
                    output={"output": trace.final_output},
                    metadata={**meta, "expected_output_known": False},
                    category=verdict.category,
                )
            )
            examples.append(
                ExampleCandidate(
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
                ExampleCandidate(
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
    ) -> list[ExampleCandidate]:
        """``verdict`` is the trace's, when known: feedback that contradicts it goes to review."""
        if trace.consent is False:
            return []
        original = trace.final_output
        if not feedback.explicit:
            # Behaviour is evidence, not a label: the case goes to review, ranked below what
            # people reported themselves (priority 1.0).
            return [
                ExampleCandidate(
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
        examples: list[ExampleCandidate] = []
        if feedback.chosen is not None and feedback.rejected is not None:
            examples.append(
                ExampleCandidate(
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
                ExampleCandidate(
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
                ExampleCandidate(
                    route="golden",
                    reason="thumbs_up",
                    trace=trace,
                    output={
                        "output": original,
                        "expected_tool_calls": expected_tool_calls(trace, self._scorer()),
                    },
                    metadata=meta,
                )
            )
        elif feedback.correction is not None:
            examples.append(
                ExampleCandidate(
                    route="regression",
                    reason="correction",
                    trace=trace,
                    output={"output": feedback.correction},
                    metadata={**meta, "expected_output_known": True, "original_output": original},
                )
            )
            if original is not None:
                examples.append(
                    ExampleCandidate(
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
                ExampleCandidate(
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

    def example_write(self, routed: ExampleCandidate, verdict: Verdict | None) -> ExampleWrite:
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
        metadata["routed_at"] = now_rfc3339()  # when the dataset grew, for the report's stall check
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
