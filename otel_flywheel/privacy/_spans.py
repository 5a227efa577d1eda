"""Redaction applied to whole spans: every place a span can carry text, not just its attributes.

The OTel Collector's redaction processor leaked through span events and non-string attributes;
here the attributes, event attributes (exception messages and stack traces), the status
description, link attributes and resource attributes all go through the same ``Redactor``.

- ``redact_readable_span`` makes the redacted copy of an ended span. The capture worker
  (``FlywheelSpanProcessor`` with an exporter, as ``register()`` sets it up) calls it once per span
  and feeds both the OTLP exporter and the flywheel from that copy.
- ``redact_span_view`` redacts a ``SpanView`` (spans that arrive over OTLP, and the capture
  worker's path when it has no exporter).
- ``RedactingSpanExporter`` wraps any ``SpanExporter`` and hands it redacted copies, on the export
  thread: for a provider whose exporters are not ours.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from otel_flywheel._internal import handle_internal_errors
from otel_flywheel.conventions import SpanEvent, SpanView
from otel_flywheel.privacy._redactor import RedactionAudit, Redactor

__all__ = [
    "RedactedResourceCache",
    "RedactingSpanExporter",
    "redact_readable_span",
    "redact_span_view",
]

_RESOURCE_CACHE_SIZE = 16


class RedactedResourceCache:
    """A provider's spans share one Resource: redact its attributes once, not once per span."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._lock = threading.Lock()  # guards _entries; export may run on several threads
        self._entries: dict[int, tuple[object, Any]] = {}

    def redacted(self, resource: Resource) -> Resource:
        """An SDK ``Resource`` with redacted attributes."""
        cached: Resource = self._cached(
            resource,
            lambda: Resource(
                self._redactor.redact_attributes(resource.attributes, RedactionAudit()),
                resource.schema_url,
            ),
        )
        return cached

    def redacted_mapping(self, resource: Mapping[str, Any]) -> Mapping[str, Any]:
        """A span view's resource attributes, redacted."""
        cached: Mapping[str, Any] = self._cached(
            resource, lambda: self._redactor.redact_attributes(resource, RedactionAudit())
        )
        return cached

    def _cached(self, source: object, build: Callable[[], Any]) -> Any:
        # Keyed by identity and holding the source itself, so a recycled id() can never alias.
        with self._lock:
            entry = self._entries.get(id(source))
        if entry is not None and entry[0] is source:
            return entry[1]
        redacted = build()  # outside the lock: redaction may take a while
        with self._lock:
            if len(self._entries) >= _RESOURCE_CACHE_SIZE:
                self._entries.clear()  # providers are few; many just means converting again
            self._entries[id(source)] = (source, redacted)
        return redacted


def redact_readable_span(
    span: ReadableSpan, redactor: Redactor, *, resources: RedactedResourceCache | None = None
) -> ReadableSpan:
    """A redacted copy of an ended span, carrying ``flywheel.redaction.*`` when anything changed.

    Every text the span carries (attributes, event and link attributes, name, status description)
    is redacted in one pass (``Redactor.redact_many``)."""
    audit = RedactionAudit()
    events, links = span.events, span.links
    status = span.status
    # Names are meant to be low-cardinality, but "GET /users/jane@example.com" and an event
    # named "sms sent to +1 415 555 0132" happen.
    texts = [span.name or "", status.description or "", *(event.name for event in events)]
    maps, redacted_texts = redactor.redact_many(
        [
            span.attributes or {},
            *(event.attributes or {} for event in events),
            *(link.attributes or {} for link in links),
        ],
        texts,
        audit,
    )
    attributes = maps[0]
    redacted_events = [
        Event(_message(redacted_texts[2 + i]), maps[1 + i], event.timestamp)
        for i, event in enumerate(events)
    ]
    redacted_links = [Link(link.context, maps[1 + len(events) + i]) for i, link in enumerate(links)]
    name = _message(redacted_texts[0])
    if status.description:
        status = Status(status.status_code, _message(redacted_texts[1]))
    attributes.update(audit.attributes())
    resource = span.resource
    if resource is not None:
        resource = (resources or RedactedResourceCache(redactor)).redacted(resource)
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=attributes,
        events=redacted_events,
        links=redacted_links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redact_span_view(
    view: SpanView, redactor: Redactor, *, resources: RedactedResourceCache | None = None
) -> SpanView:
    """The same redaction for the flywheel's own path (capture worker, OTLP receiver)."""
    audit = RedactionAudit()
    texts = [view.name or "", view.status_message or "", *(event.name for event in view.events)]
    maps, redacted_texts = redactor.redact_many(
        [view.attributes, *(event.attributes for event in view.events)], texts, audit
    )
    attributes = maps[0]
    events = tuple(
        SpanEvent(
            name=_message(redacted_texts[2 + i]),
            time_unix_nano=event.time_unix_nano,
            attributes=maps[1 + i],
        )
        for i, event in enumerate(view.events)
    )
    status_message = _message(redacted_texts[1]) if view.status_message else view.status_message
    attributes.update(audit.attributes())
    return SpanView(
        trace_id=view.trace_id,
        span_id=view.span_id,
        parent_id=view.parent_id,
        name=_message(redacted_texts[0]),
        parent_is_remote=view.parent_is_remote,
        start_time_unix_nano=view.start_time_unix_nano,
        end_time_unix_nano=view.end_time_unix_nano,
        status_code=view.status_code,
        status_message=status_message,
        attributes=attributes,
        events=events,
        resource=(resources or RedactedResourceCache(redactor)).redacted_mapping(view.resource),
        scope_name=view.scope_name,
    )


def _message(result: str | object) -> str:
    """A name or status description cannot be dropped: a drop degrades to a mask."""
    return result if isinstance(result, str) else "<REDACTED>"


class RedactingSpanExporter(SpanExporter):
    """Hands the wrapped exporter redacted copies of every span; nothing raw goes downstream.

    If redacting a span fails (a bug of ours), that span is not exported: a leak is worse than a
    gap. The failure is logged by the caller's internal-error guard.
    """

    def __init__(self, exporter: SpanExporter, redactor: Redactor) -> None:
        self._exporter = exporter
        self._redactor = redactor
        self._resources = RedactedResourceCache(redactor)
        self._guard = handle_internal_errors()

    @property
    def exporter(self) -> SpanExporter:
        return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        redacted = []
        for span in spans:
            with self._guard:  # logs; re-raises under pytest
                redacted.append(
                    redact_readable_span(span, self._redactor, resources=self._resources)
                )
        return self._exporter.export(redacted)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._exporter.shutdown()
