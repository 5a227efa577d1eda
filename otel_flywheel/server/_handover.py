"""Handing traces to the pipeline, and releasing their spool rows only when that is safe.

With an ``AcknowledgingPipeline`` (the flywheel), a trace's rows stay in the spool until the
pipeline settles it *durable*: its verdict and every write routed from it committed to the
outbox, or recorded unscored with a reason. A trace the pipeline refuses (its bounded queue is
full) or settles not durable (a sink failed, it shut down while the trace waited for the judge)
is offered again; a crash at any point leaves the rows for the next start, which judges the trace
again. A pipeline without acknowledgements gets the older contract: rows are released once its
``submit`` returned, in one transaction per batch of traces (``flush``), not one per trace: a
crash in between leaves them for the next start, which hands them over again, as it would a
trace whose ``submit`` had not returned.

Everything here runs on the ingest worker's thread, except ``_on_settled``, which the pipeline
calls from its own and which only queues the settlement and wakes the worker.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from otel_flywheel.capture import TracePipeline
from otel_flywheel.model import AgentTrace
from otel_flywheel.pipeline import AcknowledgingPipeline, TraceSettlement
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._spool import Spool

__all__ = ["TraceHandover"]

logger = logging.getLogger(__name__)

_RETRY_FIRST_SECONDS: Final = 1.0
_RETRY_MAX_SECONDS: Final = 60.0
_BUSY_RETRY_SECONDS: Final = 0.5  # the pipeline's queue was full: not a failure, try soon
_LOG_INTERVAL_SECONDS: Final = 60.0


@dataclass(slots=True)
class _Trace:
    trace: AgentTrace
    keys: list[tuple[int, str]]  # its (request id, trace id) rows in the spool
    failures: int = 0
    next_attempt: float = 0.0  # time.monotonic()


class TraceHandover:
    """``offer`` each normalized trace with its spool rows; call ``settle`` and ``retry_due``
    every round; ``drain`` after the pipeline shut down."""

    def __init__(
        self,
        spool: Spool,
        pipeline: TracePipeline,
        *,
        metrics: ServerMetrics,
        wake: Callable[[], None],
    ) -> None:
        self._spool = spool
        self._pipeline = pipeline
        self._pipeline_name = type(pipeline).__qualname__
        self._acknowledging = isinstance(pipeline, AcknowledgingPipeline)
        self._metrics = metrics
        self._wake = wake
        self._tokens = itertools.count()
        self._settled: queue.SimpleQueue[tuple[int, TraceSettlement]] = queue.SimpleQueue()
        self._awaiting: dict[int, _Trace] = {}  # handed over, not settled yet
        self._waiting: list[_Trace] = []  # refused or failed: offered again when due
        self._submitted: list[tuple[int, str]] = []  # taken without acknowledgement: to release
        self._next_log = 0.0

    @property
    def awaiting(self) -> int:
        """Traces handed over whose verdict is not durable yet."""
        return len(self._awaiting)

    @property
    def waiting(self) -> int:
        """Traces the pipeline refused or did not make durable, to be offered again."""
        return len(self._waiting)

    def release(self, keys: list[tuple[int, str]]) -> None:
        self._spool.release(keys)

    def offer(self, trace: AgentTrace, keys: list[tuple[int, str]]) -> None:
        """Hand ``trace`` over; call ``flush`` once the batch it came in is offered."""
        self._hand_over(_Trace(trace, keys))

    def flush(self) -> None:
        """Release the rows of the traces a pipeline without acknowledgements took."""
        submitted, self._submitted = self._submitted, []
        self.release(submitted)

    def settle(self) -> None:
        """Release what the pipeline made durable; queue the rest to be offered again."""
        durable: list[tuple[int, str]] = []
        while True:
            try:
                token, settlement = self._settled.get_nowait()
            except queue.Empty:
                break
            item = self._awaiting.pop(token, None)
            if item is None:
                continue
            if settlement.durable:
                durable += item.keys
                self._metrics.traces_acknowledged.inc()
            else:
                self._metrics.traces_unacknowledged.inc()
                if time.monotonic() >= self._next_log:
                    self._next_log = time.monotonic() + _LOG_INTERVAL_SECONDS
                    logger.warning(
                        "trace %s is not durable downstream (%s); it stays in the spool and is "
                        "offered again (logged at most once a minute)",
                        item.trace.trace_id,
                        settlement.reason,
                    )
                self._back_off(item)
        self.release(durable)
        self.flush()

    def retry_due(self, *, final: bool) -> None:
        """Offer again what is due (everything, on the final round)."""
        if not self._waiting:
            return
        now = time.monotonic()
        due = [item for item in self._waiting if final or item.next_attempt <= now]
        self._waiting = [item for item in self._waiting if not (final or item.next_attempt <= now)]
        for item in due:
            self._hand_over(item)
        self.flush()

    def drain(self) -> int:
        """After the pipeline shut down: release what it settled meanwhile. Returns how many
        handed-over traces were left unsettled (they stay in the spool for the next start)."""
        self.settle()
        return len(self._awaiting)

    # --- internals --------------------------------------------------------------------------------

    def _hand_over(self, item: _Trace) -> None:
        try:
            if self._acknowledging:
                assert isinstance(self._pipeline, AcknowledgingPipeline)
                token = next(self._tokens)
                # Registered first: the pipeline may settle it before submit_acknowledged returns.
                self._awaiting[token] = item
                taken = self._pipeline.submit_acknowledged(
                    item.trace, functools.partial(self._on_settled, token)
                )
                if not taken:
                    del self._awaiting[token]
                    item.next_attempt = time.monotonic() + _BUSY_RETRY_SECONDS
                    self._waiting.append(item)
                    return
            else:
                self._pipeline.submit(item.trace)
        except Exception:
            self._metrics.pipeline_errors.inc()
            if time.monotonic() >= self._next_log:
                self._next_log = time.monotonic() + _LOG_INTERVAL_SECONDS
                logger.exception(
                    "pipeline %s failed to accept trace %s; it stays in the spool and is offered "
                    "again (logged at most once a minute)",
                    self._pipeline_name,
                    item.trace.trace_id,
                )
            self._back_off(item)
            return
        self._metrics.traces_submitted.inc()
        if not self._acknowledging:
            self._submitted += item.keys
            self._metrics.traces_acknowledged.inc()

    def _on_settled(self, token: int, settlement: TraceSettlement) -> None:
        # The pipeline's thread: hand it to the worker, never touch the spool here.
        self._settled.put((token, settlement))
        self._wake()

    def _back_off(self, item: _Trace) -> None:
        item.failures += 1
        delay = min(_RETRY_MAX_SECONDS, _RETRY_FIRST_SECONDS * 2 ** (item.failures - 1))
        item.next_attempt = time.monotonic() + delay
        self._waiting.append(item)
