"""Did a TOOL step fail, and how do we know? Shared by ``tool_error`` and ``repeated_call``.

A tool step failed when its status is error, an exception was recorded (``step.error`` or
``tool.error``), or its result reports one:

- a JSON object with a top-level ``error``/``errors`` key (not null, not empty), MCP's
  ``"isError": true``, ``"success": false`` or ``"ok": false``, ``"status": "error"``/``"failed"``,
  or an HTTP status >= 400 under ``status_code``, ``statusCode``, ``http_status`` or ``status``;
- text that opens with an HTTP status (``404: no order``, ``HTTP 500 Internal Server Error``,
  ``HTTP/1.1 503``), with ``Error:`` or ``Exception:`` (how many agent frameworks hand a tool's
  exception back to the model), or with a Python traceback.

A failed call changed nothing: the checks that compare calls with references count only the
others (see ``_calls.effective_sites``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from otel_flywheel.model import Step

__all__ = ["failure_reason"]

_LEADING_HTTP = re.compile(r"^\s*(?:HTTP(?:/\d(?:\.\d)?)?\s+([1-5]\d\d)\b|([45]\d\d)\s*:)", re.I)
_LEADING_ERROR = re.compile(
    r"^\s*(?:(?:error|exception)\s*:|traceback \(most recent call last\))", re.I
)
_STATUS_KEYS = ("status_code", "statusCode", "http_status", "status")


def failure_reason(step: Step) -> str | None:
    """Why the TOOL step failed, in words, or None when it did not."""
    tool = step.tool
    error = step.error or (tool.error if tool is not None else None)
    if error:
        return f"raised {error}"
    if step.status == "error":
        return "ended with error status"
    result = tool.result if tool is not None and tool.result is not None else step.output
    if result is None:
        return None
    return _result_failure(result)


def _result_failure(result: str) -> str | None:
    try:
        payload: Any = json.loads(result)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        for key in ("error", "errors"):
            if payload.get(key) not in (None, "", [], {}, False):
                return f"returned an error payload: {key}={payload[key]!r}"
        if payload.get("isError") is True:
            return "returned an error result (isError)"
        for key in ("success", "ok"):
            if payload.get(key) is False:
                return f"returned {key}=false"
        if str(payload.get("status", "")).lower() in ("error", "failed", "failure"):
            return f"returned status {payload['status']!r}"
        for key in _STATUS_KEYS:
            code = payload.get(key)
            if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
                return f"returned HTTP status {code} ({key})"
        return None
    if payload is not None:
        return None
    match = _LEADING_HTTP.match(result)
    if match is not None:
        code = int(match.group(1) or match.group(2))
        if code >= 400:
            return f"returned HTTP status {code}: {result[:200]!r}"
    if _LEADING_ERROR.match(result):
        return f"returned an error: {result[:200]!r}"
    return None
