"""Helpers for the end-to-end tests: the demo's spans in a Phoenix project of their own, traces as
the flywheel sees them, and readers for what the flywheel wrote back to Phoenix.

The demo agent's spans are made once per session (``demo_spans``); each test copies them under
fresh ids (Phoenix keys span and trace ids across projects) and exports the copies with the real
OTLP/HTTP exporter.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanContext
from phoenix.client import Client

from otel_flywheel import semconv as sc
from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.model import AgentTrace, Verdict
from otel_flywheel.outbox import Outbox
from otel_flywheel.privacy import build_redactor, redact_span_view
from otel_flywheel.sinks import AnnotationWrite
from otel_flywheel.testing.phoenix import wait_for_spans

WAIT_SECONDS = 120.0


@dataclass
class DemoCopy:
    """The demo's spans under fresh ids in ``project``; traces keyed by the question asked."""

    project: str
    spans: list[ReadableSpan]
    trace_ids: dict[str, str]  # question -> trace id (hex)

    def views(self) -> dict[str, list[SpanView]]:
        grouped: dict[str, list[SpanView]] = {}
        for span in self.spans:
            view = span_view_from_readable(span)
            grouped.setdefault(view.trace_id, []).append(view)
        return grouped

    def traces(self) -> dict[str, AgentTrace]:
        """As the capture worker hands them to the pipeline: redacted, then normalized."""
        redactor = build_redactor()
        by_id = {
            trace_id: normalize_trace([redact_span_view(v, redactor) for v in views])
            for trace_id, views in self.views().items()
        }
        return {question: by_id[trace_id] for question, trace_id in self.trace_ids.items()}

    def span_ids(self, question: str | None = None) -> list[str]:
        spans = self.spans if question is None else self.spans_of(question)
        return [f"{s.context.span_id:016x}" for s in spans if s.context is not None]

    def span_names(self, question: str) -> dict[str, str]:
        return {f"{s.context.span_id:016x}": s.name for s in self.spans_of(question) if s.context}

    def root_span_id(self, question: str) -> str:
        (root,) = [s for s in self.spans_of(question) if s.parent is None]
        assert root.context is not None
        return f"{root.context.span_id:016x}"

    def spans_of(self, question: str) -> list[ReadableSpan]:
        trace_id = int(self.trace_ids[question], 16)
        return [s for s in self.spans if s.context is not None and s.context.trace_id == trace_id]


