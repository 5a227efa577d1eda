"""Automated preference pairs: where the checks or the judge prefer one variant's run to the other's.

After an A/B replay (`_compare`), every example that one variant passed in all its scored runs and
the other failed in all of them gives a pair: the passing run is chosen, the failing one rejected.
Flaky and erroring examples give none: a preference needs a clear verdict on both sides.

A pair is written to the project's preference dataset (``<project>/preference``) as an example
that carries its own conversation, because the runs it compares are replays, not the source trace:

- ``output``: ``chosen`` and ``rejected`` (each run's final answer, as every preference example
  holds them), ``prompt_messages`` (the system prompt and the request, without any few-shot
  demonstrations a variant added between them), ``chosen_messages`` and
  ``rejected_messages`` (each run's turns after it: tool calls, results, answer) and ``tools``;
  ``export dpo`` trains on these messages;
- ``metadata``, the lineage: ``route: preference``, ``route_reason: replay_comparison``, the
  replayed example (id, dataset, version) and its source trace and user (so ``purge`` finds it,
  and consent carries over), each side's variant, task, trace id and experiment, and what decided:
  the evaluators that failed the rejected run and the judge model, if one judged.

The pair's example id is stable per (replayed example, chosen task, rejected task): replaying the
same two variants again updates the pair instead of adding one. Writes go through the durable
outbox, as routing's do: Phoenix being down delays them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.replay._compare import Comparison
from otel_flywheel.replay._gate import ExampleOutcome
from otel_flywheel.replay._runner import RunResult

__all__ = ["PREFERENCE_REASON", "PreferencePair", "preference_examples", "preference_pairs"]

PREFERENCE_REASON: Final = "replay_comparison"


@dataclass(frozen=True, kw_only=True)
class PreferencePair:
    """The chosen and the rejected run of one example, and which variant each came from."""

    chosen: RunResult
    rejected: RunResult
    chosen_variant: str
    rejected_variant: str
    chosen_task: str
    rejected_task: str
    chosen_experiment: str | None = None
    rejected_experiment: str | None = None

    @property
    def example(self) -> DatasetExample:
        return self.chosen.example


def preference_pairs(
    comparison: Comparison,
    *,
    tasks: tuple[str, str],
    experiments: tuple[str | None, str | None] = (None, None),
) -> list[PreferencePair]:
    """A pair per example one variant passed cleanly and the other failed cleanly."""
    pairs = []
    for pair in comparison.examples:
        if pair.difference not in ("better", "worse"):
            continue
        a_side = (pair.a, comparison.a_name, tasks[0], experiments[0])
        b_side = (pair.b, comparison.b_name, tasks[1], experiments[1])
        won, lost = (b_side, a_side) if pair.difference == "better" else (a_side, b_side)
        chosen, rejected = _run(won[0], "pass"), _run(lost[0], "fail")
        if chosen is None or rejected is None:
            continue
        pairs.append(
            PreferencePair(
                chosen=chosen,
                rejected=rejected,
                chosen_variant=won[1],
                rejected_variant=lost[1],
                chosen_task=won[2],
                rejected_task=lost[2],
                chosen_experiment=won[3],
                rejected_experiment=lost[3],
            )
        )
    return pairs


def preference_examples(pairs: list[PreferencePair], *, dataset: str) -> list[DatasetExample]:
    """The pairs as examples of the preference dataset ``dataset`` (see the module docstring);
    pairs whose runs left no answer or no conversation are skipped."""
    from otel_flywheel.export import conversation_from_trace

    examples = []
    for pair in pairs:
        chosen_trace, rejected_trace = pair.chosen.trace, pair.rejected.trace
        if chosen_trace is None or rejected_trace is None:
            continue
        chosen, rejected = (
            conversation_from_trace(chosen_trace),
            conversation_from_trace(rejected_trace),
        )
        if chosen.problem is not None or rejected.problem is not None:
            continue
        prompt, chosen_turns = _split(chosen.messages)
        _, rejected_turns = _split(rejected.messages)
        chosen_answer, rejected_answer = _answer(pair.chosen), _answer(pair.rejected)
        if not prompt or not chosen_turns or not rejected_turns:
            continue
        if chosen_answer is None or rejected_answer is None:
            continue
        source = pair.example
        examples.append(
            DatasetExample(
                example_id=_pair_id(dataset, pair),
                dataset=dataset,
                span_id=source.span_id,
                input=dict(source.input),
                output={
                    "chosen": chosen_answer,
                    "rejected": rejected_answer,
                    "prompt_messages": prompt,
                    "chosen_messages": chosen_turns,
                    "rejected_messages": rejected_turns,
                    "tools": chosen.tools or rejected.tools,
                },
                metadata=_lineage(pair),
            )
        )
    return examples


def _lineage(pair: PreferencePair) -> dict[str, Any]:
    source = pair.example
    meta = source.metadata
    rejected = pair.rejected.verdict
    failed = [e for e in rejected.evaluations if e.passed is False] if rejected else []
    judges = sorted({e.judge_model for e in failed if e.judge_model})
    return {
        "route": "preference",
        "route_reason": PREFERENCE_REASON,
        "preferred_by": "judge" if judges else "checks",
        "judge_models": judges,
        "rejected_failures": sorted({e.evaluator for e in failed}),
        "category": rejected.category if rejected else meta.get("category"),
        "subcategory": rejected.subcategory if rejected else None,
        "source_example_id": source.example_id,
        "source_dataset": source.dataset,
        "source_dataset_version": source.dataset_version,
        # The production run the replayed example came from: purge finds the pair by its user,
        # and a user who withheld consent there withheld it here.
        "source_trace_id": meta.get("source_trace_id"),
        "source_span_id": meta.get("source_span_id") or source.span_id,
        "project": meta.get("project"),
        "user_id": meta.get("user_id"),
        "session_id": meta.get("session_id"),
        "consent": meta.get("consent"),
        "chosen": _side(pair.chosen, pair.chosen_variant, pair.chosen_task, pair.chosen_experiment),
        "rejected": _side(
            pair.rejected, pair.rejected_variant, pair.rejected_task, pair.rejected_experiment
        ),
    }


def _side(run: RunResult, variant: str, task: str, experiment: str | None) -> dict[str, Any]:
    return {
        "variant": variant,
        "task": task,
        "trace_id": run.trace_id,
        "experiment_id": experiment,
        "repetition": run.repetition,
        "verdict": run.verdict.label if run.verdict else None,
    }


def _run(outcome: ExampleOutcome, status: str) -> RunResult | None:
    return next((run for run in outcome.runs if run.status == status), None)


def _split(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the request, the run's turns after it). The request is the system prompt and the last
    user message: a variant that put few-shot demonstrations between them had them as help, and
    a preference pair teaches the model to do without."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        return [], []
    system = [m for m in messages[: users[0]] if m["role"] == "system"]
    return [*system, messages[users[-1]]], messages[users[-1] + 1 :]


def _answer(run: RunResult) -> str | None:
    output = run.output
    if isinstance(output, str) and output.strip():
        return output
    return None


def _pair_id(dataset: str, pair: PreferencePair) -> str:
    basis = "\n".join(
        (
            dataset,
            pair.example.dataset,
            pair.example.example_id,
            pair.chosen_task,
            pair.rejected_task,
        )
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:32]
