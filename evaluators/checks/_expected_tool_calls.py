"""expected_tool_calls: the calls the agent made, against the calls its references expect.

What the references say (``otel_flywheel.evaluators.references`` reads them from a file):

- ``expected``: the calls that must happen, each a tool ``name`` with ``arguments`` (values may be
  matchers, see ``_matchers``) and how often: ``min`` (default 1) to ``max`` (default 1; ``None``
  for no upper bound; ``0`` for a call that must not happen).
- ``others`` (``CallMatching``): what to make of calls no expected call accounts for.
  ``forbidden``: each is a finding, the exact-set semantics of single-turn function calling.
  ``read_only``: read-only tools (see ``_tools``) may be called freely, so an agent can look
  things up. ``allowed``: only the expected calls matter.
- ``allow``: tool-name patterns (globs or ``{"$regex": ...}``) that may always be called freely.
- ``ordered``: the expected calls must first happen in the listed order. Calls requested together
  (parallel calls of one LLM step) count as simultaneous.

Only calls that took effect are compared (``_calls.effective_sites``): a call whose TOOL step failed
changed nothing. A write that failed and was retried successfully is one write; a write that failed
every time is the missing call it is, and the explanation names the failed attempts. Each failure
is reported on its own by ``tool_error``.

======================================================  =====================================
finding                                                 category / subcategory
======================================================  =====================================
an expected call never made (or only made and failed)   tool_selection / missing_tool_call
an expected call made more often than its ``max``        tool_selection / repeated_call
a call no expected call accounts for, and not free;     tool_selection / unnecessary_call
a call ``max: 0`` forbids
... when the references expect no call at all            tool_selection / tool_when_none_applies
a same-named call whose arguments are not JSON          parameter / malformed_arguments
an argument of a type the expected value does not       parameter / invalid_type_or_value
allow (a string for a number)
an argument of the right type with the wrong value      parameter / wrong_value
an expected argument absent                             parameter / missing_required
an argument the expected call does not name             parameter / unexpected_argument
both at once: a value under the wrong name              parameter / wrong_field_mapping
expected calls out of the listed order (``ordered``)    task_decomposition / bad_plan_order
======================================================  =====================================

Culprits: the LLM step that requested the call (else its TOOL step); for a missing call, the last
LLM step (the one that answered without it), else the root. Each finding carries the effect of its
tool (read-only or state-changing) when it is known, which the verdict ranks by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, CallEffect, Evaluation, Step, StepKind

from ._base import canonical_json, failing, passing
from ._call_assignment import assign
from ._calls import CallSite, call_sites, effective_sites
from ._matchers import is_optional, matches, mismatch_kind, validate_matcher
from ._tools import EMPTY_CATALOG, NamePattern, ToolCatalog, ToolEffects

__all__ = ["EXACT_SET", "CallMatching", "ExpectedCall", "ExpectedToolCallsCheck", "OthersPolicy"]

OthersPolicy = Literal["forbidden", "read_only", "allowed"]


@dataclass(frozen=True)
class ExpectedCall:
    """A call the references expect: tool, argument matchers, and how many times (``min``-``max``)."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    min: int = 1
    max: int | None = 1

    def __post_init__(self) -> None:
        if self.min < 0 or (self.max is not None and self.max < self.min):
            raise ConfigError(
                f"expected call {self.name!r}: needs 0 <= min <= max (max null: no upper bound)"
            )

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ExpectedCall:
        """``{"name", "arguments", "min", "max"}`` as replay examples and older code hold them."""
        name = data.get("name")
        arguments = data.get("arguments", {})
        if not isinstance(name, str) or not name:
            raise ConfigError('an expected tool call needs a "name" string')
        if not isinstance(arguments, Mapping):
            raise ConfigError(f'"arguments" of expected call {name!r} must be an object')
        validate_matcher(dict(arguments))
        low, high = data.get("min", 1), data.get("max", 1)
        if not isinstance(low, int) or not (high is None or isinstance(high, int)):
            raise ConfigError(f'expected call {name!r}: "min" and "max" must be integers')
        return ExpectedCall(name=name, arguments=dict(arguments), min=low, max=high)

    def describe(self) -> str:
        return f"{self.name}({canonical_json(dict(self.arguments))})"


