"""What a replay reports: a per-category table, JUnit XML for CI, and a JSON summary.

The JSON summary (``format: otel-flywheel.replay/1``) is also a baseline: ``--baseline FILE``
reads each example's status and pass counts back from its ``examples`` list, so an offline CI job
can compare with the previous run's artifact.

JUnit has one ``testcase`` per example (``classname`` = the dataset) plus one named ``gate``:
a failing example is a ``failure``, an erroring one an ``error``; a flaky one passes, with its
runs in ``system-out`` (flaky is not a regression).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, TextIO

from otel_flywheel import __version__
from otel_flywheel.errors import ConfigError
from otel_flywheel.replay._gate import (
    Baseline,
    BaselineEntry,
    CategoryRow,
    Change,
    ExampleOutcome,
    ExampleStatus,
    GateResult,
)
from otel_flywheel.replay._runner import RunResult

__all__ = [
    "SUMMARY_FORMAT",
    "ReplayInfo",
    "read_baseline_file",
    "render_report",
    "summary_dict",
    "write_junit",
    "write_summary",
]

SUMMARY_FORMAT: Final = "otel-flywheel.replay/1"
_STATUSES: Final = frozenset({"pass", "fail", "flaky", "error"})
_OUTPUT_CHARS: Final = 2000


@dataclass(frozen=True, kw_only=True)
class ReplayInfo:
    """What was replayed, for the reports."""

    dataset: str
    task: str
    dataset_version: str | None = None
    repetitions: int = 1
    judge_model: str | None = None
    experiment_id: str | None = None
    experiment_url: str | None = None


# --- text ----------------------------------------------------------------------------------------


def render_report(gate: GateResult, info: ReplayInfo) -> str:
    """The table and lists the CLI prints."""
    lines = [
        f"replay of {info.dataset}"
        + (f" (version {info.dataset_version})" if info.dataset_version else "")
        + f": {len(gate.outcomes)} examples x {info.repetitions} repetition(s), task {info.task}, "
        + (f"judge {info.judge_model}" if info.judge_model else "checks only"),
        f"baseline: {gate.baseline_source or 'the examples origin (golden passed, regression failed)'}",
        "",
    ]
    header = (
        "category",
        "examples",
        "pass rate",
        "baseline",
        "change",
        "regr",
        "fixed",
        "flaky",
        "errors",
    )
    rows = [_category_cells(row) for row in gate.categories]
    lower, upper = gate.interval
    rows.append(
        (
            "all",
            str(len(gate.outcomes)),
            _rate(gate.passes, gate.scored),
            "",
            "",
            str(len(gate.with_change("regression"))),
            str(len(gate.with_change("fix"))),
            str(len(gate.with_change("flaky"))),
            str(gate.errors),
        )
    )
    lines += text_table(header, rows)
    lines.append("")
    if gate.scored:
        lines.append(
            f"pass rate {gate.passes}/{gate.scored} = {gate.pass_rate:.1%}, 95% Wilson interval "
            f"[{lower:.1%}, {upper:.1%}], minimum for the lower bound "
            f"{gate.settings.min_pass_rate:.1%}"
        )
    sections: tuple[tuple[str, Change], ...] = (
        ("regressed", "regression"),
        ("fixed", "fix"),
        ("flaky", "flaky"),
    )
    for title, change in sections:
        members = gate.with_change(change)
        if members:
            lines.append(f"{title} ({len(members)}):")
            lines += [_outcome_line(o) for o in members]
    erroring = [o for o in gate.outcomes if o.errors]
    if erroring:
        lines.append(f"errors ({sum(o.errors for o in erroring)} runs):")
        lines += [f"  - {o.name}: {_first_error(o)}" for o in erroring]
    failing = [o for o in gate.outcomes if o.status == "fail" and o.change != "regression"]
    if failing:
        lines.append(f"still failing ({len(failing)}):")
        lines += [_outcome_line(o) for o in failing]
    for note in gate.notes:
        lines.append(f"note: {note}")
    if info.experiment_url:
        lines.append(f"experiment: {info.experiment_url}")
    lines.append("")
    if gate.problems:
        lines += [f"ERROR: {p}" for p in gate.problems]
    lines += [f"FAILED: {f}" for f in gate.failures]
    verdict = {0: "GATE PASSED", 1: "GATE FAILED", 2: "GATE ERROR"}[gate.exit_code]
    lines.append(f"{verdict} (exit {gate.exit_code})")
    return "\n".join(lines)


def _category_cells(row: CategoryRow) -> tuple[str, ...]:
    baseline = f"{row.baseline_rate:.0%}" if row.baseline_rate is not None else "-"
    delta = row.delta
    change = "" if delta is None else f"{delta:+.0%}" + (" drop" if row.dropped else "")
    return (
        row.category,
        str(row.examples),
        _rate(row.passes, row.scored),
        baseline,
        change,
        str(row.regressions),
        str(row.fixes),
        str(row.flaky),
        str(row.errors),
    )


def _rate(passes: int, total: int) -> str:
    return f"{passes / total:.0%} ({passes}/{total})" if total else "-"


def _outcome_line(outcome: ExampleOutcome) -> str:
    runs = f" {outcome.passes}/{outcome.scored} runs passed" if outcome.scored > 1 else ""
    golden = " [golden]" if outcome.golden else ""
    reason = outcome.reason
    return f"  - {outcome.name}{golden}{runs}" + (f": {reason}" if reason else "")


def _first_error(outcome: ExampleOutcome) -> str:
    return next((r.error for r in outcome.runs if r.error), "")


# --- JSON summary --------------------------------------------------------------------------------


def summary_dict(gate: GateResult, info: ReplayInfo) -> dict[str, Any]:
    lower, upper = gate.interval
    return {
        "format": SUMMARY_FORMAT,
        "otel_flywheel_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "dataset": info.dataset,
        "dataset_version": info.dataset_version,
        "task": info.task,
        "repetitions": info.repetitions,
        "judge_model": info.judge_model,
        "experiment_id": info.experiment_id,
        "experiment_url": info.experiment_url,
        "baseline": gate.baseline_source,
        "gate": {
            "passed": gate.passed,
            "exit_code": gate.exit_code,
            "min_pass_rate": gate.settings.min_pass_rate,
            "max_errors": gate.settings.max_errors,
            "passes": gate.passes,
            "scored_runs": gate.scored,
            "errors": gate.errors,
            "pass_rate": gate.pass_rate,
            "lower_bound": lower,
            "upper_bound": upper,
            "failures": list(gate.failures),
            "problems": list(gate.problems),
            "notes": list(gate.notes),
        },
        "golden_regressions": [o.name for o in gate.golden_regressions],
        "categories": [
            {
                "category": row.category,
                "examples": row.examples,
                "passes": row.passes,
                "scored_runs": row.scored,
                "errors": row.errors,
                "pass_rate": row.pass_rate,
                "baseline_pass_rate": row.baseline_rate,
                "delta": row.delta,
                "dropped": row.dropped,
                "regressions": row.regressions,
                "fixes": row.fixes,
                "flaky": row.flaky,
            }
            for row in gate.categories
        ],
        "examples": [_example_dict(o) for o in gate.outcomes],
    }


def _example_dict(outcome: ExampleOutcome) -> dict[str, Any]:
    baseline = outcome.baseline
    return {
        "example_id": outcome.example.example_id,
        "name": outcome.name,
        "dataset": outcome.example.dataset,
        "route": outcome.example.route,
        "category": outcome.category,
        "golden": outcome.golden,
        "status": outcome.status,
        "passes": outcome.passes,
        "scored_runs": outcome.scored,
        "errors": outcome.errors,
        "baseline_status": baseline.status if baseline is not None else None,
        "baseline_from": outcome.baseline_from,
        "change": outcome.change,
        "runs": [_run_dict(r) for r in outcome.runs],
    }


def _run_dict(run: RunResult) -> dict[str, Any]:
    verdict = run.verdict
    return {
        "repetition": run.repetition,
        "status": run.status,
        "trace_id": run.trace_id,
        "reason": run.reason or None,
        "category": verdict.category if verdict is not None else None,
        "subcategory": verdict.subcategory if verdict is not None else None,
        "failing_evaluations": sorted({e.evaluator for e in run.failures}),
        "unjudged_rubrics": list(run.unjudged_rubrics),
        "tools_replayed": run.tools_replayed,
        "tools_live": run.tools_live,
        "output": _clip(run.output),
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat(),
    }


def _clip(output: Any) -> Any:
    try:
        text = output if isinstance(output, str) else json.dumps(output, default=str)
    except (TypeError, ValueError):
        text = str(output)
    if len(text) <= _OUTPUT_CHARS:
        return output if isinstance(output, (str, int, float, bool, type(None))) else text
    return text[:_OUTPUT_CHARS] + "..."


def write_summary(
    path: str | os.PathLike[str] | TextIO, gate: GateResult, info: ReplayInfo
) -> None:
    """The JSON summary into a file, or an open text stream."""
    text = json.dumps(summary_dict(gate, info), indent=2) + "\n"
    if not isinstance(path, (str, os.PathLike)):
        path.write(text)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def read_baseline_file(path: str | os.PathLike[str]) -> Baseline:
    """A baseline from a JSON summary an earlier replay wrote (``--json``)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read baseline file {source}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"baseline file {source} is not JSON ({exc})") from None
    if not isinstance(data, Mapping) or data.get("format") != SUMMARY_FORMAT:
        raise ConfigError(
            f"{source} is not a replay summary (format {SUMMARY_FORMAT!r}). Fix: pass a file "
            "an earlier `otel-flywheel replay --json FILE` wrote"
        )
    entries: dict[str, BaselineEntry] = {}
    for item in data.get("examples") or []:
        if not isinstance(item, Mapping):
            continue
        example_id, status = item.get("example_id"), item.get("status")
        if not isinstance(example_id, str) or status not in _STATUSES:
            raise ConfigError(f"{source}: an example entry lacks example_id or a valid status")
        entries[example_id] = BaselineEntry(
            status=_status(status),
            passes=int(item.get("passes") or 0),
            scored=int(item.get("scored_runs") or 0),
        )
    return Baseline(source=f"file {source}", examples=entries)


