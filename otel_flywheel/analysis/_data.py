"""`AnalysisData`: everything a report is computed from, as Arrow tables, wherever it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from otel_flywheel.analysis._jsonl import LineIssue

__all__ = ["AnalysisData"]


@dataclass(kw_only=True)
class AnalysisData:
    """The inputs of a report.

    - ``verdicts``: one row per trace (see ``_verdicts``), cohort attributes as
      ``cohort.<name>`` columns;
    - ``judgments``: the judge's and checks' results on the traces people labelled (``rubric_id``
      is a rubric, a check's name, or ``flywheel.verdict``), for calibration;
    - ``rubrics``: every rubric and version applied, with pass counts;
    - ``labels``, ``feedback``, ``examples``: what people said and what routing kept;
    - ``issues``: lines and records left out, each with where and why;
    - ``source``: where this came from, for the report's header.
    """

    verdicts: pa.Table
    cohort_attributes: tuple[str, ...]
    judgments: pa.Table
    rubrics: pa.Table
    labels: pa.Table
    feedback: pa.Table
    examples: pa.Table
    source: str
    issues: list[LineIssue] = field(default_factory=list)
    phoenix_url: str | None = None
    project: str | None = None
    rubric_categories: dict[str, list[str]] = field(default_factory=dict)
