"""``otel-flywheel export``: files, printed steps and exit codes, against the session's Phoenix."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from export_world import Q5, World

from otel_flywheel.cli import main
from otel_flywheel.datasets import read_examples
from otel_flywheel.export import HF_SFT_SCHEMA
from otel_flywheel.testing.phoenix import LocalPhoenix


def export(world: World, phoenix: LocalPhoenix, *args: str) -> int:
    return main(["export", *args, "--phoenix-url", phoenix.base_url])


def test_export_sft_writes_parquet_and_prints_every_step_with_its_counts(
    export_world: World,
    phoenix_server: LocalPhoenix,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sft.parquet"

    code = export(
        export_world,
        phoenix_server,
        "sft",
        "--dataset",
        export_world.dataset("golden"),
        "--dataset",
        export_world.dataset("regression"),
        "--out",
        str(out),
        "--no-local-store",
    )

    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert pq.read_table(out).schema.equals(HF_SFT_SCHEMA)
    table = printed.out.splitlines()
    assert table[0].split() == ["step", "rows", "in", "removed", "reasons"]
    assert [line.split()[0] for line in table[1:11]] == [
        "selection",
        "consent",
        "source_trace",
        "length",
        "exact_duplicate",
        "near_duplicate",
        "leakage",
        "balance",
        "format",
        "pii_scan",
    ]
    assert table[5].split() == ["exact_duplicate", "6", "1", "exact_duplicate", "1"]
    assert f"sft: 4 rows -> {out}" in printed.out
    assert "format: hf (Hugging Face chat templates and TRL)" in printed.out
    assert f"manifest: {out}.manifest.json" in printed.out
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    assert printed.out.splitlines()[-1] == f"sha256: {manifest['output']['sha256']}"
    assert manifest["source_traces"]["phoenix"] == 6


def test_export_evals_writes_what_replay_reads_from_a_named_version(
    export_world: World, phoenix_server: LocalPhoenix, tmp_path: Path
) -> None:
    golden = export_world.client.datasets.get_dataset(dataset=export_world.dataset("golden"))
    out = tmp_path / "golden.jsonl"

    code = export(
        export_world,
        phoenix_server,
        "evals",
        "--dataset",
        export_world.dataset("golden"),
        "--version",
        golden.version_id,
        "--out",
        str(out),
    )

    assert code == 0
    assert {e.example_id for e in read_examples(out)} == {e["id"] for e in golden.examples}


def test_a_pii_finding_exits_1_names_the_kind_and_writes_nothing(
    export_world: World,
    phoenix_server: LocalPhoenix,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "flywheel.yaml"
    config.write_text("privacy:\n  terms:\n    CUSTOMER: [Globex Corporation]\n")
    monkeypatch.setenv("FLYWHEEL_CONFIG", str(config))
    # The traces as captured, before the rule (a trace read from Phoenix is redacted again, with
    # the rule, on the way in).
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(export_world.state_dir))
    out = tmp_path / "sft.jsonl"

    code = export(
        export_world,
        phoenix_server,
        "sft",
        "--dataset",
        export_world.dataset("golden"),
        "--out",
        str(out),
    )

    err = capsys.readouterr().err
    assert code == 1
    assert "messages[1].content: CUSTOMER" in err
    assert "Globex" not in err
    assert Q5.question not in err
    assert not out.exists()


def test_an_unknown_dataset_exits_2_listing_the_known_ones(
    export_world: World,
    phoenix_server: LocalPhoenix,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = export(
        export_world,
        phoenix_server,
        "dpo",
        "--dataset",
        f"{export_world.project}/nope",
        "--out",
        str(tmp_path / "dpo.jsonl"),
    )

    err = capsys.readouterr().err
    assert code == 2
    assert f"Phoenix has no dataset '{export_world.project}/nope'" in err
    assert repr(export_world.dataset("preference")) in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--near-duplicates", "lots"], "give a Jaccard similarity in (0, 1] or 'off'"),
        (["--version", "a", "--version", "b"], "2 --version for 1 --dataset"),
        (["--category-ratio", "parameter"], "write CATEGORY=WEIGHT"),
        (["--min-chars", "10", "--max-chars", "5"], "must not exceed max_chars"),
        (["--format", "hf", "--out", "x.csv"], "write .parquet or .jsonl"),
    ],
)
def test_bad_options_exit_2_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    code = main(
        [
            "export",
            "sft",
            "--dataset",
            "support/golden",
            "--out",
            str(tmp_path / "x.jsonl"),
            *options,
        ]
    )

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["sft", "--out", "sft.parquet", "--format", "openai"],
            "OpenAI fine-tuning reads .jsonl files, not .parquet: write .jsonl; --format hf "
            "writes Parquet",
        ),
        (
            ["evals", "--out", "golden.jsonl", "--format", "hf"],
            "--format and --no-parallel-tool-calls apply to sft, dpo and grpo",
        ),
        (
            ["evals", "--out", "golden.jsonl", "--no-parallel-tool-calls"],
            "--format and --no-parallel-tool-calls apply to sft, dpo and grpo",
        ),
        (
            ["grpo", "--out", "grpo.jsonl", "--format", "openai"],
            "OpenAI fine-tuning reads no prompt-only (GRPO) rows: write them with --format hf",
        ),
        (["sft", "--out", "sft.jsonl", "--granularity", "turn"], "--granularity applies to grpo"),
    ],
)
def test_a_format_its_file_cannot_hold_exits_2_before_phoenix_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    kind, out_flag, out, *rest = arguments
    code = main(
        [
            "export",
            kind,
            "--dataset",
            "support/golden",
            out_flag,
            str(tmp_path / out),
            *rest,
            "--phoenix-url",
            "http://127.0.0.1:9",  # nothing listens: reaching it would be another error
        ]
    )

    assert code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_export_dpo_in_hf_format_writes_trl_rows_and_says_so(
    export_world: World,
    phoenix_server: LocalPhoenix,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "dpo.jsonl"

    code = export(
        export_world,
        phoenix_server,
        "dpo",
        "--dataset",
        export_world.dataset("preference"),
        "--out",
        str(out),
        "--format",
        "hf",
        "--no-parallel-tool-calls",
    )

    printed = capsys.readouterr()
    assert code == 0, printed.err
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(row) == {"prompt", "chosen", "rejected", "tools"}
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    assert (manifest["row_format"], manifest["parallel_tool_calls"]) == ("hf", False)
    assert "format: hf (Hugging Face chat templates and TRL)" in printed.out


def test_export_grpo_writes_prompt_rows_the_reward_reads(
    export_world: World,
    phoenix_server: LocalPhoenix,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from otel_flywheel.export import HF_GRPO_SCHEMA

    out = tmp_path / "grpo.parquet"
    code = export(
        export_world,
        phoenix_server,
        "grpo",
        "--dataset",
        export_world.dataset("golden"),
        "--dataset",
        export_world.dataset("regression"),
        "--out",
        str(out),
        "--no-local-store",
        "--near-duplicates",
        "off",
    )

    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert pq.read_table(out).schema.equals(HF_GRPO_SCHEMA)
    assert "format: hf (Hugging Face chat templates and TRL)" in printed.out
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    assert manifest["kind"] == "grpo"
    decisions = [row["decision"].split("@")[0] for row in manifest["rows"]]
    assert "tool_calls" in decisions
    assert "answer" in decisions
    routes = {row["route"] for row in manifest["rows"]}
    assert routes == {"golden", "regression"}  # the world's regression holds a correction
    for row in pq.read_table(out).to_pylist():
        expected = json.loads(row["expected_tool_calls"])
        assert set(expected) == {"expected_tool_calls"}
        assert json.loads(row["prompt"][-1])["role"] in ("user", "tool")
