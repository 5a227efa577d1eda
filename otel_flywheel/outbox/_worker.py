"""``OutboxWorker``: a background thread that delivers an ``Outbox`` into a ``WriteSink``.

Every ``interval_millis`` the worker ("otel-flywheel-outbox") claims the writes that are due, in
batches of ``batch_size`` leased for ``lease_seconds`` (so that another worker on the same file,
say in a forked child, does not send them too), hands each batch to the sink and records the
outcomes in one transaction: ``done``; ``retry`` after exponential backoff with jitter (never sooner
than the sink's ``retry_after_seconds``, e.g. a ``Retry-After``), for as long as it takes;
``failed`` the same way, but after ``max_failed_attempts`` of those in a row the write is dead
(a malformed answer or refused credentials will not fix themselves); ``dead`` with the sink's
reason. When a whole batch comes back ``retry`` or ``failed`` (Phoenix is down), the worker stops
calling the sink until the shortest of those delays has passed, instead of sending every other
due batch into the same wall. An outage is logged once when it begins and once when it ends
(``_outage``), never per batch; dead writes once per batch, with their count.

Lifecycle (the OTel contract):

- ``force_flush(timeout_millis)`` delivers everything put so far: each pending write is tried at
  once whatever its backoff, and writes told to retry are tried again when due, until none of them
  is pending or the deadline comes. Returns whether none is left pending. The caller only waits;
  the worker thread does the work (inline on the caller's thread if ``start()`` was not called).
- ``shutdown(timeout_millis)`` makes one last pass over the pending writes, then stops the thread.
  Idempotent. Whatever is still pending stays in the outbox for the next worker: nothing is lost.
- After ``os.fork()`` a started worker starts afresh in the child (``os.register_at_fork``).

The worker never raises into the host: a sink that raises is logged and its batch retried; an
error in our own code is logged, kept, and re-raised under pytest by the next ``force_flush`` or
``shutdown``, as ``FlywheelSpanProcessor`` does. Instrumentation is suppressed on the worker's
thread, so the sink's HTTP calls are not traced.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from otel_flywheel._internal import reinit_after_fork
from otel_flywheel._worker import Round, WorkerThread, suppressed_instrumentation
from otel_flywheel.errors import ConfigError
from otel_flywheel.outbox._outage import OutageLog
from otel_flywheel.outbox._store import Outbox, OutboxClosedError, OutboxEntry
from otel_flywheel.sinks import WriteOutcome, WriteSink

__all__ = ["DeliveryCount", "OutboxWorker"]

logger = logging.getLogger(__name__)

DeliveryCount = Literal["done", "retry", "failed", "dead", "sink_error"]

WORKER_THREAD_NAME: Final = "otel-flywheel-outbox"
_PRUNE_INTERVAL_SECONDS: Final = 3600.0
_MAX_BACKOFF_EXPONENT: Final = 62  # 2**62 * any sane initial delay is past every cap


class OutboxWorker:
    """Delivers ``outbox`` into ``sink`` on a background thread; call ``start()``.

    Args:
        batch_size: writes per ``sink.write`` call.
        interval_millis: how often the worker looks for due writes.
        initial_backoff_seconds: the delay after a first failure; it doubles with each further
            failure of the same write, up to ``max_backoff_seconds``. The actual delay is drawn
            from the upper half of that (jitter), so that writes that failed together spread out.
        max_backoff_seconds: the longest delay the worker chooses (a sink's Retry-After may ask
            for more, and gets it).
        lease_seconds: how long a claimed batch is reserved for this worker; longer than a sink
            call may take. A worker that dies mid-batch delays those writes by this much.
        max_failed_attempts: ``failed`` outcomes of one write (in a row, for its current content)
            after which it is dead. With the default backoff, 10 take 4 to 9 minutes.
        rng: the jitter's random source (tests pass a seeded one).
    """

    def __init__(
        self,
        outbox: Outbox,
        sink: WriteSink,
        *,
        batch_size: int = 100,
        interval_millis: int = 1000,
        initial_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        lease_seconds: float = 300.0,
        max_failed_attempts: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        for name, value in (
            ("batch_size", batch_size),
            ("interval_millis", interval_millis),
            ("initial_backoff_seconds", initial_backoff_seconds),
            ("max_backoff_seconds", max_backoff_seconds),
            ("lease_seconds", lease_seconds),
            ("max_failed_attempts", max_failed_attempts),
        ):
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")
        if max_backoff_seconds < initial_backoff_seconds:
            raise ConfigError(
                f"max_backoff_seconds ({max_backoff_seconds}) must be >= "
                f"initial_backoff_seconds ({initial_backoff_seconds})"
            )
        self._outbox = outbox
        self._sink = sink
        self._sink_name = type(sink).__qualname__
        self._batch_size = batch_size
        self._interval_seconds = interval_millis / 1000
        self._initial_backoff = initial_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._lease_seconds = lease_seconds
        self._max_failed_attempts = max_failed_attempts
        self._rng = rng if rng is not None else random.Random()
        self.outage = OutageLog(self._sink_name)
        # Written by whichever thread delivers (the worker, or a caller flushing inline under
        # _inline_lock); read by anyone. Fixed keys, so readers can copy it during increments.
        self._counts: dict[DeliveryCount, int] = dict.fromkeys(
            ("done", "retry", "failed", "dead", "sink_error"), 0
        )
        self._inline_lock = threading.Lock()  # one inline flush at a time when not started
        self._worker = WorkerThread(
            WORKER_THREAD_NAME, self._round, interval_seconds=interval_millis / 1000
        )
        self._init_state()
        reinit_after_fork(self._at_fork_reinit)

    def _init_state(self) -> None:
        # The worker thread's own state (or an inline flush's, under _inline_lock).
        self._paused_until = 0.0  # monotonic
        self._next_prune = 0.0  # monotonic
        self._warned_closed = False

    def _at_fork_reinit(self) -> None:
        # The child has no worker thread and may have copied a lock held mid-operation.
        self._inline_lock = threading.Lock()
        self._init_state()
        self._worker.reset_after_fork()

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread. Idempotent; a no-op after ``shutdown()``."""
        self._worker.start()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver every write put so far, retrying as they come due, until ``timeout_millis``.

        True when none of them is pending any more (each is done or dead). Without ``start()``,
        the caller's thread delivers them.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        if self._worker.stop_requested:
            return False
        if self._worker.started:
            flushed = self._worker.flush(deadline)
        else:
            flushed = self._flush_inline(deadline, wait_for_retries=True)
        self._worker.errors.reraise_under_pytest()
        return flushed

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Try the pending writes once more, then stop. Idempotent. Pending writes stay queued."""
        if self._worker.stop_requested:
            return
        if not self._worker.stop(time.monotonic() + timeout_millis / 1000):
            logger.warning(
                "outbox worker did not stop within %d ms (the sink %s is slow); its writes "
                "stay in %s for the next start",
                timeout_millis,
                self._sink_name,
                self._outbox.path,
            )
        self._worker.errors.reraise_under_pytest()

    @property
    def counts(self) -> Mapping[DeliveryCount, int]:
        """Writes delivered (``done``), rescheduled (``retry``, ``failed``), given up on (``dead``)
        so far, and how often the sink raised (``sink_error``)."""
        return MappingProxyType(dict(self._counts))

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    # --- the worker thread ------------------------------------------------------------------------

    def _round(self, round_: Round) -> None:
        try:
            if round_.final:
                self._flush(round_.deadline, wait_for_retries=False)
            elif round_.flushes:
                flushed = self._flush(round_.deadline, wait_for_retries=True)
                for request in round_.flushes:
                    request.flushed = flushed
            else:
                self._deliver_due()
                self._prune_now_and_then()
        except OutboxClosedError:
            for request in round_.flushes:
                request.flushed = False
            self._warn_outbox_closed()

    def _warn_outbox_closed(self) -> None:
        # Closing the outbox before its worker is the caller's mistake, not our bug: say so once.
        if not self._warned_closed:
            self._warned_closed = True
            logger.warning(
                "outbox %s was closed before its worker was shut down; shut the worker down "
                "first. Its writes wait in the file for the next worker.",
                self._outbox.path,
            )

    def _flush_inline(self, deadline: float, *, wait_for_retries: bool) -> bool:
        with suppressed_instrumentation(), self._inline_lock, self._worker.errors.guard:
            try:
                return self._flush(deadline, wait_for_retries=wait_for_retries)
            except OutboxClosedError:
                self._warn_outbox_closed()
        return False  # the outbox was closed, or our own error (logged, kept)

    def _deliver_due(self) -> None:
        """Deliver due writes, batch after batch, unless the sink is paused or we are stopping."""
        while not self._worker.stopping.is_set() and time.monotonic() >= self._paused_until:
            entries = self._claim()
            if not entries:
                return
            self._deliver(entries)
            if len(entries) < self._batch_size or self._worker.flush_waiting:
                return  # all caught up, or a caller waits for a flush: serve it first

    def _flush(self, deadline: float, *, wait_for_retries: bool) -> bool:
        """Try every write pending now; then, if asked, retry them as they come due. True when
        none of them is pending any more."""
        last_seq = self._outbox.last_seq()
        after_seq = 0
        while time.monotonic() < deadline:  # first pass: each pending write once, backoff or not
            entries = self._claim(now=math.inf, max_seq=last_seq, after_seq=after_seq)
            if not entries:
                break
            after_seq = entries[-1].seq
            if self._deliver(entries) is not None:
                break  # the sink is down: the other writes would only fail the same way
        while wait_for_retries and not self._worker.stopping.is_set():
            earliest = self._outbox.earliest_claimable(max_seq=last_seq)
            if earliest is None:
                return True
            wait_seconds = max(
                0.0,
                earliest - self._outbox.clock(),  # a backoff, or another worker's lease
                self._paused_until - time.monotonic(),  # the sink said it is down: let it be
            )
            remaining = deadline - time.monotonic()
            # A backoff that ends after the deadline will not end sooner; another worker's lease
            # ends as soon as that worker records its outcome, so keep looking until the deadline.
            if wait_seconds >= remaining and not self._outbox.leased(max_seq=last_seq):
                return False
            if self._worker.stopping.wait(
                max(0.0, min(wait_seconds, remaining, self._interval_seconds))
            ):
                break
            if time.monotonic() >= deadline:
                break
            entries = self._claim(max_seq=last_seq)
            if entries:
                self._deliver(entries)
        return self._outbox.earliest_claimable(max_seq=last_seq) is None

    def _claim(
        self, *, now: float | None = None, max_seq: int | None = None, after_seq: int | None = None
    ) -> list[OutboxEntry]:
        return self._outbox.claim(
            limit=self._batch_size,
            lease_seconds=self._lease_seconds,
            now=now,
            max_seq=max_seq,
            after_seq=after_seq,
        )

    def _deliver(self, entries: list[OutboxEntry]) -> float | None:
        """Hand ``entries`` to the sink and record the outcomes. Returns the pause, in seconds,
        when the sink delivered none of them (it is down, or something else answers); else
        ``None``."""
        raised: Exception | None = None
        try:
            outcomes = self._sink.write([entry.write for entry in entries])
        except Exception as error:
            # A failing sink is a failing component, not our bug: count, retry the batch, and
            # log it with the outage (its traceback once, when the outage begins).
            raised = error
            self._counts["sink_error"] += 1
            outcomes = {}
            failure = WriteOutcome.retry(
                f"sink {self._sink_name} raised {type(error).__name__}: {error}"
            )
        else:
            failure = WriteOutcome.retry(f"sink {self._sink_name} returned no outcome for it")
        done: list[OutboxEntry] = []
        retry: list[tuple[OutboxEntry, str, float]] = []
        failed: list[tuple[OutboxEntry, str, float]] = []
        dead: list[tuple[OutboxEntry, str]] = []
        rejected = 0
        for entry in entries:
            outcome = outcomes.get(entry.key, failure)
            if outcome.kind == "done":
                done.append(entry)
            elif outcome.kind == "dead":
                dead.append((entry, outcome.reason))
                rejected += 1
            elif outcome.kind == "failed" and entry.failures + 1 >= self._max_failed_attempts:
                attempts = entry.failures + 1
                dead.append((entry, f"{outcome.reason} (failed {attempts} times in a row)"))
            else:
                delay = self._backoff(entry.attempts + 1, outcome.retry_after_seconds)
                (failed if outcome.kind == "failed" else retry).append(
                    (entry, outcome.reason, delay)
                )
        self._outbox.mark_many(done=done, retry=retry, failed=failed, dead=dead)
        self._counts["done"] += len(done)
        self._counts["retry"] += len(retry)
        self._counts["failed"] += len(failed)
        self._counts["dead"] += len(dead)
        if dead:
            logger.warning(
                "%d outbox writes are dead (kept; `otel-flywheel outbox status` lists them, "
                "`otel-flywheel outbox retry` requeues them): %s",
                len(dead),
                dead[0][1],
            )
        if done or rejected:
            self.outage.delivered()  # the sink answered as it should, even if it said no
            return None
        waiting = retry + failed
        reason = waiting[0][1] if waiting else dead[0][1]
        self.outage.failed(reason, writes=len(entries), error=raised)
        if not waiting:
            return None
        pause = min(delay for _, _, delay in waiting)
        self._paused_until = time.monotonic() + pause
        logger.debug("pausing deliveries to %s for %.1f s", self._sink_name, pause)
        return pause

    def _backoff(self, attempts: int, retry_after_seconds: float | None) -> float:
        """Exponential in ``attempts``, capped, from the upper half (equal jitter): it grows with
        every failure and spreads writes that failed together. Never below ``retry_after``."""
        exponent = min(attempts - 1, _MAX_BACKOFF_EXPONENT)
        ceiling = min(self._max_backoff, self._initial_backoff * 2.0**exponent)
        delay = ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)
        return max(delay, retry_after_seconds or 0.0)

    def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_INTERVAL_SECONDS
        pruned = self._outbox.prune_done()
        if pruned:
            logger.debug("outbox %s: pruned %d delivered writes", self._outbox.path, pruned)
