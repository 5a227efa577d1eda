"""`run_comparison`: ``otel-flywheel replay DATASET --task A --compare B``, end to end.

Both variants are replayed over the same examples (one `run_replay` each, with the same options;
in Phoenix mode each is recorded as its own experiment on the same dataset version, which the
Phoenix UI compares side by side), then paired (`compare_variants`). Where one variant's run
passed and the other's failed, the pair goes to the preference dataset (`_preferences`): through
a durable outbox of its own in the state directory (``replay-preferences.sqlite``) to Phoenix,
delivered before the command returns when Phoenix answers in time, else by the next comparison;
and, with ``preferences_out``, to an examples file ``export dpo`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel.datasets import DatasetExample, write_examples
from otel_flywheel.errors import ConfigError
from otel_flywheel.replay._compare import DEFAULT_ALPHA, Comparison, compare_variants
from otel_flywheel.replay._compare_report import PreferenceDelivery, render_comparison
from otel_flywheel.replay._job import ReplayReport, run_replay
from otel_flywheel.replay._preferences import preference_examples, preference_pairs
from otel_flywheel.replay._report import ReplayInfo
from otel_flywheel.replay._task import ReplayTask

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "PREFERENCES_OUTBOX_FILE",
    "ComparisonReport",
    "deliver_preferences",
    "preference_dataset_for",
    "run_comparison",
]

PREFERENCES_OUTBOX_FILE: Final = "replay-preferences.sqlite"
DELIVERY_TIMEOUT_SECONDS: Final = 60.0


@dataclass(frozen=True, kw_only=True)
class ComparisonReport:
    comparison: Comparison
    a: ReplayReport
    b: ReplayReport
    preferences: PreferenceDelivery | None = None

    @property
    def exit_code(self) -> int:
        return self.comparison.exit_code

    @property
    def info_a(self) -> ReplayInfo:
        return self.a.info

    @property
    def info_b(self) -> ReplayInfo:
        return self.b.info

    def render(self) -> str:
        return render_comparison(self.comparison, self.a.info, self.b.info, self.preferences)


def run_comparison(
    dataset: str,
    task_a: ReplayTask | Callable[..., Any] | str,
    task_b: ReplayTask | Callable[..., Any] | str,
    *,
    names: tuple[str, str] = ("A", "B"),
    preferences: bool = True,
    preference_dataset: str | None = None,
    preferences_out: str | os.PathLike[str] | None = None,
    alpha: float = DEFAULT_ALPHA,
    delivery_timeout_seconds: float = DELIVERY_TIMEOUT_SECONDS,
    tracer_providers: tuple[TracerProvider | None, TracerProvider | None] | None = None,
    preferences_outbox: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    **replay_options: Any,
) -> ComparisonReport:
    """Replay ``dataset`` with both tasks, pair the outcomes, write the preference pairs.

    ``replay_options`` go to both `run_replay` calls (``offline``, ``examples``, ``phoenix_url``,
    ``repetitions``, ``gate``, ``judge``, ``tracer_provider``, ...). ``preferences=False`` writes
    no pair; ``preference_dataset`` defaults to the project's (``<project>/preference``, the
    project the examples name, else the dataset's prefix). Offline, pairs are written only to
    ``preferences_out``. ``tracer_providers``: the provider each variant's instrumentation
    reports to, when they differ (else ``tracer_provider`` in ``replay_options``, or the global
    one). ``preferences_outbox``: the outbox file the pairs wait in for Phoenix (default
    ``<state dir>/replay-preferences.sqlite``).
    """
    if names[0] == names[1]:
        raise ConfigError(f"the two variants need different names, got {names[0]!r} twice")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be within (0, 1), got {alpha}")
    say = progress or (lambda _message: None)
    reports = []
    providers = tracer_providers or (None, None)
    for name, task, provider in zip(names, (task_a, task_b), providers, strict=True):
        say(f"variant {name}")
        options = dict(replay_options)
        if provider is not None:
            options["tracer_provider"] = provider
        reports.append(run_replay(dataset, task, progress=say, **options))
    report_a, report_b = reports
    comparison = compare_variants(report_a.gate, report_b.gate, names=names, alpha=alpha)
    delivery = None
    if preferences:
        pairs = preference_pairs(
            comparison,
            tasks=(report_a.info.task, report_b.info.task),
            experiments=(report_a.info.experiment_id, report_b.info.experiment_id),
        )
        target = preference_dataset or preference_dataset_for(dataset, report_a)
        examples = preference_examples(pairs, dataset=target)
        phoenix = _phoenix_url(replay_options)
        delivery = deliver_preferences(
            examples,
            dataset=target,
            phoenix_url=phoenix,
            file=preferences_out,
            timeout_seconds=delivery_timeout_seconds,
            outbox_path=preferences_outbox,
        )
        if examples:
            say(f"{len(examples)} preference pair(s) for {target}")
    return ComparisonReport(comparison=comparison, a=report_a, b=report_b, preferences=delivery)


def preference_dataset_for(dataset: str, report: ReplayReport) -> str:
    """``<project>/preference`` for the project the replayed examples name, else for the
    replayed dataset's prefix (``support/regression`` -> ``support/preference``)."""
    from otel_flywheel.config import RoutingSettings, resolve_settings

    projects = {
        run.example.metadata.get("project")
        for run in report.runs
        if isinstance(run.example.metadata.get("project"), str)
    }
    if len(projects) == 1:
        (project,) = projects
        return resolve_settings(RoutingSettings, {"project": project}).dataset("preference")
    prefix, slash, _route = report.info.dataset.rpartition("/")
    if slash and prefix:
        return f"{prefix}/preference"
    raise ConfigError(
        f"cannot tell which project's preference dataset {dataset!r} belongs to. Fix: name it "
        "with --preference-dataset, or --no-preferences"
    )


