"""repeated_call: the same tool executed again with equal arguments -> ``tool_selection / repeated_call``.

Executed calls (TOOL steps, falling back to requests when nothing was executed) are grouped by tool name
and arguments (compared as canonical JSON; malformed arguments by their raw text). A call counts as a
repeat when an identical call before it succeeded: retrying a failed call is recovery, not a repeat.
``max_identical_calls`` (default 1) is how many successful identical calls are allowed; one finding per
group, culprit = the TOOL step of the first repeat beyond the allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

from otel_flywheel.model import AgentTrace, Evaluation

from ._base import canonical_json, failing, passing
from ._calls import CallSite, call_sites
from ._failure import failure_reason

__all__ = ["RepeatedCallCheck"]


@dataclass
class RepeatedCallCheck:
    max_identical_calls: int = 1
    name: str = "repeated_call"

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        sites = call_sites(trace)
        if any(site.executed_by is not None for site in sites):
            sites = [site for site in sites if site.executed_by is not None]
        groups: dict[tuple[str, str], list[CallSite]] = {}
        for site in sites:
            groups.setdefault((site.name, _key(site)), []).append(site)
        findings = []
        for group in groups.values():
            succeeded = 0
            repeats: list[CallSite] = []
            for site in group:
                if succeeded >= self.max_identical_calls:
                    repeats.append(site)
                if site.executed_by is None or failure_reason(site.executed_by) is None:
                    succeeded += 1
            if repeats:
                first = repeats[0]
                findings.append(
                    failing(
                        self.name,
                        category="tool_selection",
                        subcategory="repeated_call",
                        culprit=first.executed_by or first.culprit,
                        explanation=f"{first.describe()} was called {len(group)} times with the same "
                        f"arguments; {len(repeats)} call(s) repeated a call that had already "
                        "succeeded.",
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
