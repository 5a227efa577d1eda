"""Experiments in Phoenix: create one on a dataset version, record runs and their evaluations, and
read an experiment's runs back.

Replay runs the examples itself (its runs must be captured by the flywheel's processor, replay their
tools and be judged by our evaluators, and the same runner works offline), then records them here
rather than through phoenix-client's ``run_experiment``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from otel_flywheel.datasets import LoadedDataset
from otel_flywheel.phoenix._connection import REQUEST_TIMEOUT_SECONDS, PhoenixAccessError, http_of

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = [
    "ExperimentEvaluation",
    "ExperimentNotFoundError",
    "ExperimentRun",
    "create_experiment",
    "experiment_runs",
    "experiment_url",
    "experiments_of",
    "log_runs",
]

_TIMEOUT = int(REQUEST_TIMEOUT_SECONDS)


class ExperimentNotFoundError(PhoenixAccessError):
    """Phoenix has no experiment by that id, or it has no runs."""


@dataclass(frozen=True, kw_only=True)
class ExperimentEvaluation:
    """One evaluation of a run (Phoenix keeps one per run and name)."""

    name: str
    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    annotator_kind: Literal["LLM", "CODE", "HUMAN"] = "CODE"


@dataclass(frozen=True, kw_only=True)
class ExperimentRun:
    """One run of one example: what the task returned (or the error), its trace and evaluations."""

    example_node_id: str  # Phoenix's id of the dataset example (`LoadedDataset.node_ids`)
    start_time: datetime
    end_time: datetime
    repetition: int
    output: Any = None
    error: str | None = None
    trace_id: str | None = None
    evaluations: Sequence[ExperimentEvaluation] = ()


def create_experiment(
    client: Client,
    dataset: LoadedDataset,
    *,
    name: str,
    description: str,
    metadata: Mapping[str, Any],
    repetitions: int,
) -> dict[str, Any]:
    """A new experiment on the dataset version (``id``, ``project_name``, ...)."""
    if dataset.dataset_id is None:
        raise PhoenixAccessError(f"{dataset.name!r} is not a Phoenix dataset; nothing to tie to")
    experiment = client.experiments.create(
        dataset_id=dataset.dataset_id,
        dataset_version_id=dataset.version_id,
        experiment_name=name,
        experiment_description=description,
        experiment_metadata=dict(metadata),
        repetitions=repetitions,
        timeout=_TIMEOUT,
    )
    return dict(experiment)


def experiment_url(client: Client, dataset: LoadedDataset, experiment_id: str) -> str:
    """The experiment's page in the Phoenix UI."""
    return client.experiments.get_experiment_url(dataset.dataset_id or "", experiment_id)


def log_runs(
    client: Client,
    experiment_id: str,
    runs: Iterable[ExperimentRun],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Record each run and its evaluations in the experiment; returns the runs recorded.

    ``progress`` hears the count recorded so far, after each run.
    """
    recorded = 0
    for run in runs:
        record = client.experiments.log_run(
            experiment_id=experiment_id,
            dataset_example_id=run.example_node_id,
            output=run.output,
            start_time=run.start_time,
            end_time=run.end_time,
            repetition_number=run.repetition,
            trace_id=run.trace_id,
            error=run.error,
            timeout=_TIMEOUT,
        )
        run_id = str(record["id"])
        for evaluation in run.evaluations:
            client.experiments.log_evaluation(
                experiment_run_id=run_id,
                name=evaluation.name,
                annotator_kind=evaluation.annotator_kind,
                label=evaluation.label,
                score=evaluation.score,
                explanation=evaluation.explanation,
                metadata=dict(evaluation.metadata),
                trace_id=run.trace_id,
                start_time=run.end_time,
                timeout=_TIMEOUT,
            )
        recorded += 1
        if progress is not None:
            progress(recorded)
    return recorded


def experiments_of(client: Client, dataset: LoadedDataset) -> list[dict[str, Any]]:
    """The experiments recorded on the dataset, newest first, as Phoenix lists them."""
    if dataset.dataset_id is None:
        return []
    return [
        dict(experiment)
        for experiment in client.experiments.list(dataset_id=dataset.dataset_id, timeout=_TIMEOUT)
    ]


def experiment_runs(client: Client, experiment_id: str) -> list[dict[str, Any]]:
    """Each run of the experiment with its evaluations (``annotations``), as Phoenix's
    ``/v1/experiments/{id}/json`` returns them (no phoenix-client method returns runs with their
    evaluations). Raises `ExperimentNotFoundError` when there is no such experiment with runs."""
    response = http_of(client).get(
        f"v1/experiments/{experiment_id}/json", timeout=REQUEST_TIMEOUT_SECONDS
    )
    if response.status_code in (404, 422):
        raise ExperimentNotFoundError(
            f"Phoenix has no experiment {experiment_id!r} with runs ({response.status_code}: "
            f"{response.text[:200]})"
        )
    response.raise_for_status()
    return list(response.json())
