"""Analyze and plan: is the flywheel turning? ``otel-flywheel report`` and ``calibrate``.

Verdicts (from verdict JSON-lines files or from Phoenix), reviewers' labels, feedback and the
routed datasets are loaded into Arrow tables (`load_files`, `load_phoenix`); `build_report`
computes every section (monitor, attribute, compare, drift, input mix, stall, feedback, review
queue, datasets, calibration, plan) into one JSON-ready document, which `render_html`,
`render_markdown` and ``json.dumps`` write out. Library code never prints: progress goes to a
callback.
"""

from __future__ import annotations

from otel_flywheel.analysis._data import AnalysisData
from otel_flywheel.analysis._files import load_files
from otel_flywheel.analysis._jsonl import LineIssue
from otel_flywheel.analysis._phoenix import load_phoenix
from otel_flywheel.analysis._render_html import render_html
from otel_flywheel.analysis._render_markdown import render_markdown
from otel_flywheel.analysis._report import FLAG_KINDS, ReportOptions, build_report
from otel_flywheel.analysis._windows import Window, parse_window

__all__ = [
    "FLAG_KINDS",
    "AnalysisData",
    "LineIssue",
    "ReportOptions",
    "Window",
    "build_report",
    "load_files",
    "load_phoenix",
    "parse_window",
    "render_html",
    "render_markdown",
]