def copy_demo(
    spans: list[ReadableSpan],
    questions: Mapping[str, str],
    *,
    project: str,
    without_consent: Iterable[str] = (),
) -> DemoCopy:
    """Copies of ``spans`` under fresh ids in ``project``, moved to end now.

    ``questions`` maps each original trace id (hex) to its question. The root spans of the traces
    asked ``without_consent`` carry ``flywheel.consent=false``, as an app sets it for a user who
    opted out of training data.
    """
    ids = RandomIdGenerator()
    new_trace: dict[int, int] = {}
    new_span: dict[int, int] = {}
    no_consent = {
        int(trace_id, 16) for trace_id, q in questions.items() if q in set(without_consent)
    }

    def context(old: SpanContext) -> SpanContext:
        return SpanContext(
            new_trace.setdefault(old.trace_id, ids.generate_trace_id()),
            new_span.setdefault(old.span_id, ids.generate_span_id()),
            is_remote=old.is_remote,
            trace_flags=old.trace_flags,
        )

    shift = time.time_ns() - max(span.end_time or 0 for span in spans) - 1_000_000_000
    resource = Resource.create(
        {"service.name": "support-agent", sc.ResourceAttributes.PROJECT_NAME: project}
    )
    copies = []
    for span in spans:
        assert span.context is not None
        attributes = dict(span.attributes or {})
        if span.parent is None and span.context.trace_id in no_consent:
            attributes[sc.FLYWHEEL_CONSENT] = False
        copies.append(
            ReadableSpan(
                name=span.name,
                context=context(span.context),
                parent=context(span.parent) if span.parent is not None else None,
                resource=resource,
                attributes=attributes,
                events=[
                    Event(e.name, e.attributes, (e.timestamp or 0) + shift) for e in span.events
                ],
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=(span.start_time or 0) + shift,
                end_time=(span.end_time or 0) + shift,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    trace_ids = {q: f"{new_trace[int(t, 16)]:032x}" for t, q in questions.items()}
    return DemoCopy(project=project, spans=copies, trace_ids=trace_ids)


def demo_questions(spans: list[ReadableSpan]) -> dict[str, str]:
    """Original trace id (hex) -> the question its conversation asked."""
    from otel_flywheel.demo._script import SCENARIOS

    by_session: dict[str, str] = {}
    for span in spans:
        assert span.context is not None
        session = (span.attributes or {}).get("session.id")
        if isinstance(session, str):
            by_session[session] = f"{span.context.trace_id:032x}"
    return {
        by_session[scenario.conversation(index).session_id]: scenario.question
        for index, scenario in enumerate(SCENARIOS, start=1)
    }


def export(spans: list[ReadableSpan], *, endpoint: str) -> None:
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=30)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def export_and_wait(spans: list[ReadableSpan], *, base_url: str, project: str) -> None:
    """Export ``spans`` and wait until Phoenix can be queried for every one of them."""
    export(spans, endpoint=f"{base_url}/v1/traces")
    with phoenix(base_url) as client:
        wait_for_spans(
            client,
            project=project,
            min_count=len(spans),
            timeout_seconds=WAIT_SECONDS,
            limit=len(spans) + 100,
        )


@contextmanager
def phoenix(base_url: str) -> Iterator[Client]:
    """A ``phoenix.client.Client`` for ``base_url`` whose connections close on exit."""
    with httpx.Client(base_url=base_url, timeout=60) as http:
        yield Client(http_client=http)


# --- reading back what the flywheel wrote ----------------------------------------------------------


def span_annotations(client: Client, project: str, span_ids: Iterable[str]) -> list[dict[str, Any]]:
    return [
        dict(a)
        for a in client.spans.get_span_annotations(
            span_ids=list(span_ids), project_identifier=project, limit=1000
        )
    ]


def trace_annotations(
    client: Client, project: str, trace_ids: Iterable[str]
) -> list[dict[str, Any]]:
    ids = list(trace_ids)
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"trace_ids": ids, "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        response = client._client.get(f"v1/projects/{project}/trace_annotations", params=params)
        response.raise_for_status()
        body = response.json()
        found += body["data"]
        cursor = body.get("next_cursor")
        if not cursor:
            return found


def dataset_examples(client: Client, dataset: str) -> list[dict[str, Any]]:
    """The examples of ``dataset``; none when it does not exist."""
    try:
        return [dict(e) for e in client.datasets.get_dataset(dataset=dataset).examples]
    except (ValueError, httpx.HTTPStatusError):
        if dataset in {d["name"] for d in client.datasets.list()}:
            raise
        return []


def phoenix_spans(client: Client, project: str, trace_id: str) -> list[dict[str, Any]]:
    return [
        dict(s)
        for s in client.spans.get_spans(
            project_identifier=project, trace_ids=[trace_id], limit=1000
        )
    ]


@dataclass
class VerdictLog:
    """A ``VerdictSink`` that keeps every verdict, next to routing in the pipeline."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        with self._lock:
            self.verdicts[trace.trace_id] = verdict

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


# --- exactly once: what the outbox delivered against what Phoenix holds -----------------------------

ROUTES = ("golden", "regression", "review", "preference")
WriteKey = tuple[str, ...]


def delivered_writes(outbox: Outbox) -> Counter[WriteKey]:
    """One key per write the outbox delivered: (target, id, name, identifier) for annotations,
    (dataset, example id) for examples. Each write key is delivered at most once by design."""
    keys: Counter[WriteKey] = Counter()
    for entry in outbox.list_entries(state="done", limit=100_000):
        write = entry.write
        if isinstance(write, AnnotationWrite):
            keys[(write.target, write.target_id, write.name, write.identifier)] += 1
        else:
            keys[(write.dataset, write.example_id)] += 1
    return keys


def phoenix_writes(
    client: Client, copy: DemoCopy, *, ignore_names: Iterable[str] = ()
) -> Counter[WriteKey]:
    """The same keys for every annotation on ``copy``'s spans and traces and every example of the
    project's datasets, counted: a key seen twice was written twice."""
    ignored = set(ignore_names)
    keys: Counter[WriteKey] = Counter()
    for a in span_annotations(client, copy.project, copy.span_ids()):
        if a["name"] not in ignored:
            keys[("span", a["span_id"], a["name"], a["identifier"])] += 1
    for a in trace_annotations(client, copy.project, copy.trace_ids.values()):
        if a["name"] not in ignored:
            keys[("trace", a["trace_id"], a["name"], a["identifier"])] += 1
    for route in ROUTES:
        dataset = f"{copy.project}/{route}"
        for example in dataset_examples(client, dataset):
            keys[(dataset, example["id"])] += 1
    return keys