def _status(value: Any) -> ExampleStatus:
    if value == "pass":
        return "pass"
    if value == "fail":
        return "fail"
    if value == "flaky":
        return "flaky"
    return "error"


# --- JUnit ---------------------------------------------------------------------------------------


def write_junit(path: str | os.PathLike[str] | TextIO, gate: GateResult, info: ReplayInfo) -> None:
    """JUnit XML (one test case per example, and the gate) into a file, or an open text stream."""
    suite_name = f"otel-flywheel replay {info.dataset}"
    failures = sum(1 for o in gate.outcomes if o.status == "fail") + int(gate.exit_code == 1)
    errors = sum(1 for o in gate.outcomes if o.status == "error") + int(gate.exit_code == 2)
    runs = gate.runs
    total_seconds = sum((r.ended_at - r.started_at).total_seconds() for r in runs)
    suites = ET.Element("testsuites", name="otel-flywheel replay")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(gate.outcomes) + 1),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{total_seconds:.3f}",
        timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("task", info.task),
        ("dataset_version", info.dataset_version),
        ("experiment_id", info.experiment_id),
        ("baseline", gate.baseline_source),
    ):
        if value:
            ET.SubElement(properties, "property", name=name, value=value)
    for outcome in gate.outcomes:
        seconds = sum((r.ended_at - r.started_at).total_seconds() for r in outcome.runs)
        case = ET.SubElement(
            suite,
            "testcase",
            classname=info.dataset,
            name=outcome.name,
            time=f"{seconds:.3f}",
        )
        if outcome.status == "fail":
            element = ET.SubElement(case, "failure", message=outcome.reason or "failed")
            element.text = _runs_text(outcome)
        elif outcome.status == "error":
            element = ET.SubElement(case, "error", message=_first_error(outcome) or "error")
            element.text = _runs_text(outcome)
        elif outcome.status == "flaky" or outcome.errors:
            ET.SubElement(case, "system-out").text = _runs_text(outcome)
    gate_case = ET.SubElement(suite, "testcase", classname=info.dataset, name="gate", time="0")
    if gate.exit_code:
        tag = "error" if gate.exit_code == 2 else "failure"
        reasons = [*gate.problems, *gate.failures]
        ET.SubElement(gate_case, tag, message=reasons[0]).text = "\n".join([*reasons, *gate.notes])
    if not isinstance(path, (str, os.PathLike)):
        ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)
        path.write("\n")
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(target, encoding="utf-8", xml_declaration=True)


def _runs_text(outcome: ExampleOutcome) -> str:
    lines = [
        f"status {outcome.status}, {outcome.passes}/{outcome.scored} scored runs passed"
        + (f", baseline {outcome.baseline.status}" if outcome.baseline else "")
    ]
    for run in outcome.runs:
        line = f"run {run.repetition}: {run.status}"
        if run.trace_id:
            line += f" (trace {run.trace_id})"
        if run.reason:
            line += f": {run.reason}"
        lines.append(line)
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns (the first left, the rest right), a rule above the last row (the total)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = []
    for index, cells in enumerate((header, *rows)):
        if index == len(rows):
            lines.append("  ".join("-" * w for w in widths))
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
    return lines
