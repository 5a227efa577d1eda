"""The interface between capture and everything after it.

The span processor hands each assembled ``AgentTrace`` to a ``TracePipeline``. It imports neither the
judge nor Phoenix: the pipeline that evaluates and routes lives above capture and plugs in here.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, runtime_checkable

from otel_flywheel.model import AgentTrace

__all__ = ["InMemoryPipeline", "LoggingPipeline", "TracePipeline"]

logger = logging.getLogger(__name__)


@runtime_checkable
class TracePipeline(Protocol):
    """Receives assembled traces on the capture worker thread.

    ``submit`` must not block for long: anything slow (judging, network) belongs on the pipeline's
    own workers. ``force_flush`` and ``shutdown`` follow the OTel lifecycle contract.
    """

    def submit(self, trace: AgentTrace) -> None: ...

    def force_flush(self, timeout_millis: int = 30_000) -> bool: ...

    def shutdown(self) -> None: ...


class LoggingPipeline:
    """The default until evaluators are configured: logs one line per trace at DEBUG."""

    def submit(self, trace: AgentTrace) -> None:
        logger.debug(
            "captured trace %s: %d steps, %d tool calls, goal=%.60r",
            trace.trace_id,
            len(trace.steps),
            sum(1 for _ in trace.tool_calls()),
            trace.goal,
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered

    def shutdown(self) -> None:
        return None  # nothing to release


class InMemoryPipeline:
    """Keeps every trace it receives, for tests, the demo and ``inspect``-like tooling."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _traces
        self._traces: list[AgentTrace] = []
        self._received = threading.Condition(self._lock)

    def submit(self, trace: AgentTrace) -> None:
        with self._received:
            self._traces.append(trace)
            self._received.notify_all()

    @property
    def traces(self) -> list[AgentTrace]:
        with self._lock:
            return list(self._traces)

    def wait_for(self, count: int, *, timeout_seconds: float = 10.0) -> list[AgentTrace]:
        """Block until at least ``count`` traces arrived; raise ``TimeoutError`` naming the shortfall."""
        with self._received:
            if not self._received.wait_for(lambda: len(self._traces) >= count, timeout_seconds):
                raise TimeoutError(
                    f"expected {count} traces within {timeout_seconds}s, got {len(self._traces)}"
                )
            return list(self._traces)

    def clear(self) -> None:
        with self._lock:
            self._traces.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # submit() stores synchronously

    def shutdown(self) -> None:
        return None  # keeps its traces for inspection after shutdown
