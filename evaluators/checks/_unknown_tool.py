"""unknown_tool: a call to a tool that was not offered -> ``tool_selection / unknown_tool``.

A call requested by an LLM step is checked against that step's ``llm.tools``; the culprit is the LLM
step. A TOOL step no recorded request explains is checked against every tool offered anywhere in the
trace; the culprit is the TOOL step. When no tools were recorded (the instrumentor did not capture
them), the tools the user declared (``ToolCatalog.tools``, a tools file) stand in; when there are
none either, the call is skipped: absence of evidence is not a finding.
"""

from __future__ import annotations

from otel_flywheel.model import AgentTrace, Evaluation

from ._base import failing, passing
from ._calls import call_sites
from ._tools import EMPTY_CATALOG, ToolCatalog

__all__ = ["UnknownToolCheck"]


class UnknownToolCheck:
    name: str = "unknown_tool"

    def __init__(self, *, tools: ToolCatalog = EMPTY_CATALOG) -> None:
        self.tools = tools

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        anywhere = {tool.name for step in trace.steps if step.llm for tool in step.llm.tools}
        # Instrumentors that record no tools offered (openai-v2) leave the declared ones.
        declared = set(self.tools.tools)
        effects = self.tools.effects(trace)
        findings = []
        for site in call_sites(trace):
            offered = {tool.name for tool in site.offered} if site.requested_by else anywhere
            offered = offered or declared
            if not offered or site.name in offered:
                continue
            findings.append(
                failing(
                    self.name,
                    category="tool_selection",
                    subcategory="unknown_tool",
                    culprit=site.culprit,
                    explanation=f"{site.describe()} calls tool {site.name!r}, which was not "
                    f"offered; the tools offered were {sorted(offered)}.",
                    effect=effects.effect(site.name),
                )
            )
        return findings or [passing(self.name, "Every tool called was among the tools offered.")]