def deliver_preferences(
    examples: Sequence[DatasetExample],
    *,
    dataset: str,
    phoenix_url: str | None,
    file: str | os.PathLike[str] | None = None,
    timeout_seconds: float = DELIVERY_TIMEOUT_SECONDS,
    outbox_path: str | os.PathLike[str] | None = None,
) -> PreferenceDelivery:
    """Write the pairs to ``file`` (an examples file) and, with ``phoenix_url``, through the
    preference outbox to Phoenix, waiting up to ``timeout_seconds`` for the delivery."""
    written_file = None
    if file is not None:
        write_examples(file, examples)
        written_file = str(file)
    if phoenix_url is None:
        return PreferenceDelivery(dataset=dataset, pairs=len(examples), file=written_file)
    from otel_flywheel import _env
    from otel_flywheel.config import state_path
    from otel_flywheel.outbox import Outbox, OutboxWorker
    from otel_flywheel.phoenix import PhoenixSink

    path = Path(outbox_path) if outbox_path is not None else state_path(PREFERENCES_OUTBOX_FILE)
    outbox = Outbox(path)
    sink = PhoenixSink(base_url=phoenix_url, api_key=os.environ.get(_env.PHOENIX_API_KEY))
    try:
        outbox.put([_write(example) for example in examples])
        worker = OutboxWorker(outbox, sink)
        delivered = worker.force_flush(timeout_millis=int(timeout_seconds * 1000))
        worker.shutdown(timeout_millis=0)
        pending = outbox.stats().depth
    finally:
        sink.close()
        outbox.close()
    return PreferenceDelivery(
        dataset=dataset,
        pairs=len(examples),
        delivered=delivered and pending == 0,
        pending=pending,
        outbox=str(path),
        file=written_file,
    )


def _write(example: DatasetExample) -> Any:
    from otel_flywheel.routing import DATASET_PURPOSES
    from otel_flywheel.sinks import ExampleWrite

    purpose = DATASET_PURPOSES["preference"]
    user = example.metadata.get("user_id")
    return ExampleWrite(
        dataset=example.dataset,
        example_id=example.example_id,
        input=example.input,
        output=example.output,
        metadata={**example.metadata, "example_id": example.example_id},
        span_id=example.span_id,
        splits=["preference"],
        user_id=user if isinstance(user, str) else None,
        dataset_description=purpose.description,
        dataset_labels={
            **purpose.labels,
            "replay-comparison": "Pairs where the checks or the judge preferred one replayed "
            "agent variant's run over another's.",
        },
    )


def _phoenix_url(options: dict[str, Any]) -> str | None:
    if options.get("offline") is not None or options.get("examples") is not None:
        return None
    url = options.get("phoenix_url")
    if url:
        return str(url).rstrip("/")
    from otel_flywheel.phoenix import default_base_url

    return default_base_url()
