"""``PhoenixSink``: annotations and dataset examples into Arize Phoenix, safe to repeat.

Annotations go out in bulk (``log_span_annotations`` / ``log_trace_annotations``) with
``sync=True``, so that an annotation on a span Phoenix has not ingested yet comes back as 404 and
is retried later instead of vanishing into Phoenix's own 10-minute retry queue. Phoenix rejects
such a batch whole and names the unknown ids; the rest is sent again at once.

Examples go through ``POST /v1/datasets/upload`` with ``action=append`` and our own
``example_ids``. Never ``create_dataset``: on an existing name it replaces the dataset's contents.
``append`` creates a missing dataset and never deletes, and Phoenix matches examples by id, so a
repeated upload (a retry after a crash between Phoenix accepting it and the outbox recording it)
patches the example instead of adding a second one. We call the REST route rather than
``add_examples_to_dataset``, which requires an existing dataset and downloads the whole dataset
after every append.

Phoenix links an example to its source span only when the example is created, and silently leaves
it unlinked when the span is not there yet. So span ids are checked first (GraphQL
``getSpanByOtelId``, which needs no project); an example whose span is missing waits like an
annotation does. Spans seen once are cached (bounded), so the check costs one query per new span.

A span that never shows up (exported elsewhere, or dropped by Phoenix under load) is given up on
after ``span_wait_seconds`` of this sink seeing it missing: its annotations go dead (kept, with
the reason, for ``Outbox.requeue_dead``), its examples are uploaded without the link. The clock
restarts with a new sink, which errs on the side of waiting.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

import httpx

from otel_flywheel._internal import ClosedOnExit
from otel_flywheel._worker import suppressed_instrumentation
from otel_flywheel.errors import ConfigError
from otel_flywheel.phoenix._connection import REQUEST_TIMEOUT_SECONDS, http_of, new_client, timeout
from otel_flywheel.phoenix._dataset_labels import DatasetLabeler
from otel_flywheel.phoenix._example_deletion import ExampleDeletionRefused, delete_examples
from otel_flywheel.phoenix._payloads import (
    annotation_data,
    chunks,
    example_of,
    fill,
    itself,
    json_object,
)
from otel_flywheel.phoenix._presence import Presence, span_lookup_query
from otel_flywheel.phoenix._relink import Relink, current_examples, plan_relinks
from otel_flywheel.phoenix._sink_http import (
    REJECTED_STATUSES,
    failure_outcome,
    malformed_outcome,
    missing_ids,
    response_detail,
)
from otel_flywheel.sinks import AnnotationTarget, AnnotationWrite, ExampleWrite, Write, WriteOutcome

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = ["PhoenixSink"]

logger = logging.getLogger(__name__)

DEFAULT_SPAN_WAIT_SECONDS: Final = 900.0
DEFAULT_NOT_INGESTED_RETRY_SECONDS: Final = 15.0  # Phoenix ingests ~125 spans/s on 2 cores
_SPANS_PER_QUERY: Final = 100

_Item = TypeVar("_Item")


class _Unreachable(Exception):
    """Phoenix could not be reached: every write not yet sent in this call waits too."""

    def __init__(self, outcome: WriteOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


class _Deferred(Exception):
    """Phoenix answered, but this group of writes cannot go now (e.g. the span check failed)."""

    def __init__(self, outcome: WriteOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class _RelinkPlans:
    """The relinked writes of one upload, by key, and the dataset they are in."""

    dataset_id: str | None = None
    by_key: Mapping[str, Relink] = field(default_factory=dict)

    def phoenix_id(self, write: ExampleWrite) -> str:
        plan = self.by_key.get(write.key)
        return plan.phoenix_id if plan is not None else write.example_id

    def __bool__(self) -> bool:
        return bool(self.by_key)


class PhoenixSink(ClosedOnExit):
    """Writes ``AnnotationWrite``s and ``ExampleWrite``s to Phoenix; a ``WriteSink``.

    Args:
        client: a ``phoenix.client.Client`` to use (its HTTP client's timeout applies to
            annotation calls). Default: one built from ``base_url`` / ``api_key``, then
            Phoenix's own variables (``PHOENIX_COLLECTOR_ENDPOINT``, ``PHOENIX_API_KEY``, ...),
            which ``close()`` closes.
        base_url: Phoenix's base URL, e.g. ``http://localhost:6006``.
        api_key: sent as a bearer token.
        timeout_seconds: per request; large uploads need more than phoenix-client's 5 s.
        span_wait_seconds: how long a span may be missing before its writes stop waiting.
        not_ingested_retry_seconds: the least delay before retrying a write whose span or trace
            Phoenix has not ingested yet.
        max_writes_per_request: annotations or examples per HTTP request.
        cache_size: span ids remembered as present (and as missing since when).
        clock: monotonic seconds, for ``span_wait_seconds``.
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        span_wait_seconds: float = DEFAULT_SPAN_WAIT_SECONDS,
        not_ingested_retry_seconds: float = DEFAULT_NOT_INGESTED_RETRY_SECONDS,
        max_writes_per_request: int = 500,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is not None and (base_url is not None or api_key is not None):
            raise ConfigError("pass either client= or base_url=/api_key=, not both")
        for name, value in (
            ("timeout_seconds", timeout_seconds),
            ("not_ingested_retry_seconds", not_ingested_retry_seconds),
            ("max_writes_per_request", max_writes_per_request),
            ("cache_size", cache_size),
        ):
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")
        if not span_wait_seconds >= 0:
            raise ConfigError(f"span_wait_seconds must be >= 0, got {span_wait_seconds!r}")
        self._base_url = base_url
        self._api_key = api_key
        self._timeout_seconds = timeout_seconds
        self._timeout = timeout(timeout_seconds)
        self._span_wait_seconds = span_wait_seconds
        self._not_ingested_retry_seconds = not_ingested_retry_seconds
        self._max_per_request = max_writes_per_request
        self._cache_size = cache_size
        self._clock = clock
        self._owns_client = client is None
        self._client = client if client is not None else self._new_client()
        self._pid = os.getpid()
        self._init_caches()
        self._link_check = True  # off once Phoenix's GraphQL has no getSpanByOtelId

    def _new_client(self) -> Client:
        return new_client(
            self._base_url, api_key=self._api_key, timeout_seconds=self._timeout_seconds
        )

    def _init_caches(self) -> None:
        self._presence = Presence(
            max_entries=self._cache_size, wait_seconds=self._span_wait_seconds, clock=self._clock
        )
        self._labeler = DatasetLabeler(self._http, timeout=self._timeout)

    def _after_fork(self) -> None:
        # In a fork child the parent's pooled connections are not ours to use (or to close), and
        # the cache lock may have been held by a thread that does not exist here.
        self._pid = os.getpid()
        if self._owns_client:
            self._client = self._new_client()
        self._init_caches()

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def _http(self) -> httpx.Client:
        # phoenix-client has no public route for dataset uploads with example ids.
        return http_of(self._client)

    def close(self) -> None:
        """Close the HTTP client, if this sink built it. Idempotent."""
        if self._owns_client:
            self._http.close()

    # --- the WriteSink protocol ------------------------------------------------------------------------

    def write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]:
        """Deliver ``writes``; one outcome per ``write.key``. Never raises for Phoenix's answers."""
        # Our own HTTP calls must not be traced (an httpx instrumentation would export them).
        with suppressed_instrumentation():
            return self._write(writes)

    def _write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]:
        if os.getpid() != self._pid:
            self._after_fork()
        span_annotations: list[AnnotationWrite] = []
        trace_annotations: list[AnnotationWrite] = []
        examples: dict[str, list[ExampleWrite]] = {}
        for write in writes:
            if isinstance(write, ExampleWrite):
                examples.setdefault(write.dataset, []).append(write)
            elif write.target == "span":
                span_annotations.append(write)
            else:
                trace_annotations.append(write)

        groups: list[tuple[Sequence[Write], Callable[[dict[str, WriteOutcome]], None]]] = []
        if span_annotations:
            groups.append((span_annotations, self._annotations_sender("span", span_annotations)))
        if trace_annotations:
            groups.append((trace_annotations, self._annotations_sender("trace", trace_annotations)))
        for dataset, items in examples.items():
            groups.append((items, self._examples_sender(dataset, items)))

        outcomes: dict[str, WriteOutcome] = {}
        unreachable: WriteOutcome | None = None
        for group, send in groups:
            if unreachable is None:
                try:
                    send(outcomes)
                except _Unreachable as error:
                    # The outbox worker logs an outage once, when it begins; not per call.
                    unreachable = error.outcome
                    logger.debug("%s", unreachable.reason)
                except _Deferred as error:
                    fill(outcomes, group, error.outcome)
            if unreachable is not None:
                fill(outcomes, group, unreachable)
        return outcomes

    # --- annotations ------------------------------------------------------------------------------

    def _annotations_sender(
        self, target: AnnotationTarget, writes: list[AnnotationWrite]
    ) -> Callable[[dict[str, WriteOutcome]], None]:
        def send(outcomes: dict[str, WriteOutcome]) -> None:
            for chunk in chunks(writes, self._max_per_request):
                self._annotate(target, chunk, outcomes)

        return send

    def _annotate(
        self,
        target: AnnotationTarget,
        writes: list[AnnotationWrite],
        outcomes: dict[str, WriteOutcome],
    ) -> None:
        try:
            response = self._http.post(
                f"v1/{target}_annotations",
                params={"sync": "true"},  # inserted now, or 404 naming what is not there yet
                json={"data": [annotation_data(write) for write in writes]},
                timeout=self._timeout,
            )
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        if response.status_code == 404:
            absent = missing_ids(response, {write.target_id for write in writes})
            if absent:
                for write in writes:
                    if write.target_id in absent:
                        outcomes[write.key] = self._target_missing(target, write.target_id)
                rest = [write for write in writes if write.target_id not in absent]
                if rest:
                    self._annotate(target, rest, outcomes)
                return
        if response.status_code in REJECTED_STATUSES:
            self._bisect(
                writes,
                itself,
                response,
                outcomes,
                lambda part: self._annotate(target, part, outcomes),
            )
            return
        if not response.is_success:
            fill(outcomes, writes, failure_outcome(response, base_url=self.base_url))
            return
        inserted = json_object(response)
        if inserted is None or not isinstance(inserted.get("data"), list):
            # 200 from something that is not Phoenix: never count that as delivered.
            expected = "Phoenix's JSON list of inserted annotations"
            outcome = malformed_outcome(response, base_url=self.base_url, expected=expected)
            fill(outcomes, writes, outcome)
            return
        fill(outcomes, writes, WriteOutcome.done())
        self._presence.found(target, (write.target_id for write in writes))

    def _target_missing(self, target: AnnotationTarget, target_id: str) -> WriteOutcome:
        if self._presence.missing(target, target_id):
            return WriteOutcome.dead(
                f"{target} {target_id} was not found in Phoenix at {self.base_url} for "
                f"{self._span_wait_seconds:g} s: it was never exported there, or Phoenix dropped "
                "it (ingest queue full); requeue the write (Outbox.requeue_dead) once it is there"
            )
        return WriteOutcome.retry(
            f"{target} {target_id} is not in Phoenix yet (ingest lags behind export)",
            retry_after_seconds=self._not_ingested_retry_seconds,
        )

    # --- dataset examples -------------------------------------------------------------------------

    def _examples_sender(
        self, dataset: str, writes: list[ExampleWrite]
    ) -> Callable[[dict[str, WriteOutcome]], None]:
        def send(outcomes: dict[str, WriteOutcome]) -> None:
            ready = self._with_links(writes, outcomes)
            plans, ready = self._relink_plans(dataset, ready, outcomes)
            for chunk in chunks(ready, self._max_per_request):
                self._upload(dataset, chunk, outcomes, plans)
            if plans:
                self._remove_replaced(dataset, plans, outcomes)

        return send

    def _relink_plans(
        self,
        dataset: str,
        ready: list[tuple[ExampleWrite, str | None]],
        outcomes: dict[str, WriteOutcome],
    ) -> tuple[_RelinkPlans, list[tuple[ExampleWrite, str | None]]]:
        """Where each write that moves its example to another span goes (see ``_relink``), and
        the writes that can go now: the moving ones wait while the dataset cannot be read."""
        moving = [(w, link) for w, link in ready if w.relink and link is not None]
        if not moving:
            return _RelinkPlans(), ready
        try:
            current = current_examples(self._http, dataset, timeout=self._timeout)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        except (httpx.HTTPStatusError, ValueError) as error:
            outcome = self._relink_failure(error, "read the dataset's examples")
            fill(outcomes, [w for w, _ in moving], outcome)
            waiting = {w.key for w, _ in moving}
            return _RelinkPlans(), [item for item in ready if item[0].key not in waiting]
        if current is None:
            return _RelinkPlans(), ready  # no dataset yet: nothing to replace
        return _RelinkPlans(current.dataset_id, plan_relinks(current.examples, moving)), ready

    def _remove_replaced(
        self, dataset: str, plans: _RelinkPlans, outcomes: dict[str, WriteOutcome]
    ) -> None:
        """Remove the examples that uploaded writes replace; a write whose removal fails stays
        in the outbox, and its next attempt finds its own example and removes the rest."""
        done = [
            key
            for key, plan in plans.by_key.items()
            if plan.replaced and outcomes.get(key, WriteOutcome.done()).kind == "done"
        ]
        replaced = sorted({node for key in done for node in plans.by_key[key].replaced})
        if not replaced or plans.dataset_id is None:
            return
        try:
            delete_examples(
                self._http,
                plans.dataset_id,
                replaced,
                description="otel-flywheel: examples moved to the spans of later traces",
                timeout=self._timeout,
            )
        except httpx.TransportError as error:
            outcome = self._unreachable(error).outcome
        except (httpx.HTTPStatusError, ExampleDeletionRefused, ValueError) as error:
            outcome = self._relink_failure(error, "remove the examples it replaces")
        else:
            logger.info("replaced %d examples of %r linked to older spans", len(replaced), dataset)
            return
        for key in done:
            outcomes[key] = outcome

    def _relink_failure(self, error: Exception, step: str) -> WriteOutcome:
        if isinstance(error, httpx.HTTPStatusError):
            outcome = failure_outcome(error.response, base_url=self.base_url)
            return replace(outcome, reason=f"could not {step}: {outcome.reason}")
        return WriteOutcome.failed(f"could not {step} in Phoenix at {self.base_url}: {error}")

    def _with_links(
        self, writes: list[ExampleWrite], outcomes: dict[str, WriteOutcome]
    ) -> list[tuple[ExampleWrite, str | None]]:
        """The writes that can go now, each with the span id to link (``None``: no link)."""
        unknown = self._presence.unknown_spans(w.span_id for w in writes if w.span_id)
        absent = self._absent_spans(unknown)
        ready: list[tuple[ExampleWrite, str | None]] = []
        unlinked: list[str] = []
        for write in writes:
            if write.span_id is None or write.span_id not in absent:
                ready.append((write, write.span_id))
            elif self._presence.missing("span", write.span_id):
                ready.append((write, None))
                unlinked.append(write.example_id)
            else:
                outcomes[write.key] = WriteOutcome.retry(
                    f"span {write.span_id} is not in Phoenix yet, and an example is linked to its "
                    "span only when it is created",
                    retry_after_seconds=self._not_ingested_retry_seconds,
                )
        if unlinked:
            logger.warning(
                "uploading %d examples without their span link: their spans were not found in "
                "Phoenix for %g s (examples %s)",
                len(unlinked),
                self._span_wait_seconds,
                ", ".join(unlinked[:10]),
            )
        return ready

    def _absent_spans(self, span_ids: list[str]) -> set[str]:
        if not span_ids or not self._link_check:
            return set()
        absent: set[str] = set()
        for chunk in chunks(span_ids, _SPANS_PER_QUERY):
            query, variables = span_lookup_query(chunk)
            try:
                response = self._http.post(
                    "graphql", json={"query": query, "variables": variables}, timeout=self._timeout
                )
            except httpx.TransportError as error:
                raise self._unreachable(error) from error
            if response.status_code >= 500 or response.status_code in (401, 403, 408, 429):
                raise _Deferred(failure_outcome(response, base_url=self.base_url))
            body = json_object(response)
            if response.is_success and body is None:
                # A proxy's page, not Phoenix: the examples wait, the check stays on.
                raise _Deferred(
                    malformed_outcome(response, base_url=self.base_url, expected="GraphQL JSON")
                )
            data = body.get("data") if body is not None else None
            if not response.is_success or body is None or body.get("errors") or data is None:
                # Not a Phoenix with this query: upload without checking, as Phoenix would.
                logger.warning(
                    "cannot check whether spans exist in Phoenix at %s (HTTP %d: %s); examples are "
                    "uploaded without waiting for their spans",
                    self.base_url,
                    response.status_code,
                    response_detail(response),
                )
                self._link_check = False
                return set()
            found = {variables[name] for name, value in data.items() if value is not None}
            absent.update(span_id for span_id in chunk if span_id not in found)
            self._presence.found("span", found)
        return absent

    def _upload(
        self,
        dataset: str,
        items: list[tuple[ExampleWrite, str | None]],
        outcomes: dict[str, WriteOutcome],
        plans: _RelinkPlans,
    ) -> None:
        writes = [write for write, _ in items]
        body: dict[str, Any] = {
            "action": "append",  # never "create"/"update": those replace what is there
            "name": dataset,
            "inputs": [write.input for write in writes],
            "outputs": [write.output for write in writes],
            "metadata": [write.metadata for write in writes],
            "splits": [write.splits for write in writes],
            "example_ids": [plans.phoenix_id(write) for write in writes],
        }
        description = next((w.dataset_description for w in writes if w.dataset_description), None)
        if description:
            body["description"] = description  # kept when this upload creates the dataset
        if any(span_id is not None for _, span_id in items):
            body["span_ids"] = [span_id for _, span_id in items]
        try:
            response = self._http.post(
                "v1/datasets/upload", params={"sync": "true"}, json=body, timeout=self._timeout
            )
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        if response.is_success:
            answer = json_object(response)
            if answer is None or not isinstance(answer.get("data"), dict):
                # 200 from something that is not Phoenix: never count that as delivered.
                expected = "Phoenix's JSON upload summary"
                outcome = malformed_outcome(response, base_url=self.base_url, expected=expected)
                fill(outcomes, writes, outcome)
            else:
                fill(outcomes, writes, WriteOutcome.done())
                self._labeler.ensure(dataset, answer, writes[0].dataset_labels)
        elif response.status_code in REJECTED_STATUSES:
            self._bisect(
                items,
                example_of,
                response,
                outcomes,
                lambda part: self._upload(dataset, part, outcomes, plans),
            )
        else:
            fill(outcomes, writes, failure_outcome(response, base_url=self.base_url))

    # --- shared -----------------------------------------------------------------------------------

    def _bisect(
        self,
        items: Sequence[_Item],
        write_of: Callable[[_Item], Write],
        response: httpx.Response,
        outcomes: dict[str, WriteOutcome],
        send: Callable[[list[_Item]], None],
    ) -> None:
        """Phoenix rejected the batch: halve it until the write it rejects stands alone."""
        if len(items) == 1:
            write = write_of(items[0])
            reason = (
                f"Phoenix rejected it (HTTP {response.status_code}): {response_detail(response)}"
            )
            logger.debug("write %s rejected by Phoenix: %s", write.key, reason)
            outcomes[write.key] = WriteOutcome.dead(reason)
            return
        middle = len(items) // 2
        send(list(items[:middle]))
        send(list(items[middle:]))

    def _unreachable(self, error: httpx.TransportError) -> _Unreachable:
        return _Unreachable(
            WriteOutcome.retry(
                f"Phoenix unreachable at {self.base_url}: {type(error).__name__}: {error}"
            )
        )
