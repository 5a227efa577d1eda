"""A local HTTP server that answers like the OpenAI API, from a script.

Agents under test keep their real ``openai`` client and whatever instrumentors wrap it; only the
model is stood in for. That way a test sees the same spans, retries and parse errors production
would, which a monkeypatched client cannot show.

    with ScriptedLLMServer() as llm:
        llm.enqueue(ToolCalls([ToolCallReply("search", {"q": "otel"})]), Text("Found it."))
        client = openai.OpenAI(base_url=llm.base_url, api_key="test")
        ...
        assert llm.requests[1]["messages"][-1]["role"] == "tool"

Replies come first from the queue (`enqueue`), then from the `responder`, which picks one from the
request body; with neither, the server answers 500 saying the script ran out, so a test fails loudly
instead of hanging.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from otel_flywheel.testing._llm_replies import (
    REPLY_TYPES,
    Answer,
    Disconnect,
    Error,
    Garbage,
    RejectResponseFormat,
    Reply,
    Responder,
    Slow,
    StructuredJSON,
    Text,
    ToolCallReply,
    ToolCalls,
    error_body,
    reject_response_format_body,
    render_chunks,
    render_completion,
    render_embeddings,
    render_error,
)

__all__ = [
    "Disconnect",
    "Error",
    "Garbage",
    "RejectResponseFormat",
    "Reply",
    "Responder",
    "ScriptedLLMServer",
    "Slow",
    "StructuredJSON",
    "Text",
    "ToolCallReply",
    "ToolCalls",
]

logger = logging.getLogger(__name__)
_UVICORN_LOGGER = logging.getLogger("uvicorn.error")

_POLL_SECONDS = 0.02


def _error_response(status: int, message: str, *, error_type: str, code: str | None) -> Response:
    return JSONResponse(error_body(message, error_type=error_type, code=code), status_code=status)


class _DisconnectResponse(Response):
    """Promises a body, sends half of it, then returns: uvicorn closes the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b'{"id": "chatcmpl-scripted", "object": "chat.completion", "choices": ['
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body) * 4).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})


class _DisconnectNoiseFilter(logging.Filter):
    """Drops uvicorn's complaint about a response a `Disconnect` reply cut short on purpose.

    Only records from this server's thread are dropped: other uvicorn servers in the process (the
    user's own) keep reporting their incomplete responses.
    """

    _MESSAGE = "ASGI callable returned without completing response."

    def __init__(self, thread_id: int) -> None:
        super().__init__()
        self._thread_id = thread_id

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.thread == self._thread_id and record.msg == self._MESSAGE)


