"""Report inputs from Phoenix, the system of record: the one module of the report that talks to it.

Phoenix lists annotations by trace or span id only, so the reader walks the project's traces of
the window a page at a time (``GET /v1/projects/{p}/traces``, with their span ids), and for each
page reads the span and trace annotations on them. From each page it keeps:

- the ``flywheel.verdict`` trace annotation as the trace's verdict: its label says the outcome
  (``pass``, ``unscored``, ``category/subcategory``), its metadata holds the analysis context;
  a trace without one was not judged and is not counted;
- the ``user_feedback`` and ``implicit_feedback.*`` annotations routing wrote, as feedback;
- HUMAN annotations people added (not routing's copies) that say pass or fail (a label such as
  ``pass``/``fail``, ``correct``/``incorrect``, or a score of 1 or 0), as labels for the rubric,
  check or verdict they are named after. Others are left alone.

Then the routed datasets are read whole. Progress goes to ``progress`` once per page; the caller
renders it. httpx errors propagate as the client raises them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa

from otel_flywheel.analysis._data import AnalysisData
from otel_flywheel.analysis._jsonl import LineIssue
from otel_flywheel.analysis._people import (
    LABEL_SCHEMA,
    examples_table,
    feedback_table,
    label_passed,
)
from otel_flywheel.analysis._verdicts import VERDICT_ANNOTATION_KEY, VerdictAccumulator
from otel_flywheel.datasets import DatasetExample
from otel_flywheel.phoenix import (
    Annotation,
    DatasetNotFoundError,
    annotations_on,
    load_dataset,
    require_project,
    trace_pages,
)

if TYPE_CHECKING:
    from otel_flywheel.phoenix import PhoenixClient

__all__ = ["load_phoenix"]

FEEDBACK_ANNOTATION: Final = "user_feedback"
IMPLICIT_PREFIX: Final = "implicit_feedback."


def load_phoenix(
    client: PhoenixClient,
    *,
    project: str,
    since: datetime | None,
    until: datetime | None,
    datasets: Sequence[str],
    phoenix_url: str,
    cohort_attributes: Sequence[str] | None = None,
    max_traces: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> AnalysisData:
    """The verdicts, feedback and labels of ``project``'s traces started in ``[since, until)``,
    and the examples of ``datasets``."""
    report = progress or (lambda message: None)
    require_project(client, project)
    issues: list[LineIssue] = []
    where = f"Phoenix {phoenix_url} project {project!r}"
    pages: list[_Page] = []
    attributes: set[str] = set(cohort_attributes or ())
    traces_read = 0
    for traces in trace_pages(
        client, project=project, since=since, until=until, max_traces=max_traces
    ):
        traces_read += len(traces)
        pages.append(_read_page(client, project, traces))
        if cohort_attributes is None:
            attributes.update(key for v in pages[-1].verdicts for key in v.get("cohort") or {})
        report(f"read {traces_read} traces ({sum(len(p.verdicts) for p in pages)} with a verdict)")
    accumulator = VerdictAccumulator(sorted(attributes), issues=issues)
    labels: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    for page in pages:
        accumulator.add_labelled([label["trace_id"] for label in page.labels])
        accumulator.add_labelled([record["trace_id"] for record in page.feedback])
        if page.verdicts:
            block = "".join(json.dumps(v) + "\n" for v in page.verdicts).encode()
            accumulator.add_block(block, where=where)
        labels += page.labels
        feedback += page.feedback
    verdicts, judgments, rubrics = accumulator.finish()
    known = set(rubrics.column("rubric_id").drop_null().to_pylist()) | {VERDICT_ANNOTATION_KEY}
    label_table = pa.Table.from_pylist(
        [label for label in labels if label["rubric_id"] in known], schema=LABEL_SCHEMA
    )
    examples = _read_datasets(client, datasets, report)
    return AnalysisData(
        verdicts=verdicts,
        cohort_attributes=tuple(sorted(attributes)),
        judgments=judgments,
        rubrics=rubrics,
        labels=label_table,
        feedback=feedback_table(feedback),
        examples=examples_table(examples),
        source=f"Phoenix project {project!r} at {phoenix_url}",
        issues=issues,
        phoenix_url=phoenix_url,
        project=project,
        rubric_categories=accumulator.rubric_categories(),
    )


class _Page:
    def __init__(self) -> None:
        self.verdicts: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self.feedback: list[dict[str, Any]] = []


def _read_page(client: PhoenixClient, project: str, traces: Sequence[Mapping[str, Any]]) -> _Page:
    page = _Page()
    started = {t["trace_id"]: t.get("start_time") for t in traces}
    annotations = annotations_on(client, project=project, traces=traces)
    for annotation in annotations:
        if annotation.name == VERDICT_ANNOTATION_KEY and annotation.target == "trace":
            if annotation.annotator_kind != "HUMAN":
                page.verdicts.append(_verdict_line(annotation, started.get(annotation.trace_id)))
        elif _is_feedback(annotation):
            page.feedback.append(_feedback_record(annotation))
        if annotation.by_a_person:
            passed = _says_pass(annotation)
            if passed is not None:
                page.labels.append(
                    {
                        "trace_id": annotation.trace_id,
                        "rubric_id": annotation.name,
                        "label": annotation.label,
                        "passed": passed,
                        "annotator": annotation.identifier or annotation.user_id or None,
                        "created_at": _time(annotation.updated_at),
                    }
                )
    return page


def _verdict_line(annotation: Annotation, trace_start: str | None) -> dict[str, Any]:
    """The verdict line (as ``evaluate`` writes it) a ``flywheel.verdict`` annotation stands for."""
    meta = dict(annotation.metadata)
    label = annotation.label
    passed: bool | None
    if label == "unscored":
        passed = None
    elif label == "pass":
        passed = True
    elif label is not None:
        passed = False
    else:
        passed = None if annotation.score is None else annotation.score >= 1.0
    return {
        "trace_id": annotation.trace_id,
        "passed": passed,
        "category": meta.get("category"),
        "subcategory": meta.get("subcategory"),
        "culprit_span_id": meta.get("culprit_span_id"),
        "severity": meta.get("severity"),
        "root_cause_owner": meta.get("root_cause_owner"),
        "start_time": meta.get("start_time") or trace_start,
        "service": meta.get("service") or {},
        "cohort": meta.get("cohort") or {},
        "culprit": meta.get("culprit") or {},
        "tools": meta.get("tools") or [],
        "goal": meta.get("goal"),
        "evaluations": meta.get("evaluations") or [],
    }


def _feedback_record(annotation: Annotation) -> dict[str, Any]:
    meta = annotation.metadata
    label = annotation.label
    updated = _time(annotation.updated_at)
    return {
        "trace_id": annotation.trace_id,
        "thumbs": label if label in ("up", "down") else None,
        "correction": "(given)" if meta.get("has_correction") else None,
        "chosen": "(given)" if label == "preference" else None,
        "signal": meta.get("signal") if isinstance(meta.get("signal"), str) else None,
        "annotator": meta.get("annotator") if isinstance(meta.get("annotator"), str) else None,
        "created_at_unix": updated.timestamp() if updated is not None else None,
        "feedback_id": annotation.feedback_id_written,
    }


def _is_feedback(annotation: Annotation) -> bool:
    """One of routing's feedback annotations (it carries the feedback's id)."""
    named = annotation.name == FEEDBACK_ANNOTATION or annotation.name.startswith(IMPLICIT_PREFIX)
    return named and annotation.feedback_id_written is not None


def _says_pass(annotation: Annotation) -> bool | None:
    passed = label_passed(annotation.label)
    if passed is not None:
        return passed
    if annotation.label is None and annotation.score in (0.0, 1.0):
        return annotation.score == 1.0
    return None


def _read_datasets(
    client: PhoenixClient, names: Sequence[str], report: Callable[[str], None]
) -> list[DatasetExample]:
    examples: list[DatasetExample] = []
    for name in names:
        try:
            dataset = load_dataset(client, name)
        except DatasetNotFoundError:
            report(f"dataset {name!r} does not exist (nothing routed to it yet)")
            continue
        examples += dataset.examples
        report(f"dataset {name!r}: {len(dataset.examples)} examples")
    return examples


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
