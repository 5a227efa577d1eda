"""Helpers for tests against Phoenix: spans exported on demand, a server with a canned answer, and
a TCP forwarder that stands for a network path to Phoenix that is down until it is started."""

from __future__ import annotations

import http.server
import selectors
import socket
import socketserver
import threading
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id
from phoenix.client import Client

from otel_flywheel.testing.phoenix import LocalPhoenix, find_free_port, wait_for_spans


class SpanSource:
    """Makes traces with the real SDK; ``export()`` sends what was made to Phoenix and waits until
    Phoenix can be queried for it (ingest is asynchronous)."""

    def __init__(self, phoenix: LocalPhoenix, client: Client, project: str) -> None:
        self.project = project
        self._client = client
        self._memory = InMemorySpanExporter()
        self._provider = TracerProvider(
            resource=Resource.create({"openinference.project.name": project})
        )
        self._provider.add_span_processor(SimpleSpanProcessor(self._memory))
        self._otlp = OTLPSpanExporter(endpoint=phoenix.otlp_traces_endpoint, timeout=10)
        self._exported = 0

    def trace(self, *, children: int = 0) -> tuple[str, list[str]]:
        """A new trace: its id and its span ids, root first."""
        tracer = self._provider.get_tracer("tests.sinks")
        span_ids = []
        with tracer.start_as_current_span("agent") as root:
            span_ids.append(format_span_id(root.get_span_context().span_id))
            for index in range(children):
                with tracer.start_as_current_span(f"tool-{index}") as child:
                    span_ids.append(format_span_id(child.get_span_context().span_id))
        return format_trace_id(root.get_span_context().trace_id), span_ids

    def export(self) -> None:
        spans = self._memory.get_finished_spans()
        self._memory.clear()
        assert self._otlp.export(spans) == SpanExportResult.SUCCESS
        self._exported += len(spans)
        wait_for_spans(self._client, project=self.project, min_count=self._exported)

    def close(self) -> None:
        self._otlp.shutdown()
        self._provider.shutdown()


def span_annotations(client: Client, project: str, span_id: str) -> list[Any]:
    return client.spans.get_span_annotations(span_ids=[span_id], project_identifier=project)


def trace_annotations(client: Client, project: str, trace_id: str) -> list[dict[str, Any]]:
    response = client._client.get(
        f"v1/projects/{project}/trace_annotations", params={"trace_ids": [trace_id]}
    )
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def dataset_examples(client: Client, dataset: str) -> list[Any]:
    return list(client.datasets.get_dataset(dataset=dataset).examples)


class CannedPhoenix:
    """A real HTTP server that answers every request with one status, headers and body, as a
    proxy or an overloaded Phoenix would. ``answer(...)`` changes what it answers from then on."""

    def __init__(self, status: int, headers: dict[str, str], body: str = "") -> None:
        self.requests: list[str] = []
        self.answer(status, headers, body)
        canned = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                canned.requests.append(self.path)
                status, headers, body = canned.canned
                payload = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, status: int, headers: dict[str, str], body: str = "") -> None:
        self.canned = (status, headers, body)  # one reference swap: handlers see old or new

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Pump(socketserver.BaseRequestHandler):
    server: Forwarder

    def handle(self) -> None:
        with (
            socket.create_connection(("127.0.0.1", self.server.target_port)) as upstream,
            selectors.DefaultSelector() as selector,
        ):
            selector.register(self.request, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, self.request)
            while not self.server.closing:
                for key, _ in selector.select(timeout=0.1):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)


class Forwarder(socketserver.ThreadingTCPServer):
    """``127.0.0.1:port`` forwarded to ``target_port``. Until ``start()`` nothing listens there,
    so connections are refused, as when Phoenix is down."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target_port: int) -> None:
        self.port = find_free_port()
        self.target_port = target_port
        self.closing = False
        self._thread: threading.Thread | None = None
        super().__init__(("127.0.0.1", self.port), _Pump, bind_and_activate=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server_bind()
        self.server_activate()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.closing = True
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()
