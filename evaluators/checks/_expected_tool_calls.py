"""expected_tool_calls: the calls the agent made against reference calls ``{name, arguments}``.

Reference argument values use the matcher syntax of ``_matchers`` (plain values, ``$any_of``,
``$optional``, ``$regex``, ``$any``). Matching is order-insensitive: calls are paired as a multiset,
first those that match exactly, then same-named calls whose arguments differ. Calls requested together
(parallel calls of one LLM step) may therefore come in any order; the order of turns is left to the
judge's task_decomposition rubric. Each call the agent made counts once (its request and execution are
one call site, see ``_calls``).

================================================  ====================================
finding                                           category / subcategory
================================================  ====================================
an expected call never made                       tool_selection / missing_tool_call
a call no reference expects                       tool_selection / unnecessary_call
an argument with a value no matcher accepts,      parameter / invalid_type_or_value
or arguments that are not a JSON object
an expected argument absent                       parameter / missing_required
an unexpected argument (with or without an        parameter / wrong_field_mapping
expected one absent: a value under the wrong key)
================================================  ====================================

Culprits: the LLM step that requested the call (else its TOOL step); for a missing call, the last LLM
step (the one that answered without it), else the root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation, Step, StepKind

from ._base import canonical_json, failing, passing
from ._calls import CallSite, call_sites
from ._matchers import is_optional, matches, validate_matcher

__all__ = ["ExpectedCall", "ExpectedToolCallsCheck"]


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ExpectedCall:
        name = data.get("name")
        arguments = data.get("arguments", {})
        if not isinstance(name, str) or not name:
            raise ConfigError(f"an expected tool call needs a 'name' string, got {data!r}")
        if not isinstance(arguments, Mapping):
            raise ConfigError(f"'arguments' of expected call {name!r} must be an object")
        validate_matcher(dict(arguments))
        return ExpectedCall(name=name, arguments=dict(arguments))


class ExpectedToolCallsCheck:
    def __init__(
        self,
        expected: Iterable[ExpectedCall | Mapping[str, Any]],
        *,
        name: str = "expected_tool_calls",
    ) -> None:
        self.name = name
        self.expected = [
            e if isinstance(e, ExpectedCall) else ExpectedCall.from_dict(e) for e in expected
        ]

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        actual = call_sites(trace)
        unmatched = list(range(len(actual)))
        leftover: list[ExpectedCall] = []
        for expected in self.expected:
            index = next((i for i in unmatched if _exact(expected, actual[i])), None)
            if index is None:
                leftover.append(expected)
            else:
                unmatched.remove(index)
        findings: list[Evaluation] = []
        for expected in leftover:
            index = next((i for i in unmatched if actual[i].name == expected.name), None)
            if index is None:
                findings.append(self._missing(trace, expected))
            else:
                unmatched.remove(index)
                findings.extend(self._differences(expected, actual[index]))
        for index in unmatched:
            site = actual[index]
            findings.append(
                failing(
                    self.name,
                    category="tool_selection",
                    subcategory="unnecessary_call",
                    culprit=site.culprit,
                    explanation=f"{site.describe()} was not expected; expected calls: "
                    f"{[e.name for e in self.expected]}.",
                )
            )
        return findings or [passing(self.name, "The tool calls match the expected calls.")]

    def _missing(self, trace: AgentTrace, expected: ExpectedCall) -> Evaluation:
        llm_steps = trace.steps_of_kind(StepKind.LLM)
        culprit: Step | None = llm_steps[-1] if llm_steps else trace.root
        return failing(
            self.name,
            category="tool_selection",
            subcategory="missing_tool_call",
            culprit=culprit,
            explanation=f"Expected call {expected.name}({canonical_json(dict(expected.arguments))}) "
            "was never made.",
        )

    def _differences(self, expected: ExpectedCall, site: CallSite) -> list[Evaluation]:
        call = site.call
        culprit = site.culprit

        def finding(subcategory: str, what: str) -> Evaluation:
            return failing(
                self.name,
                category="parameter",
                subcategory=subcategory,
                culprit=culprit,
                explanation=f"{site.describe()} differs from the expected call: {what}.",
            )

        if call.arguments_malformed:
            return [
                finding(
                    "invalid_type_or_value",
                    f"arguments are not a JSON object: {call.raw_arguments!r}",
                )
            ]
        absent = [
            key
            for key, value in expected.arguments.items()
            if key not in call.arguments and not is_optional(value)
        ]
        unexpected = [key for key in call.arguments if key not in expected.arguments]
        findings = [
            finding(
                "invalid_type_or_value",
                f"argument {key!r} is {call.arguments[key]!r}, expected {canonical_json(value)}",
            )
            for key, value in expected.arguments.items()
            if key in call.arguments and not matches(value, call.arguments[key])
        ]
        if unexpected:
            missing_text = f"; expected argument(s) {absent} absent" if absent else ""
            findings.append(
                finding("wrong_field_mapping", f"unexpected argument(s) {unexpected}{missing_text}")
            )
        elif absent:
            findings.append(finding("missing_required", f"expected argument(s) {absent} absent"))
        return findings


def _exact(expected: ExpectedCall, site: CallSite) -> bool:
    call = site.call
    return (
        site.name == expected.name
        and not call.arguments_malformed
        and matches(dict(expected.arguments), call.arguments)
    )
