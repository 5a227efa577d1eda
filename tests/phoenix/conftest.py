"""Fixtures for the sink tests: a unique project, spans exported on demand, a PhoenixSink bound to
the session's Phoenix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from phoenix.client import Client
from phoenix_helpers import SpanSource

from otel_flywheel.phoenix import PhoenixSink
from otel_flywheel.testing.phoenix import LocalPhoenix


@pytest.fixture
def project() -> str:
    return f"sink-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def spans(
    phoenix_server: LocalPhoenix, phoenix_server_client: Client, project: str
) -> Iterator[SpanSource]:
    source = SpanSource(phoenix_server, phoenix_server_client, project)
    yield source
    source.close()


@pytest.fixture
def sink(phoenix_server: LocalPhoenix) -> Iterator[PhoenixSink]:
    with PhoenixSink(base_url=phoenix_server.base_url, timeout_seconds=30) as phoenix_sink:
        yield phoenix_sink
