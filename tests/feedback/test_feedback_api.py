"""`otel_flywheel.feedback(...)`: the public call, through the sink `register()` installs."""

from __future__ import annotations

import pytest

import otel_flywheel
from otel_flywheel._register import register
from otel_flywheel.errors import ConfigError
from otel_flywheel.testing.phoenix import find_free_port

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def test_feedback_routes_through_the_flywheel_register_built() -> None:
    provider = register(
        project="feedback-api",
        endpoint=f"http://127.0.0.1:{find_free_port()}",  # nobody there: writes wait in the outbox
        set_global=False,
    )
    try:
        stored = otel_flywheel.feedback(
            trace_id=TRACE_ID, thumbs=False, correction="Refunds take 5 days, ada@example.com"
        )
        assert stored.thumbs == "down"
        assert stored.correction is not None
        assert "ada@example.com" not in stored.correction  # redacted before it is stored
        assert stored.trace_id == TRACE_ID
    finally:
        provider.shutdown()
        otel_flywheel.set_feedback_sink(None)


def test_feedback_without_a_flywheel_names_the_fix() -> None:
    previous = otel_flywheel.set_feedback_sink(None)
    try:
        with pytest.raises(ConfigError, match=r"register\(\.\.\.\)"):
            otel_flywheel.feedback(trace_id=TRACE_ID, thumbs="up")
    finally:
        otel_flywheel.set_feedback_sink(previous)


def test_feedback_that_says_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="says nothing"):
        otel_flywheel.feedback(trace_id=TRACE_ID)
