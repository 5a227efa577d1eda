"""The release gate: pass rate with the judge's noise taken into account, regressions, flakiness.

- **Pass rate.** Passes over *scored* runs (``pass`` or ``fail``). The gate compares the lower
  bound of the 95 % Wilson score interval with ``min_pass_rate``, so a rate that only clears the
  bar by judge noise does not pass, and a small sample cannot pass a high bar: with ``n`` runs
  that all pass the bound is ``n / (n + 3.84)``, so 0.8 needs at least 16 runs (examples x
  repetitions). The report says so when the bar is out of reach.
- **Errors.** A run that errored (the task raised, a judgment came back unscored, ...) is never a
  pass and is not in the rate. More errors than ``max_errors`` (default 0) mean the gate cannot
  decide: exit code 2.
- **Baseline.** Each example's earlier status: from a baseline run (a Phoenix experiment or a
  ``--json`` summary) where it has one, else from the example's origin: a golden example passed
  (a user approved it), a regression example failed (that is why it was routed).
- **Regressions and fixes.** An example that passed in the baseline and fails in every scored run
  now regressed; the reverse is a fix. Any *golden* regression fails the gate, listed by name.
- **Flaky.** With repetitions, an example with both passing and failing runs is flaky: reported
  as such, never as a regression or a fix.
- **Categories.** Pass rates per taxonomy category (examples without one by route) next to the
  baseline's; a drop beyond noise (the upper Wilson bound below the baseline's rate) is marked. It
  is reported, not gated: the overall bound and the golden set are the gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.errors import ConfigError
from otel_flywheel.rates import corrected_pass_rate, wilson_interval
from otel_flywheel.replay._runner import RunResult

__all__ = [
    "Baseline",
    "BaselineEntry",
    "CategoryRow",
    "Change",
    "ExampleOutcome",
    "ExampleStatus",
    "GateResult",
    "GateSettings",
    "evaluate_gate",
    "example_category",
    "example_name",
]

ExampleStatus = Literal["pass", "fail", "flaky", "error"]
Change = Literal["regression", "fix", "flaky"]
_NAME_CHARS: Final = 70


@dataclass(frozen=True, kw_only=True)
class GateSettings:
    """``min_pass_rate`` in [0, 1] for the Wilson lower bound; ``max_errors`` runs tolerated."""

    min_pass_rate: float = 0.8
    max_errors: int = 0
    # (sensitivity, specificity) of the judge against people, from `otel-flywheel calibrate`:
    # the gate then compares the Wilson lower bound corrected for the judge's error.
    judge_error: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.judge_error is not None:
            sensitivity, specificity = self.judge_error
            if sensitivity + specificity <= 1.0:
                raise ConfigError(
                    f"the judge's sensitivity {sensitivity:.2f} and specificity {specificity:.2f} "
                    "are no better than chance: fix the rubric (otel-flywheel calibrate) before "
                    "gating on it"
                )
        if not 0.0 <= self.min_pass_rate <= 1.0:
            raise ConfigError(
                f"min_pass_rate must be within [0, 1], got {self.min_pass_rate} "
                "(a rate: --min-pass-rate 0.9 for 90 %)"
            )
        if self.max_errors < 0:
            raise ConfigError(f"max_errors must be 0 or more, got {self.max_errors}")


@dataclass(frozen=True, kw_only=True)
class BaselineEntry:
    status: ExampleStatus
    passes: int
    scored: int


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """Earlier results by example id; ``source`` says where they came from."""

    source: str
    examples: Mapping[str, BaselineEntry] = field(default_factory=dict)
    experiment_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExampleOutcome:
    """One example's runs, its status now and in the baseline, and what changed."""

    example: DatasetExample
    runs: tuple[RunResult, ...]
    status: ExampleStatus
    baseline: BaselineEntry | None
    baseline_from: Literal["baseline", "origin"] | None
    change: Change | None

    @property
    def name(self) -> str:
        return example_name(self.example)

    @property
    def category(self) -> str:
        return example_category(self.example)

    @property
    def golden(self) -> bool:
        return self.example.route == "golden" or self.example.dataset.endswith("/golden")

    @property
    def passes(self) -> int:
        return sum(1 for r in self.runs if r.status == "pass")

    @property
    def scored(self) -> int:
        return sum(1 for r in self.runs if r.status != "error")

    @property
    def errors(self) -> int:
        return sum(1 for r in self.runs if r.status == "error")

    @property
    def reason(self) -> str:
        """Why it failed or errored: the first failing (else erroring) run's reason."""
        for wanted in ("fail", "error"):
            for run in self.runs:
                if run.status == wanted and run.reason:
                    return run.reason
        return ""


