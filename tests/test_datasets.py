"""Dataset example files: the format `export evals` writes and `replay --offline` reads."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from otel_flywheel.datasets import (
    EXAMPLES_SCHEMA,
    DatasetExample,
    example_from_phoenix,
    read_examples,
    write_examples,
)
from otel_flywheel.errors import ConfigError

EXAMPLES = [
    DatasetExample(
        example_id="e1",
        dataset="support/golden",
        input={"input": "Where is order A-1001?", "session_id": "s1"},
        output={"output": "It shipped.", "expected_tool_calls": [{"name": "lookup_order"}]},
        metadata={"route": "golden", "source_trace_id": "a" * 32},
        span_id="b" * 16,
        dataset_version="v1",
    ),
    DatasetExample(
        example_id="e2",
        dataset="support/regression",
        input={"input": "Refund?"},
        output={"output": "Refunds take forever."},
        metadata={"route": "regression", "expected_output_known": False, "ünïcode": "✓"},
    ),
]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_examples_round_trip_through_both_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"examples{suffix}"
    assert write_examples(path, EXAMPLES) == 2
    assert read_examples(path) == EXAMPLES


def test_parquet_has_the_explicit_schema(tmp_path: Path) -> None:
    path = tmp_path / "examples.parquet"
    write_examples(path, EXAMPLES)
    assert pq.read_schema(path).equals(EXAMPLES_SCHEMA)


def test_expected_output_is_only_what_is_known_to_be_right() -> None:
    golden, regression = EXAMPLES
    assert golden.expected_output == "It shipped."
    assert regression.expected_output is None  # the original, wrong answer is not an expectation


def test_bad_lines_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"example_id": "x", "dataset": "d", "input": "{}", "output": "{}", "metadata": "{}"}\nnot json\n'
    )
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: not JSON"):
        read_examples(path)
    path.write_text('{"dataset": "d"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:1: not an example row"):
        read_examples(path)
    with pytest.raises(ConfigError, match="export evals"):
        read_examples(tmp_path / "missing.jsonl")


def test_phoenix_examples_keep_our_example_id_and_source_span() -> None:
    example = example_from_phoenix(
        {
            "id": "RGF0YXNldEV4YW1wbGU6MQ==",
            "input": {"input": "q"},
            "output": {},
            "metadata": {"example_id": "ours", "source_span_id": "c" * 16},
        },
        dataset="p/review",
        version_id="v2",
    )
    assert (example.example_id, example.span_id, example.dataset_version) == (
        "ours",
        "c" * 16,
        "v2",
    )
