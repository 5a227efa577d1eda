"""Replay's record in Phoenix: the experiment on the replayed dataset version, its runs, a baseline.

The experiment is tied to the dataset version that was replayed; each run links to its trace id and
carries one evaluation per evaluator plus ``flywheel.replay`` (the run's status), which is what a
later ``--baseline`` reads back. Phoenix is reached through ``otel_flywheel.phoenix`` only.

Tool recordings for Phoenix examples come from their source traces, read with the same
``pull_traces`` as ``otel-flywheel judge`` (redacted, as at capture).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel import __version__
from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import Evaluation
from otel_flywheel.phoenix import (
    ExperimentEvaluation,
    ExperimentNotFoundError,
    ExperimentRun,
    PhoenixAccessError,
    create_experiment,
    experiment_runs,
    experiments_of,
    log_runs,
    pull_traces,
)
from otel_flywheel.replay._gate import Baseline, BaselineEntry, ExampleStatus
from otel_flywheel.replay._runner import RunResult
from otel_flywheel.replay._tools import ToolRecording, recordings_from_trace

if TYPE_CHECKING:
    from otel_flywheel.phoenix import PhoenixClient
    from otel_flywheel.privacy import Redactor

__all__ = [
    "REPLAY_EVALUATION",
    "baseline_from_experiment",
    "latest_replay_experiment",
    "pull_recordings",
    "record_runs",
    "start_experiment",
]

logger = logging.getLogger(__name__)

REPLAY_EVALUATION: Final = "flywheel.replay"
"""The evaluation on each experiment run that holds the run's status (pass / fail / error)."""
EXPERIMENT_MARK: Final = "otel_flywheel"
"""Experiment metadata key marking experiments replay recorded (value ``"replay"``)."""
_EXPLANATION_CHARS: Final = 4000
_PROGRESS_EVERY_RUNS: Final = 20


def start_experiment(
    client: PhoenixClient,
    dataset: LoadedDataset,
    *,
    task: str,
    repetitions: int,
    judge_model: str | None,
) -> dict[str, Any]:
    """A new experiment on the replayed dataset version (``id``, ``project_name``, ...)."""
    return create_experiment(
        client,
        dataset,
        name=f"replay {task}",
        description=f"otel-flywheel replay of {dataset.name} with {task}",
        metadata={
            EXPERIMENT_MARK: "replay",
            "task": task,
            "judge_model": judge_model,
            "otel_flywheel_version": __version__,
        },
        repetitions=repetitions,
    )