@dataclass(frozen=True, kw_only=True)
class CallMatching:
    """How calls beyond the expected ones are judged, and whether order matters."""

    ordered: bool = False
    others: OthersPolicy = "forbidden"
    allow: tuple[NamePattern, ...] = ()

    def is_free(self, name: str, effects: ToolEffects) -> bool:
        """Whether a call no expected call accounts for may happen without a finding."""
        if self.others == "allowed" or any(pattern.matches(name) for pattern in self.allow):
            return True
        return self.others == "read_only" and effects.is_read_only(name)


EXACT_SET = CallMatching()  # today's semantics: the expected calls, each once, nothing else


class ExpectedToolCallsCheck:
    def __init__(
        self,
        expected: Iterable[ExpectedCall | Mapping[str, Any]],
        *,
        matching: CallMatching = EXACT_SET,
        tools: ToolCatalog = EMPTY_CATALOG,
        name: str = "expected_tool_calls",
    ) -> None:
        self.name = name
        self.expected = [
            e if isinstance(e, ExpectedCall) else ExpectedCall.from_dict(e) for e in expected
        ]
        self.matching = matching
        self.tools = tools

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        effects = self.tools.effects(trace)
        sites, failed = effective_sites(call_sites(trace))
        expected = self.expected
        result = assign(
            [e.min for e in expected],
            [e.max for e in expected],
            len(sites),
            lambda i, c: _fits(expected[i], sites[c]),
        )
        paired = {c: i for i, calls in result.matched.items() for c in calls}
        unmatched = list(result.unmatched)
        findings: list[Evaluation] = []
        for i, call in enumerate(expected):
            short = call.min - result.count(i)
            effect = effects.effect(call.name)
            while short > 0:
                # The closest thing the agent did: a same-named call whose arguments differ.
                candidate = next((c for c in unmatched if sites[c].name == call.name), None)
                if candidate is None:
                    break
                unmatched.remove(candidate)
                paired[candidate] = i
                short -= 1
                findings.extend(self._differences(call, sites[candidate], effect))
            if short > 0:
                attempts = [site for site in failed if site.name == call.name]
                findings.append(self._missing(trace, call, short, attempts, effect))
        for c, i in result.over.items():
            findings.append(self._beyond(sites[c], expected[i], effects.effect(sites[c].name)))
        expects_none = not any(e.min for e in expected)
        free = 0
        for c in unmatched:
            site = sites[c]
            if self.matching.is_free(site.name, effects):
                free += 1
            else:
                findings.append(self._unexpected(site, expects_none, effects.effect(site.name)))
        if self.matching.ordered:
            findings.extend(self._order(sites, paired, effects))
        if findings:
            return findings
        return [passing(self.name, self._summary(len(paired), free, failed))]

    # --- findings ---------------------------------------------------------------------------

    def _fail(
        self,
        category: str,
        subcategory: str,
        culprit: Step | None,
        explanation: str,
        effect: CallEffect | None,
    ) -> Evaluation:
        return failing(
            self.name,
            category=category,
            subcategory=subcategory,
            culprit=culprit,
            explanation=explanation,
            effect=effect,
        )

    def _missing(
        self,
        trace: AgentTrace,
        expected: ExpectedCall,
        short: int,
        attempts: Sequence[CallSite],
        effect: CallEffect | None,
    ) -> Evaluation:
        llm_steps = trace.steps_of_kind(StepKind.LLM)
        culprit: Step | None = llm_steps[-1] if llm_steps else trace.root
        times = "" if expected.min == 1 else f" (needed {expected.min} times, missing {short})"
        text = f"Expected call {expected.describe()} was never made{times}."
        if attempts:
            tried = "; ".join(f"{site.describe()} {site.failure}" for site in attempts[:3])
            more = f" and {len(attempts) - 3} more" if len(attempts) > 3 else ""
            text = (
                f"Expected call {expected.describe()} never took effect{times}: "
                f"{len(attempts)} attempt(s) failed ({tried}{more})."
            )
        return self._fail("tool_selection", "missing_tool_call", culprit, text, effect)

    def _beyond(
        self, site: CallSite, expected: ExpectedCall, effect: CallEffect | None
    ) -> Evaluation:
        if expected.max == 0:
            text = f"{site.describe()} was made, but the references say it must not be."
            return self._fail("tool_selection", "unnecessary_call", site.culprit, text, effect)
        text = (
            f"{site.describe()} was made more often than the references allow "
            f"(at most {expected.max} time(s) for {expected.describe()})."
        )
        return self._fail("tool_selection", "repeated_call", site.culprit, text, effect)

    def _unexpected(
        self, site: CallSite, expects_none: bool, effect: CallEffect | None
    ) -> Evaluation:
        if expects_none:
            text = f"{site.describe()} was made, but the references expect no tool call."
            return self._fail(
                "tool_selection", "tool_when_none_applies", site.culprit, text, effect
            )
        free = {
            "forbidden": "no other call is allowed",
            "read_only": "only read-only tools may be called beyond them",
            "allowed": "",
        }[self.matching.others]
        if self.matching.allow:
            free += f"{'; ' if free else ''}free: {', '.join(map(str, self.matching.allow))}"
        text = (
            f"{site.describe()} was not expected; expected calls: "
            f"{[e.name for e in self.expected]} ({free})."
        )
        return self._fail("tool_selection", "unnecessary_call", site.culprit, text, effect)

    def _differences(
        self, expected: ExpectedCall, site: CallSite, effect: CallEffect | None
    ) -> list[Evaluation]:
        call = site.call

        def finding(subcategory: str, what: str) -> Evaluation:
            text = (
                f"{site.describe()} differs from the expected call {expected.describe()}: {what}."
            )
            return self._fail("parameter", subcategory, site.culprit, text, effect)

        if call.arguments_malformed:
            return [
                finding(
                    "malformed_arguments",
                    f"its arguments are not a JSON object: {call.raw_arguments!r}",
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
                mismatch_kind(value, call.arguments[key]),
                f"argument {key!r} is {canonical_json(call.arguments[key])}, expected "
                f"{canonical_json(value)}",
            )
            for key, value in expected.arguments.items()
            if key in call.arguments and not matches(value, call.arguments[key])
        ]
        if unexpected and absent:
            findings.append(
                finding(
                    "wrong_field_mapping",
                    f"argument(s) {unexpected} where {absent} were expected",
                )
            )
        elif unexpected:
            findings.append(finding("unexpected_argument", f"unexpected argument(s) {unexpected}"))
        elif absent:
            findings.append(finding("missing_required", f"expected argument(s) {absent} absent"))
        return findings

    def _order(
        self, sites: Sequence[CallSite], paired: Mapping[int, int], effects: ToolEffects
    ) -> list[Evaluation]:
        first: dict[int, int] = {}  # expected call -> its first call, by position in the trace
        for c, i in paired.items():
            if i not in first or sites[c].order < sites[first[i]].order:
                first[i] = c
        latest: int | None = None  # the highest-listed expected call seen in an earlier step
        pending: int | None = None  # the highest-listed one in the current step
        step_order: int | None = None
        for i, c in sorted(first.items(), key=lambda item: (sites[item[1]].order, item[0])):
            if sites[c].order != step_order:
                if pending is not None and (latest is None or pending > latest):
                    latest = pending
                step_order, pending = sites[c].order, None
            if latest is not None and i < latest:
                site, before = sites[c], self.expected[latest]
                text = (
                    f"{site.describe()} came after {before.describe()}, but the references expect "
                    f"{self.expected[i].name!r} before {before.name!r}."
                )
                return [
                    self._fail(
                        "task_decomposition",
                        "bad_plan_order",
                        site.culprit,
                        text,
                        effects.effect(site.name),
                    )
                ]
            pending = i if pending is None else max(pending, i)
        return []

    def _summary(self, made: int, free: int, failed: Sequence[CallSite]) -> str:
        parts = [f"The tool calls match the references: {made} expected call(s) made"]
        if free:
            parts.append(f"{free} other call(s) free ({self.matching.others})")
        if failed:
            parts.append(f"{len(failed)} failed call(s) not compared (they changed nothing)")
        return "; ".join(parts) + "."


def _fits(expected: ExpectedCall, site: CallSite) -> bool:
    call = site.call
    return (
        site.name == expected.name
        and not call.arguments_malformed
        and matches(dict(expected.arguments), call.arguments)
    )
