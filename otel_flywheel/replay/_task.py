"""The task replay runs per example: a user's function named ``module:function``, sync or async.

Parameters bind by name, as in Phoenix experiments: ``input`` (the example's input object, e.g.
``{"input": "Where is my order?", "session_id": "..."}``), ``expected`` (its output object: an
expected output, expected tool calls), ``metadata``, ``example`` (the whole `DatasetExample`).
A function with one parameter of any other name gets ``input``. The return value is the run's
output: text, or anything JSON can hold.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.errors import ConfigError

__all__ = ["ReplayTask", "load_task"]

_BINDABLE = ("input", "expected", "metadata", "example")


@dataclass(frozen=True)
class ReplayTask:
    """A callable ready to run one example: ``is_async`` says whether to await it."""

    function: Callable[..., Any]
    name: str
    is_async: bool
    parameters: tuple[str, ...]
    positional: bool = False  # one parameter under another name: it gets ``input``

    @staticmethod
    def wrap(function: Callable[..., Any], *, name: str | None = None) -> ReplayTask:
        """Check ``function``'s parameters now, so a bad task fails before any example runs."""
        if not callable(function):
            raise ConfigError(f"the replay task must be callable, got {type(function).__name__}")
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            raise ConfigError(
                f"cannot read the parameters of task {function!r}; wrap it in a function "
                "taking `input`"
            ) from None
        names = tuple(
            p.name
            for p in signature.parameters.values()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        )
        required = [
            p.name
            for p in signature.parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        positional = len(names) == 1 and names[0] not in _BINDABLE
        if positional:
            bound: tuple[str, ...] = ()
        else:
            unknown = [n for n in required if n not in _BINDABLE]
            if unknown:
                raise ConfigError(
                    f"task {_describe(function)} has parameters {unknown} that replay cannot "
                    f"fill. Fix: name them among {list(_BINDABLE)}, or give them defaults"
                )
            bound = tuple(n for n in names if n in _BINDABLE)
        is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an async __call__ counts
        )
        return ReplayTask(
            function=function,
            name=name or _describe(function),
            is_async=is_async,
            parameters=bound,
            positional=positional,
        )

    def call(self, example: DatasetExample) -> Any:
        """Call the function for ``example`` (a coroutine when ``is_async``)."""
        values = {
            "input": dict(example.input),
            "expected": dict(example.output),
            "metadata": dict(example.metadata),
            "example": example,
        }
        if self.positional:
            return self.function(values["input"])
        return self.function(**{name: values[name] for name in self.parameters})


def load_task(spec: str) -> ReplayTask:
    """``"package.module:function"`` (or ``module:object.method``) as a `ReplayTask`.

    Raises ``ConfigError`` naming the fix when the spec is malformed, the module cannot be
    imported or the attribute does not exist.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(
            f"--task {spec!r} is not module:function. Fix: e.g. --task my_agent.replay:answer"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"--task {spec!r}: cannot import {module_name!r} ({exc}). Fix: run from the "
            "directory that holds it, or put it on PYTHONPATH"
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"--task {spec!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(
                f"--task {spec!r}: {module_name!r} has no attribute {attribute!r}"
            ) from None
    return ReplayTask.wrap(target, name=spec)


def _describe(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}:{qualname}" if module else qualname
