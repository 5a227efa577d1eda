"""The report's statistics against planted effects: what is planted is flagged, what is not is not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from report_world import examples_file, flagged_cells, report_of, verdict_file

from otel_flywheel.analysis._drift import Cell, compare_cells
from otel_flywheel.testing.verdicts import Effect


@pytest.mark.parametrize(
    ("category", "cohort", "n"),
    [
        ("parameter", {"tenant": "globex"}, 20_000),
        ("business_rule", {"plan": "free"}, 20_000),  # 1 % base rate: few failures per cell
        ("knowledge_context", {"tenant": "acme"}, 6_000),  # smaller windows
    ],
)
def test_a_category_whose_failure_rate_quadruples_in_one_cohort_is_flagged(
    tmp_path: Path, category: str, cohort: dict[str, str], n: int
) -> None:
    path = verdict_file(
        tmp_path / "v.jsonl", n, effects=[Effect(category, 4.0, from_day=7, cohort=cohort)], seed=3
    )
    report = report_of(path)
    assert (category, cohort) in flagged_cells(report)
    (cell,) = [c for c in report["drift"] if (c["category"], c["cohort"]) == (category, cohort)]
    assert cell["direction"] == "worse"
    assert cell["q_value"] <= 0.05
    assert cell["current"]["rate"] > 2.5 * cell["baseline"]["rate"]
    assert report["flags"]["drift"] is True
    # The cohort the effect is not in is not flagged for that category.
    other = {
        name: next(v for v in values if v != cohort[name])
        for name, values in {"tenant": ("acme", "globex"), "plan": ("free", "pro")}.items()
        if name in cohort
    }
    assert (category, other) not in flagged_cells(report)
    # The plan names the category first, with the evidence.
    top = report["plan"][0]
    assert top["category"] == category
    assert "drift" in top["evidence"]["flags"]


def test_without_an_effect_nothing_is_flagged(tmp_path: Path) -> None:
    report = report_of(verdict_file(tmp_path / "v.jsonl", 10_000, seed=11))
    assert flagged_cells(report) == []
    assert report["flags"] == {"drift": False, "regression": False, "stall": False}


def test_false_flags_stay_within_the_fdr_level_over_many_cells() -> None:
    """200 worlds without any effect, 90 cells each, counts from 30 to 3000 (Fisher and z): the
    share of worlds with any flag, which under the global null is BH's false discovery rate,
    stays at alpha (with three standard errors of slack for the simulation)."""
    rng = np.random.default_rng(7)
    worlds, alpha = 200, 0.05
    with_flags = 0
    for _ in range(worlds):
        cells = []
        for _ in range(90):
            n1, n2 = (int(x) for x in rng.integers(30, 3000, size=2))
            p = float(rng.choice([0.01, 0.05, 0.2]))
            cells.append(
                Cell(None, {}, (int(rng.binomial(n1, p)), n1), (int(rng.binomial(n2, p)), n2))
            )
        results = compare_cells(cells, alpha=alpha, min_traces=20)
        with_flags += any(r["flagged"] for r in results)
    assert with_flags / worlds <= alpha + 3 * (alpha * (1 - alpha) / worlds) ** 0.5


def test_cells_below_the_minimum_are_not_enough_data_and_stay_out_of_the_family() -> None:
    cells = [Cell("parameter", {}, (1, 10), (9, 12)), Cell(None, {}, (100, 1000), (200, 1000))]
    small, large = compare_cells(cells, alpha=0.05, min_traces=20)
    assert (small["status"], small["p_value"], small["flagged"]) == ("not enough data", None, False)
    assert large["status"] == "tested"
    assert large["q_value"] == pytest.approx(large["p_value"])  # a family of one


def test_a_category_worse_in_the_new_version_is_called_out(tmp_path: Path) -> None:
    path = verdict_file(
        tmp_path / "v.jsonl", 10_000, effects=[Effect("tool_selection", 3.0, version="1.1.0")]
    )
    report = report_of(path)
    regressions = {r["category"]: r for r in report["compare"]["regressions"]}
    worse = regressions["tool_selection"]
    assert (worse["from_version"], worse["to_version"], worse["flagged"]) == (
        "1.0.0",
        "1.1.0",
        True,
    )
    assert not regressions["parameter"]["flagged"]
    assert report["flags"]["regression"] is True
    assert [v["version"] for v in report["compare"]["versions"]] == ["1.0.0", "1.1.0"]


def test_data_that_grows_without_the_rate_falling_is_a_stall(tmp_path: Path) -> None:
    path = verdict_file(tmp_path / "v.jsonl", 20_000, days=28, seed=5)
    # Regression examples of `parameter` routed steadily over the four weeks: 5 -> 60.
    rows = [
        ("regression", "parameter", f"2026-11-{day:02d}T12:00:00Z")
        for day in range(1, 29)
        for _ in range(2)
    ]
    examples = examples_file(tmp_path / "examples.jsonl", rows)
    report = report_of(path, examples=[examples])
    kinds = {(f["kind"], f["category"]) for f in report["stall"]["flags"]}
    assert ("diminishing_data_value", "parameter") in kinds
    assert report["flags"]["stall"] is True
    (plan,) = [item for item in report["plan"] if item["category"] == "parameter"]
    assert "diminishing_data_value" in plan["evidence"]["flags"]
    assert plan["lever"] != "fine-tuning with the exports"


def test_new_cohorts_worse_while_old_ones_hold_is_a_distribution_shift(tmp_path: Path) -> None:
    # `initech` only appears from day 7 on, and fails `parameter` four times as often.
    path = verdict_file(
        tmp_path / "v.jsonl",
        20_000,
        cohorts={"tenant": ("acme", "globex", "initech")},
        effects=[Effect("parameter", 4.0, cohort={"tenant": "initech"})],
        seed=9,
    )
    # Drop initech's verdicts of the first week, as if the tenant had just signed up.
    kept = [
        line
        for line in path.read_text().splitlines()
        if not (
            json.loads(line)["cohort"]["tenant"] == "initech"
            and json.loads(line)["start_time"] < "2026-11-08"
        )
    ]
    path.write_text("\n".join(kept) + "\n")
    report = report_of(path)
    shift = [f for f in report["stall"]["flags"] if f["kind"] == "distribution_shift"]
    assert [(f["category"], f["attribute"], f["new_cohorts"]) for f in shift] == [
        ("parameter", "tenant", ["initech"])
    ]
