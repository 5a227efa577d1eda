"""The bundled demo: a scripted support agent, instrumented like a user's agent, through the flywheel.

``run_demo`` runs every conversation through the whole loop into a running Phoenix (capture ->
judge -> annotations and datasets through the outbox), gives the customers' feedback, and returns
what the flywheel decided and what Phoenix holds; ``otel-flywheel demo`` (and ``make demo``) wraps
it with a local Phoenix and prints the results.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from otel_flywheel.demo._history import (
    HISTORY_QUESTIONS,
    PLANTED_DRIFT,
    VERSIONS,
    HistoryRun,
    plan_history,
)
from otel_flywheel.demo._phoenix import PhoenixContents, span_url, trace_url
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

__all__ = [
    "ALL_SCENARIOS",
    "DEMO_PROJECT",
    "FOLLOW_UPS",
    "HISTORY_QUESTIONS",
    "PLANTED_DRIFT",
    "REVIEWERS",
    "ROUTES",
    "SCENARIOS",
    "VERSIONS",
    "Delivery",
    "DemoFeedback",
    "DemoReport",
    "DemoResult",
    "DemoRun",
    "HistoryRun",
    "PhoenixContents",
    "ReviewLabel",
    "Scenario",
    "plan_history",
    "run_demo",
    "span_url",
    "trace_url",
    "write_demo_report",
]


# The few-shot step reaches the replay package, whose demo module reaches back for the script:
# loaded on first use.
_LAZY = {
    "FEWSHOT_K": "_fewshot",
    "VARIANT_NAMES": "_fewshot",
    "demo_fewshot_comparison": "_fewshot",
    "respond_fewshot": "_fewshot",
}
__all__ += list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_flywheel.demo' has no attribute {name!r}")
    value = getattr(import_module(f"otel_flywheel.demo.{module}"), name)
    globals()[name] = value
    return value
