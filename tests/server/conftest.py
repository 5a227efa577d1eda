"""Fixtures for the server tests; the helpers they use are in ``serve_harness``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from serve_harness import RunningServer, ServeProcess, start_in_process, start_subprocess


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """``serve(pipeline=..., max_spool_spans=...)`` starts the app in-process (see
    ``start_in_process``); every server still running is stopped at the end of the test, and its
    ingest worker must not have hit an internal error."""
    servers: list[RunningServer] = []

    def start(**options: Any) -> RunningServer:
        options.setdefault("spool_path", tmp_path / f"spool-{len(servers)}.sqlite")
        server = start_in_process(**options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.thread.is_alive():
            server.stop()


@pytest.fixture
def serve_command(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """``serve_command([...args], env={...})`` runs the real ``otel-flywheel serve``; anything
    still running at the end of the test is killed."""
    processes: list[ServeProcess] = []

    def start(args: list[str], **options: Any) -> ServeProcess:
        options.setdefault("log_path", tmp_path / "serve.log")
        process = start_subprocess(args, **options)
        processes.append(process)
        return process

    yield start
    for serve in processes:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait(timeout=30)


@pytest.fixture
def recorded_provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A real TracerProvider recording ended spans, to export them by hand in chosen batches."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "support-agent"}), shutdown_on_exit=False
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()