class ScriptedLLMServer:
    """An OpenAI-compatible server on 127.0.0.1 with a free port, run on a background thread.

    Use it as a context manager, or call `start` and `close`. `responder` answers when the queue is
    empty. Chat completion bodies are recorded in `requests`, embedding bodies in
    `embedding_requests`; both are snapshots, safe to read while the server runs.
    """

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        model_ids: tuple[str, ...] = ("gpt-4o-mini", "text-embedding-3-small"),
        embedding_dimensions: int = 1536,
        startup_timeout_seconds: float = 10.0,
        shutdown_timeout_seconds: float = 5.0,
    ) -> None:
        self._responder = responder
        self._model_ids = model_ids
        self._embedding_dimensions = embedding_dimensions
        self._startup_timeout_seconds = startup_timeout_seconds
        self._shutdown_timeout_seconds = shutdown_timeout_seconds
        # Set once by close(); scripted delays poll it so shutdown never waits them out.
        self._closing = threading.Event()
        # Guards the reply queue, the recorded requests, the completion counter and the lifecycle
        # fields below. Never held while calling the responder or talking to the network.
        self._lock = threading.Lock()
        self._replies: collections.deque[Reply] = collections.deque()
        self._requests: list[dict[str, Any]] = []
        self._embedding_requests: list[dict[str, Any]] = []
        self._serial = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._noise_filter: _DisconnectNoiseFilter | None = None
        self._app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ],
            exception_handlers={HTTPException: self._http_error},
        )

    # Lifecycle

    def start(self) -> ScriptedLLMServer:
        """Bind a free port and serve until `close`; returns once the server accepts connections."""
        with self._lock:
            if self._server is not None or self._closing.is_set():
                raise RuntimeError("ScriptedLLMServer.start() can be called once per server")
            config = uvicorn.Config(
                self._app,
                host="127.0.0.1",
                port=0,
                http="h11",
                ws="none",
                lifespan="off",
                log_config=None,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=2,
            )
            # Server.run() on a non-main thread installs no signal handlers (uvicorn checks).
            server = self._server = uvicorn.Server(config)
            thread = self._thread = threading.Thread(
                target=server.run, name="otel-flywheel-scripted-llm", daemon=True
            )
        thread.start()
        assert thread.ident is not None  # set by start()
        self._noise_filter = _DisconnectNoiseFilter(thread.ident)
        _UVICORN_LOGGER.addFilter(self._noise_filter)
        deadline = time.monotonic() + self._startup_timeout_seconds
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(
                    "ScriptedLLMServer did not start; the uvicorn.error log says why"
                )
            time.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        with self._lock:
            self._base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def close(self) -> None:
        """Stop serving and join the thread; idempotent. Scripted delays end early."""
        self._closing.set()
        with self._lock:
            server, thread = self._server, self._thread
            self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(self._shutdown_timeout_seconds)
        if thread.is_alive():
            server.force_exit = True
            thread.join(self._shutdown_timeout_seconds)
        if self._noise_filter is not None:
            _UVICORN_LOGGER.removeFilter(self._noise_filter)

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Script and records

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the `base_url` to give an OpenAI client."""
        with self._lock:
            if self._base_url is None:
                raise RuntimeError("ScriptedLLMServer is not started; use `with` or start()")
            return self._base_url

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the queue; each chat completion request takes the oldest."""
        for reply in replies:
            if not isinstance(reply, REPLY_TYPES):
                raise TypeError(f"not a scripted reply: {reply!r}")
        with self._lock:
            self._replies.extend(replies)

    @property
    def responder(self) -> Responder | None:
        """Answers requests when the queue is empty; settable while the server runs."""
        return self._responder

    @responder.setter
    def responder(self, responder: Responder | None) -> None:
        self._responder = responder  # one reference swap: requests see the old or the new one

    @property
    def pending_replies(self) -> int:
        """Queued replies not yet sent: 0 at the end of a test that used its whole script."""
        with self._lock:
            return len(self._replies)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The chat completion request bodies received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        """The embedding request bodies received so far, oldest first."""
        with self._lock:
            return list(self._embedding_requests)

    # Endpoints (run on the server thread's event loop)

    async def _chat_completions(self, request: Request) -> Response:
        body = await self._read_json(request)
        if isinstance(body, Response):
            return body
        with self._lock:
            self._requests.append(body)
            self._serial += 1
            serial = self._serial
            reply = self._replies.popleft() if self._replies else None
        if reply is None:
            reply = self._ask_responder(body, serial)
        return await self._answer(reply, body, request, serial=serial)

    def _ask_responder(self, body: dict[str, Any], serial: int) -> Reply:
        if self._responder is None:
            last = (body.get("messages") or [{}])[-1]
            return Error(
                500,
                f"ScriptedLLMServer: the script ran out at chat completion #{serial} "
                f"(no queued reply, no responder); last message: {json.dumps(last)[:300]}. "
                "Add replies with enqueue() or pass responder=.",
                code="script_exhausted",
            )
        try:
            reply = self._responder(body)
        except Exception as exc:
            logger.exception("ScriptedLLMServer responder raised on chat completion #%d", serial)
            return Error(500, f"ScriptedLLMServer: the responder raised {exc!r}", code="responder")
        if not isinstance(reply, REPLY_TYPES):
            return Error(
                500,
                f"ScriptedLLMServer: the responder returned {reply!r}, not a scripted reply",
                code="responder",
            )
        return reply

    async def _answer(
        self, reply: Reply, body: dict[str, Any], request: Request, *, serial: int
    ) -> Response:
        if isinstance(reply, Slow):
            await self._wait(reply.delay_seconds, request)
            if self._closing.is_set():
                return _error_response(
                    503, "ScriptedLLMServer is closing", error_type="server_error", code=None
                )
            return await self._answer(reply.then, body, request, serial=serial)
        if isinstance(reply, Error):
            error, headers = render_error(reply)
            return JSONResponse(error, status_code=reply.status, headers=headers)
        if isinstance(reply, Garbage):
            return Response(reply.body, status_code=reply.status, media_type=reply.content_type)
        if isinstance(reply, RejectResponseFormat):
            if body.get("response_format") is None:
                return _error_response(
                    500,
                    "ScriptedLLMServer: RejectResponseFormat was scripted for a request that has "
                    "no response_format",
                    error_type="server_error",
                    code="script_mismatch",
                )
            return JSONResponse(reject_response_format_body(body), status_code=400)
        if isinstance(reply, Disconnect):
            return _DisconnectResponse()
        return self._completion(reply, body, serial=serial)

    def _completion(self, answer: Answer, body: dict[str, Any], *, serial: int) -> Response:
        created = int(time.time())
        if not body.get("stream"):
            return JSONResponse(render_completion(body, answer, serial=serial, created=created))
        chunks = render_chunks(body, answer, serial=serial, created=created)
        events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
        return StreamingResponse(
            iter(events), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    async def _wait(self, delay_seconds: float, request: Request) -> None:
        """Sleep, ending early if the server closes or the client hangs up."""
        deadline = time.monotonic() + delay_seconds
        while not self._closing.is_set() and not await request.is_disconnected():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _POLL_SECONDS))

    async def _embeddings(self, request: Request) -> Response:
        body = await self._read_json(request)
        if isinstance(body, Response):
            return body
        with self._lock:
            self._embedding_requests.append(body)
        return JSONResponse(render_embeddings(body, default_dimensions=self._embedding_dimensions))

    async def _models(self, request: Request) -> Response:
        data = [
            {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "scripted"}
            for model_id in self._model_ids
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _read_json(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return _error_response(
                400,
                f"We could not parse the JSON body of your request: {exc}",
                error_type="invalid_request_error",
                code=None,
            )
        if not isinstance(body, Mapping):
            return _error_response(
                400,
                "The request body must be a JSON object.",
                error_type="invalid_request_error",
                code=None,
            )
        return dict(body)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = f"Invalid URL ({request.method} {request.url.path})"
        return _error_response(status, message, error_type="invalid_request_error", code=None)
