"""SFT, DPO and evals exports of a project routed through the real flywheel into a real Phoenix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_world import CORRECTION, Q1, Q2, Q3, Q4, Q5, Q6, Q7, World

from otel_flywheel.datasets import read_examples
from otel_flywheel.export import (
    HF_DPO_SCHEMA,
    HF_SFT_SCHEMA,
    CurationSettings,
    ExportResult,
    PIIFoundError,
    TraceLookup,
    export_dpo,
    export_evals,
    export_sft,
    export_training_data,
    load_examples_file,
)
from otel_flywheel.phoenix import load_dataset

STEPS = [
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


def sft(world: World, out: Path, **options: object) -> ExportResult:
    sources = [load_dataset(world.client, world.dataset(r)) for r in ("golden", "regression")]
    traces = TraceLookup(store=world.store, client=world.client)
    return export_sft(sources, out=out, traces=traces, **options)  # type: ignore[arg-type]


def dpo(world: World, out: Path, **options: object) -> ExportResult:
    sources = [load_dataset(world.client, world.dataset("preference"))]
    traces = TraceLookup(store=world.store, client=world.client)
    return export_dpo(sources, out=out, traces=traces, **options)  # type: ignore[arg-type]


def user_messages(rows: list[dict]) -> list[str]:
    return [m["content"] for row in rows for m in row["messages"] if m["role"] == "user"]


def parquet_rows(path: Path) -> list[dict]:
    """An hf Parquet file's rows with its JSON values decoded, as ``datasets`` returns them."""
    return [
        {
            key: None if items is None else [json.loads(item) for item in items]
            for key, items in row.items()
        }
        for row in pq.read_table(path).to_pylist()
    ]


def example_ids(world: World, route: str) -> dict[str, str]:
    """Question -> example id, from the dataset as Phoenix holds it."""
    dataset = world.client.datasets.get_dataset(dataset=world.dataset(route))
    return {e["input"]["input"]: e["id"] for e in dataset.examples}


# --- the "done when" ---------------------------------------------------------------------


