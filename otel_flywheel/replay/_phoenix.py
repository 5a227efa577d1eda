"""Replay against Phoenix: load a dataset version, record the experiment, read a baseline.

We run the examples ourselves and record the experiment through Phoenix's REST API (create, then
one run per example and repetition, then their evaluations) rather than through the client's
``run_experiment``: the runs must be captured by the flywheel's processor, replay their tools and
be judged by our evaluators, and the same runner must work offline, where ``run_experiment``
cannot run. The experiment is tied to the dataset version that was replayed; each run links to
its trace id, and carries one evaluation per evaluator plus ``flywheel.replay`` (the run's
status), which is what a later ``--baseline`` reads back.

Tool recordings for Phoenix examples come from their source traces, read with the same
``pull_traces`` as ``otel-flywheel judge`` (redacted, as at capture).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel import __version__
from otel_flywheel.datasets import DatasetExample, example_from_phoenix
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import Evaluation
from otel_flywheel.replay._gate import Baseline, BaselineEntry, ExampleStatus
from otel_flywheel.replay._runner import RunResult
from otel_flywheel.replay._tools import ToolRecording, recordings_from_trace

if TYPE_CHECKING:
    from phoenix.client import Client

    from otel_flywheel.privacy import Redactor

__all__ = [
    "REPLAY_EVALUATION",
    "PhoenixDataset",
    "baseline_from_experiment",
    "create_experiment",
    "latest_replay_experiment",
    "load_dataset",
    "log_runs",
    "pull_recordings",
]

logger = logging.getLogger(__name__)

REPLAY_EVALUATION: Final = "flywheel.replay"
"""The evaluation on each experiment run that holds the run's status (pass / fail / error)."""
EXPERIMENT_MARK: Final = "otel_flywheel"
"""Experiment metadata key marking experiments replay recorded (value ``"replay"``)."""
TIMEOUT_SECONDS: Final = 60
_EXPLANATION_CHARS: Final = 4000


@dataclass(frozen=True, kw_only=True)
class PhoenixDataset:
    name: str
    id: str
    version_id: str
    examples: list[DatasetExample]
    node_ids: Mapping[str, str] = field(default_factory=dict)  # example id -> Phoenix node id


def load_dataset(client: Client, name: str, *, version_id: str | None = None) -> PhoenixDataset:
    """The examples of dataset ``name`` (a name or id) at ``version_id`` (default: the latest)."""
    import httpx

    try:
        dataset = client.datasets.get_dataset(
            dataset=name, version_id=version_id, timeout=TIMEOUT_SECONDS
        )
    except ValueError:
        known = sorted(d["name"] for d in client.datasets.list())
        raise ConfigError(
            f"Phoenix has no dataset {name!r}; known datasets: "
            f"{', '.join(map(repr, known)) or 'none'}"
        ) from None
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code in (404, 422) and version_id:
            raise ConfigError(
                f"dataset {name!r} has no version {version_id!r} (Phoenix answered "
                f"{exc.response.status_code}). Fix: pick one of its versions in the Phoenix UI"
            ) from None
        raise
    examples = []
    node_ids = {}
    for raw in dataset.examples:
        example = example_from_phoenix(raw, dataset=dataset.name, version_id=dataset.version_id)
        examples.append(example)
        node_ids[example.example_id] = str(raw.get("node_id") or raw["id"])
    return PhoenixDataset(
        name=dataset.name,
        id=dataset.id,
        version_id=dataset.version_id,
        examples=examples,
        node_ids=node_ids,
    )


def create_experiment(
    client: Client,
    dataset: PhoenixDataset,
    *,
    task: str,
    repetitions: int,
    judge_model: str | None,
) -> dict[str, Any]:
    """A new experiment on the dataset version (``id``, ``project_name``, ...)."""
    experiment = client.experiments.create(
        dataset_id=dataset.id,
        dataset_version_id=dataset.version_id,
        experiment_name=f"replay {task}",
        experiment_description=f"otel-flywheel replay of {dataset.name} with {task}",
        experiment_metadata={
            EXPERIMENT_MARK: "replay",
            "task": task,
            "judge_model": judge_model,
            "otel_flywheel_version": __version__,
        },
        repetitions=repetitions,
        timeout=TIMEOUT_SECONDS,
    )
    return dict(experiment)


