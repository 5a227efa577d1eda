"""`FewShotLibrary`: golden examples chosen per request, kept fresh in the background.

On the agent's thread, `FewShotLibrary.select` reads the current index (an immutable snapshot: no
lock, no I/O), scores it against the request (see `_index`), leaves out the request's own user and
session, and records the chosen ids on the current span. Everything slow happens on one daemon
thread: reading the source (Phoenix or a file), rebuilding conversations from traces, the PII
scan, indexing; the new snapshot then replaces the old one in a single assignment.

**Bounded staleness.** The thread reloads every ``refresh_interval_seconds``; when a reload fails
(Phoenix down) the library keeps serving what it has and retries sooner. Past
``max_staleness_seconds`` since the last good load it serves nothing (``skipped="stale"``):
examples erased since (``otel-flywheel purge``) must stop reaching other users' prompts within a
known time.

**Never raises into the agent.** An internal error in ``select`` is logged and answered with an
empty selection (re-raised under pytest, as everywhere in otel-flywheel).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace as trace_api

from otel_flywheel import semconv as sc
from otel_flywheel._internal import ClosedOnExit, handle_internal_errors, reinit_after_fork
from otel_flywheel._worker import Round, WorkerThread
from otel_flywheel.errors import ConfigError
from otel_flywheel.fewshot._build import DEFAULT_ROUTES, LoadReport, build_examples
from otel_flywheel.fewshot._example import FewShotExample, FewShotSelection
from otel_flywheel.fewshot._index import EmbeddingFunction, ExampleIndex
from otel_flywheel.fewshot._sources import ExamplesFileSource, FewShotSource

if TYPE_CHECKING:
    from otel_flywheel.privacy import Redactor

__all__ = ["FewShotLibrary", "FewShotStats"]

logger = logging.getLogger(__name__)

DEFAULT_K: Final = 3
DEFAULT_REFRESH_INTERVAL_SECONDS: Final = 300.0
DEFAULT_MAX_STALENESS_SECONDS: Final = 3600.0
RETRY_SECONDS: Final = 30.0  # after a failed load, at most this long before the next try
_PSEUDONYM: Final = re.compile(r"^<USER:[0-9a-f]{8}>$")
_PSEUDONYM_CACHE_SIZE: Final = 4096


@dataclass(frozen=True, kw_only=True)
class FewShotStats:
    """How the library is doing: what it holds, how fresh, and what it served."""

    source: str
    examples: int
    left_out: Mapping[str, int] = field(default_factory=dict)
    loaded_at: float | None = None  # time.time() of the last good load
    age_seconds: float | None = None
    loads: int = 0
    load_failures: int = 0
    last_error: str | None = None
    selections: int = 0
    served: int = 0  # selections that returned at least one example
    skipped: Mapping[str, int] = field(default_factory=dict)  # not_ready, stale, error


@dataclass(frozen=True)
class _Snapshot:
    index: ExampleIndex
    loaded_at: float  # time.monotonic()
    loaded_at_wall: float  # time.time()
    report: LoadReport


class FewShotLibrary(ClosedOnExit):
    """The k golden examples most like a request, as chat messages (see the module docstring).

    Build it with `from_phoenix`, `from_file` or `from_examples`, or give any `FewShotSource`.

    - ``k``: examples per request (``select(k=...)`` overrides);
    - ``min_score``: only examples scoring above it (BM25 0: sharing no word with the request);
    - ``max_overlap``: two chosen examples share fewer word 3-shingles than this (Jaccard);
    - ``embed``: your embedding function (texts -> vectors) instead of BM25; ``lexical_weight``
      mixes BM25 back in (0..1);
    - ``routes``, ``require_consent``, ``scan_pii``: which examples may be shown (`_build`);
    - ``redactor``: turns the request's raw user and session ids into what traces store (the
      capture path's pseudonyms, ``build_redactor()`` by default; ``None`` compares them as given);
    - ``refresh_interval_seconds``, ``max_staleness_seconds``: see the module docstring;
    - ``start``: load in the background now (``False``: call `refresh` yourself).
    """

    def __init__(
        self,
        source: FewShotSource | None = None,
        *,
        examples: Sequence[FewShotExample] | None = None,
        k: int = DEFAULT_K,
        min_score: float = 0.0,
        max_overlap: float = 0.6,
        embed: EmbeddingFunction | None = None,
        lexical_weight: float = 0.0,
        routes: Sequence[str] = DEFAULT_ROUTES,
        require_consent: bool = False,
        scan_pii: bool = True,
        redactor: Redactor | bool | None = True,
        refresh_interval_seconds: float = DEFAULT_REFRESH_INTERVAL_SECONDS,
        max_staleness_seconds: float = DEFAULT_MAX_STALENESS_SECONDS,
        start: bool = True,
    ) -> None:
        if (source is None) == (examples is None):
            raise ConfigError("give a FewShotLibrary a source or examples, one of the two")
        _check(k >= 1, f"k must be at least 1, got {k}")
        _check(0.0 < max_overlap <= 1.0, f"max_overlap must be within (0, 1], got {max_overlap}")
        _check(
            0.0 <= lexical_weight <= 1.0,
            f"lexical_weight must be within [0, 1], got {lexical_weight}",
        )
        _check(
            refresh_interval_seconds > 0,
            f"refresh_interval_seconds must be positive, got {refresh_interval_seconds}",
        )
        _check(
            max_staleness_seconds >= refresh_interval_seconds,
            f"max_staleness_seconds ({max_staleness_seconds}) must be at least "
            f"refresh_interval_seconds ({refresh_interval_seconds}), or every example would go "
            "stale between two loads",
        )
        self.source = source
        self.k = k
        self.min_score = min_score
        self.max_overlap = max_overlap
        self.refresh_interval_seconds = refresh_interval_seconds
        self.max_staleness_seconds = max_staleness_seconds
        self._embed = embed
        self._lexical_weight = lexical_weight
        self._routes = tuple(routes)
        self._require_consent = require_consent
        self._scan_pii = scan_pii
        self._pseudonyms = _Pseudonyms(redactor)
        self._guard = handle_internal_errors()
        # Guards the counters and the snapshot's replacement; `select` reads the snapshot
        # reference without it (one attribute read), never calls out while holding it.
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._counts: Counter[str] = Counter()
        self._last_error: str | None = None
        # The next reload: at once, then every refresh interval, sooner after a failed load.
        self._next_wait = 0.0
        self._worker = WorkerThread(
            "otel-flywheel-fewshot", self._reload, interval_seconds=lambda: self._next_wait
        )
        if examples is not None:
            self._install(list(examples), LoadReport(kept=len(examples), sources=("given",)))
        elif start:
            self._worker.start()
        reinit_after_fork(self._after_fork)

    # --- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_phoenix(
        cls,
        datasets: str | Sequence[str],
        *,
        phoenix_url: str | None = None,
        routing_store: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> FewShotLibrary:
        """Examples from Phoenix datasets (``"support-agent/golden"``), reloaded in the
        background; ``options`` as for the constructor."""
        from otel_flywheel.fewshot._phoenix import PhoenixDatasetsSource

        names = [datasets] if isinstance(datasets, str) else list(datasets)
        source = PhoenixDatasetsSource(names, phoenix_url=phoenix_url, routing_store=routing_store)
        return cls(source, **options)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        routing_store: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> FewShotLibrary:
        """Examples from an ``otel-flywheel export evals`` file, with source traces from the
        local routing store; reloaded in the background as the file changes."""
        return cls(ExamplesFileSource(path, routing_store=routing_store), **options)

    @classmethod
    def from_examples(cls, examples: Sequence[FewShotExample], **options: Any) -> FewShotLibrary:
        """A fixed set of examples (never reloaded, never stale)."""
        return cls(examples=examples, **options)

    # --- the agent's thread ---------------------------------------------------------------------

    def select(
        self,
        request: str,
        *,
        k: int | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        exclude_ids: Collection[str] = (),
        span: trace_api.Span | None = None,
    ) -> FewShotSelection:
        """The examples most like ``request``, never of ``user_id`` or ``session_id`` (raw or as
        traces store them), nor ``exclude_ids``; their ids are recorded on ``span`` (default:
        the current span) as ``flywheel.fewshot.example_ids``."""
        with self._guard:
            selection = self._select(request, k, user_id, session_id, exclude_ids)
            self._record(selection, span)
            return selection
        with self._lock:
            self._counts["skipped:error"] += 1
        return FewShotSelection(skipped="error")

    def _select(
        self,
        request: str,
        k: int | None,
        user_id: str | None,
        session_id: str | None,
        exclude_ids: Collection[str],
    ) -> FewShotSelection:
        snapshot = self._snapshot
        skipped = None
        if snapshot is None:
            skipped = "not_ready"
        elif (
            self.source is not None
            and time.monotonic() - snapshot.loaded_at > self.max_staleness_seconds
        ):
            skipped = "stale"
        if skipped is not None or snapshot is None:
            with self._lock:
                self._counts["selections"] += 1
                self._counts[f"skipped:{skipped}"] += 1
            return FewShotSelection(skipped=skipped)
        found = snapshot.index.search(
            request,
            k=self.k if k is None else k,
            exclude_users=self._pseudonyms.users(user_id),
            exclude_sessions=self._pseudonyms.sessions(session_id),
            exclude_ids=exclude_ids,
            min_score=self.min_score,
            max_overlap=self.max_overlap,
        )
        with self._lock:
            self._counts["selections"] += 1
            self._counts["served"] += bool(found)
        return FewShotSelection(examples=found)

    def _record(self, selection: FewShotSelection, span: trace_api.Span | None) -> None:
        target = span if span is not None else trace_api.get_current_span()
        if target.is_recording():
            target.set_attribute(sc.FLYWHEEL_FEWSHOT_EXAMPLE_IDS, list(selection.example_ids))

    # --- loading ----------------------------------------------------------------------------------

    def refresh(self) -> LoadReport:
        """Load the source now, on this thread; raises what the source raises (the library then
        keeps what it had)."""
        if self.source is None:
            snapshot = self._snapshot
            assert snapshot is not None
            return snapshot.report
        try:
            loaded = self.source.load()
            scanner = None
            if self._scan_pii:
                from otel_flywheel.export import pii_scanner

                scanner = pii_scanner()
            examples, left_out = build_examples(
                loaded, routes=self._routes, require_consent=self._require_consent, scanner=scanner
            )
            report = LoadReport(
                kept=len(examples), left_out=dict(left_out), sources=(self.source.description,)
            )
            self._install(examples, report)
        except Exception as exc:
            with self._lock:
                self._counts["load_failures"] += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
            raise
        if left_out:
            logger.info(
                "few-shot library: %d examples from %s; left out %s",
                len(examples),
                self.source.description,
                dict(left_out),
            )
        return report

    def wait_ready(self, timeout_seconds: float) -> bool:
        """Block until a first load succeeded (True) or ``timeout_seconds`` passed (False)."""
        deadline = time.monotonic() + timeout_seconds
        while self._snapshot is None:
            if time.monotonic() >= deadline or self._worker.stop_requested:
                return False
            time.sleep(0.02)
        return True

    def _install(self, examples: list[FewShotExample], report: LoadReport) -> None:
        index = ExampleIndex(examples, embed=self._embed, lexical_weight=self._lexical_weight)
        snapshot = _Snapshot(index, time.monotonic(), time.time(), report)
        with self._lock:
            self._snapshot = snapshot  # the one assignment readers see
            self._counts["loads"] += 1
            self._last_error = None

    def _reload(self, round_: Round) -> None:
        if round_.final:
            return  # closing: the examples loaded stay
        try:
            self.refresh()
            self._next_wait = self.refresh_interval_seconds
        except Exception as exc:
            # The source being down is expected: say so once per try, keep the old snapshot.
            logger.warning(
                "few-shot library: cannot load %s (%s: %s); keeping %d examples, retrying",
                self.source.description if self.source else "examples",
                type(exc).__name__,
                exc,
                len(self._snapshot.index) if self._snapshot else 0,
            )
            self._next_wait = min(self.refresh_interval_seconds, RETRY_SECONDS)

    def _after_fork(self) -> None:
        # A child has no threads and may hold a copy of a lock taken mid-operation.
        self._lock = threading.Lock()
        self._next_wait = 0.0
        self._worker.reset_after_fork()

    # --- lifecycle ------------------------------------------------------------------------------

    def close(self, timeout_seconds: float = 5.0) -> None:
        """Stop reloading (idempotent); the examples loaded stay available to `select`."""
        self._worker.stop(time.monotonic() + timeout_seconds)

    @property
    def stats(self) -> FewShotStats:
        with self._lock:
            snapshot = self._snapshot
            counts = Counter(self._counts)
            last_error = self._last_error
        skipped = {
            key.split(":", 1)[1]: value
            for key, value in counts.items()
            if key.startswith("skipped:") and value
        }
        return FewShotStats(
            source=self.source.description if self.source is not None else "given examples",
            examples=len(snapshot.index) if snapshot else 0,
            left_out=dict(snapshot.report.left_out) if snapshot else {},
            loaded_at=snapshot.loaded_at_wall if snapshot else None,
            age_seconds=time.monotonic() - snapshot.loaded_at if snapshot else None,
            loads=counts["loads"],
            load_failures=counts["load_failures"],
            last_error=last_error,
            selections=counts["selections"],
            served=counts["served"],
            skipped=skipped,
        )

    @property
    def examples(self) -> tuple[FewShotExample, ...]:
        snapshot = self._snapshot
        return snapshot.index.examples if snapshot else ()


class _Pseudonyms:
    """A request's user and session ids in every form an example may hold them: as given, and
    as capture stores them (``user.id`` pseudonymized, ``session.id`` redacted)."""

    def __init__(self, redactor: Redactor | bool | None) -> None:
        if redactor is True:
            from otel_flywheel.privacy import build_redactor

            redactor = build_redactor()
        self._redactor: Redactor | None = redactor or None
        self._lock = threading.Lock()  # guards _cache (a bounded LRU)
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    def users(self, value: str | None) -> tuple[str, ...]:
        if not value:
            return ()
        if _PSEUDONYM.match(value):
            return (value,)
        return (value, self._redacted(sc.SpanAttributes.USER_ID, value))

    def sessions(self, value: str | None) -> tuple[str, ...]:
        if not value:
            return ()
        return (value, self._redacted(sc.SpanAttributes.SESSION_ID, value))

    def _redacted(self, key: str, value: str) -> str:
        if self._redactor is None:
            return value
        with self._lock:
            cached = self._cache.get((key, value))
            if cached is not None:
                self._cache.move_to_end((key, value))
                return cached
        from otel_flywheel.privacy import RedactionAudit

        redacted = self._redactor.redact_attribute(key, value, RedactionAudit())
        result = redacted if isinstance(redacted, str) else value
        with self._lock:
            self._cache[(key, value)] = result
            if len(self._cache) > _PSEUDONYM_CACHE_SIZE:
                self._cache.popitem(last=False)
        return result


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(f"FewShotLibrary: {message}")
