"""Running ``otel-flywheel serve`` in tests: the app in-process under a real uvicorn on a free port
(in a thread), or the real command as a subprocess. Fixtures are in ``conftest.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from otel_flywheel.capture import InMemoryPipeline, TracePipeline
from otel_flywheel.config import CaptureSettings
from otel_flywheel.server import FeedbackSink, ServerSettings, Spool, create_app
from otel_flywheel.testing.phoenix import find_free_port

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVE = [str(Path(sys.executable).with_name("otel-flywheel")), "serve"]
WAIT_SECONDS = 30.0
# Short assembly timings so traces close within a test; the rules themselves are the assembler's.
FAST_CAPTURE = CaptureSettings(
    trace_grace_millis=50, trace_idle_timeout_millis=500, schedule_delay_millis=20
)
# The credential POST /v1/feedback needs; start_in_process configures it unless told otherwise.
FEEDBACK_TOKEN = "feedback-credential-0123456789"
FEEDBACK_AUTH = {"Authorization": f"Bearer {FEEDBACK_TOKEN}"}
FAST_CAPTURE_ENV = {
    "FLYWHEEL_TRACE_GRACE_MILLIS": "50",
    "FLYWHEEL_TRACE_IDLE_TIMEOUT_MILLIS": "500",
    "FLYWHEEL_SCHEDULE_DELAY_MILLIS": "20",
}


def wait_until(
    condition: Callable[[], bool], what: str, timeout_seconds: float = WAIT_SECONDS
) -> None:
    """Poll ``condition``; fail the test naming ``what`` if it is not met within the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_seconds:g} s waiting for {what}")
        time.sleep(0.02)


def metric_value(base_url: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """A sample's value as ``/metrics`` serves it, parsed with prometheus_client's parser."""
    text = httpx.get(f"{base_url}/metrics", verify=False).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and dict(sample.labels) == dict(labels or {}):
                return float(sample.value)
    return 0.0


# --- in-process -------------------------------------------------------------------------------


@dataclass
class RunningServer:
    app: Starlette
    base_url: str
    spool: Spool
    registry: CollectorRegistry
    pipeline: Any
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"

    def metric(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        return metric_value(self.base_url, name, labels)

    def stop(self) -> None:
        """What SIGTERM does: stop accepting, finish requests in flight, run the shutdown."""
        self.server.should_exit = True
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "uvicorn did not stop within 60 s"
        assert self.app.state.worker.internal_errors == []


def start_in_process(
    spool_path: Path,
    *,
    pipeline: TracePipeline | None = None,
    feedback_sink: FeedbackSink | None = None,
    capture_settings: CaptureSettings = FAST_CAPTURE,
    registry: CollectorRegistry | None = None,
    **settings: Any,
) -> RunningServer:
    """The app under uvicorn in a thread, on a free port; ``settings`` go to ``ServerSettings``
    (``feedback_token`` defaults to ``FEEDBACK_TOKEN``)."""
    port = find_free_port()
    settings.setdefault("feedback_token", FEEDBACK_TOKEN)
    server_settings = ServerSettings(port=port, **settings)
    spool = Spool(
        spool_path,
        max_spans=server_settings.max_spool_spans,
        max_feedback=server_settings.max_spool_feedback,
        max_held_feedback=server_settings.max_held_feedback,
    )
    registry = registry if registry is not None else CollectorRegistry()
    pipeline = pipeline if pipeline is not None else InMemoryPipeline()
    app = create_app(
        pipeline=pipeline,
        spool=spool,
        settings=server_settings,
        feedback_sink=feedback_sink,
        capture_settings=capture_settings,
        registry=registry,
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
    assert server.started, "uvicorn stopped before it started; see the log"
    return RunningServer(
        app=app,
        base_url=f"http://127.0.0.1:{port}",
        spool=spool,
        registry=registry,
        pipeline=pipeline,
        server=server,
        thread=thread,
    )


# --- the real command -------------------------------------------------------------------------


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    scheme: str = "http"
    command: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)


def start_subprocess(
    args: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    scheme: str = "http",
    verify: str | bool = True,
    umask: int = -1,
) -> ServeProcess:
    """Start ``otel-flywheel serve`` on a free port and wait until ``/healthz`` answers.

    ``umask``: the child's (``-1`` keeps ours)."""
    port = find_free_port()
    child_env = {
        **os.environ,
        "PYTHONPATH": str(HERE),  # span_log_pipeline, for --pipeline
        **FAST_CAPTURE_ENV,
        **(env or {}),
    }
    command = [*SERVE, "--port", str(port), *args]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=child_env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, umask=umask
        )
    serve = ServeProcess(
        process=process, port=port, log_path=log_path, scheme=scheme, command=command
    )

    def healthy() -> bool:
        if process.poll() is not None:
            return True
        try:
            response = httpx.get(f"{serve.base_url}/healthz", verify=verify, timeout=1.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    wait_until(healthy, f"`{' '.join(command)}` to answer /healthz")
    if process.poll() is not None:
        pytest.fail(f"serve exited with {process.returncode}:\n{serve.log()}")
    return serve
