"""`otel-flywheel calibrate`: the judge against people, with the numbers computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_world import read_json_lines, verdict_file, write_lines

from otel_flywheel.cli import main


def labelled_world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """50 judged traces labelled like the hand example of test_stats: judge and people both pass
    20, judge passes / people fail 5, judge fails / people pass 10, both fail 15 (kappa 0.4)."""
    verdicts = verdict_file(tmp_path / "v.jsonl", 3000, seed=4)
    lines = read_json_lines(verdicts)
    grounding = {
        v["trace_id"]: next(e["passed"] for e in v["evaluations"] if e["rubric_id"] == "grounding")
        for v in lines
        if v["passed"] is not None
    }
    passing = [t for t, ok in grounding.items() if ok][:25]
    failing = [t for t, ok in grounding.items() if not ok][:25]
    assert len(failing) == 25
    people = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    traces = passing + failing
    labels = [
        {"trace_id": t, "rubric_id": "grounding", "passed": ok, "annotator": "alice"}
        for t, ok in zip(traces, people, strict=True)
    ]
    # bob labels ten of alice's traces; he disagrees with her twice.
    labels += [
        {
            "trace_id": t,
            "rubric_id": "grounding",
            "label": ("pass" if ok != (i < 2) else "fail"),
            "annotator": "bob",
        }
        for i, (t, ok) in enumerate(zip(traces[:10], people[:10], strict=True))
    ]
    labels.append(
        {"trace_id": traces[0], "rubric_id": "politeness", "passed": True, "annotator": "alice"}
    )
    label_file = write_lines(
        tmp_path / "labels.jsonl",
        [json.dumps(label) for label in labels[:50]] + [json.dumps(label) for label in labels[50:]],
    )
    feedback = write_lines(
        tmp_path / "feedback.jsonl",
        [
            json.dumps({"trace_id": t, "thumbs": "up", "feedback_id": f"f{i}"})
            for i, t in enumerate(passing[:12])
        ],
    )
    return verdicts, label_file, feedback


def test_calibrate_measures_kappa_bias_and_reviewer_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts, labels, _feedback = labelled_world(tmp_path)
    out = tmp_path / "calibration.json"
    code = main(
        ["calibrate", "--verdicts", str(verdicts), "--labels", str(labels), "--json", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0
    document = json.loads(out.read_text())
    (grounding,) = [r for r in document["calibration"] if r["rubric_id"] == "grounding"]
    assert grounding["rubric_version"] == "v1"
    assert grounding["judge_models"] == ["judge-1"]
    # alice's 50 pairs as in the hand example, plus bob's 10 (8 agree with alice).
    assert grounding["n"] == 60
    assert grounding["confusion"] == {
        "judge_pass_human_pass": 20 + 8,
        "judge_pass_human_fail": 5 + 2,
        "judge_fail_human_pass": 10,
        "judge_fail_human_fail": 15,
    }
    assert grounding["judge_pass_rate"] == pytest.approx(35 / 60)
    assert grounding["human_pass_rate"] == pytest.approx(38 / 60)
    assert grounding["bias"] == pytest.approx(35 / 60 - 38 / 60)
    # alpha between alice and bob on their 10 shared traces: all hers pass (10 T), his 8 T 2 F.
    # coincidences: o_TT = 2*8 = 16, o_TF = o_FT = 2; n_T = 18, n_F = 2, n = 20.
    # D_o = 4/20; D_e = 2*18*2/(20*19); alpha = 1 - D_o/D_e
    assert grounding["reviewers"]["items_with_two_or_more"] == 10
    assert grounding["reviewers"]["alpha"] == pytest.approx(1 - (4 / 20) / (72 / 380))
    assert grounding["kappa"] is not None
    low, high = grounding["kappa_ci95"]
    assert low < grounding["kappa"] < high
    assert {a["annotator"] for a in grounding["annotators"]} == {"alice", "bob"}
    assert document["unknown_rubrics"] == [{"rubric_id": "politeness", "labels": 1}]
    assert "unknown rubric 'politeness'" in captured.err
    assert "grounding" in captured.out


def test_alice_alone_gives_the_hand_computed_kappa(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts, labels, _ = labelled_world(tmp_path)
    alice = write_lines(
        tmp_path / "alice.jsonl",
        [
            line
            for line in labels.read_text().splitlines()
            if '"alice"' in line and "politeness" not in line
        ],
    )
    assert (
        main(["calibrate", "--verdicts", str(verdicts), "--labels", str(alice), "--json", "-"]) == 0
    )
    document = json.loads(capsys.readouterr().out)
    (grounding,) = document["calibration"]
    assert grounding["kappa"] == pytest.approx(0.4)
    assert grounding["observed_agreement"] == pytest.approx(0.7)
    assert grounding["sensitivity"] == pytest.approx(20 / 30)
    assert grounding["specificity"] == pytest.approx(15 / 20)
    assert grounding["reviewers"]["status"] == "not enough data"


def test_explicit_feedback_counts_as_a_label_of_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts, _, feedback = labelled_world(tmp_path)
    code = main(
        ["calibrate", "--verdicts", str(verdicts), "--feedback", str(feedback), "--json", "-"]
    )
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out)["calibration"]
    assert (row["rubric_id"], row["n"]) == ("flywheel.verdict", 12)
    assert row["human_pass_rate"] == 1.0
    assert {a["annotator"] for a in row["annotators"]} == {"feedback:user"}


def test_too_few_labels_say_not_enough_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts, labels, _ = labelled_world(tmp_path)
    few = write_lines(tmp_path / "few.jsonl", labels.read_text().splitlines()[:6])
    assert main(["calibrate", "--verdicts", str(verdicts), "--labels", str(few)]) == 0
    out = capsys.readouterr().out
    assert "not enough data" in out


def test_min_kappa_exits_1_below_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verdicts, labels, _ = labelled_world(tmp_path)
    args = ["calibrate", "--verdicts", str(verdicts), "--labels", str(labels)]
    assert main([*args, "--min-kappa", "0.2"]) == 0
    assert main([*args, "--min-kappa", "0.9"]) == 1
    assert "kappa below 0.9: grounding" in capsys.readouterr().err


def test_malformed_labels_are_reported_with_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts, labels, _ = labelled_world(tmp_path)
    lines = labels.read_text().splitlines()
    lines[3] = json.dumps({"trace_id": "f" * 32, "rubric_id": "grounding", "label": "meh"})
    lines[5] = json.dumps({"rubric_id": "grounding", "passed": True})
    bad = write_lines(tmp_path / "bad.jsonl", lines)
    assert main(["calibrate", "--verdicts", str(verdicts), "--labels", str(bad)]) == 0
    err = capsys.readouterr().err
    assert f"{bad}:4: needs 'passed' (true/false) or a pass/fail 'label'" in err
    assert f"{bad}:6: 'trace_id' must be 32 lowercase hex digits" in err
