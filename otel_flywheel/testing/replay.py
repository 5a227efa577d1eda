"""Replay as a pytest test: one test per dataset example, the same evaluators, the same gate.

    @pytest.mark.flywheel_replay("support-agent/golden", offline="golden.jsonl", min_pass_rate=0.9)
    def test_support_agent(flywheel_case):
        flywheel_case.run(my_agent_task)  # captured, tools replayed, evaluated

The marker parametrizes the test over the dataset's examples (and ``repetitions``) through the
``flywheel_case`` fixture; each item runs its example with ``flywheel_case.run(task)`` exactly as
``otel-flywheel replay`` does, and fails with the evaluators' explanation when the run fails
(``assert_each=False`` leaves judged failures to the gate). After the last example a ``gate`` item
applies the release gate (Wilson lower bound, golden regressions, flaky examples) to every run of
the test and fails with the replay report.

Marker arguments: ``dataset`` (positional), ``offline`` (a file; else the Phoenix dataset, at
``phoenix_url`` or what phoenix.client reads), ``version``, ``repetitions``, ``min_pass_rate``,
``max_errors``, ``baseline`` (an earlier ``--json`` summary file, an experiment id, ``"auto"``),
``judge`` (default: when ``FLYWHEEL_JUDGE_MODEL`` is set), ``rubrics``, ``tool_replay``,
``assert_each``. Examples load at collection time.

Runs report to the ``flywheel_tracer_provider`` fixture's provider (the global SDK provider when
one is set; else one the plugin creates, never made global): instrument the agent with it, or
pass ``tracer_provider=`` to ``run``. ``@otel_flywheel.tool`` spans follow the run automatically.

phoenix-client's own plugin owns ``@pytest.mark.phoenix`` and its ``__phoenix_repetition__``
fixture; this marker, these fixtures and the ``gate`` items do not collide with them. Under
pytest-xdist each worker gates the runs it executed.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from otel_flywheel.datasets import DatasetExample
    from otel_flywheel.replay import (
        Baseline,
        GateResult,
        GateSettings,
        RunResult,
        ToolRecording,
    )

__all__ = ["MARKER", "ReplayCase", "flywheel_case", "flywheel_tracer_provider"]

MARKER: Final = "flywheel_replay"
FIXTURE: Final = "flywheel_case"
_SLUG = re.compile(r"[^a-z0-9]+")
_OPTIONS: Final = frozenset(
    {
        "offline",
        "version",
        "phoenix_url",
        "repetitions",
        "min_pass_rate",
        "max_errors",
        "baseline",
        "judge",
        "rubrics",
        "tool_replay",
        "assert_each",
    }
)


@dataclass
class _Group:
    """One marked test function: its settings and the runs its items recorded."""

    key: str
    dataset: str
    options: dict[str, Any]
    settings: GateSettings
    baseline: Baseline | None
    runs: list[RunResult] = field(default_factory=list)
    expected_items: int = 0


_GROUPS: pytest.StashKey[dict[str, _Group]] = pytest.StashKey()
_PROVIDER: pytest.StashKey[TracerProvider] = pytest.StashKey()


class ReplayRunError(Exception):
    """The run errored (the task raised, a judgment was unscored): never a pass."""


@dataclass
class ReplayCase:
    """One example (and repetition) of a ``flywheel_replay`` test."""

    example: DatasetExample
    repetition: int
    _group: _Group
    _config: pytest.Config

    @property
    def input(self) -> dict[str, Any]:
        return dict(self.example.input)

    def run(
        self, task: Callable[..., Any], *, tracer_provider: TracerProvider | None = None
    ) -> RunResult:
        """Run ``task`` on the example, evaluate it and record it for the gate.

        Raises ``AssertionError`` when the run failed (unless ``assert_each=False``) and
        `ReplayRunError` when it errored.
        """
        from otel_flywheel.evaluation import load_trace_evaluator
        from otel_flywheel.replay import ReplayTask, RunCapture, replay_examples

        options = self._group.options
        provider = tracer_provider or _session_provider(self._config)
        evaluator = load_trace_evaluator(judge=_judge(options), rubrics_dir=options.get("rubrics"))
        recordings = _recordings(self.example, options)

        async def go() -> list[RunResult]:
            try:
                return await replay_examples(
                    [self.example],
                    ReplayTask.wrap(task),
                    evaluator=evaluator,
                    capture=RunCapture.for_provider(provider),
                    tool_replay=options.get("tool_replay", "passthrough"),
                    recordings=recordings,
                )
            finally:
                await evaluator.aclose()

        (result,) = asyncio.run(go())
        result = _renumbered(result, self.repetition)
        self._group.runs.append(result)
        if result.status == "error":
            raise ReplayRunError(result.error)
        if result.status == "fail" and options.get("assert_each", True):
            raise AssertionError(f"{result.example.example_id}: {result.reason}")
        return result


class ReplayGate(pytest.Item):
    """Applies the release gate to the runs of one marked test, after its last example."""

    def __init__(self, *, group: _Group, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group

    def runtest(self) -> None:
        from otel_flywheel.replay import ReplayInfo, evaluate_gate, render_report

        group = self.group
        gate = evaluate_gate(group.runs, settings=group.settings, baseline=group.baseline)
        if not gate.passed:
            info = ReplayInfo(
                dataset=group.dataset,
                task=group.key,
                repetitions=int(group.options.get("repetitions", 1)),
            )
            raise ReplayGateFailed(render_report(gate, info), gate)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ReplayGateFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, None, f"{self.name}: replay gate of {self.group.dataset}"


class ReplayGateFailed(AssertionError):
    def __init__(self, report: str, gate: GateResult) -> None:
        super().__init__(report)
        self.gate = gate


# --- hooks ---------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(dataset, offline=None, version=None, phoenix_url=None, repetitions=1, "
        "min_pass_rate=0.8, max_errors=0, baseline=None, judge=None, rubrics=None, "
        "tool_replay='passthrough', assert_each=True): run the test once per example of an "
        f"otel-flywheel dataset (fixture `{FIXTURE}`) and gate the runs.",
    )
    config.stash[_GROUPS] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or FIXTURE not in metafunc.fixturenames:
        return
    group = _group(metafunc, marker)
    repetitions = int(group.options.get("repetitions", 1))
    examples = _load(group)
    params = [(example, rep) for example in examples for rep in range(1, repetitions + 1)]
    group.expected_items = len(params)
    metafunc.parametrize(
        FIXTURE,
        params,
        indirect=True,
        ids=[_case_id(example, rep, repetitions) for example, rep in params],
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    groups = config.stash.get(_GROUPS, {})
    if not groups:
        return
    last: dict[str, int] = {}
    for index, item in enumerate(items):
        key = _key_of(item)
        if key in groups:
            last[key] = index
    for key, index in sorted(last.items(), key=lambda pair: pair[1], reverse=True):
        parent = items[index].parent
        if parent is None:
            continue
        gate = ReplayGate.from_parent(
            parent, name=f"{key.rsplit('::', 1)[-1]}[gate]", group=groups[key]
        )
        items.insert(index + 1, gate)


@pytest.fixture
def flywheel_case(request: pytest.FixtureRequest) -> ReplayCase:
    """The example (and repetition) this item replays; call ``.run(task)``."""
    param = getattr(request, "param", None)
    if param is None:
        raise pytest.UsageError(
            f"{FIXTURE} needs @pytest.mark.{MARKER}(dataset, ...) on the test: it says which "
            "examples to replay"
        )
    example, repetition = param
    group = request.config.stash[_GROUPS][_key_of(request.node)]
    return ReplayCase(example=example, repetition=repetition, _group=group, _config=request.config)


@pytest.fixture(scope="session")
def flywheel_tracer_provider(pytestconfig: pytest.Config) -> TracerProvider:
    """The TracerProvider replay runs report to: instrument the agent under test with it."""
    return _session_provider(pytestconfig)


def pytest_unconfigure(config: pytest.Config) -> None:
    provider = config.stash.get(_PROVIDER, None)
    if provider is not None:
        provider.shutdown()


# --- internals -----------------------------------------------------------------------------------


def _group(metafunc: pytest.Metafunc, marker: pytest.Mark) -> _Group:
    from otel_flywheel.replay import GateSettings, read_baseline_file

    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER} takes the dataset name as its one positional argument"
        )
    unknown = sorted(set(marker.kwargs) - _OPTIONS)
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER}: unknown options {unknown}; use {sorted(_OPTIONS)}"
        )
    options = dict(marker.kwargs)
    key = metafunc.definition.nodeid
    baseline_value = options.get("baseline")
    baseline = None
    if baseline_value is not None:
        if os.fspath(baseline_value) == "auto" or not os.path.isfile(baseline_value):
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER}(baseline=...) takes a --json summary file of an earlier "
                f"replay; {baseline_value!r} is not a file"
            )
        baseline = read_baseline_file(baseline_value)
    group = _Group(
        key=key,
        dataset=marker.args[0],
        options=options,
        settings=GateSettings(
            min_pass_rate=float(options.get("min_pass_rate", 0.8)),
            max_errors=int(options.get("max_errors", 0)),
        ),
        baseline=baseline,
    )
    metafunc.config.stash[_GROUPS][key] = group
    return group


def _load(group: _Group) -> list[DatasetExample]:
    from otel_flywheel.datasets import read_examples

    offline = group.options.get("offline")
    if offline is not None:
        examples = [e for e in read_examples(offline) if e.dataset == group.dataset]
    else:
        from otel_flywheel.phoenix import load_dataset, phoenix_client

        with phoenix_client(group.options.get("phoenix_url")) as (client, _url):
            examples = load_dataset(
                client, group.dataset, version_id=group.options.get("version")
            ).examples
    if not examples:
        raise pytest.UsageError(f"dataset {group.dataset!r} has no examples to replay")
    return examples


def _recordings(example: DatasetExample, options: dict[str, Any]) -> dict[str, list[ToolRecording]]:
    if options.get("tool_replay", "passthrough") == "off":
        return {}
    from otel_flywheel.replay import find_recordings as find

    def quiet(_message: str) -> None:
        return None

    if options.get("offline") is not None:
        return find([example], None, quiet)
    from otel_flywheel.phoenix import phoenix_client

    with phoenix_client(options.get("phoenix_url")) as (client, _url):
        return find([example], client, quiet)


def _judge(options: dict[str, Any]) -> bool:
    judge = options.get("judge")
    if judge is None:
        from otel_flywheel import _env

        return bool(os.environ.get(_env.FLYWHEEL_JUDGE_MODEL))
    return bool(judge)


def _session_provider(config: pytest.Config) -> TracerProvider:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = config.stash.get(_PROVIDER, None)
    if provider is None:
        provider = config.stash[_PROVIDER] = TracerProvider()
    return provider


def _renumbered(result: RunResult, repetition: int) -> RunResult:
    from dataclasses import replace

    return replace(result, repetition=repetition)


def _case_id(example: DatasetExample, repetition: int, repetitions: int) -> str:
    text = example.input.get("input")
    slug = _SLUG.sub("-", text.lower()).strip("-")[:32] if isinstance(text, str) else ""
    base = f"{example.example_id[:8]}-{slug}" if slug else example.example_id[:12]
    return f"{base}-rep{repetition}" if repetitions > 1 else base


def _key_of(item: pytest.Item) -> str:
    return item.nodeid.split("[", 1)[0]
