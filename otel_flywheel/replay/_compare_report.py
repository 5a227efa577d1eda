"""What an A/B replay reports: both variants side by side as text, and as JSON.

The JSON (``format: otel-flywheel.replay-comparison/1``) holds each variant's summary (the same
document ``replay --json`` writes for one variant, a baseline for later runs), the paired
difference with its interval and McNemar p-value, the per-category rates, each example's outcome
under both, and the preference pairs written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from otel_flywheel.rates import wilson_interval
from otel_flywheel.replay._compare import Comparison, ExampleDifference
from otel_flywheel.replay._report import ReplayInfo, summary_dict, text_table

__all__ = [
    "COMPARISON_FORMAT",
    "PreferenceDelivery",
    "comparison_dict",
    "render_comparison",
    "write_comparison",
]

COMPARISON_FORMAT: Final = "otel-flywheel.replay-comparison/1"


@dataclass(frozen=True, kw_only=True)
class PreferenceDelivery:
    """The preference pairs a comparison wrote: where, how many, whether Phoenix has them."""

    dataset: str
    pairs: int
    delivered: bool = False  # every pair reached Phoenix before the deadline
    pending: int = 0  # still in the outbox, delivered by the next comparison run
    outbox: str | None = None
    file: str | None = None


def render_comparison(
    comparison: Comparison,
    info_a: ReplayInfo,
    info_b: ReplayInfo,
    preferences: PreferenceDelivery | None = None,
) -> str:
    a, b = comparison.a_name, comparison.b_name
    lines = [
        f"A/B replay of {info_a.dataset}"
        + (f" (version {info_a.dataset_version})" if info_a.dataset_version else "")
        + f": {len(comparison.examples)} examples x {info_a.repetitions} repetition(s), "
        + (f"judge {info_a.judge_model}" if info_a.judge_model else "checks only"),
        f"  {a}: {info_a.task}",
        f"  {b}: {info_b.task}",
        "",
    ]
    header = ("category", "examples", a, b, "change")
    rows = [
        (
            row.category,
            str(row.examples),
            _rate(row.a_passes, row.a_scored),
            _rate(row.b_passes, row.b_scored),
            _delta(row.a_passes, row.a_scored, row.b_passes, row.b_scored),
        )
        for row in comparison.categories
    ]
    rows.append(
        (
            "all",
            str(len(comparison.examples)),
            _rate(comparison.a.passes, comparison.a.scored),
            _rate(comparison.b.passes, comparison.b.scored),
            _delta(
                comparison.a.passes, comparison.a.scored, comparison.b.passes, comparison.b.scored
            ),
        )
    )
    lines += text_table(header, rows)
    lines.append("")
    for name, gate in ((a, comparison.a), (b, comparison.b)):
        if gate.scored:
            lower, upper = gate.interval
            lines.append(
                f"{name}: pass rate {gate.passes}/{gate.scored} = {gate.pass_rate:.1%}, 95% Wilson "
                f"interval [{lower:.1%}, {upper:.1%}]"
                + (f", {gate.errors} errored run(s)" if gate.errors else "")
            )
        else:
            lines.append(f"{name}: no run could be scored ({gate.errors} errored)")
    difference, interval = comparison.rate_difference, comparison.difference_interval
    if difference is not None and interval is not None:
        lines.append(
            f"{b} - {a} over the {comparison.paired} examples both scored: {difference:+.1%}, 95% "
            f"interval [{interval[0]:+.1%}, {interval[1]:+.1%}] (Newcombe, paired); McNemar exact "
            f"p = {comparison.p_value:.3g}: {_verdict(comparison)}"
        )
    for title, kind in (
        (f"better with {b} ({b} passes, {a} fails)", "better"),
        (f"worse with {b} ({b} fails, {a} passes)", "worse"),
        ("undecided (flaky or erroring in one of them)", "undecided"),
    ):
        found = comparison.with_difference(kind)  # type: ignore[arg-type]
        if found:
            lines.append("")
            lines.append(f"{title}: {len(found)}")
            lines += [_example_line(pair, kind, a, b) for pair in found]
    if comparison.problems:
        lines.append("")
        lines += [f"cannot decide: {problem}" for problem in comparison.problems]
    if preferences is not None:
        lines.append("")
        lines.append(_preferences_line(preferences))
    return "\n".join(lines)


def comparison_dict(
    comparison: Comparison,
    info_a: ReplayInfo,
    info_b: ReplayInfo,
    preferences: PreferenceDelivery | None = None,
) -> dict[str, Any]:
    interval = comparison.difference_interval
    return {
        "format": COMPARISON_FORMAT,
        "variants": {
            comparison.a_name: summary_dict(comparison.a, info_a),
            comparison.b_name: summary_dict(comparison.b, info_b),
        },
        "a": comparison.a_name,
        "b": comparison.b_name,
        "paired_examples": comparison.paired,
        "difference": comparison.rate_difference,
        "difference_interval": list(interval) if interval is not None else None,
        "p_value": comparison.p_value,
        "alpha": comparison.alpha,
        "verdict": comparison.verdict,
        "exit_code": comparison.exit_code,
        "categories": [
            {
                "category": row.category,
                "examples": row.examples,
                comparison.a_name: {"passes": row.a_passes, "scored": row.a_scored},
                comparison.b_name: {"passes": row.b_passes, "scored": row.b_scored},
            }
            for row in comparison.categories
        ],
        "examples": [
            {
                "example_id": pair.a.example.example_id,
                "name": pair.name,
                "category": pair.a.category,
                "difference": pair.difference,
                comparison.a_name: {"status": pair.a.status, "reason": pair.a.reason},
                comparison.b_name: {"status": pair.b.status, "reason": pair.b.reason},
            }
            for pair in comparison.examples
        ],
        "preferences": None if preferences is None else vars(preferences),
    }


def write_comparison(
    path: str | os.PathLike[str],
    comparison: Comparison,
    info_a: ReplayInfo,
    info_b: ReplayInfo,
    preferences: PreferenceDelivery | None = None,
) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = comparison_dict(comparison, info_a, info_b, preferences)
    target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _verdict(comparison: Comparison) -> str:
    b = comparison.b_name
    if comparison.verdict == "better":
        return f"{b} is better"
    if comparison.verdict == "worse":
        return f"{b} is worse"
    return f"no significant difference at {comparison.alpha:g}"


def _example_line(pair: ExampleDifference, kind: str, a: str, b: str) -> str:
    if kind == "undecided":
        return f"  {pair.name}: {a} {pair.a.status}, {b} {pair.b.status}"
    failing = pair.a if kind == "better" else pair.b
    who = a if kind == "better" else b
    reason = f" ({who}: {failing.reason[:140]})" if failing.reason else ""
    return f"  {pair.name}{reason}"


def _preferences_line(delivery: PreferenceDelivery) -> str:
    if delivery.pairs == 0:
        return (
            "preference pairs: none (no example passed with one variant and failed with the other)"
        )
    where = []
    if delivery.outbox is not None:
        state = (
            "delivered"
            if delivery.delivered
            else f"{delivery.pending} pending in {delivery.outbox}"
        )
        where.append(f"{delivery.dataset} ({state})")
    if delivery.file is not None:
        where.append(delivery.file)
    return f"preference pairs: {delivery.pairs} written to {' and '.join(where)}"


def _rate(passes: int, scored: int) -> str:
    if not scored:
        return "-"
    lower, upper = wilson_interval(passes, scored)
    return f"{passes}/{scored} {passes / scored:.0%} [{lower:.0%}, {upper:.0%}]"


def _delta(a_passes: int, a_scored: int, b_passes: int, b_scored: int) -> str:
    if not a_scored or not b_scored:
        return ""
    return f"{b_passes / b_scored - a_passes / a_scored:+.0%}"
