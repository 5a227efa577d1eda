"""One engine for otel-flywheel's background work: a worker thread, an event-loop thread, kept errors.

Four parts of otel-flywheel work off the caller's thread: the capture worker (spans -> traces), the
ingest worker of ``serve`` (spool -> traces), the outbox worker (writes -> Phoenix) and the
evaluation pipeline (an asyncio loop for the judge). They share one lifecycle, written once here, as
the OTel SDK's span and log processors share its ``BatchProcessor``:

- `WorkerThread`: a daemon thread that wakes when poked (``wake``) or every ``interval_seconds`` and
  runs one `Round` of its owner's work with OTel instrumentation suppressed, so that our own HTTP
  calls are never traced back into the flywheel;
- ``flush(deadline)`` asks for a round that hands over everything received so far and waits for it
  until the deadline; ``stop(deadline)`` is idempotent: one final round, then the thread ends. A
  flush that races with the end is answered "not flushed", never left waiting;
- `LoopThread`: an asyncio event loop on a daemon thread, started on first use, for work that waits
  on many remote calls at once (the judge);
- `KeptErrors`: an error in our own code on a worker is logged with its traceback and kept; the next
  ``flush`` or ``stop`` on the caller's thread re-raises it under pytest, so a test fails loudly while
  a host application never sees it (see ``handle_internal_errors``);
- fork safety: both threads have a ``reset_after_fork`` for their owner's ``reinit_after_fork`` hook.
  A child has no threads, and may hold a copy of a lock taken mid-operation: it starts afresh.

The owners keep what differs: what a round does, their queues, and their counters.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

from otel_flywheel._internal import handle_internal_errors, running_under_pytest

__all__ = [
    "DropWarning",
    "FlushRequest",
    "KeptErrors",
    "LoopThread",
    "Round",
    "WorkerThread",
    "suppressed_instrumentation",
]

_T = TypeVar("_T")

DEFAULT_MAX_KEPT_ERRORS = 10
DEFAULT_DROP_WARNING_INTERVAL_SECONDS = 60.0


@contextmanager
def suppressed_instrumentation() -> Iterator[None]:
    """Within the block, OTel instrumentations create no spans (as the SDK's exporters do).

    Works in threads and in coroutines alike: the flag lives in the current OTel context.
    """
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        detach(token)


class KeptErrors:
    """Errors in our own code that a worker survived, for the caller's thread to see.

    ``guard`` is a reusable context manager: it logs an ``Exception`` from its block with the
    traceback, keeps it (at most ``limit`` of them) and swallows it, so the worker goes on.
    ``reraise_under_pytest`` raises the first kept error, once, while pytest runs a test.
    """

    __slots__ = ("_errors", "_limit", "_lock", "_on_keep", "guard")

    def __init__(
        self,
        *,
        limit: int = DEFAULT_MAX_KEPT_ERRORS,
        on_keep: Callable[[Exception], None] | None = None,
    ) -> None:
        self._limit = limit
        self._on_keep = on_keep
        self._lock = threading.Lock()  # guards _errors
        self._errors: list[Exception] = []
        self.guard = handle_internal_errors(on_error=self.keep)

    def keep(self, error: Exception) -> None:
        if self._on_keep is not None:
            self._on_keep(error)
        with self._lock:
            if len(self._errors) < self._limit:
                self._errors.append(error)

    def snapshot(self) -> list[Exception]:
        with self._lock:
            return list(self._errors)

    def reraise_under_pytest(self) -> None:
        if not running_under_pytest():
            return
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0]

    def reset(self) -> None:
        """Forget what was kept and start with a fresh lock (in a fork child)."""
        self._lock = threading.Lock()
        self._errors = []


class DropWarning:
    """A warning that a worker lost work, with the fix, logged at most once per interval.

    Drops are counted always (the owners' metrics); the log says so when the count grew since it
    last spoke, so a sustained overload is one line a minute, not one per drop. Not thread-safe:
    call ``maybe_log`` from one thread, or under the owner's lock.
    """

    __slots__ = ("_interval", "_logger", "_message", "_next", "_warned")

    def __init__(
        self,
        logger: logging.Logger,
        message: str,
        *,
        interval_seconds: float = DEFAULT_DROP_WARNING_INTERVAL_SECONDS,
    ) -> None:
        self._logger = logger
        self._message = message  # "%d" for the total, "%s" for the counts by reason
        self._interval = interval_seconds
        self._warned = 0
        self._next = 0.0

    def maybe_log(self, counts: Mapping[str, int]) -> None:
        """Log when the total of ``counts`` grew since the last warning and the interval passed."""
        lost = sum(counts.values())
        if lost == self._warned or time.monotonic() < self._next:
            return
        by_reason = ", ".join(f"{reason}={count}" for reason, count in counts.items() if count)
        self._logger.warning(self._message, lost, by_reason)
        self._warned = lost
        self._next = time.monotonic() + self._interval


@dataclass(eq=False)
class FlushRequest:
    """A caller waiting until everything received so far has been handed over."""

    deadline: float  # time.monotonic()
    done: threading.Event = field(default_factory=threading.Event)
    flushed: bool = True  # a round that could not hand everything over in time sets it False


@dataclass(frozen=True)
class Round:
    """What one wake-up of a `WorkerThread` is asked to do.

    ``final``: the last round; the thread ends after it. ``flushes``: callers waiting for this round
    (a round that cannot finish sets their ``flushed`` to False). ``deadline``: by when the round
    should be done (the stop's, or the latest flush's; infinity for an ordinary tick).
    """

    final: bool
    flushes: tuple[FlushRequest, ...]
    deadline: float

    @property
    def flush(self) -> bool:
        """Hand over everything now: a flush was asked for, or this is the final round."""
        return self.final or bool(self.flushes)

    def remaining_seconds(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class WorkerThread:
    """A daemon thread that runs ``run_round(Round)`` when woken or every ``interval_seconds``.

    ``interval_seconds`` may be a callable, asked before each wait (a worker that retries sooner
    after a failure). ``run_round`` runs under ``errors.guard`` (a bug of ours is logged and kept,
    the thread goes on) and with instrumentation suppressed. Nothing runs until ``start()``.
    """

    def __init__(
        self,
        name: str,
        run_round: Callable[[Round], None],
        *,
        interval_seconds: float | Callable[[], float],
        errors: KeptErrors | None = None,
    ) -> None:
        self._name = name
        self._run_round = run_round
        self._interval = (
            interval_seconds if callable(interval_seconds) else (lambda: interval_seconds)
        )
        self.errors = errors if errors is not None else KeptErrors()
        self._init_state(started=False, stop_requested=False)

    def _init_state(self, *, started: bool, stop_requested: bool) -> None:
        # Guards _started, _stop_requested, _stop_deadline, _ended and _flushes. Never held while
        # a round runs or while anyone waits.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        if stop_requested:
            self._stopping.set()
        self._started = started
        self._stop_requested = stop_requested
        self._stop_deadline = math.inf
        self._ended = False  # the thread has exited: no flush request is served any more
        self._flushes: list[FlushRequest] = []
        self._thread = threading.Thread(name=self._name, target=self._run, daemon=True)

    # --- the owner's side -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread. Idempotent; a no-op once ``stop`` was called."""
        with self._lock:
            if self._started or self._stop_requested:
                return
            self._started = True
        self._thread.start()

    def wake(self) -> None:
        """Run a round now rather than at the next tick. Cheap when a wake-up is pending already.

        ``Event.set`` takes a lock and notifies; a hot path that pokes on every call past a
        threshold pays only the flag read. No poke is lost: the thread clears the flag before it
        reads its owner's state, so whatever preceded a skipped ``set`` is seen by that round.
        """
        wake = self._wake
        if not wake.is_set():
            wake.set()

    def flush(self, deadline: float) -> bool:
        """Ask for a flushing round and wait for it until ``deadline`` (``time.monotonic()``).

        True when the round finished in time and handed everything over. False when it did not, or
        the thread was never started or has stopped (the owner may then do the work inline).
        """
        request = FlushRequest(deadline=deadline)
        with self._lock:
            if not self._started or self._stop_requested or self._ended:
                return False
            self._flushes.append(request)
        self._wake.set()
        return request.done.wait(max(0.0, deadline - time.monotonic())) and request.flushed

    def stop(self, deadline: float, *, grace_seconds: float = 0.0) -> bool:
        """Run one final round, end the thread, and wait for it until ``deadline``. Idempotent.

        The final round's ``Round.deadline`` is ``deadline``; ``grace_seconds`` waits that much
        longer for the thread, for an owner whose round may be in the middle of a call that
        outlives its deadline. True when the thread has ended (or never ran). Waiting is skipped
        on the worker's own thread: an owner's callback may stop it from inside a round.
        """
        with self._lock:
            first = not self._stop_requested
            self._stop_requested = True
            if first:
                self._stop_deadline = deadline
            started = self._started
        self._stopping.set()
        self._wake.set()
        if not started:
            return True
        if threading.current_thread() is not self._thread:
            self._thread.join(max(0.0, deadline + grace_seconds - time.monotonic()))
        return not self._thread.is_alive()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    @property
    def stopping(self) -> threading.Event:
        """Set by ``stop``: a round waiting on something (a retry, a backoff) should end early."""
        return self._stopping

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def flush_waiting(self) -> bool:
        """A caller waits for a flush: a long round should yield to the next one soon.

        Read without the lock: a hint, not a promise (a list's truth value is atomic).
        """
        return bool(self._flushes)

    def is_current(self) -> bool:
        """True on the worker's own thread."""
        return threading.current_thread() is self._thread

    def reset_after_fork(self) -> None:
        """In a fork child: fresh synchronization and thread, restarted if it was running."""
        restart = self._started and not self._stop_requested
        self.errors.reset()
        self._init_state(started=False, stop_requested=self._stop_requested)
        if restart:
            self.start()

    # --- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        with suppressed_instrumentation():
            try:
                while True:
                    self._wake.wait(self._interval())
                    self._wake.clear()  # before the round: later pokes are seen next time
                    with self._lock:
                        final = self._stop_requested
                        flushes, self._flushes = tuple(self._flushes), []
                        deadline = (
                            self._stop_deadline
                            if final
                            else max((f.deadline for f in flushes), default=math.inf)
                        )
                    succeeded = False
                    try:
                        with self.errors.guard:
                            self._run_round(Round(final=final, flushes=flushes, deadline=deadline))
                            succeeded = True
                    finally:
                        for request in flushes:
                            request.flushed = request.flushed and succeeded
                            request.done.set()
                    if final:
                        return
            finally:
                with self._lock:
                    self._ended = True
                    late, self._flushes = self._flushes, []
                for request in late:  # raced with the final round: not served
                    request.flushed = False
                    request.done.set()


class LoopThread:
    """An asyncio event loop running on a daemon thread, started on first use.

    ``call_soon`` schedules a callback on the loop from any thread; ``run`` runs a coroutine there
    and waits for its result; ``stop`` ends the loop and closes it.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._init_state()

    def _init_state(self) -> None:
        self._lock = threading.Lock()  # guards _loop, _thread and _stopped
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Schedule ``callback(*args)`` on the loop (starting it). Raises after ``stop``."""
        self._running_loop().call_soon_threadsafe(callback, *args)

    def run(self, coroutine: Coroutine[Any, Any, _T], *, timeout_seconds: float) -> _T:
        """Run ``coroutine`` on the loop and wait for its result; ``TimeoutError`` past the time."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        return future.result(timeout_seconds)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def stop(self, deadline: float) -> bool:
        """Cancel the loop's tasks and stop it, wait for the thread until ``deadline`` and close
        the loop. Idempotent.

        True when the loop has ended (or never ran). Tasks still running (a judge call that has
        not answered) are cancelled and awaited first, as ``asyncio.run`` does: a loop closed
        under a pending task leaves it to the garbage collector, which destroys it mid-``await``
        in whatever thread collects it, its connections unclosed and its context managers
        exiting in a foreign context.
        """
        with self._lock:
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return True
        if not loop.is_closed():
            loop.call_soon_threadsafe(_cancel_tasks_then_stop, loop)
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
        if not loop.is_closed():
            loop.close()
        return True

    def reset_after_fork(self) -> None:
        """In a fork child: no loop and no thread; the next call starts them afresh."""
        stopped = self._stopped
        self._init_state()
        self._stopped = stopped

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self._name} was stopped")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_forever, args=(loop,), name=self._name, daemon=True
                )
                self._loop, self._thread = loop, thread
                thread.start()
            return self._loop


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _cancel_tasks_then_stop(loop: asyncio.AbstractEventLoop) -> None:
    """On the loop: cancel every task, let them unwind, close async generators, then stop."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()

    async def unwind() -> None:
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
            await loop.shutdown_asyncgens()
        finally:
            loop.stop()

    loop.create_task(unwind())