@dataclass(frozen=True, kw_only=True)
class CategoryRow:
    category: str
    examples: int
    passes: int
    scored: int
    errors: int
    baseline_passes: int
    baseline_scored: int
    regressions: int
    fixes: int
    flaky: int

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.scored if self.scored else None

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline_passes / self.baseline_scored if self.baseline_scored else None

    @property
    def delta(self) -> float | None:
        if self.pass_rate is None or self.baseline_rate is None:
            return None
        return self.pass_rate - self.baseline_rate

    @property
    def dropped(self) -> bool:
        """Worse than the baseline beyond noise: the upper Wilson bound is below its rate."""
        baseline = self.baseline_rate
        if baseline is None or not self.scored:
            return False
        return wilson_interval(self.passes, self.scored)[1] < baseline


@dataclass(frozen=True, kw_only=True)
class GateResult:
    settings: GateSettings
    outcomes: tuple[ExampleOutcome, ...]
    categories: tuple[CategoryRow, ...]
    baseline_source: str | None
    failures: tuple[str, ...] = ()  # why the gate failed
    problems: tuple[str, ...] = ()  # why it could not decide
    notes: tuple[str, ...] = ()

    @property
    def runs(self) -> list[RunResult]:
        return [run for outcome in self.outcomes for run in outcome.runs]

    @property
    def passes(self) -> int:
        return sum(o.passes for o in self.outcomes)

    @property
    def scored(self) -> int:
        return sum(o.scored for o in self.outcomes)

    @property
    def errors(self) -> int:
        return sum(o.errors for o in self.outcomes)

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.scored if self.scored else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.passes, self.scored)

    @property
    def passed(self) -> bool:
        return not self.failures and not self.problems

    @property
    def exit_code(self) -> int:
        """0 the gate passed, 1 it failed, 2 it could not decide (errors)."""
        return 2 if self.problems else (1 if self.failures else 0)

    def with_change(self, change: Change) -> list[ExampleOutcome]:
        return [o for o in self.outcomes if o.change == change]

    @property
    def golden_regressions(self) -> list[ExampleOutcome]:
        return [o for o in self.outcomes if o.golden and o.change == "regression"]


def evaluate_gate(
    runs: Sequence[RunResult],
    *,
    settings: GateSettings | None = None,
    baseline: Baseline | None = None,
) -> GateResult:
    """Group ``runs`` by example (in first-seen order) and decide the gate."""
    settings = settings or GateSettings()
    grouped: dict[str, list[RunResult]] = {}
    for run in runs:
        grouped.setdefault(run.example.example_id, []).append(run)
    outcomes = tuple(
        _outcome(sorted(group, key=lambda r: r.repetition), baseline) for group in grouped.values()
    )
    # Counted first (the properties below read the outcomes), judged after.
    result = GateResult(
        settings=settings,
        outcomes=outcomes,
        categories=_categories(outcomes),
        baseline_source=baseline.source if baseline is not None else None,
    )
    failures: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    lower, _upper = result.interval
    if result.errors > settings.max_errors:
        problems.append(
            f"{result.errors} run(s) errored, more than the {settings.max_errors} allowed "
            "(--max-errors): the gate cannot decide"
        )
    if result.scored == 0:
        problems.append("no run could be scored")
    elif settings.judge_error is not None:
        corrected = corrected_pass_rate(lower, *settings.judge_error)
        assert corrected is not None  # __post_init__ refuses a judge no better than chance
        notes.append(
            f"corrected for the judge's measured error (sensitivity {settings.judge_error[0]:.2f}, "
            f"specificity {settings.judge_error[1]:.2f}): the Wilson lower bound {lower:.1%} "
            f"becomes {corrected:.1%}"
        )
        if corrected < settings.min_pass_rate:
            failures.append(
                f"pass rate {result.pass_rate:.1%} ({result.passes}/{result.scored}): its 95% "
                f"Wilson lower bound, corrected for the judge's error, {corrected:.1%} is below "
                f"the minimum {settings.min_pass_rate:.1%}"
            )
    elif lower < settings.min_pass_rate:
        failures.append(
            f"pass rate {result.pass_rate:.1%} ({result.passes}/{result.scored}): its 95% "
            f"Wilson lower bound {lower:.1%} is below the minimum {settings.min_pass_rate:.1%}"
        )
    golden = result.golden_regressions
    if golden:
        failures.append(
            f"{len(golden)} golden example(s) passed in the baseline and fail now: "
            + "; ".join(f"{o.name!r}" for o in golden)
        )
    if result.scored:
        best = wilson_interval(result.scored, result.scored)[0]
        if best < settings.min_pass_rate:
            notes.append(
                f"even with every run passing, {result.scored} scored runs give a lower bound of "
                f"{best:.1%} < {settings.min_pass_rate:.1%}: add examples or --repetitions, or "
                "lower --min-pass-rate"
            )
    unjudged = sorted({r for run in result.runs for r in run.unjudged_rubrics})
    if unjudged:
        count = sum(1 for run in result.runs if run.unjudged_rubrics)
        notes.append(
            f"{count} run(s) were not judged on the rubrics their examples call for "
            f"({', '.join(unjudged)}): the judge was off (--no-judge); checks only"
        )
    return replace(result, failures=tuple(failures), problems=tuple(problems), notes=tuple(notes))


