"""The ``WriteSink`` extension point: where the outbox delivers writes, and what it hears back.

A sink reports one ``WriteOutcome`` per write, keyed by ``write.key``:

- ``done``: delivered, or already there;
- ``retry``: not now, for a reason that passes by itself (the remote is down, overloaded, or has
  not ingested the span yet); the outbox backs off, honouring ``retry_after_seconds``, for as
  long as it takes;
- ``failed``: the remote answered, but not as it should, and waiting alone will not fix it (a
  malformed answer such as a proxy's HTML page, refused credentials, a wrong URL); retried with
  backoff a bounded number of times in a row, then dead;
- ``dead``: can never succeed as sent (the remote rejected the write itself); kept with the
  reason, counted, never silently dropped, until someone retries or drops it.

A sink must be idempotent: the outbox may deliver a write again after a crash between a sink
accepting it and the outbox recording that.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from otel_flywheel.sinks._writes import Write

__all__ = ["InMemorySink", "OutcomeKind", "WriteOutcome", "WriteSink"]

OutcomeKind = Literal["done", "retry", "failed", "dead"]


@dataclass(frozen=True, kw_only=True)
class WriteOutcome:
    """What became of one write. ``reason`` says why for ``retry``, ``failed`` and ``dead``."""

    kind: OutcomeKind
    reason: str = ""
    retry_after_seconds: float | None = None

    @classmethod
    def done(cls) -> WriteOutcome:
        return _DONE

    @classmethod
    def retry(cls, reason: str, *, retry_after_seconds: float | None = None) -> WriteOutcome:
        return cls(kind="retry", reason=reason, retry_after_seconds=retry_after_seconds)

    @classmethod
    def failed(cls, reason: str, *, retry_after_seconds: float | None = None) -> WriteOutcome:
        return cls(kind="failed", reason=reason, retry_after_seconds=retry_after_seconds)

    @classmethod
    def dead(cls, reason: str) -> WriteOutcome:
        return cls(kind="dead", reason=reason)


_DONE = WriteOutcome(kind="done")


@runtime_checkable
class WriteSink(Protocol):
    """Delivers writes; called from the outbox worker's thread, one batch at a time.

    Returns an outcome for every write, keyed by ``write.key``; a missing key counts as ``retry``.
    Raising is allowed (the whole batch is retried and the error logged) but reporting ``retry``
    with a reason is kinder to the logs.
    """

    def write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]: ...


class InMemorySink:
    """Accepts every write and keeps the latest per key, for tests, the demo and dry runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _writes and _deliveries
        self._writes: dict[str, Write] = {}
        self._deliveries = 0

    def write(self, writes: Sequence[Write]) -> dict[str, WriteOutcome]:
        with self._lock:
            for write in writes:
                self._writes[write.key] = write
            self._deliveries += len(writes)
        return {write.key: _DONE for write in writes}

    @property
    def writes(self) -> dict[str, Write]:
        """The latest write per key."""
        with self._lock:
            return dict(self._writes)

    @property
    def deliveries(self) -> int:
        """Writes received, counting a key delivered twice twice."""
        with self._lock:
            return self._deliveries