def experiment_url(client: Client, dataset: PhoenixDataset, experiment_id: str) -> str:
    return client.experiments.get_experiment_url(dataset.id, experiment_id)


def log_runs(
    client: Client,
    experiment_id: str,
    dataset: PhoenixDataset,
    runs: Sequence[RunResult],
    *,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Record each run and its evaluations in the experiment; returns the runs recorded."""
    recorded = 0
    for run in runs:
        node_id = dataset.node_ids.get(run.example.example_id)
        if node_id is None:
            continue
        record = client.experiments.log_run(
            experiment_id=experiment_id,
            dataset_example_id=node_id,
            output=run.output if run.status != "error" else None,
            start_time=run.started_at,
            end_time=run.ended_at,
            repetition_number=run.repetition,
            trace_id=run.trace_id,
            error=run.error if run.status == "error" else None,
            timeout=TIMEOUT_SECONDS,
        )
        run_id = str(record["id"])
        client.experiments.log_evaluation(
            experiment_run_id=run_id,
            name=REPLAY_EVALUATION,
            label=run.status,
            score={"pass": 1.0, "fail": 0.0}.get(run.status),
            explanation=run.reason[:_EXPLANATION_CHARS] or None
            if run.status != "pass"
            else "every evaluation passed",
            metadata={
                "example_id": run.example.example_id,
                "category": run.verdict.category if run.verdict else None,
                "unjudged_rubrics": list(run.unjudged_rubrics),
            },
            trace_id=run.trace_id,
            start_time=run.ended_at,
            timeout=TIMEOUT_SECONDS,
        )
        for name, evaluation in _by_evaluator(run).items():
            client.experiments.log_evaluation(
                experiment_run_id=run_id,
                name=name,
                annotator_kind="LLM" if evaluation["judge_model"] else "CODE",
                label=evaluation["label"],
                score=evaluation["score"],
                explanation=evaluation["explanation"] or None,
                metadata={
                    "category": evaluation["category"],
                    "rubric_version": evaluation["rubric_version"],
                    "judge_model": evaluation["judge_model"],
                },
                trace_id=run.trace_id,
                start_time=run.ended_at,
                timeout=TIMEOUT_SECONDS,
            )
        recorded += 1
        if progress is not None and recorded % 20 == 0:
            progress(f"recorded {recorded}/{len(runs)} runs in the experiment")
    return recorded


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
    client: Client, dataset: PhoenixDataset, *, exclude: str | None = None
) -> str | None:
    """The newest experiment replay recorded on this dataset, or ``None``."""
    for experiment in client.experiments.list(dataset_id=dataset.id, timeout=TIMEOUT_SECONDS):
        metadata = experiment.get("metadata") or {}
        if experiment["id"] != exclude and metadata.get(EXPERIMENT_MARK) == "replay":
            return str(experiment["id"])
    return None


def baseline_from_experiment(
    client: Client, experiment_id: str, dataset: PhoenixDataset
) -> Baseline:
    """Each example's status in an experiment replay recorded (its ``flywheel.replay`` labels)."""
    response = client._client.get(  # no client method returns runs with their evaluations
        f"v1/experiments/{experiment_id}/json", timeout=TIMEOUT_SECONDS
    )
    if response.status_code in (404, 422):
        raise ConfigError(
            f"Phoenix has no experiment {experiment_id!r} with runs ({response.status_code}: "
            f"{response.text[:200]}). Fix: --baseline auto, or an experiment id replay recorded"
        )
    response.raise_for_status()
    by_node = {node: example_id for example_id, node in dataset.node_ids.items()}
    counts: dict[str, list[int]] = {}  # example id -> [passes, fails, errors]
    for record in response.json():
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
    client: Client,
    examples: Sequence[DatasetExample],
    *,
    redactor: Redactor | None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[ToolRecording]]:
    """Tool recordings from the source traces in Phoenix of examples that name one
    (``metadata.source_trace_id`` and ``metadata.project``)."""
    from otel_flywheel.cli._judge import PhoenixAccessError, pull_traces

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
