"""Tool calls as call sites: the LLM step that requested a call joined to the TOOL step that ran it.

Instrumentors record a call twice: in the LLM span's output (``llm.tool_calls``, with the call id) and
as a TOOL span (often without the call id). A request and an execution are joined by call id when both
have one, else by tool name in order: the first unjoined request of that name that precedes the TOOL
step in the trace. Requests never executed and executions never requested are call sites too.

A call site whose TOOL step failed (see ``_failure``) carries the reason in ``failure``. Such a call
changed nothing, so ``effective_sites`` leaves it out of what is compared with references.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from otel_flywheel.model import AgentTrace, Step, ToolCall, ToolDefinition

from ._failure import failure_reason

__all__ = ["CallSite", "call_sites", "effective_sites"]


@dataclass(frozen=True)
class CallSite:
    name: str
    requested: ToolCall | None  # as the model wrote it, in the LLM step
    requested_by: Step | None
    executed: ToolCall | None  # as the tool received it, in the TOOL step
    executed_by: Step | None
    order: int  # position in the trace: the requesting step's, else the executing step's
    failure: str | None = (
        None  # why the executing TOOL step failed; None if it did not or never ran
    )

    @property
    def call(self) -> ToolCall:
        """The arguments the model produced when known, else those the tool received."""
        call = self.requested or self.executed
        assert call is not None
        return call

    @property
    def offered(self) -> list[ToolDefinition]:
        """The tools offered to the model that requested the call (empty when unknown)."""
        return (
            list(self.requested_by.llm.tools) if self.requested_by and self.requested_by.llm else []
        )

    @property
    def culprit(self) -> Step:
        """The step that chose the call and its arguments: the requesting LLM step, else the TOOL step."""
        step = self.requested_by or self.executed_by
        assert step is not None
        return step

    def describe(self) -> str:
        call = self.call
        if call.arguments_malformed:
            return f"{self.name}({call.raw_arguments!r})"
        arguments = ", ".join(f"{key}={value!r}" for key, value in call.arguments.items())
        return f"{self.name}({arguments})"


def call_sites(trace: AgentTrace) -> list[CallSite]:
    """Every tool call in the trace, requested and/or executed, in trace order."""
    position = {step.span_id: index for index, step in enumerate(trace.steps)}
    requests = list(_requests(trace))
    joined: set[int] = set()
    sites: list[CallSite] = []
    for step, executed in trace.tool_calls():
        match = _find_request(requests, joined, executed, position[step.span_id], position)
        failure = failure_reason(step)
        if match is None:
            sites.append(
                CallSite(executed.name, None, None, executed, step, position[step.span_id], failure)
            )
            continue
        joined.add(match)
        llm_step, requested = requests[match]
        sites.append(
            CallSite(
                executed.name,
                requested,
                llm_step,
                executed,
                step,
                position[llm_step.span_id],
                failure,
            )
        )
    for index, (llm_step, requested) in enumerate(requests):
        if index not in joined:
            sites.append(
                CallSite(
                    requested.name, requested, llm_step, None, None, position[llm_step.span_id]
                )
            )
    sites.sort(key=lambda site: site.order)  # stable: executions keep their order within a step
    return sites


def effective_sites(sites: Sequence[CallSite]) -> tuple[list[CallSite], list[CallSite]]:
    """``(effective, failed)``: the calls that took effect, and those that failed.

    When the trace executed tools, a call took effect when its TOOL step did not fail; a request
    nobody executed did not run at all. A trace of requests only (function calling without
    execution, as in single-turn benchmarks) is judged on its requests.
    """
    if not any(site.executed_by is not None for site in sites):
        return list(sites), []
    effective = [s for s in sites if s.executed_by is not None and s.failure is None]
    failed = [s for s in sites if s.executed_by is not None and s.failure is not None]
    return effective, failed


def _requests(trace: AgentTrace) -> Iterator[tuple[Step, ToolCall]]:
    for step in trace.steps:
        if step.llm is not None:
            for call in step.llm.tool_calls:
                yield step, call


def _find_request(
    requests: list[tuple[Step, ToolCall]],
    joined: set[int],
    executed: ToolCall,
    executed_at: int,
    position: dict[str, int],
) -> int | None:
    if executed.call_id is not None:
        for index, (_, requested) in enumerate(requests):
            if index not in joined and requested.call_id == executed.call_id:
                return index
    for index, (llm_step, requested) in enumerate(requests):
        if (
            index not in joined
            and requested.name == executed.name
            and position[llm_step.span_id] < executed_at
        ):
            return index
    return None
