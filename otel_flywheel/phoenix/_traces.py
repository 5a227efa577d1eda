"""Traces from Phoenix: whole traces as the flywheel sees them, pages of a project's traces, and
waiting until spans are queryable.

``pull_traces`` reads the spans of a time window (or of named traces) through Phoenix's REST API,
rebuilds the span views Phoenix reshapes (``span_view_from_phoenix``) and builds traces the one way
every entry point builds them (``otel_flywheel.capture.build_traces``: redacted as at capture, then
normalized), so the judge, an export or replay never see raw values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import httpx

from otel_flywheel import semconv as sc
from otel_flywheel.capture import build_traces
from otel_flywheel.conventions import SpanView
from otel_flywheel.model import AgentTrace
from otel_flywheel.phoenix._connection import REQUEST_TIMEOUT_SECONDS, http_of, require_project
from otel_flywheel.phoenix._span_views import span_view_from_phoenix

if TYPE_CHECKING:
    from phoenix.client import Client
    from phoenix.client.__generated__ import v1

    from otel_flywheel.privacy import Redactor

__all__ = [
    "MAX_WINDOW_SPANS",
    "PulledTraces",
    "describe_window",
    "pull_traces",
    "trace_pages",
    "wait_for_spans",
]

# Spans read from the window to find its traces. Past it the window is cut (newest kept) and the
# caller says so: memory grows with every span held.
MAX_WINDOW_SPANS: Final = 100_000
# Trace ids per request: the ids go into the query string, and URLs have length limits.
TRACE_IDS_PER_REQUEST: Final = 50
MAX_SPANS_PER_REQUEST: Final = 100_000
TRACES_PER_PAGE: Final = 100
_PROGRESS_INTERVAL_SECONDS: Final = 1.0


@dataclass
class PulledTraces:
    """Whole traces read from Phoenix, redacted and normalized, earliest first."""

    traces: list[AgentTrace] = field(default_factory=list)
    spans: int = 0
    missing_trace_ids: list[str] = field(default_factory=list)
    truncated: bool = False


def pull_traces(
    client: Client,
    *,
    project: str,
    since: datetime | None,
    until: datetime | None,
    trace_ids: Sequence[str] = (),
    limit: int | None = None,
    redactor: Redactor | None,
    progress: Callable[[str], None] | None = None,
) -> PulledTraces:
    """Every span of the traces with a span in ``[since, until)`` (or of ``trace_ids``), read
    whole, grouped, redacted and normalized.

    ``redactor`` is the capture path's (``build_redactor()``), so the judge and the output see
    what the flywheel would; ``None`` only to look at raw values. ``limit`` keeps the most recently
    written traces. ``progress`` hears what is going on (at most one line a second while traces are
    read). Raises ``PhoenixAccessError`` for an unknown project, listing the known ones; transport
    and HTTP errors propagate as httpx raises them.
    """
    report = progress or (lambda message: None)
    require_project(client, project)

    result = PulledTraces()
    wanted = list(dict.fromkeys(trace_ids))
    if not wanted:
        report(f"reading spans of {project!r} {describe_window(since, until)}")
        window = client.spans.get_spans(
            project_identifier=project,
            start_time=since,
            end_time=until,
            limit=MAX_WINDOW_SPANS,
            timeout=int(REQUEST_TIMEOUT_SECONDS),
        )
        result.truncated = len(window) >= MAX_WINDOW_SPANS
        # Newest written first, as Phoenix returns them: `limit` keeps the most recent traces.
        wanted = list(dict.fromkeys(span["context"]["trace_id"] for span in window))
        report(f"{len(window)} spans of {len(wanted)} traces in the window")
    if limit is not None:
        wanted = wanted[:limit]

    resource = {sc.ResourceAttributes.PROJECT_NAME: project}
    by_trace: dict[str, list[SpanView]] = {}
    last_report = time.monotonic()
    for start in range(0, len(wanted), TRACE_IDS_PER_REQUEST):
        chunk = wanted[start : start + TRACE_IDS_PER_REQUEST]
        for span in client.spans.get_spans(
            project_identifier=project,
            trace_ids=chunk,
            limit=MAX_SPANS_PER_REQUEST,
            timeout=int(REQUEST_TIMEOUT_SECONDS),
        ):
            view = span_view_from_phoenix(span, resource=resource)
            by_trace.setdefault(view.trace_id, []).append(view)
            result.spans += 1
        done = start + len(chunk)
        if done == len(wanted) or time.monotonic() - last_report >= _PROGRESS_INTERVAL_SECONDS:
            last_report = time.monotonic()
            report(f"read {done}/{len(wanted)} traces ({result.spans} spans)")
    result.missing_trace_ids = [t for t in wanted if t not in by_trace]
    result.traces = sorted(
        build_traces((view for views in by_trace.values() for view in views), redactor=redactor),
        key=lambda t: (t.steps[0].start_time_unix_nano if t.steps else 0, t.trace_id),
    )
    return result


def trace_pages(
    client: Client,
    *,
    project: str,
    since: datetime | None,
    until: datetime | None,
    max_traces: int | None = None,
    include_spans: bool = True,
) -> Iterator[list[Mapping[str, Any]]]:
    """The project's traces that started in ``[since, until)``, newest first, a page at a time
    (``GET /v1/projects/{p}/traces``; with ``include_spans``, each trace lists its spans' ids).

    At most ``max_traces`` in all. httpx errors propagate as the client raises them.
    """
    params: dict[str, Any] = {
        "limit": TRACES_PER_PAGE,
        "include_spans": include_spans,
        "sort": "start_time",
    }
    if since is not None:
        params["start_time"] = since.isoformat()
    if until is not None:
        params["end_time"] = until.isoformat()
    seen = 0
    cursor: str | None = None
    while True:
        response = http_of(client).get(
            f"v1/projects/{project}/traces",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers={"accept": "application/json"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        body = response.json()
        traces = list(body.get("data") or ())
        if max_traces is not None:
            traces = traces[: max_traces - seen]
        if traces:
            yield traces
        seen += len(traces)
        cursor = body.get("next_cursor")
        if not cursor or not traces or (max_traces is not None and seen >= max_traces):
            return


def wait_for_spans(
    client: Client,
    *,
    project: str,
    min_count: int,
    trace_ids: Sequence[str] | None = None,
    timeout_seconds: float = 30.0,
    poll_interval_seconds: float = 0.25,
    limit: int = 1000,
) -> list[v1.Span]:
    """Poll Phoenix until at least ``min_count`` spans of ``project`` are queryable; return them.

    Phoenix acknowledges OTLP at once but writes spans asynchronously (~125 spans/s with SQLite on
    two cores), so whatever reads, annotates or links what was exported must wait first.

    Args:
        client: a ``phoenix.client.Client`` for the server.
        project: project name or id (what ``openinference.project.name`` set).
        min_count: spans to wait for.
        trace_ids: only count spans of these traces (32 hex digits each).
        timeout_seconds: overall deadline.
        poll_interval_seconds: pause between queries.
        limit: most spans to fetch per poll; raised to ``min_count`` if smaller.

    Raises:
        TimeoutError: fewer than ``min_count`` spans were queryable by the deadline; the message
            says how many were seen, their names and the last error.
    """
    deadline = time.monotonic() + timeout_seconds
    seen: list[v1.Span] = []
    last_error: str | None = None
    while True:
        remaining = deadline - time.monotonic()
        try:
            seen = client.spans.get_spans(
                project_identifier=project,
                trace_ids=list(trace_ids) if trace_ids is not None else None,
                limit=max(limit, min_count),
                # The client takes whole seconds; never 0 (no timeout) near the deadline.
                timeout=max(1, int(remaining)),
            )
            last_error = None
        except httpx.HTTPStatusError as error:
            # 404: the project does not exist until its first span is written.
            if error.response.status_code != 404:
                raise
            last_error = f"HTTP 404 for project {project!r} (not created yet)"
        except httpx.TransportError as error:
            last_error = f"{type(error).__name__}: {error}"
        if len(seen) >= min_count:
            return seen
        if time.monotonic() + poll_interval_seconds > deadline:
            names = sorted({span["name"] for span in seen})
            raise TimeoutError(
                f"saw {len(seen)} of {min_count} spans in project {project!r}"
                f"{f' for traces {list(trace_ids)}' if trace_ids is not None else ''} after "
                f"{timeout_seconds:g} s; names seen: {names}; last error: {last_error or 'none'}"
            )
        time.sleep(poll_interval_seconds)


def describe_window(since: datetime | None, until: datetime | None) -> str:
    """``since ... until ...`` in UTC, for messages; "for the named traces" without a window."""
    if since is None and until is None:
        return "for the named traces"
    text = f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since is not None else ""
    if until is not None:
        text += f" until {until:%Y-%m-%d %H:%M:%S} UTC"
    return text.strip()
