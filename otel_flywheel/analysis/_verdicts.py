"""Verdict lines into one compact table: a row per trace, the columns the report cuts by.

`VerdictAccumulator` takes blocks of verdict JSON lines (from files, or built from Phoenix's
verdict annotations) and keeps, per block:

- the verdict columns, flattened (``service.version`` -> ``service_version``, each cohort
  attribute -> ``cohort.<name>``), low-cardinality strings dictionary-encoded;
- the judge's per-rubric results, but only for the traces people labelled (``labelled``): that is
  all calibration needs, and it keeps millions of evaluations out of memory;
- a catalog of the rubrics and versions applied, with their pass counts.

Older verdict lines without the analysis fields load with those columns empty; a verdict written
twice for one trace (judged again after feedback) counts once, the later line winning.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._jsonl import LineIssue, parse_block

__all__ = [
    "VERDICT_ANNOTATION_KEY",
    "VerdictAccumulator",
    "check_verdict_line",
    "cohort_column",
    "verdict_line_schema",
]

VERDICT_ANNOTATION_KEY: Final = "flywheel.verdict"  # the label key for the verdict as a whole
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_FOLD_ROWS: Final = 1_000_000
_STRING_FIELDS: Final = (
    "category",
    "subcategory",
    "culprit_span_id",
    "severity",
    "root_cause_owner",
    "goal",
)
_DICTIONARY_COLUMNS: Final = (
    "service_name",
    "service_version",
    "outcome",
    "category",
    "subcategory",
    "root_cause_owner",
    "severity",
    "culprit_kind",
    "culprit_name",
    "culprit_tool",
)
_EVALUATION = pa.struct(
    [
        ("name", pa.string()),
        ("rubric_id", pa.string()),
        ("rubric_version", pa.string()),
        ("passed", pa.bool_()),
        ("judge_model", pa.string()),
        ("category", pa.string()),
    ]
)
JUDGMENT_SCHEMA: Final = pa.schema(
    [
        ("seq", pa.int64()),
        ("trace_id", pa.string()),
        ("rubric_id", pa.string()),
        ("rubric_version", pa.string()),
        ("judge_model", pa.string()),
        ("passed", pa.bool_()),
    ]
)


def cohort_column(attribute: str) -> str:
    return f"cohort.{attribute}"


def verdict_line_schema(cohort_attributes: Sequence[str]) -> pa.Schema:
    """What is read of each verdict line (the rest is skipped by the parser)."""
    return pa.schema(
        [
            ("trace_id", pa.string()),
            ("passed", pa.bool_()),
            *((name, pa.string()) for name in _STRING_FIELDS),
            ("start_time", pa.timestamp("us", tz="UTC")),
            ("service", pa.struct([("name", pa.string()), ("version", pa.string())])),
            ("cohort", pa.struct([(name, pa.string()) for name in cohort_attributes] or [])),
            (
                "culprit",
                pa.struct([("kind", pa.string()), ("name", pa.string()), ("tool", pa.string())]),
            ),
            ("tools", pa.list_(pa.string())),
            ("evaluations", pa.list_(_EVALUATION)),
        ]
    )


def check_verdict_line(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A verdict line cleaned for Arrow, or why it cannot be used (naming the field, never the
    value). Optional fields of the wrong shape are dropped rather than losing the verdict."""
    if not isinstance(value, dict):
        return None, "not a JSON object"
    trace_id = value.get("trace_id")
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        return None, "'trace_id' must be 32 lowercase hex digits"
    passed = value.get("passed")
    if passed is not None and not isinstance(passed, bool):
        return None, "'passed' must be true, false or null"
    cleaned: dict[str, Any] = {"trace_id": trace_id, "passed": passed}
    for name in _STRING_FIELDS:
        if isinstance(value.get(name), str):
            cleaned[name] = value[name]
    start = value.get("start_time")
    if start is not None:
        if not isinstance(start, str) or _rfc3339(start) is None:
            return None, "'start_time' must be an RFC 3339 time such as 2026-11-21T09:00:00Z"
        cleaned["start_time"] = _rfc3339(start)
    for name in ("service", "cohort", "culprit"):
        part = value.get(name)
        if isinstance(part, dict):
            cleaned[name] = {k: str(v) for k, v in part.items() if isinstance(v, (str, int, float))}
    tools = value.get("tools")
    if isinstance(tools, list):
        cleaned["tools"] = [t for t in tools if isinstance(t, str)]
    evaluations = value.get("evaluations")
    if isinstance(evaluations, list):
        cleaned["evaluations"] = [
            {
                key: e.get(key)
                for key in (
                    "name",
                    "rubric_id",
                    "rubric_version",
                    "passed",
                    "judge_model",
                    "category",
                )
                if isinstance(e.get(key), bool if key == "passed" else str)
            }
            for e in evaluations
            if isinstance(e, dict)
        ]
    return cleaned, None


