"""`run_replay`: one replay from examples to gate, as ``otel-flywheel replay`` runs it.

1. Examples: a Phoenix dataset (a version of it), or with ``offline=`` a file ``export evals``
   wrote, or a list given in memory.
2. Baseline: ``"auto"`` (the newest experiment replay recorded on the same dataset), an
   experiment id, a ``--json`` summary file, or none (each example's origin).
3. Tool recordings per example, first found wins: ``metadata["tool_recordings"]``, the local
   routing store (``<state dir>/routing.sqlite``, where routing keeps the traces it routed), the
   source trace in Phoenix.
4. The runs (`replay_examples`), each captured with the flywheel processor and evaluated.
5. In Phoenix mode, an experiment on the replayed dataset version with every run and evaluation.
6. The gate (`evaluate_gate`).

Tracing: the runs need a TracerProvider the task's instrumentation reports to. ``tracer_provider``
wins; else the process's global SDK provider; else a new one is created and set as the global
provider, exporting (redacted) to the experiment's Phoenix project in Phoenix mode.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_flywheel import semconv as sc
from otel_flywheel.datasets import DatasetExample, LoadedDataset, read_examples
from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import TraceEvaluator, load_trace_evaluator
from otel_flywheel.phoenix import (
    DatasetNotFoundError,
    experiment_url,
    load_dataset,
    phoenix_client,
)
from otel_flywheel.replay._capture import RunCapture
from otel_flywheel.replay._experiment import (
    baseline_from_experiment,
    latest_replay_experiment,
    pull_recordings,
    record_runs,
    start_experiment,
)
from otel_flywheel.replay._gate import Baseline, GateResult, GateSettings, evaluate_gate
from otel_flywheel.replay._report import ReplayInfo, read_baseline_file, render_report
from otel_flywheel.replay._runner import (
    DEFAULT_TIMEOUT_SECONDS,
    RunResult,
    ToolReplayMode,
    replay_examples,
)
from otel_flywheel.replay._task import ReplayTask, load_task
from otel_flywheel.replay._tools import ToolRecording, recordings_from_trace

if TYPE_CHECKING:
    from otel_flywheel.phoenix import PhoenixClient

__all__ = ["RECORDINGS_KEY", "ReplayReport", "run_replay"]

logger = logging.getLogger(__name__)

RECORDINGS_KEY: Final = "tool_recordings"
"""Example metadata key holding recorded tool calls (`ToolRecording.to_dict` each)."""
DEFAULT_PROJECT: Final = "otel-flywheel-replay"


@dataclass(frozen=True, kw_only=True)
class ReplayReport:
    gate: GateResult
    info: ReplayInfo

    @property
    def exit_code(self) -> int:
        return self.gate.exit_code

    @property
    def runs(self) -> list[RunResult]:
        return self.gate.runs

    def render(self) -> str:
        return render_report(self.gate, self.info)


def run_replay(
    dataset: str,
    task: ReplayTask | Callable[..., Any] | str,
    *,
    offline: str | os.PathLike[str] | None = None,
    examples: Sequence[DatasetExample] | None = None,
    dataset_version: str | None = None,
    phoenix_url: str | None = None,
    concurrency: int = 4,
    repetitions: int = 1,
    gate: GateSettings | None = None,
    baseline: str | os.PathLike[str] | Baseline | None = None,
    evaluator: TraceEvaluator | None = None,
    judge: bool = True,
    rubrics_dir: str | os.PathLike[str] | None = None,
    tool_replay: ToolReplayMode = "passthrough",
    record_experiment: bool = True,
    tracer_provider: TracerProvider | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> ReplayReport:
    """Replay ``dataset`` with ``task`` and decide the gate; see the module docstring.

    ``task`` is a callable or ``"module:function"``. ``examples`` (in memory) or ``offline`` (a
    file) replace loading from Phoenix; ``dataset`` then selects the file's rows and names the
    run. ``evaluator`` defaults to the shipped one (``judge=False``: checks only); it is closed at
    the end either way, since its judge's HTTP client belongs to the event loop the runs used.
    Raises ``ConfigError`` (bad options or examples) and ``PhoenixAccessError``
    (Phoenix unreachable) naming the fix. It runs its own event loop: inside a running one,
    await `replay_examples` instead.
    """
    say = progress or (lambda _message: None)
    replay_task = task if isinstance(task, ReplayTask) else _task(task)
    phoenix_mode = offline is None and examples is None
    if not phoenix_mode and isinstance(baseline, str) and _names_experiment(baseline):
        raise ConfigError(
            f"--baseline {baseline}: a Phoenix experiment baseline needs the dataset from "
            "Phoenix. Fix: offline, pass the --json summary file of an earlier replay"
        )
    active_evaluator = evaluator or load_trace_evaluator(judge=judge, rubrics_dir=rubrics_dir)
    try:
        with ExitStack() as stack:
            if phoenix_mode:
                source = _Source.from_phoenix(
                    stack, phoenix_url, dataset, version=dataset_version, progress=say
                )
            else:
                source = _Source.local(dataset, examples=examples, path=offline, progress=say)
            resolved_baseline = _baseline(baseline, source.client, source.phoenix)
            if resolved_baseline is not None:
                say(f"baseline: {resolved_baseline.source}")
            recordings = (
                {} if tool_replay == "off" else find_recordings(source.examples, source.client, say)
            )
            if record_experiment:
                source.start_experiment(replay_task.name, repetitions, active_evaluator, say)
            provider, owned_provider = _provider(
                tracer_provider, project=source.project, phoenix_url=source.base_url
            )
            runner = partial(
                replay_examples,
                source.examples,
                replay_task,
                evaluator=active_evaluator,
                capture=RunCapture.for_provider(provider),
                concurrency=concurrency,
                repetitions=repetitions,
                tool_replay=tool_replay,
                recordings=recordings,
                timeout_seconds=timeout_seconds,
                on_result=_Progress(len(source.examples) * repetitions, say),
            )
            try:
                runs = asyncio.run(_run_and_close(runner, active_evaluator))
            finally:
                if owned_provider:
                    provider.force_flush()
            source.finish_experiment(runs, say)
    finally:
        # Closed by _run_and_close when the runs ran; idempotent.
        asyncio.run(active_evaluator.aclose())
    info = ReplayInfo(
        dataset=source.name,
        dataset_version=source.version,
        task=replay_task.name,
        repetitions=repetitions,
        judge_model=active_evaluator.judge_model,
        experiment_id=source.experiment_id,
        experiment_url=source.experiment_url,
    )
    result = evaluate_gate(runs, settings=gate or GateSettings(), baseline=resolved_baseline)
    return ReplayReport(gate=result, info=info)


async def _run_and_close(
    runner: Callable[[], Awaitable[list[RunResult]]], evaluator: TraceEvaluator
) -> list[RunResult]:
    try:
        return await runner()
    finally:
        await evaluator.aclose()


class _Progress:
    def __init__(self, total: int, say: Callable[[str], None]) -> None:
        self._total = total
        self._say = say
        self._done = 0

    def __call__(self, result: RunResult) -> None:
        self._done += 1  # called on the event loop's thread only
        self._say(f"[{self._done}/{self._total}] {result.status:5s} {_short(result)}")


@dataclass
class _Source:
    """Where the examples came from, and the experiment when they came from Phoenix."""

    name: str
    examples: list[DatasetExample]
    version: str | None = None
    client: PhoenixClient | None = None
    phoenix: LoadedDataset | None = None
    base_url: str | None = None
    experiment: dict[str, Any] | None = None
    experiment_url: str | None = None

    @staticmethod
    def from_phoenix(
        stack: ExitStack,
        url: str | None,
        dataset: str,
        *,
        version: str | None,
        progress: Callable[[str], None],
    ) -> _Source:
        client, base_url = stack.enter_context(phoenix_client(url))
        try:
            loaded = load_dataset(client, dataset, version_id=version)
        except DatasetNotFoundError as exc:
            raise ConfigError(str(exc)) from None
        progress(
            f"loaded {len(loaded.examples)} examples of {loaded.name!r} "
            f"(version {loaded.version_id}) from {base_url}"
        )
        if not loaded.examples:
            raise ConfigError(f"dataset {dataset!r} has no examples: nothing to replay")
        return _Source(
            name=loaded.name,
            examples=loaded.examples,
            version=loaded.version_id,
            client=client,
            phoenix=loaded,
            base_url=base_url,
        )

    @staticmethod
    def local(
        dataset: str,
        *,
        examples: Sequence[DatasetExample] | None,
        path: str | os.PathLike[str] | None,
        progress: Callable[[str], None],
    ) -> _Source:
        chosen = list(examples) if examples is not None else _from_file(path, dataset)
        progress(
            f"loaded {len(chosen)} examples of {dataset!r}" + (f" from {path}" if path else "")
        )
        if not chosen:
            raise ConfigError(f"dataset {dataset!r} has no examples: nothing to replay")
        version = next((e.dataset_version for e in chosen if e.dataset_version), None)
        return _Source(name=dataset, examples=chosen, version=version)

    @property
    def project(self) -> str | None:
        return str(self.experiment["project_name"]) if self.experiment else None

    @property
    def experiment_id(self) -> str | None:
        return str(self.experiment["id"]) if self.experiment else None

    def start_experiment(
        self,
        task: str,
        repetitions: int,
        evaluator: TraceEvaluator,
        progress: Callable[[str], None],
    ) -> None:
        if self.client is None or self.phoenix is None:
            return  # offline: an experiment needs the dataset in Phoenix
        self.experiment = start_experiment(
            self.client,
            self.phoenix,
            task=task,
            repetitions=repetitions,
            judge_model=evaluator.judge_model,
        )
        self.experiment_url = experiment_url(self.client, self.phoenix, str(self.experiment["id"]))
        progress(f"experiment {self.experiment['id']}: {self.experiment_url}")

    def finish_experiment(self, runs: Sequence[RunResult], progress: Callable[[str], None]) -> None:
        if self.client is None or self.phoenix is None or self.experiment_id is None:
            return
        recorded = record_runs(
            self.client, self.experiment_id, self.phoenix, runs, progress=progress
        )
        progress(f"recorded {recorded} runs in experiment {self.experiment_id}")


# --- pieces --------------------------------------------------------------------------------------


def _task(task: Callable[..., Any] | str) -> ReplayTask:
    return load_task(task) if isinstance(task, str) else ReplayTask.wrap(task)


def _from_file(path: str | os.PathLike[str] | None, dataset: str) -> list[DatasetExample]:
    assert path is not None
    rows = read_examples(path)
    chosen = [e for e in rows if e.dataset == dataset]
    if rows and not chosen:
        names = sorted({e.dataset for e in rows})
        raise ConfigError(
            f"{path} holds no examples of dataset {dataset!r}; it holds "
            f"{', '.join(map(repr, names))}. Fix: name one of them"
        )
    return chosen


def _names_experiment(value: str) -> bool:
    return value == "auto" or not (value.endswith(".json") or Path(value).is_file())


def _baseline(
    value: str | os.PathLike[str] | Baseline | None,
    client: PhoenixClient | None,
    dataset: LoadedDataset | None,
) -> Baseline | None:
    if value is None or isinstance(value, Baseline):
        return value
    text = os.fspath(value)
    if not _names_experiment(text):
        return read_baseline_file(text)
    if client is None or dataset is None:  # run_replay refuses this offline
        raise ConfigError(f"--baseline {text} needs the dataset from Phoenix")
    experiment_id = latest_replay_experiment(client, dataset) if text == "auto" else text
    if experiment_id is None:
        logger.info("no earlier replay experiment on %s: comparing with the origin", dataset.name)
        return None
    return baseline_from_experiment(client, experiment_id, dataset)


def find_recordings(
    examples: Sequence[DatasetExample],
    client: PhoenixClient | None,
    progress: Callable[[str], None],
) -> dict[str, list[ToolRecording]]:
    """Each example's recorded tool calls: its ``metadata["tool_recordings"]``, else its source
    trace in the local routing store, else (with ``client``) in Phoenix."""
    found: dict[str, list[ToolRecording]] = {}
    for example in examples:
        carried = example.metadata.get(RECORDINGS_KEY)
        if isinstance(carried, list):
            try:
                found[example.example_id] = [ToolRecording.from_dict(r) for r in carried]
            except ValueError as exc:
                raise ConfigError(
                    f"example {example.example_id}: metadata.{RECORDINGS_KEY}: {exc}"
                ) from None
    missing = [e for e in examples if e.example_id not in found]
    found.update(_from_routing_store(missing))
    missing = [e for e in missing if e.example_id not in found]
    if missing and client is not None:
        from otel_flywheel.privacy import build_redactor

        found.update(pull_recordings(client, missing, redactor=build_redactor(), progress=progress))
    if found:
        progress(f"tool recordings for {len(found)} of {len(examples)} examples")
    return found


def _from_routing_store(examples: Sequence[DatasetExample]) -> dict[str, list[ToolRecording]]:
    from otel_flywheel.routing import RoutingStore

    store = RoutingStore.existing() if examples else None
    if store is None:
        return {}
    found = {}
    try:
        for example in examples:
            trace_id = example.metadata.get("source_trace_id")
            if isinstance(trace_id, str):
                stored = store.get_trace(trace_id=trace_id)
                if stored is not None:
                    found[example.example_id] = recordings_from_trace(stored.trace)
    finally:
        store.close()
    return found


def _provider(
    given: TracerProvider | None, *, project: str | None, phoenix_url: str | None
) -> tuple[TracerProvider, bool]:
    """The provider runs report to, and whether replay created it."""
    if given is not None:
        return given, False
    current = trace_api.get_tracer_provider()
    if isinstance(current, TracerProvider):
        logger.info("replay captures runs on the global TracerProvider already set")
        return current, False
    provider = TracerProvider(
        resource=Resource.create({sc.ResourceAttributes.PROJECT_NAME: project or DEFAULT_PROJECT})
    )
    if phoenix_url is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

        from otel_flywheel import _env
        from otel_flywheel.privacy import RedactingSpanExporter, build_redactor

        api_key = os.environ.get(_env.PHOENIX_API_KEY)
        exporter: SpanExporter = OTLPSpanExporter(
            endpoint=phoenix_url.rstrip("/") + "/v1/traces",
            headers={"authorization": f"Bearer {api_key}"} if api_key else None,
        )
        redactor = build_redactor()
        if redactor is not None:
            exporter = RedactingSpanExporter(exporter, redactor)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    # The task's instrumentation (instrumentors, trace.get_tracer) reports to the global provider.
    trace_api.set_tracer_provider(provider)
    return provider, True


def _short(result: RunResult) -> str:
    name = result.example.input.get("input")
    text = " ".join(name.split())[:60] if isinstance(name, str) else result.example.example_id
    suffix = f" (run {result.repetition})" if result.repetition > 1 else ""
    reason = f": {result.reason[:100]}" if result.status != "pass" and result.reason else ""
    return f"{text}{suffix}{reason}"
