"""``@otel_flywheel.tool``: a tool call recorded as an OpenInference TOOL span, replayable in CI.

In production the decorator only records: a TOOL span named after the tool with ``tool.name``,
the call's arguments as canonical JSON in ``input.value`` (bound by parameter name, defaults
applied, ``self``/``cls`` left out) and the result as JSON in ``output.value``. These are the
spans the flywheel's checks read and the ones a replay answers from.

Inside ``replay_tools(recorded=...)`` (the replay runner enters it for every run, with the tool
calls of the example's source trace) a call whose name and canonical arguments match a recorded
call returns the recorded output, decoded from JSON, without calling the function; a recorded
error is raised as `RecordedToolError`. Repeated identical calls get the recorded answers in
order, then the last one again. An unmatched call runs the real tool (``unmatched="passthrough"``)
or raises `ToolReplayMiss` (``"fail"``), so a prompt or model change can be judged without live
side effects or tool drift. Replayed spans carry ``flywheel.replay.recorded = true``.

Our own bookkeeping (encoding arguments, setting attributes) never raises into the agent: it is
guarded as every hot-path step of the flywheel is. Only the tool's own exceptions and the two
replay errors above reach the caller.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, ParamSpec, TypeVar, cast, overload

from openinference.semconv.trace import OpenInferenceMimeTypeValues
from opentelemetry import trace

from otel_flywheel import semconv as sc
from otel_flywheel._internal import handle_internal_errors
from otel_flywheel.errors import FlywheelError
from otel_flywheel.model import AgentTrace

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

__all__ = [
    "RECORDED_ATTRIBUTE",
    "RecordedToolError",
    "ToolRecording",
    "ToolReplay",
    "ToolReplayMiss",
    "UnmatchedToolCalls",
    "canonical_arguments",
    "recordings_from_trace",
    "replay_tools",
    "tool",
]

P = ParamSpec("P")
R = TypeVar("R")

UnmatchedToolCalls = Literal["passthrough", "fail"]

RECORDED_ATTRIBUTE: Final = "flywheel.replay.recorded"
"""Set (true) on a TOOL span whose output came from a recording instead of the tool."""

_TRACER_NAME: Final = "otel_flywheel.tools"
_SKIPPED_PARAMETERS: Final = frozenset({"self", "cls"})
_JSON: Final = OpenInferenceMimeTypeValues.JSON.value
_TEXT: Final = OpenInferenceMimeTypeValues.TEXT.value
_TOOL_KIND: Final = sc.OpenInferenceSpanKindValues.TOOL.value
_SA = sc.SpanAttributes


class ToolReplayMiss(FlywheelError):
    """A tool was called during replay with arguments no recording has (``unmatched="fail"``)."""


class RecordedToolError(Exception):
    """The recorded call of this tool failed; replay fails it the same way."""


@dataclass(frozen=True, kw_only=True)
class ToolRecording:
    """One recorded tool call: ``output`` is the result as the tool returned it (decoded JSON),
    ``error`` the recorded failure. The ``to_dict`` form is what an example may carry in its
    ``metadata["tool_recordings"]``."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    output: Any = None
    error: str | None = None

    @property
    def key(self) -> str:
        return f"{self.name}\n{canonical_arguments(self.arguments)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": dict(self.arguments),
            "output": self.output,
            "error": self.error,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ToolRecording:
        name = data.get("name")
        arguments = data.get("arguments") or {}
        if not isinstance(name, str) or not name or not isinstance(arguments, Mapping):
            raise ValueError(
                'a tool recording is {"name": str, "arguments": {...}, "output": ..., '
                f'"error": str | null}}, got {dict(data)!r}'
            )
        error = data.get("error")
        return ToolRecording(
            name=name,
            arguments=dict(arguments),
            output=data.get("output"),
            error=error if isinstance(error, str) else None,
        )