class VerdictAccumulator:
    """Blocks of verdict lines in, the report's verdict, judgment and rubric tables out."""

    def __init__(
        self,
        cohort_attributes: Sequence[str],
        *,
        labelled: Collection[str] = (),
        issues: list[LineIssue],
    ) -> None:
        self.cohort_attributes = tuple(cohort_attributes)
        self.schema = verdict_line_schema(self.cohort_attributes)
        self._labelled_ids: set[str] = set()
        self._labelled = pa.array([], pa.string())
        self.add_labelled(labelled)
        self._issues = issues
        self._verdicts: list[pa.Table] = []
        self._judgments: list[pa.Table] = []
        # Evaluations waiting to be counted into the catalog: one aggregation per ~1M of them
        # rather than one per block.
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._catalog: list[pa.Table] = []
        self._seq = 0

    def add_labelled(self, trace_ids: Collection[str]) -> None:
        """Keep the judge's per-rubric results of these traces too (for calibration)."""
        new = set(trace_ids) - self._labelled_ids
        if new:
            self._labelled_ids |= new
            self._labelled = pa.array(sorted(self._labelled_ids), pa.string())

    def add_block(self, block: bytes, *, where: str, first_line: int = 1) -> None:
        table = parse_block(
            block,
            self.schema,
            check=check_verdict_line,
            valid=_valid_block,
            where=where,
            first_line=first_line,
            issues=self._issues,
        )
        self.add_table(table)

    def add_table(self, table: pa.Table) -> None:
        """A table of ``self.schema`` (what `parse_block` returns)."""
        if table.num_rows == 0:
            return
        seq = pa.array(range(self._seq, self._seq + table.num_rows), pa.int64())
        self._seq += table.num_rows
        self._verdicts.append(self._flatten(table, seq))
        evaluations, categories = _explode(table, seq)
        if evaluations.num_rows:
            failed = pc.fill_null(pc.invert(evaluations.column("passed")), False)
            self._pending.append(
                pa.table(
                    {
                        "rubric_id": evaluations.column("rubric_id"),
                        "rubric_version": evaluations.column("rubric_version"),
                        "judge_model": evaluations.column("judge_model"),
                        "category": pc.if_else(
                            failed, categories, pa.nulls(len(categories), pa.string())
                        ),
                        "passed": evaluations.column("passed"),
                    }
                )
            )
            self._pending_rows += evaluations.num_rows
            if self._pending_rows >= _FOLD_ROWS:
                self._fold()
        if len(self._labelled):
            mask = pc.is_in(table.column("trace_id"), value_set=self._labelled)
            if pc.any(mask).as_py():
                labelled = evaluations.filter(
                    pc.is_in(evaluations.column("trace_id"), value_set=self._labelled)
                )
                whole = pa.table(
                    {
                        "seq": seq.filter(mask),
                        "trace_id": table.column("trace_id").filter(mask),
                        "rubric_id": pa.repeat(VERDICT_ANNOTATION_KEY, pc.sum(mask).as_py()),
                        "rubric_version": pa.nulls(pc.sum(mask).as_py(), pa.string()),
                        "judge_model": pa.nulls(pc.sum(mask).as_py(), pa.string()),
                        "passed": table.column("passed").filter(mask),
                    },
                    schema=JUDGMENT_SCHEMA,
                )
                self._judgments += [labelled, whole]

    def rubric_categories(self) -> dict[str, list[str]]:
        """category -> the rubrics and checks that failed traces with it."""
        self._fold()
        found: dict[str, set[str]] = {}
        for table in self._catalog:
            for row in table.select(["rubric_id", "category"]).to_pylist():
                if row["category"] is not None:
                    found.setdefault(row["category"], set()).add(row["rubric_id"])
        return {category: sorted(ids) for category, ids in found.items()}

    def _fold(self) -> None:
        if not self._pending:
            return
        keys = ["rubric_id", "rubric_version", "judge_model", "category"]
        counted = (
            pa.concat_tables(self._pending)
            .group_by(keys, use_threads=False)
            .aggregate([("passed", "count"), ("passed", "sum"), ([], "count_all")])
        )
        names = {"passed_count": "scored", "passed_sum": "passed", "count_all": "applied"}
        self._catalog.append(
            counted.rename_columns([names.get(n, n) for n in counted.column_names])
        )
        self._pending, self._pending_rows = [], 0

    def finish(self) -> tuple[pa.Table, pa.Table, pa.Table]:
        """(verdicts, judgments, rubric catalog); one verdict per trace, the latest line winning."""
        verdicts = (
            pa.concat_tables(self._verdicts).unify_dictionaries().combine_chunks()
            if self._verdicts
            else self._flatten(self.schema.empty_table(), pa.array([], pa.int64()))
        )
        judgments = (
            pa.concat_tables(self._judgments) if self._judgments else JUDGMENT_SCHEMA.empty_table()
        )
        if verdicts.num_rows and pc.count_distinct(verdicts.column("trace_id")).as_py() < (
            verdicts.num_rows
        ):
            latest = verdicts.group_by("trace_id").aggregate([("seq", "max")]).column("seq_max")
            verdicts = verdicts.filter(pc.is_in(verdicts.column("seq"), value_set=latest))
            judgments = judgments.filter(pc.is_in(judgments.column("seq"), value_set=latest))
        self._fold()
        catalog = (
            pa.concat_tables(self._catalog)
            .select(["rubric_id", "rubric_version", "judge_model", "scored", "passed", "applied"])
            .group_by(["rubric_id", "rubric_version", "judge_model"], use_threads=False)
            .aggregate([("scored", "sum"), ("passed", "sum"), ("applied", "sum")])
            .rename_columns(
                ["rubric_id", "rubric_version", "judge_model", "scored", "passed", "applied"]
            )
            if self._catalog
            else pa.table(
                {
                    "rubric_id": pa.array([], pa.string()),
                    "rubric_version": pa.array([], pa.string()),
                    "judge_model": pa.array([], pa.string()),
                    "scored": pa.array([], pa.int64()),
                    "passed": pa.array([], pa.int64()),
                    "applied": pa.array([], pa.int64()),
                }
            )
        )
        return verdicts, judgments, catalog

    def _flatten(self, table: pa.Table, seq: pa.Array) -> pa.Table:
        passed = table.column("passed")
        outcome = pc.if_else(
            pc.is_null(passed),
            "unscored",
            pc.if_else(pc.fill_null(passed, False), "pass", "fail"),
        )
        failed = pc.equal(outcome, "fail")
        category = pc.if_else(
            pc.and_(failed, pc.is_null(table.column("category"))),
            "(uncategorized)",
            table.column("category"),
        )
        service = table.column("service")
        culprit = table.column("culprit")
        columns: dict[str, Any] = {
            "seq": seq,
            "trace_id": table.column("trace_id"),
            "start_time": table.column("start_time"),
            "passed": passed,
            "outcome": outcome,
            "category": category,
            "subcategory": table.column("subcategory"),
            "root_cause_owner": table.column("root_cause_owner"),
            "severity": table.column("severity"),
            "culprit_span_id": table.column("culprit_span_id"),
            "service_name": pc.struct_field(service, "name"),
            "service_version": pc.struct_field(service, "version"),
            "culprit_kind": pc.struct_field(culprit, "kind"),
            "culprit_name": pc.struct_field(culprit, "name"),
            "culprit_tool": pc.struct_field(culprit, "tool"),
            "tools": table.column("tools"),
            "goal": table.column("goal"),
        }
        cohort = table.column("cohort")
        for name in self.cohort_attributes:
            columns[cohort_column(name)] = pc.dictionary_encode(pc.struct_field(cohort, name))
        for name in _DICTIONARY_COLUMNS:
            columns[name] = pc.dictionary_encode(columns[name])
        return pa.table(columns)


