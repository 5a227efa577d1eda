"""Bad input and the command's contract: malformed lines, older verdicts, missing cohorts, unknown
rubrics, empty input, exit codes, and the JSON every consumer relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_world import read_json_lines, verdict_file, write_lines

from otel_flywheel.cli import main
from otel_flywheel.testing.verdicts import Effect

OLD_VERDICT = {  # what `evaluate` wrote before verdicts recorded their analysis context
    "trace_id": "0" * 31 + "1",
    "passed": False,
    "category": "parameter",
    "subcategory": "missing_required",
    "culprit_span_id": "1" * 16,
    "severity": "medium",
    "root_cause_owner": "generation / tool schema",
    "evaluations": [{"name": "argument_schema", "label": "fail", "passed": False}],
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_malformed_lines_are_reported_with_line_numbers_and_the_rest_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [line for line in (verdict_file(tmp_path / "g.jsonl", 50).read_text().splitlines())]
    lines = [
        *good[:10],
        '{"trace_id": "abc", "passed": true}',  # 11: a bad trace id
        "{not json",  # 12
        json.dumps({**json.loads(good[10]), "passed": "yes"}),  # 13: wrong type
        "",  # blank lines are fine
        json.dumps({**json.loads(good[11]), "start_time": "yesterday"}),  # 15
        "[1, 2]",  # 16
        "\xff\xfe".encode("latin-1").decode("latin-1"),  # 17: not JSON
        *good[12:],
    ]
    path = write_lines(tmp_path / "v.jsonl", lines)
    code, out, err = run(capsys, "--verdicts", str(path), "--json", "-")
    assert code == 0
    report = json.loads(out)
    issues = {(i["line"], i["message"]) for i in report["issues"]}
    assert {line for line, _ in issues} == {11, 12, 13, 15, 16, 17}
    assert (13, "'passed' must be true, false or null") in issues
    assert (15, "'start_time' must be an RFC 3339 time such as 2026-11-21T09:00:00Z") in issues
    assert report["totals"]["traces"] == 50 - 2  # lines 13 and 15 were two of the good verdicts
    assert f"{path}:12: not JSON" in err
    assert '"yes"' not in err
    assert "yesterday" not in err


def test_a_malformed_line_in_a_later_block_keeps_its_line_number(tmp_path: Path) -> None:
    from otel_flywheel.analysis import load_files

    lines = list(verdict_file(tmp_path / "g.jsonl", 3000).read_text().splitlines())
    lines[2500] = "{broken"
    path = write_lines(tmp_path / "v.jsonl", lines)
    data = load_files([path], block_bytes=64 * 1024)  # many blocks
    assert [(i.line, i.message.split(" (")[0]) for i in data.issues] == [(2501, "not JSON")]
    assert data.verdicts.num_rows == 2999


def test_verdicts_without_the_new_fields_load_and_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = verdict_file(tmp_path / "new.jsonl", 200).read_text()
    path = write_lines(tmp_path / "v.jsonl", [json.dumps(OLD_VERDICT), *new.splitlines()])
    code, out, _ = run(capsys, "--verdicts", str(path), "--json", "-")
    assert code == 0
    report = json.loads(out)
    assert report["totals"]["traces"] == 201
    assert report["totals"]["without_start_time"] == 1
    assert report["monitor"]["without_start_time"] == 1
    assert sum(p["traces"] for p in report["monitor"]["series"]) == 200
    (parameter,) = [c for c in report["attribute"]["categories"] if c["category"] == "parameter"]
    assert (
        any(e["trace_id"] == OLD_VERDICT["trace_id"] for e in parameter["examples"])
        or parameter["failed"] >= 1
    )


def test_a_file_of_only_old_verdicts_still_reports_what_it_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "v.jsonl", [json.dumps(OLD_VERDICT)])
    code, out, _err = run(capsys, "--verdicts", str(path), "--json", "-")
    assert code == 0
    report = json.loads(out)
    assert report["windows"]["current"] is None
    assert report["categories"] == [
        {
            "category": "parameter",
            "failed": 1,
            "traces": 1,
            "rate": 1.0,
            "ci95": pytest.approx([0.2065, 1.0], abs=1e-4),
        }
    ]
    assert report["drift"] == []


def test_a_cohort_no_verdict_records_is_named_and_the_rest_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = verdict_file(tmp_path / "v.jsonl", 500, cohorts={"tenant": ("acme", "globex")})
    code, out, err = run(
        capsys, "--verdicts", str(path), "--cohort", "tenant", "--cohort", "locale", "--json", "-"
    )
    assert code == 0
    report = json.loads(out)
    assert report["cohort_attributes"] == ["tenant"]
    assert report["missing_cohort_attributes"] == ["locale"]
    assert "no verdict records the cohort attribute 'locale'" in err
    assert "FLYWHEEL_COHORT_ATTRIBUTES" in err


def test_a_cohort_attribute_missing_on_some_verdicts_is_its_own_not_set_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = verdict_file(tmp_path / "g.jsonl", 400).read_text().splitlines()
    for index in range(0, 400, 4):  # a quarter of the traces never said their plan
        verdict = json.loads(lines[index])
        del verdict["cohort"]["plan"]
        lines[index] = json.dumps(verdict)
    path = write_lines(tmp_path / "v.jsonl", lines)
    _code, out, _ = run(capsys, "--verdicts", str(path), "--json", "-")
    report = json.loads(out)
    plans = {row["value"]: row["traces"] for row in report["compare"]["cohorts"]["plan"]}
    assert plans[None] == 100
    assert sum(plans.values()) == 400


def test_empty_input_says_not_enough_data_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "v.jsonl", [])
    html = tmp_path / "r.html"
    code, _, err = run(capsys, "--verdicts", str(path), "--html", str(html))
    assert code == 0
    assert "no verdicts" in err
    assert "not enough data" in err
    page = html.read_text()
    assert "No failures in the current window" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give either --project NAME (Phoenix) or --verdicts FILE..."),
        (("--verdicts", "missing.jsonl"), "no such file: missing.jsonl"),
        (("--verdicts", "{v}", "--current", "last week"), "--current 'last week'"),
        (("--verdicts", "{v}", "--current", "2026-11-08..2026-11-01"), "must end after it starts"),
        (("--verdicts", "{v}", "--since", "7d"), "--since, --until and --max-traces read Phoenix"),
        (("--verdicts", "{v}", "--alpha", "1.5"), "--alpha must be between 0 and 1"),
        (("--project", "p", "--labels", "{v}"), "go with --verdicts"),
    ],
)
def test_bad_options_exit_2_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    path = verdict_file(tmp_path / "v.jsonl", 10)
    code, _, err = run(capsys, *(a.format(v=path) for a in args))
    assert code == 2
    assert message in err


def test_phoenix_unreachable_exits_2_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--project", "p", "--phoenix-url", "http://127.0.0.1:9")
    assert code == 2
    assert "cannot reach Phoenix at http://127.0.0.1:9" in err


def test_fail_on_exits_1_only_for_the_kinds_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = verdict_file(
        tmp_path / "v.jsonl", 8000, effects=[Effect("parameter", 5.0, from_day=7)], seed=2
    )
    out = tmp_path / "r.json"
    assert run(capsys, "--verdicts", str(path), "--json", str(out), "--fail-on", "stall")[0] == 0
    code, _, err = run(capsys, "--verdicts", str(path), "--json", str(out), "--fail-on", "drift")
    assert code == 1
    assert "flagged: drift (--fail-on)" in err
    assert json.loads(out.read_text())["flags"]["drift"] is True  # written before exiting 1


def test_the_json_holds_the_minimum_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = verdict_file(tmp_path / "v.jsonl", 2000)
    labels = write_lines(
        tmp_path / "labels.jsonl",
        [
            json.dumps(
                {
                    "trace_id": v["trace_id"],
                    "rubric_id": "flywheel.verdict",
                    "label": "pass" if v["passed"] else "fail",
                    "annotator": "ann",
                }
            )
            for v in read_json_lines(path)[:40]
            if v["passed"] is not None
        ],
    )
    code, out, _ = run(capsys, "--verdicts", str(path), "--labels", str(labels), "--json", "-")
    assert code == 0
    report = json.loads(out)
    for category in report["categories"]:
        assert set(category) >= {"category", "failed", "traces", "rate", "ci95"}
        assert len(category["ci95"]) == 2
    for cell in report["drift"]:
        assert set(cell) >= {
            "category",
            "cohort",
            "baseline",
            "current",
            "p_value",
            "q_value",
            "flagged",
            "direction",
        }
        assert set(cell["baseline"]) >= {"failed", "traces"}
        assert isinstance(cell["cohort"], dict)
    assert any(c["category"] is None and c["cohort"] == {} for c in report["drift"])
    (verdict_row,) = report["calibration"]
    assert set(verdict_row) >= {
        "rubric_id",
        "rubric_version",
        "n",
        "kappa",
        "kappa_ci95",
        "judge_pass_rate",
        "human_pass_rate",
    }
    assert verdict_row["kappa"] == pytest.approx(1.0)  # these people agreed with every verdict
    for section in (
        "monitor",
        "attribute",
        "compare",
        "input_mix",
        "stall",
        "feedback",
        "review_queue",
        "datasets",
        "plan",
        "flags",
    ):
        assert section in report
