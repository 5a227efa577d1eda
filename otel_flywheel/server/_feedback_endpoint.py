"""``POST /v1/feedback``: one feedback record as JSON, authenticated, checked, spooled.

Feedback becomes HUMAN annotations and golden, regression and preference examples, so who may
send it matters more than who may send spans:

- It needs its own credential (``FLYWHEEL_SERVER_FEEDBACK_TOKEN``, or named tokens in the config
  file), never the Collector's traces token: a leaked Collector config cannot write labels.
  Without one configured the endpoint answers 403; a missing or wrong token gets 401.
- The record's ``sender`` is the name of the credential that authenticated it, set here; a body
  that claims a sender itself is refused. (``annotator`` stays what the sender says it is.)
- Feedback naming a trace or span this instance has not received is refused with 404 by
  default; ``unknown_trace_feedback: hold`` keeps it until the trace arrives (bounded in time
  and number), ``accept`` takes it as it is.

The answer is ``202 {"feedback_id": ..., "status": "accepted" | "held"}`` once the record is
committed to the spool.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from typing import Final, Literal

import anyio.to_thread
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from otel_flywheel import _env
from otel_flywheel.model import Feedback
from otel_flywheel.server._body import ClientError, decompress
from otel_flywheel.server._http import (
    RequestGate,
    bearer_identity,
    content_encoding,
    content_kind,
    status_response,
)
from otel_flywheel.server._ingest import IngestWorker
from otel_flywheel.server._messages import feedback_problems
from otel_flywheel.server._spool import Spool, SpoolFullError

__all__ = ["FEEDBACK_PATH", "FeedbackEndpoint"]

logger = logging.getLogger(__name__)

FEEDBACK_PATH: Final = "/v1/feedback"


class FeedbackEndpoint:
    """The handler of ``POST /v1/feedback``; runs on the event loop."""

    def __init__(self, *, gate: RequestGate, spool: Spool, worker: IngestWorker) -> None:
        self._gate = gate
        self._spool = spool
        self._worker = worker
        self._metrics = gate.metrics
        self._settings = gate.settings
        self._credentials = {
            name: token.encode() for name, token in self._settings.feedback_credentials().items()
        }

    async def handle(self, request: Request) -> Response:
        kind = content_kind(request)
        sender: str | None = None
        response: Response | None
        if not self._credentials:
            response = status_response(
                403,
                "feedback needs its own credential, and this server has none: set "
                f"{_env.FLYWHEEL_SERVER_FEEDBACK_TOKEN} (or server.feedback_tokens in the config "
                "file) and send it as 'Authorization: Bearer <token>'",
                "json",
            )
        elif (sender := bearer_identity(request, self._credentials)) is None:
            response = status_response(
                401,
                "missing or wrong bearer token: feedback takes the token the server has in "
                f"{_env.FLYWHEEL_SERVER_FEEDBACK_TOKEN} (not the traces token)",
                "json",
                {"WWW-Authenticate": "Bearer"},
            )
        else:
            response = self._gate.refusal(request, kind, accepted=("json",))
        if response is None:
            assert sender is not None
            self._gate.inflight += 1
            try:
                response = await self._receive(request, sender)
            finally:
                self._gate.inflight -= 1
        self._metrics.requests.labels(FEEDBACK_PATH, str(response.status_code)).inc()
        return response

    async def _receive(self, request: Request, sender: str) -> Response:
        gate = self._gate
        try:
            body = await gate.read_body(request, FEEDBACK_PATH)
            gate.storing += 1
            try:
                feedback, status = await anyio.to_thread.run_sync(
                    self._store, body, content_encoding(request), sender
                )
            finally:
                gate.storing -= 1
        except ClientError as error:
            return status_response(error.status, error.message, "json")
        except ClientDisconnect:
            return Response(status_code=400)
        except SpoolFullError as error:
            self._metrics.feedback_rejected.labels("spool_full").inc()
            return status_response(503, f"{error}: retry later", "json", gate.retry_after)
        except sqlite3.Error as error:
            logger.error("cannot write to the spool %s: %s", self._spool.path, error)
            return status_response(
                503, f"the spool cannot be written: {error}", "json", gate.retry_after
            )
        return JSONResponse({"feedback_id": feedback.feedback_id, "status": status}, 202)

    def _store(
        self, body: bytes, encoding: str, sender: str
    ) -> tuple[Feedback, Literal["accepted", "held"]]:
        """Off the event loop: inflate, validate, check the trace, commit."""
        data = decompress(body, encoding, limit=self._settings.max_body_bytes)
        try:
            value = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ClientError(400, "the body is not valid JSON (UTF-8)") from None
        if isinstance(value, dict) and "sender" in value:
            raise ClientError(
                400,
                "sender: set by the server from the credential the feedback came with; leave it "
                "out (use annotator for who gave the feedback)",
            )
        try:
            feedback = Feedback.from_dict(value)
        except ValidationError as error:
            raise ClientError(400, f"invalid feedback: {feedback_problems(error)}") from None
        feedback = dataclasses.replace(feedback, sender=sender)
        held_until: int | None = None
        policy = self._settings.unknown_trace_feedback
        if policy != "accept" and not self._spool.knows(
            trace_id=feedback.trace_id, span_id=feedback.span_id
        ):
            if policy == "refuse":
                self._metrics.feedback_rejected.labels("unknown_trace").inc()
                named = "trace_id" if feedback.trace_id is not None else "span_id"
                raise ClientError(
                    404,
                    f"{named}: this server has not received that trace (or received it before "
                    "the window it remembers): send feedback once the trace was exported, or set "
                    f"{_env.FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK}=hold to keep it until the "
                    "trace arrives",
                )
            held_until = time.time_ns() + int(self._settings.feedback_hold_seconds * 1e9)
        stored = self._spool.add_feedback(
            feedback.feedback_id,
            json.dumps(feedback.to_dict()),
            trace_id=feedback.trace_id,
            span_id=feedback.span_id,
            held_until_unix_nano=held_until,
        )
        if stored:
            self._metrics.feedback_received.inc()
            self._worker.notify()
        return feedback, "held" if held_until is not None else "accepted"
