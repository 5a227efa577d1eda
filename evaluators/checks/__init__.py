"""Deterministic checks: no model, no network, the same findings for the same trace.

Each check has a ``name`` and ``evaluate(trace) -> list[Evaluation]``: one failing evaluation per
finding (taxonomy category, culprit span, an explanation naming the tool and arguments), or a single
passing one. ``default_checks()`` are those that need no reference or configuration; give them a
``ToolCatalog`` to say which tools only read and which retrieve knowledge.
"""

from __future__ import annotations

from ._argument_schema import ArgumentSchemaCheck
from ._base import Check
from ._budgets import LatencyBudgetCheck, TokenBudgetCheck
from ._call_credit import CallCredit, call_credit
from ._empty_retrieval import EmptyRetrievalCheck
from ._expected_tool_calls import (
    EXACT_SET,
    CallMatching,
    ExpectedCall,
    ExpectedToolCallsCheck,
    OthersPolicy,
)
from ._failure import failure_reason
from ._matchers import OPERATORS, map_matcher_values, matches, validate_matcher
from ._output_format import OutputFormatCheck
from ._repeated_call import RepeatedCallCheck
from ._tool_error import ToolErrorCheck
from ._tools import EMPTY_CATALOG, NamePattern, ToolCatalog, ToolEffects
from ._unknown_tool import UnknownToolCheck

__all__ = [
    "EMPTY_CATALOG",
    "EXACT_SET",
    "OPERATORS",
    "ArgumentSchemaCheck",
    "CallCredit",
    "CallMatching",
    "Check",
    "EmptyRetrievalCheck",
    "ExpectedCall",
    "ExpectedToolCallsCheck",
    "LatencyBudgetCheck",
    "NamePattern",
    "OthersPolicy",
    "OutputFormatCheck",
    "RepeatedCallCheck",
    "TokenBudgetCheck",
    "ToolCatalog",
    "ToolEffects",
    "ToolErrorCheck",
    "UnknownToolCheck",
    "call_credit",
    "default_checks",
    "failure_reason",
    "map_matcher_values",
    "matches",
    "validate_matcher",
]


def default_checks(*, tools: ToolCatalog = EMPTY_CATALOG) -> list[Check]:
    """The checks that need nothing but the trace (and what is known about its tools)."""
    return [
        ArgumentSchemaCheck(tools=tools),
        ToolErrorCheck(tools=tools),
        UnknownToolCheck(tools=tools),
        RepeatedCallCheck(tools=tools),
        EmptyRetrievalCheck(tools=tools),
    ]