def canonical_arguments(arguments: Mapping[str, Any]) -> str:
    """Arguments as matching sees them: sorted keys, no whitespace, ``720.0`` == ``720``."""
    return json.dumps(
        _normalized(arguments),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def recordings_from_trace(trace: AgentTrace) -> list[ToolRecording]:
    """The executed tool calls of ``trace`` (TOOL steps, in order) as recordings.

    Calls whose arguments were not a JSON object cannot match a decorated call and are left out.
    An output recorded as JSON (``output.mime_type``) is decoded; other outputs stay text.
    """
    recordings = []
    for step, call in trace.tool_calls():
        if call.arguments_malformed:
            continue
        output: Any = call.result
        if call.result is not None and step.attributes.get(_SA.OUTPUT_MIME_TYPE) == _JSON:
            try:
                output = json.loads(call.result)
            except ValueError:
                output = call.result
        recordings.append(
            ToolRecording(name=call.name, arguments=call.arguments, output=output, error=call.error)
        )
    return recordings


class ToolReplay:
    """The replay state of one run: recorded answers by call, and what happened to each call.

    ``recordings=None`` replays nothing (every call is live); the object then only carries the
    ``tracer_provider`` that decorated tools record their spans with during the run.
    """

    def __init__(
        self,
        recordings: Iterable[ToolRecording] | None = None,
        *,
        unmatched: UnmatchedToolCalls = "passthrough",
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if unmatched not in ("passthrough", "fail"):
            raise ValueError(f"unmatched must be 'passthrough' or 'fail', got {unmatched!r}")
        self.enabled = recordings is not None
        self.unmatched: UnmatchedToolCalls = unmatched
        self.tracer_provider = tracer_provider
        self._lock = threading.Lock()  # guards _queues, _last and the counters
        self._queues: dict[str, deque[ToolRecording]] = {}
        self._last: dict[str, ToolRecording] = {}
        for recording in recordings or ():
            self._queues.setdefault(recording.key, deque()).append(recording)
        self.replayed = 0
        self.live = 0
        self.missed = 0

    def answer(self, name: str, arguments: Mapping[str, Any]) -> ToolRecording | None:
        """The recording that answers this call, or ``None`` to call the tool.

        Raises `ToolReplayMiss` for an unmatched call when ``unmatched="fail"``.
        """
        if not self.enabled:
            with self._lock:
                self.live += 1
            return None
        key = f"{name}\n{canonical_arguments(arguments)}"
        with self._lock:
            queue = self._queues.get(key)
            recording = queue.popleft() if queue else self._last.get(key)
            if recording is not None:
                self._last[key] = recording
                self.replayed += 1
                return recording
            if self.unmatched == "passthrough":
                self.live += 1
                return None
            self.missed += 1
        raise ToolReplayMiss(
            f"tool {name!r} was called with {canonical_arguments(arguments)}, which the "
            "example's source trace never recorded. Fix: replay with unmatched tool calls "
            "passed through (--tool-replay passthrough), or re-record the example"
        )


_ACTIVE: contextvars.ContextVar[ToolReplay | None] = contextvars.ContextVar(
    "otel_flywheel_tool_replay", default=None
)


@contextmanager
def replay_tools(
    recorded: Iterable[ToolRecording] | None,
    *,
    unmatched: UnmatchedToolCalls = "passthrough",
    tracer_provider: TracerProvider | None = None,
) -> Iterator[ToolReplay]:
    """Answer decorated tool calls in this context from ``recorded`` (``None``: call them all).

    The state is a context variable: threads started with a copied context (``asyncio.to_thread``,
    ``contextvars.copy_context().run``) and asyncio tasks created inside see it too.
    """
    replay = ToolReplay(recorded, unmatched=unmatched, tracer_provider=tracer_provider)
    token = _ACTIVE.set(replay)
    try:
        yield replay
    finally:
        _ACTIVE.reset(token)


@overload
def tool(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Record calls of ``func`` as OpenInference TOOL spans; replay them in ``replay_tools``.

    ``name`` defaults to the function's name, ``description`` to its docstring's first line.
    Works on plain and ``async`` functions and on methods.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        spec = _ToolSpec(function, name=name, description=description)
        if inspect.iscoroutinefunction(function):
            return cast(Callable[P, R], _async_wrapper(spec, cast(Any, function)))
        return _sync_wrapper(spec, function)

    return decorate(func) if func is not None else decorate


# --- internals -------------------------------------------------------------------------------------


class _ToolSpec:
    def __init__(
        self, function: Callable[..., Any], *, name: str | None, description: str | None
    ) -> None:
        self.name: str = name or str(getattr(function, "__name__", "tool"))
        doc = inspect.getdoc(function) or ""
        self.description = description or (doc.strip().splitlines()[0] if doc.strip() else None)
        try:
            self.signature: inspect.Signature | None = inspect.signature(function)
        except (TypeError, ValueError):  # some builtins have none
            self.signature = None
        self._guard = handle_internal_errors()

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults applied, ``self``/``cls`` left out."""
        if self.signature is None:
            return {**{f"arg{i}": value for i, value in enumerate(args)}, **kwargs}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            # The call itself is wrong; the tool raises the TypeError when called.
            return {**{f"arg{i}": value for i, value in enumerate(args)}, **kwargs}
        bound.apply_defaults()
        result: dict[str, Any] = {}
        for parameter, value in bound.arguments.items():
            if parameter in _SKIPPED_PARAMETERS:
                continue
            kind = self.signature.parameters[parameter].kind
            if kind is inspect.Parameter.VAR_KEYWORD and isinstance(value, Mapping):
                result.update(value)
            else:
                result[parameter] = list(value) if isinstance(value, tuple) else value
        return result

    def start(self, arguments: Mapping[str, Any]) -> tuple[Any, ToolReplay | None]:
        """A started span (not yet current) and the active replay state."""
        replay = _ACTIVE.get()
        provider = replay.tracer_provider if replay is not None else None
        tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=provider)
        attributes: dict[str, Any] = {
            _SA.OPENINFERENCE_SPAN_KIND: _TOOL_KIND,
            _SA.TOOL_NAME: self.name,
        }
        with self._guard:
            attributes[_SA.INPUT_VALUE] = canonical_arguments(arguments)
            attributes[_SA.INPUT_MIME_TYPE] = _JSON
            if self.description:
                attributes[_SA.TOOL_DESCRIPTION] = self.description
        return tracer.start_as_current_span(self.name, attributes=attributes), replay

    def record_output(self, span: Span, result: Any) -> None:
        with self._guard:
            try:
                text = json.dumps(result, ensure_ascii=False, allow_nan=False)
                mime = _JSON
            except (TypeError, ValueError):
                text, mime = str(result), _TEXT
            span.set_attribute(_SA.OUTPUT_VALUE, text)
            span.set_attribute(_SA.OUTPUT_MIME_TYPE, mime)

    def replayed(self, span: Span, recording: ToolRecording) -> Any:
        span.set_attribute(RECORDED_ATTRIBUTE, True)
        if recording.error is not None:
            raise RecordedToolError(recording.error)
        self.record_output(span, recording.output)
        return recording.output


def _sync_wrapper(spec: _ToolSpec, function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        arguments = spec.arguments(args, kwargs)
        span_context, replay = spec.start(arguments)
        with span_context as span:
            recording = replay.answer(spec.name, arguments) if replay is not None else None
            if recording is not None:
                return cast(R, spec.replayed(span, recording))
            result = function(*args, **kwargs)
            spec.record_output(span, result)
            return result

    return call


def _async_wrapper(
    spec: _ToolSpec, function: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> Any:
        arguments = spec.arguments(args, kwargs)
        span_context, replay = spec.start(arguments)
        with span_context as span:
            recording = replay.answer(spec.name, arguments) if replay is not None else None
            if recording is not None:
                return spec.replayed(span, recording)
            result = await function(*args, **kwargs)
            spec.record_output(span, result)
            return result

    return call


def _normalized(value: Any) -> Any:
    """JSON-shaped copy where integral floats are ints: a model writes 720.0 for 720."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _normalized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalized(v) for v in value]
    return value