def example_name(example: DatasetExample) -> str:
    """How reports name an example: its question, shortened, and a short id."""
    text = example.input.get("input")
    if not isinstance(text, str) or not text.strip():
        return example.example_id
    flat = " ".join(text.split())
    short = flat if len(flat) <= _NAME_CHARS else flat[: _NAME_CHARS - 3] + "..."
    return f"{short} [{example.example_id[:8]}]"


def example_category(example: DatasetExample) -> str:
    """The taxonomy category the example was routed with; else ``(route)``."""
    category = example.metadata.get("category")
    if isinstance(category, str) and category:
        return category
    return f"({example.route})" if example.route else "(none)"


def origin_status(example: DatasetExample) -> ExampleStatus | None:
    """The example's status where it came from, when no baseline run has it."""
    route = example.route
    if route == "golden":
        return "pass"
    if route == "regression":
        return "fail"
    verdict = example.metadata.get("verdict_passed")
    if isinstance(verdict, bool):
        return "pass" if verdict else "fail"
    return None


def _outcome(runs: list[RunResult], baseline: Baseline | None) -> ExampleOutcome:
    example = runs[0].example
    passes = sum(1 for r in runs if r.status == "pass")
    fails = sum(1 for r in runs if r.status == "fail")
    status: ExampleStatus
    if passes + fails == 0:
        status = "error"
    elif fails == 0:
        status = "pass"
    elif passes == 0:
        status = "fail"
    else:
        status = "flaky"
    entry = baseline.examples.get(example.example_id) if baseline is not None else None
    source: Literal["baseline", "origin"] | None = "baseline" if entry is not None else None
    if entry is None:
        origin = origin_status(example)
        if origin is not None:
            entry = BaselineEntry(status=origin, passes=int(origin == "pass"), scored=1)
            source = "origin"
    change: Change | None = None
    if status == "flaky":
        change = "flaky"
    elif entry is not None and entry.status == "pass" and status == "fail":
        change = "regression"
    elif entry is not None and entry.status == "fail" and status == "pass":
        change = "fix"
    return ExampleOutcome(
        example=example,
        runs=tuple(runs),
        status=status,
        baseline=entry,
        baseline_from=source,
        change=change,
    )


def _categories(outcomes: Sequence[ExampleOutcome]) -> tuple[CategoryRow, ...]:
    grouped: dict[str, list[ExampleOutcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.category, []).append(outcome)
    rows = []
    for category in sorted(grouped):
        members = grouped[category]
        with_baseline = [o.baseline for o in members if o.baseline is not None]
        rows.append(
            CategoryRow(
                category=category,
                examples=len(members),
                passes=sum(o.passes for o in members),
                scored=sum(o.scored for o in members),
                errors=sum(o.errors for o in members),
                baseline_passes=sum(b.passes for b in with_baseline),
                baseline_scored=sum(b.scored for b in with_baseline),
                regressions=sum(1 for o in members if o.change == "regression"),
                fixes=sum(1 for o in members if o.change == "fix"),
                flaky=sum(1 for o in members if o.change == "flaky"),
            )
        )
    return tuple(rows)
