"""The bundled demo: a scripted support agent, instrumented like a user's agent, through the flywheel.

``run_demo`` runs every conversation through the whole loop into a running Phoenix (capture ->
judge -> annotations and datasets through the outbox), gives the customers' feedback, and returns
what the flywheel decided and what Phoenix holds; ``otel-flywheel demo`` (and ``make demo``) wraps
it with a local Phoenix and prints the results.
"""

from __future__ import annotations

from otel_flywheel.demo._agent import TENANT_ATTRIBUTE
from otel_flywheel.demo._fewshot import (
    FEWSHOT_K,
    VARIANT_NAMES,
    demo_fewshot_comparison,
    respond_fewshot,
)
from otel_flywheel.demo._history import (
    HISTORY_QUESTIONS,
    PLANTED_DRIFT,
    VERSIONS,
    HistoryRun,
    plan_history,
)
from otel_flywheel.demo._replay import DemoReplay, demo_replay
from otel_flywheel.demo._report import DemoReport, write_demo_report
from otel_flywheel.demo._reviewers import REVIEWERS, ReviewLabel
from otel_flywheel.demo._run import DEMO_PROJECT, ROUTES, Delivery, DemoResult, DemoRun, run_demo
from otel_flywheel.demo._script import (
    ALL_SCENARIOS,
    FOLLOW_UPS,
    SCENARIOS,
    DemoFeedback,
    Scenario,
)
from otel_flywheel.phoenix import PhoenixContents, span_url, trace_url

__all__ = [
    "ALL_SCENARIOS",
    "DEMO_PROJECT",
    "FEWSHOT_K",
    "FOLLOW_UPS",
    "HISTORY_QUESTIONS",
    "PLANTED_DRIFT",
    "REVIEWERS",
    "ROUTES",
    "SCENARIOS",
    "TENANT_ATTRIBUTE",
    "VARIANT_NAMES",
    "VERSIONS",
    "Delivery",
    "DemoFeedback",
    "DemoReplay",
    "DemoReport",
    "DemoResult",
    "DemoRun",
    "HistoryRun",
    "PhoenixContents",
    "ReviewLabel",
    "Scenario",
    "demo_fewshot_comparison",
    "demo_replay",
    "plan_history",
    "respond_fewshot",
    "run_demo",
    "span_url",
    "trace_url",
    "write_demo_report",
]