def _valid_block(table: pa.Table) -> bool:
    ids = table.column("trace_id")
    if ids.null_count:
        return False
    lengths = pc.utf8_length(ids)
    return bool(pc.all(pc.equal(lengths, 32)).as_py())


def _explode(table: pa.Table, seq: pa.Array) -> tuple[pa.Table, pa.Array]:
    """One row per evaluation, keyed by its rubric id, else its evaluator's name; and each
    evaluation's category."""
    evaluations = table.column("evaluations")
    flat = pc.list_flatten(evaluations)
    if len(flat) == 0:
        return JUDGMENT_SCHEMA.empty_table(), pa.array([], pa.string())
    parents = pc.list_parent_indices(evaluations)
    judgments = pa.table(
        {
            "seq": pc.take(seq, parents),
            "trace_id": pc.take(table.column("trace_id"), parents),
            "rubric_id": pc.coalesce(
                pc.struct_field(flat, "rubric_id"), pc.struct_field(flat, "name")
            ),
            "rubric_version": pc.struct_field(flat, "rubric_version"),
            "judge_model": pc.struct_field(flat, "judge_model"),
            "passed": pc.struct_field(flat, "passed"),
        },
        schema=JUDGMENT_SCHEMA,
    )
    return judgments, pc.struct_field(flat, "category")


def _rfc3339(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.isoformat()
