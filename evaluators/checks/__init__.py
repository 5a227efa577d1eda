"""Deterministic checks: no model, no network, the same findings for the same trace.

Each check has a ``name`` and ``evaluate(trace) -> list[Evaluation]``: one failing evaluation per
finding (taxonomy category, culprit span, an explanation naming the tool and arguments), or a single
passing one. ``default_checks()`` are those that need no reference or configuration.
"""

from __future__ import annotations

from ._argument_schema import ArgumentSchemaCheck
from ._base import Check
from ._budgets import LatencyBudgetCheck, TokenBudgetCheck
from ._empty_retrieval import EmptyRetrievalCheck
from ._expected_tool_calls import ExpectedCall, ExpectedToolCallsCheck
from ._output_format import OutputFormatCheck
from ._repeated_call import RepeatedCallCheck
from ._tool_error import ToolErrorCheck
from ._unknown_tool import UnknownToolCheck

__all__ = [
    "ArgumentSchemaCheck",
    "Check",
    "EmptyRetrievalCheck",
    "ExpectedCall",
    "ExpectedToolCallsCheck",
    "LatencyBudgetCheck",
    "OutputFormatCheck",
    "RepeatedCallCheck",
    "TokenBudgetCheck",
    "ToolErrorCheck",
    "UnknownToolCheck",
    "default_checks",
]


def default_checks() -> list[Check]:
    """The checks that need nothing but the trace, in priority order."""
    return [
        ArgumentSchemaCheck(),
        ToolErrorCheck(),
        UnknownToolCheck(),
        RepeatedCallCheck(),
        EmptyRetrievalCheck(),
    ]
