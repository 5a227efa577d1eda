"""Links into the Phoenix UI, for the traces a report names."""

from __future__ import annotations

__all__ = ["span_url", "trace_url"]


def span_url(phoenix_url: str, span_id: str) -> str:
    """The Phoenix UI page of the span's trace, with that span selected.

    Phoenix's frontend resolves ``/redirects/spans/<otel span id>`` to
    ``/projects/<project>/spans/<trace id>?selectedSpanNodeId=...`` (its router, 20.x).
    """
    return f"{phoenix_url.rstrip('/')}/redirects/spans/{span_id}"


def trace_url(phoenix_url: str, trace_id: str) -> str:
    """The Phoenix UI page of the trace (``/redirects/traces/<otel trace id>``)."""
    return f"{phoenix_url.rstrip('/')}/redirects/traces/{trace_id}"
