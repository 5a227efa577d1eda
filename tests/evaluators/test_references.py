"""References files: JSON lines keyed by trace id; errors name the line and the fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluators.references import load_references

TRACE = "0AF7651916CD43DD8448EB211C80319C"


def write(path: Path, *entries: object) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in entries) + "\n", encoding="utf-8")
    return path


def test_references_load_by_trace_id_with_policy_files(tmp_path: Path) -> None:
    (tmp_path / "refunds.md").write_text("Refunds over $500 need approval.", encoding="utf-8")
    path = write(
        tmp_path / "refs.jsonl",
        {
            "trace_id": TRACE,
            "expected_output": "Refund R-1003 issued.",
            "expected_tool_calls": [
                {"name": "issue_refund", "arguments": {"order_id": "A-1003", "amount": 45.5}}
            ],
            "policy": {"path": "refunds.md"},
        },
    )

    references = load_references(path)[TRACE.lower()]

    assert references.expected_output == "Refund R-1003 issued."
    assert references.expected_tool_calls is not None
    assert [c.name for c in references.expected_tool_calls] == ["issue_refund"]
    assert references.policy == "Refunds over $500 need approval."
    assert references.names == ("reference_answer", "expected_tool_calls", "policy_document")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('{"expected_output": "x"}', '"trace_id" string'),
        ('{"trace_id": "a", "answer": "x"}', "unknown keys ['answer']"),
        ('{"trace_id": "a", "expected_tool_calls": {"name": "x"}}', "must be a list"),
        ('{"trace_id": "a", "policy": {"path": "missing.md"}}', "cannot read policy file"),
    ],
)
def test_bad_references_name_the_line_and_the_fix(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "refs.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_references(path)