def record_runs(
    client: PhoenixClient,
    experiment_id: str,
    dataset: LoadedDataset,
    runs: Sequence[RunResult],
    *,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Record each run and its evaluations in the experiment; returns the runs recorded."""
    records = [
        _experiment_run(run, node_id)
        for run in runs
        if (node_id := dataset.node_ids.get(run.example.example_id)) is not None
    ]

    def recorded(count: int) -> None:
        if progress is not None and count % _PROGRESS_EVERY_RUNS == 0:
            progress(f"recorded {count}/{len(runs)} runs in the experiment")

    return log_runs(client, experiment_id, records, progress=recorded)


def _experiment_run(run: RunResult, node_id: str) -> ExperimentRun:
    status = ExperimentEvaluation(
        name=REPLAY_EVALUATION,
        label=run.status,
        score={"pass": 1.0, "fail": 0.0}.get(run.status),
        explanation=(
            run.reason[:_EXPLANATION_CHARS] or None
            if run.status != "pass"
            else "every evaluation passed"
        ),
        metadata={
            "example_id": run.example.example_id,
            "category": run.verdict.category if run.verdict else None,
            "unjudged_rubrics": list(run.unjudged_rubrics),
        },
    )
    by_evaluator = [
        ExperimentEvaluation(
            name=name,
            annotator_kind="LLM" if entry["judge_model"] else "CODE",
            label=entry["label"],
            score=entry["score"],
            explanation=entry["explanation"] or None,
            metadata={
                "category": entry["category"],
                "rubric_version": entry["rubric_version"],
                "judge_model": entry["judge_model"],
            },
        )
        for name, entry in _by_evaluator(run).items()
    ]
    return ExperimentRun(
        example_node_id=node_id,
        start_time=run.started_at,
        end_time=run.ended_at,
        repetition=run.repetition,
        output=run.output if run.status != "error" else None,
        error=run.error if run.status == "error" else None,
        trace_id=run.trace_id,
        evaluations=[status, *by_evaluator],
    )


def _by_evaluator(run: RunResult) -> dict[str, dict[str, Any]]:
    """One entry per evaluator name (Phoenix keeps one evaluation per run and name): failed if
    any finding failed, unscored if any was, the lowest score, the explanations joined."""
    grouped: dict[str, list[Evaluation]] = {}
    for evaluation in run.verdict.evaluations if run.verdict else ():
        grouped.setdefault(evaluation.evaluator, []).append(evaluation)
    entries = {}
    for name, evaluations in grouped.items():
        failed = [e for e in evaluations if e.passed is False]
        unscored = [e for e in evaluations if e.passed is None]
        primary = (failed or unscored or evaluations)[0]
        scores = [e.score for e in evaluations if e.score is not None]
        entries[name] = {
            "label": "unscored" if unscored and not failed else primary.label,
            "score": min(scores) if scores else None,
            "explanation": "\n".join(
                e.explanation for e in (failed or evaluations) if e.explanation
            )[:_EXPLANATION_CHARS],
            "category": primary.category,
            "rubric_version": primary.rubric_version,
            "judge_model": primary.judge_model,
        }
    return entries


def latest_replay_experiment(
    client: PhoenixClient, dataset: LoadedDataset, *, exclude: str | None = None
) -> str | None:
    """The newest experiment replay recorded on this dataset, or ``None``."""
    for experiment in experiments_of(client, dataset):
        metadata = experiment.get("metadata") or {}
        if experiment["id"] != exclude and metadata.get(EXPERIMENT_MARK) == "replay":
            return str(experiment["id"])
    return None


def baseline_from_experiment(
    client: PhoenixClient, experiment_id: str, dataset: LoadedDataset
) -> Baseline:
    """Each example's status in an experiment replay recorded (its ``flywheel.replay`` labels)."""
    try:
        records = experiment_runs(client, experiment_id)
    except ExperimentNotFoundError as exc:
        raise ConfigError(
            f"{exc}. Fix: --baseline auto, or an experiment id replay recorded"
        ) from None
    by_node = {node: example_id for example_id, node in dataset.node_ids.items()}
    counts: dict[str, list[int]] = {}  # example id -> [passes, fails, errors]
    for record in records:
        status = next(
            (
                a.get("label")
                for a in record.get("annotations") or []
                if a.get("name") == REPLAY_EVALUATION
            ),
            None,
        )
        if status is None:
            raise ConfigError(
                f"experiment {experiment_id} was not recorded by otel-flywheel replay (its runs "
                f"have no {REPLAY_EVALUATION!r} evaluation). Fix: use one replay recorded, "
                "--baseline auto, or a --json summary file"
            )
        example_id = _example_id(record, by_node)
        if example_id is None:
            continue
        tally = counts.setdefault(example_id, [0, 0, 0])
        tally[{"pass": 0, "fail": 1}.get(status, 2)] += 1
    return Baseline(
        source=f"experiment {experiment_id}",
        experiment_id=experiment_id,
        examples={
            example_id: BaselineEntry(
                status=_status(passes, fails), passes=passes, scored=passes + fails
            )
            for example_id, (passes, fails, _errors) in counts.items()
        },
    )


def _example_id(record: Mapping[str, Any], by_node: Mapping[str, str]) -> str | None:
    for annotation in record.get("annotations") or []:
        if annotation.get("name") == REPLAY_EVALUATION:
            metadata = annotation.get("metadata") or {}
            if isinstance(metadata.get("example_id"), str):
                return str(metadata["example_id"])
    node = record.get("example_id")
    return by_node.get(str(node)) if node is not None else None


def _status(passes: int, fails: int) -> ExampleStatus:
    if passes + fails == 0:
        return "error"
    if fails == 0:
        return "pass"
    return "fail" if passes == 0 else "flaky"


def pull_recordings(
    client: PhoenixClient,
    examples: Sequence[DatasetExample],
    *,
    redactor: Redactor | None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[ToolRecording]]:
    """Tool recordings from the source traces in Phoenix of examples that name one
    (``metadata.source_trace_id`` and ``metadata.project``)."""
    wanted: dict[str, dict[str, list[str]]] = {}  # project -> trace id -> example ids
    for example in examples:
        trace_id = example.metadata.get("source_trace_id")
        project = example.metadata.get("project")
        if isinstance(trace_id, str) and isinstance(project, str):
            wanted.setdefault(project, {}).setdefault(trace_id, []).append(example.example_id)
    recordings: dict[str, list[ToolRecording]] = {}
    for project, traces in wanted.items():
        try:
            pulled = pull_traces(
                client,
                project=project,
                since=None,
                until=None,
                trace_ids=list(traces),
                redactor=redactor,
                progress=progress,
            )
        except PhoenixAccessError as exc:
            logger.warning("no tool recordings from project %r: %s", project, exc)
            continue
        for trace in pulled.traces:
            for example_id in traces.get(trace.trace_id, ()):
                recordings[example_id] = recordings_from_trace(trace)
    return recordings
