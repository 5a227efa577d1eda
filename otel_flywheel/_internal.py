"""The one internal-error guard: otel-flywheel never raises into the host application.

An unexpected exception in our own code is logged with its traceback and swallowed, so that a bug
in the flywheel cannot break the agent it observes. Under pytest it is re-raised instead, so that
tests fail loudly rather than pass over a logged traceback (logfire's ``handle_internal_errors``).

Background threads cannot re-raise: that would end the thread and silently stop the feature for
the rest of the process. They pass ``on_error`` to keep the exception and re-raise it later from a
call on the caller's thread; see ``FlywheelSpanProcessor``.

Errors a user-supplied component raises (a pipeline, a sink) are not internal errors: the code
calling it logs and counts them without re-raising, as the OTel SDK treats a failing exporter.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

__all__ = ["ClosedOnExit", "handle_internal_errors", "reinit_after_fork", "running_under_pytest"]

logger = logging.getLogger(__name__)


def running_under_pytest() -> bool:
    """True while pytest runs a test (pytest sets ``PYTEST_CURRENT_TEST`` for each test phase)."""
    return "PYTEST_CURRENT_TEST" in os.environ


class handle_internal_errors:
    """Context manager: log any ``Exception`` from the block and swallow it; under pytest re-raise.

    With ``on_error``, the exception is logged and handed to ``on_error`` instead of being
    re-raised, even under pytest: for background threads that must survive their own bugs.

    A plain class rather than ``@contextmanager``: entering it creates no generator, and one
    instance can be kept and re-entered on a hot path, from any thread.
    """

    __slots__ = ("_on_error",)

    def __init__(self, *, on_error: Callable[[Exception], None] | None = None) -> None:
        self._on_error = on_error

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # no error, or KeyboardInterrupt/SystemExit: let it propagate
        # What logger.exception does, outside an except clause: the traceback comes from exc_info.
        logger.error("internal error in otel-flywheel; please report it", exc_info=exc)
        if self._on_error is not None:
            self._on_error(exc)
            return True
        return not running_under_pytest()


def reinit_after_fork(method: Callable[[], None]) -> None:
    """Call the bound ``method`` in every forked child, without keeping its object alive.

    A child inherits threads' locks and queues but not the threads: objects that own a worker
    reset their state here (``os.register_at_fork`` keeps callbacks forever, hence the weak ref).
    """
    if not hasattr(os, "register_at_fork"):
        return
    weak_method = weakref.WeakMethod(method)

    def _after_in_child() -> None:
        reinit = weak_method()
        if reinit is not None:
            reinit()

    os.register_at_fork(after_in_child=_after_in_child)


_C = TypeVar("_C", bound="ClosedOnExit")


class ClosedOnExit:
    """``with thing:`` closes it at the end. Subclasses define an idempotent ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