def test_sft_and_dpo_from_feedback_load_in_pyarrow_with_full_lineage(
    export_world: World, tmp_path: Path
) -> None:
    summary = export_training_data(
        export_world.client,
        project=export_world.project,
        out_dir=tmp_path,
        store=export_world.store,
    )

    sft_table = pq.read_table(summary.sft.path)
    dpo_table = pq.read_table(summary.dpo.path)
    assert sft_table.schema.equals(HF_SFT_SCHEMA)  # Parquet is hf by default
    assert dpo_table.schema.equals(HF_DPO_SCHEMA)
    assert (sft_table.num_rows, dpo_table.num_rows) == (summary.sft.rows, summary.dpo.rows)
    assert (summary.sft.rows, summary.dpo.rows) == (4, 1)

    spans = {
        span["context"]["span_id"]
        for span in export_world.client.spans.get_spans(
            project_identifier=export_world.project, limit=1000
        )
    }
    for result, table in ((summary.sft, sft_table), (summary.dpo, dpo_table)):
        manifest = json.loads(result.manifest_path.read_text())
        assert (manifest["row_format"], manifest["parallel_tool_calls"]) == ("hf", True)
        assert manifest["output"]["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
        assert [step["step"] for step in manifest["curation"]["steps"]] == STEPS
        for source in manifest["sources"]:
            assert source["dataset_id"]
            assert source["version_id"]
        rows = manifest["rows"]
        assert len(rows) == table.num_rows
        for lineage in rows:
            assert lineage["source_span_id"] in spans  # back to the production span
            assert (
                lineage["source_trace_id"]
                == export_world.store.get_trace(span_id=lineage["source_span_id"]).trace.trace_id
            )
            assert lineage["dataset_version"]
            assert lineage["label"]["by"] == "human"
            assert lineage["label"]["feedback_id"]
            assert "rubric_versions" in lineage["label"]
            assert "judge_models" in lineage["label"]
    assert summary.lines()[0].startswith("SFT: 4 rows -> ")


def test_a_correction_becomes_a_dpo_pair_whose_prompt_holds_the_tool_context(
    export_world: World, tmp_path: Path
) -> None:
    result = dpo(export_world, tmp_path / "dpo.jsonl", row_format="hf")

    [row] = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert row["chosen"] == [{"role": "assistant", "content": CORRECTION}]
    assert row["rejected"] == [{"role": "assistant", "content": Q7.answer}]
    roles = [m["role"] for m in row["prompt"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert row["prompt"][1]["content"] == Q7.question
    call = row["prompt"][2]["tool_calls"][0]
    assert call["function"] == {"name": "lookup_order", "arguments": {"order_id": "A-1003"}}
    assert row["prompt"][3]["tool_call_id"] == call["id"]
    assert '"delivered_on": "2026-11-15"' in row["prompt"][3]["content"]
    assert row["tools"][0]["function"]["name"] == "lookup_order"


def test_a_correction_becomes_an_openai_preference_row(export_world: World, tmp_path: Path) -> None:
    result = dpo(export_world, tmp_path / "dpo.jsonl")  # JSON lines default to openai

    [row] = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert row["preferred_output"] == [{"role": "assistant", "content": CORRECTION}]
    assert row["non_preferred_output"] == [{"role": "assistant", "content": Q7.answer}]
    call = row["input"]["messages"][2]["tool_calls"][0]
    assert call["function"] == {"name": "lookup_order", "arguments": '{"order_id": "A-1003"}'}
    assert result.manifest["row_format"] == "openai"


def test_a_corrected_regression_trains_the_correction_after_the_same_tool_calls(
    export_world: World, tmp_path: Path
) -> None:
    result = sft(export_world, tmp_path / "sft.jsonl")

    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    [corrected] = [r for r in rows if r["messages"][1]["content"] == Q7.question]
    assert [m["role"] for m in corrected["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert corrected["messages"][-1] == {"role": "assistant", "content": CORRECTION}
    assert corrected["tools"][0]["function"]["name"] == "lookup_order"
    assert set(corrected) == {"messages", "tools"}  # OpenAI fine-tuning rejects unknown keys


def test_duplicates_and_near_duplicates_are_removed_with_what_they_duplicate(
    export_world: World, tmp_path: Path
) -> None:
    result = sft(export_world, tmp_path / "sft.parquet")

    ids = example_ids(export_world, "golden")
    removed = {
        r["example_id"]: r
        for r in result.manifest["curation"]["removed"]
        if "duplicate" in r["step"]
    }
    assert removed[ids[Q3.question]]["step"] == "exact_duplicate"
    assert removed[ids[Q3.question]]["duplicate_of"] == ids[Q1.question]
    assert removed[ids[Q2.question]]["step"] == "near_duplicate"
    assert removed[ids[Q2.question]]["duplicate_of"] == ids[Q1.question]
    assert removed[ids[Q2.question]]["similarity"] >= 0.85
    assert (result.removed("exact_duplicate"), result.removed("near_duplicate")) == (1, 1)
    kept = user_messages(parquet_rows(result.path))
    assert sorted(kept) == sorted([Q1.question, Q4.question, Q5.question, Q7.question])


def test_a_trace_without_consent_never_reaches_a_dataset_or_an_export(
    export_world: World, tmp_path: Path
) -> None:
    summary = export_training_data(
        export_world.client, project=export_world.project, out_dir=tmp_path, file_format="jsonl"
    )

    for route in ("golden", "regression", "preference", "review"):
        dataset = export_world.dataset(route)
        if export_world.count(route):
            held = export_world.client.datasets.get_dataset(dataset=dataset).examples
            assert Q6.question not in {e["input"].get("input") for e in held}
    for path in (summary.sft.path, summary.sft.manifest_path, summary.dpo.path):
        text = path.read_text()
        assert Q6.question not in text
        assert export_world.trace_ids["q6"] not in text


def test_require_consent_keeps_only_traces_that_stated_it(
    export_world: World, tmp_path: Path
) -> None:
    result = sft(
        export_world, tmp_path / "sft.jsonl", curation=CurationSettings(require_consent=True)
    )

    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert sorted(user_messages(rows)) == sorted([Q4.question, Q7.question])
    assert result.manifest["curation"]["steps"][1] == {
        "step": "consent",
        "description": "consent stated true on the source trace (flywheel.consent)",
        "rows_in": 6,
        "removed": 4,
        "rows_out": 2,
        "reasons": {"no_consent_statement": 4},
    }


def test_a_value_a_privacy_rule_calls_personal_fails_the_export_without_printing_it(
    export_world: World, tmp_path: Path
) -> None:
    # Captured before the compliance team listed their customers as personal data.
    out = tmp_path / "sft.parquet"
    with pytest.raises(PIIFoundError) as failure:
        sft(export_world, out, privacy={"terms": {"CUSTOMER": ["Globex Corporation"]}})

    [finding] = failure.value.findings
    assert finding.kinds == ("CUSTOMER",)
    assert finding.example_id == example_ids(export_world, "golden")[Q5.question]
    assert finding.field in {"messages[1].content"}
    assert finding.source_trace_id == export_world.trace_ids["q5"]
    message = str(failure.value)
    assert "Globex" not in message
    assert f"example {finding.example_id}" in message
    assert "messages[1].content: CUSTOMER" in message
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no manifest, no temporary file either


def test_leakage_check_drops_training_rows_whose_input_ci_gates_on(
    export_world: World, tmp_path: Path
) -> None:
    regression = load_dataset(export_world.client, export_world.dataset("regression"))
    evals = export_evals([regression], out=tmp_path / "regression-evals.jsonl")
    gating = [load_examples_file(evals.path)]

    pairs = dpo(export_world, tmp_path / "dpo.jsonl", gating=gating)
    rows = sft(export_world, tmp_path / "sft.jsonl", gating=gating)

    assert pairs.rows == 0
    [leak] = [r for r in pairs.manifest["curation"]["removed"] if r["step"] == "leakage"]
    assert leak["reason"] == "input_in_gating_set"
    assert leak["gating_example_id"] == regression.examples[0].example_id
    assert rows.removed("leakage") == 1
    kept = user_messages([json.loads(line) for line in rows.path.read_text().splitlines()])
    assert Q7.question not in kept
    assert Q1.question in kept


def test_source_traces_come_from_phoenix_when_the_local_store_lacks_them(
    export_world: World, tmp_path: Path
) -> None:
    local = sft(export_world, tmp_path / "local.jsonl")
    sources = [
        load_dataset(export_world.client, export_world.dataset(r)) for r in ("golden", "regression")
    ]
    remote = export_sft(
        sources, out=tmp_path / "phoenix.jsonl", traces=TraceLookup(client=export_world.client)
    )

    assert remote.manifest["source_traces"] == {"local_store": 0, "phoenix": 6, "missing": 0}
    assert {row["trace_from"] for row in remote.manifest["rows"]} == {"phoenix"}
    assert remote.path.read_text() == local.path.read_text()


def test_export_evals_writes_the_file_replay_offline_reads(
    export_world: World, tmp_path: Path
) -> None:
    golden = load_dataset(export_world.client, export_world.dataset("golden"))
    result = export_evals([golden], out=tmp_path / "golden.parquet")

    examples = read_examples(result.path)
    assert [e.example_id for e in examples] == [e.example_id for e in golden.examples]
    assert {e.dataset_version for e in examples} == {golden.version_id}
    assert examples[0].output["expected_tool_calls"] == [
        {"name": "lookup_order", "arguments": {"order_id": "A-1001"}}
    ]
    assert result.manifest["sources"][0]["version_id"] == golden.version_id
    assert [s["step"] for s in result.manifest["curation"]["steps"]] == ["consent", "pii_scan"]


def test_an_older_dataset_version_exports_what_it_held(export_world: World, tmp_path: Path) -> None:
    versions = export_world.client.datasets.get_dataset_versions(
        dataset=export_world.dataset("golden")
    )
    first = versions[-1]["version_id"]  # newest first
    older = load_dataset(export_world.client, export_world.dataset("golden"), version_id=first)
    latest = load_dataset(export_world.client, export_world.dataset("golden"))

    result = export_evals([older], out=tmp_path / "old.jsonl")

    assert older.version_id == first
    assert 0 < result.rows <= len(latest.examples)
    assert {e.dataset_version for e in read_examples(result.path)} == {first}


def test_parquet_messages_and_tools_are_json_values_any_arrow_reader_can_parse(
    export_world: World, tmp_path: Path
) -> None:
    result = sft(export_world, tmp_path / "sft.parquet")

    table = pq.read_table(result.path)
    for column in ("messages", "tools"):
        assert table.schema.field(column).type == pa.list_(pa.json_())
    row = table.to_pylist()[0]  # pyarrow gives the JSON text; datasets decodes it
    assert json.loads(row["tools"][0])["function"]["parameters"]["required"] == ["order_id"]
    assistant = json.loads(row["messages"][2])
    assert assistant["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert assistant["tool_calls"][0]["function"]["arguments"] == {"order_id": "A-1001"}


def test_a_project_without_feedback_yet_gets_empty_files_that_say_why(
    export_world: World, tmp_path: Path
) -> None:
    summary = export_training_data(
        export_world.client, project="no-feedback-yet", out_dir=tmp_path, use_local_store=False
    )

    assert (summary.sft.rows, summary.dpo.rows) == (0, 0)
    assert pq.read_table(summary.sft.path).schema.equals(HF_SFT_SCHEMA)
    assert summary.dpo.manifest["notes"] == [
        "no-feedback-yet/preference: dataset not found, read as empty"
    ]
    assert [s["origin"] for s in summary.sft.manifest["sources"]] == ["missing", "missing"]
