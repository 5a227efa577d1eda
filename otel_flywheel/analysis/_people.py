"""What people said, as tables: reviewers' labels, feedback, and the routed datasets' examples.

- **Labels** (``--labels FILE``): JSON lines ``{"trace_id", "rubric_id", "label", "passed",
  "annotator"}``; ``passed`` may be left out when the label says it (``pass``/``fail``,
  ``correct``/``incorrect``, ``up``/``down``, ... as ``sync-feedback`` reads them). ``rubric_id``
  names a judge rubric, a check, or ``flywheel.verdict`` for the verdict as a whole.
- **Feedback** (``--feedback FILE``): the JSON of ``otel_flywheel.model.Feedback`` (what
  ``POST /v1/feedback`` takes), one per line.
- **Examples** (``--examples FILE``): dataset example files as ``otel-flywheel export evals``
  writes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel._feedback import NEGATIVE_LABELS, POSITIVE_LABELS
from otel_flywheel.analysis._jsonl import LineIssue, read_json_lines
from otel_flywheel.datasets import DatasetExample, read_examples

__all__ = [
    "EXAMPLE_SCHEMA",
    "FEEDBACK_SCHEMA",
    "LABEL_SCHEMA",
    "examples_table",
    "feedback_table",
    "label_passed",
    "labels_table",
    "read_example_files",
    "read_feedback_files",
    "read_label_files",
]

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
LABEL_SCHEMA: Final = pa.schema(
    [
        ("trace_id", pa.string()),
        ("rubric_id", pa.string()),
        ("label", pa.string()),
        ("passed", pa.bool_()),
        ("annotator", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)
FEEDBACK_SCHEMA: Final = pa.schema(
    [
        ("trace_id", pa.string()),
        ("thumbs", pa.string()),
        ("correction", pa.string()),
        ("chosen", pa.string()),
        ("signal", pa.string()),
        ("annotator", pa.string()),
        ("created_at_unix", pa.float64()),
        ("feedback_id", pa.string()),
    ]
)
EXAMPLE_SCHEMA: Final = pa.schema(
    [
        ("dataset", pa.string()),
        ("route", pa.string()),
        ("category", pa.string()),
        ("routed_at", pa.timestamp("us", tz="UTC")),
        ("source_trace_id", pa.string()),
        ("priority", pa.float64()),
        ("reason", pa.string()),
        ("conflict", pa.bool_()),
        ("goal", pa.string()),
    ]
)
_ROUTES: Final = ("golden", "regression", "review", "preference")


def label_passed(label: str | None) -> bool | None:
    """``True``/``False`` for a label that says pass or fail, else ``None``."""
    if label is None:
        return None
    key = "_".join(label.strip().casefold().replace("-", " ").split())
    if key in POSITIVE_LABELS:
        return True
    if key in NEGATIVE_LABELS:
        return False
    return None


# --- labels ----------------------------------------------------------------------------------------


def _check_label(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, dict):
        return None, "not a JSON object"
    trace_id = value.get("trace_id")
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        return None, "'trace_id' must be 32 lowercase hex digits"
    rubric_id = value.get("rubric_id")
    if not isinstance(rubric_id, str) or not rubric_id.strip():
        return None, "'rubric_id' is required: a rubric, a check, or flywheel.verdict"
    label = value.get("label") if isinstance(value.get("label"), str) else None
    passed = value.get("passed")
    if passed is not None and not isinstance(passed, bool):
        return None, "'passed' must be true or false"
    if passed is None:
        passed = label_passed(label)
    if passed is None:
        return None, "needs 'passed' (true/false) or a pass/fail 'label'"
    annotator = value.get("annotator")
    cleaned: dict[str, Any] = {
        "trace_id": trace_id,
        "rubric_id": rubric_id.strip(),
        "label": label,
        "passed": passed,
        "annotator": annotator if isinstance(annotator, str) else None,
    }
    created = value.get("created_at")
    moment = _time(created) if isinstance(created, str) else None
    if moment is not None:
        cleaned["created_at"] = moment.isoformat()
    return cleaned, None


def labels_table(table: pa.Table) -> pa.Table:
    """Fill ``passed`` from ``label`` where it was left out (vectorized)."""
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(table.column("label")))
    from_label = pc.if_else(
        pc.is_in(lowered, value_set=pa.array(sorted(POSITIVE_LABELS))),
        True,
        pc.if_else(pc.is_in(lowered, value_set=pa.array(sorted(NEGATIVE_LABELS))), False, None),
    )
    passed = pc.coalesce(table.column("passed"), from_label)
    return table.set_column(table.schema.get_field_index("passed"), "passed", passed)


def read_label_files(paths: Sequence[Path], *, issues: list[LineIssue]) -> pa.Table:
    tables = []
    for path in paths:
        for block in read_json_lines(
            path, LABEL_SCHEMA, check=_check_label, valid=_labels_complete, issues=issues
        ):
            tables.append(labels_table(block))
    return pa.concat_tables(tables) if tables else LABEL_SCHEMA.empty_table()


def _labels_complete(table: pa.Table) -> bool:
    ids = table.column("trace_id")
    if ids.null_count or table.column("rubric_id").null_count:
        return False
    if not pc.all(pc.equal(pc.utf8_length(ids), 32)).as_py():
        return False
    return bool(labels_table(table).column("passed").null_count == 0)


# --- feedback --------------------------------------------------------------------------------------


def _check_feedback(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, dict):
        return None, "not a JSON object"
    trace_id = value.get("trace_id")
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        return (
            None,
            "'trace_id' is required (32 hex digits): feedback is joined to verdicts by trace",
        )
    thumbs = value.get("thumbs")
    if thumbs not in (None, "up", "down"):
        return None, "'thumbs' must be 'up' or 'down'"
    cleaned = {
        key: value.get(key)
        for key in FEEDBACK_SCHEMA.names
        if isinstance(value.get(key), str)
        or (key == "created_at_unix" and isinstance(value.get(key), (int, float)))
    }
    return cleaned, None


def read_feedback_files(paths: Sequence[Path], *, issues: list[LineIssue]) -> pa.Table:
    tables = [
        block
        for path in paths
        for block in read_json_lines(
            path,
            FEEDBACK_SCHEMA,
            check=_check_feedback,
            valid=lambda t: t.column("trace_id").null_count == 0,
            issues=issues,
        )
    ]
    return pa.concat_tables(tables) if tables else FEEDBACK_SCHEMA.empty_table()


def feedback_table(records: Sequence[dict[str, Any]]) -> pa.Table:
    """Feedback records (``Feedback.to_dict()`` shape) as a table."""
    return pa.Table.from_pylist(
        [{name: record.get(name) for name in FEEDBACK_SCHEMA.names} for record in records],
        schema=FEEDBACK_SCHEMA,
    )


# --- examples --------------------------------------------------------------------------------------


def examples_table(examples: Sequence[DatasetExample]) -> pa.Table:
    """Routed examples with what the report reads of their metadata."""
    rows = []
    for example in examples:
        meta = example.metadata
        route = meta.get("route")
        if route not in _ROUTES:
            route = next((r for r in _ROUTES if example.dataset.endswith(f"/{r}")), None)
        priority = meta.get("priority")
        rows.append(
            {
                "dataset": example.dataset,
                "route": route,
                "category": meta.get("category") if isinstance(meta.get("category"), str) else None,
                "routed_at": _time(meta["routed_at"])
                if isinstance(meta.get("routed_at"), str)
                else None,
                "source_trace_id": meta.get("source_trace_id")
                if isinstance(meta.get("source_trace_id"), str)
                else None,
                "priority": float(priority) if isinstance(priority, (int, float)) else None,
                "reason": meta.get("route_reason")
                if isinstance(meta.get("route_reason"), str)
                else None,
                "conflict": meta.get("conflict")
                if isinstance(meta.get("conflict"), bool)
                else None,
                "goal": example.input.get("input")
                if isinstance(example.input.get("input"), str)
                else None,
            }
        )
    return pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA)


def read_example_files(paths: Sequence[Path]) -> pa.Table:
    examples: list[DatasetExample] = []
    for path in paths:
        examples += read_examples(path)
    return examples_table(examples)


def _time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
