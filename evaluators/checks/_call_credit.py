"""How close the calls an agent made came to the calls its references require: partial credit.

``expected_tool_calls`` says pass or fail. A reward for reinforcement learning may want to say
more: a call of the right tool with one argument wrong is closer than no call at all. `call_credit`
pairs the calls that took effect with the required calls exactly as the check does (the same
matchers, the same maximum matching of counts, the same effective calls), then, for each required
call left without a matching call, looks at the closest same-named call the check would compare
it with and measures the share of its arguments that match.

The check stays the verdict: credit only grades a failure, it never turns one into a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from otel_flywheel.model import AgentTrace

from ._call_assignment import assign
from ._calls import CallSite, call_sites, effective_sites
from ._expected_tool_calls import ExpectedCall
from ._matchers import is_optional, matches

__all__ = ["CallCredit", "call_credit"]


@dataclass(frozen=True)
class CallCredit:
    """``required``: calls the references require (the sum of every ``min``); ``matched``: how
    many of them a call with matching arguments fills; ``near_misses``: for each other required
    call that a same-named call answers, the share of that call's arguments that match (0 when
    they are not a JSON object)."""

    required: int
    matched: int
    near_misses: tuple[float, ...] = ()


def call_credit(trace: AgentTrace, expected: Sequence[ExpectedCall]) -> CallCredit:
    sites, _failed = effective_sites(call_sites(trace))
    result = assign(
        [e.min for e in expected],
        [e.max for e in expected],
        len(sites),
        lambda i, c: _fits(expected[i], sites[c]),
    )
    unmatched = list(result.unmatched)
    matched = 0
    near: list[float] = []
    for i, call in enumerate(expected):
        filled = min(result.count(i), call.min)
        matched += filled
        for _ in range(call.min - filled):
            # The same candidate the check compares argument by argument (its `_differences`).
            candidate = next((c for c in unmatched if sites[c].name == call.name), None)
            if candidate is None:
                break
            unmatched.remove(candidate)
            near.append(argument_share(call, sites[candidate]))
    return CallCredit(
        required=sum(e.min for e in expected), matched=matched, near_misses=tuple(near)
    )


def argument_share(expected: ExpectedCall, site: CallSite) -> float:
    """The share of the arguments (those expected and those made, together) that are right: an
    expected one present with a matching value, or an optional one left out."""
    call = site.call
    if call.arguments_malformed:
        return 0.0
    keys = set(expected.arguments) | set(call.arguments)
    if not keys:
        return 1.0
    right = 0
    for key in keys:
        if key not in expected.arguments:
            continue  # an argument the references do not name: unexpected
        value = expected.arguments[key]
        if key in call.arguments:
            right += matches(value, call.arguments[key])
        else:
            right += is_optional(value)
    return right / len(keys)


def _fits(expected: ExpectedCall, site: CallSite) -> bool:
    call = site.call
    return (
        site.name == expected.name
        and not call.arguments_malformed
        and matches(dict(expected.arguments), call.arguments)
    )
