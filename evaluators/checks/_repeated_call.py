"""repeated_call: the same tool executed again with equal arguments -> ``tool_selection / repeated_call``.

Executed calls (TOOL steps, falling back to requests when nothing was executed) are compared by tool
name and arguments (canonical JSON; malformed arguments by their raw text), in trace order. A call
is a repeat when an identical call before it succeeded, with no successful state-changing call to
anything else in between:

- retrying a failed call is recovery, not a repeat;
- reading a record again after a write (get the reservation, update it, get it again) has a
  reason: the answer may have changed. This needs to know which tools change state (see
  ``_tools``); when nothing is known, no call resets the count.

``max_identical_calls`` (default 1) is how many successful identical calls are allowed; one finding
per group of identical calls, culprit = the TOOL step of the first repeat beyond the allowance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from otel_flywheel.model import AgentTrace, Evaluation

from ._base import canonical_json, failing, passing
from ._calls import CallSite, call_sites
from ._tools import EMPTY_CATALOG, ToolCatalog

__all__ = ["RepeatedCallCheck"]


@dataclass
class RepeatedCallCheck:
    max_identical_calls: int = 1
    name: str = "repeated_call"
    tools: ToolCatalog = field(default=EMPTY_CATALOG, kw_only=True)

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        sites = call_sites(trace)
        if any(site.executed_by is not None for site in sites):
            sites = [site for site in sites if site.executed_by is not None]
        effects = self.tools.effects(trace)
        # Successful identical calls since the world last changed, per (name, arguments).
        succeeded: dict[tuple[str, str], int] = {}
        groups: dict[tuple[str, str], list[CallSite]] = {}
        repeats: dict[tuple[str, str], list[CallSite]] = {}
        for site in sites:
            key = (site.name, _key(site))
            groups.setdefault(key, []).append(site)
            if succeeded.get(key, 0) >= self.max_identical_calls:
                repeats.setdefault(key, []).append(site)
            if site.failure is not None:
                continue
            succeeded[key] = succeeded.get(key, 0) + 1
            if effects.effect(site.name) == "state_changing":
                succeeded = {key: succeeded[key]}
        findings = []
        for key, repeated in repeats.items():
            first = repeated[0]
            findings.append(
                failing(
                    self.name,
                    category="tool_selection",
                    subcategory="repeated_call",
                    culprit=first.executed_by or first.culprit,
                    explanation=f"{first.describe()} was called {len(groups[key])} times with the "
                    f"same arguments; {len(repeated)} call(s) repeated a call that had already "
                    "succeeded.",
                    effect=effects.effect(first.name),
                )
            )
        return findings or [
            passing(self.name, "No tool call repeated a successful identical call.")
        ]


def _key(site: CallSite) -> str:
    call = site.executed or site.call
    if call.arguments_malformed:
        return f"raw:{call.raw_arguments}"
    return canonical_json(call.arguments)
