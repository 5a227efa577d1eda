"""What a verdict records about its trace so that ``otel-flywheel report`` can cut every figure by
time, agent version and cohort without reading the trace again.

`with_context` fills a `Verdict`'s analysis fields from the (already redacted) trace:

- ``start_time``: the earliest start of the trace's steps, RFC 3339 in UTC;
- ``service``: ``service.name`` and ``service.version`` of the resource (the agent version),
  else of the root span's attributes (traces read back from Phoenix carry no resource);
- ``cohort``: each configured cohort attribute (``FLYWHEEL_COHORT_ATTRIBUTES``), from the root
  span, then the other steps in tree order, then the resource. The trace is redacted before it
  is evaluated, so a cohort value that is personal data is already a pseudonym here. A missing
  attribute is left out: the report counts it as "(not set)";
- ``culprit``: the culprit step's kind, name and tool, so the report can rank what fails most;
- ``tools`` and ``goal``: the input mix, for drift of what users ask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from otel_flywheel import semconv as sc
from otel_flywheel.model import AgentTrace, Step, Verdict

__all__ = ["MAX_GOAL_CHARS", "rfc3339_from_unix_nano", "with_context"]

MAX_GOAL_CHARS: Final = 500
_MAX_COHORT_VALUE_CHARS: Final = 200


def with_context(
    verdict: Verdict, trace: AgentTrace, *, cohort_attributes: Sequence[str] = ()
) -> Verdict:
    """``verdict`` with its analysis fields filled from ``trace`` (a new record)."""
    starts = [s.start_time_unix_nano for s in trace.steps if s.start_time_unix_nano > 0]
    culprit = trace.step(verdict.culprit_span_id) if verdict.culprit_span_id else None
    goal = trace.goal
    return dataclasses.replace(
        verdict,
        start_time=rfc3339_from_unix_nano(min(starts)) if starts else None,
        service={
            "name": _text(_lookup(trace, sc.SERVICE_NAME, resource_first=True)),
            "version": _text(_lookup(trace, sc.SERVICE_VERSION, resource_first=True)),
        },
        cohort={
            name: value
            for name in cohort_attributes
            if (value := _text(_lookup(trace, name))) is not None
        },
        culprit=_culprit(culprit) if culprit is not None else {},
        tools=sorted({call.name for _, call in trace.tool_calls()}),
        goal=goal[:MAX_GOAL_CHARS] if goal else None,
    )


def rfc3339_from_unix_nano(unix_nano: int) -> str:
    seconds, nanos = divmod(unix_nano, 1_000_000_000)  # exact: a float loses microseconds
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc) + timedelta(
        microseconds=nanos // 1000
    )
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _lookup(trace: AgentTrace, name: str, *, resource_first: bool = False) -> Any:
    # Cohorts: the root span first, where applications put who the run was for. Service
    # attributes belong to the resource.
    if resource_first and trace.resource.get(name) is not None:
        return trace.resource[name]
    for step in trace.steps:
        value = step.attributes.get(name)
        if value is not None:
            return value
    return trace.resource.get(name)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:_MAX_COHORT_VALUE_CHARS] if text else None


def _culprit(step: Step) -> dict[str, str | None]:
    tool = step.tool.name if step.tool is not None else None
    if tool is None and step.llm is not None and step.llm.tool_calls:
        tool = step.llm.tool_calls[0].name
    return {"kind": step.kind.value, "name": step.name, "tool": tool}
