"""``LocalPhoenix``, ``find_phoenix_binary`` and ``wait_for_spans`` against a real ``phoenix serve``."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import format_span_id, format_trace_id
from phoenix.client import Client

from otel_flywheel.testing.phoenix import (
    FLYWHEEL_PHOENIX_BIN,
    LocalPhoenix,
    PhoenixNotFoundError,
    PhoenixStartError,
    find_phoenix_binary,
    wait_for_spans,
)


def _write_executable(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- against the real server -----------------------------------------------------------------------


def test_openinference_tool_spans_round_trip_through_otlp_http(
    phoenix_server: LocalPhoenix, phoenix_server_client: Client
) -> None:
    project = f"test-roundtrip-{uuid.uuid4().hex[:12]}"
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "otel-flywheel-tests", "openinference.project.name": project}
        )
    )
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=phoenix_server.otlp_traces_endpoint, timeout=10)
        )
    )
    tool_inputs = [{"order_id": "A-1"}, {"order_id": "B-2"}]
    try:
        tracer = provider.get_tracer("tests.testing.test_phoenix")
        with tracer.start_as_current_span(
            "support-agent", attributes={"openinference.span.kind": "AGENT"}
        ) as root:
            for tool_input in tool_inputs:
                with tracer.start_as_current_span(
                    "lookup_order",
                    attributes={
                        "openinference.span.kind": "TOOL",
                        "tool.name": "lookup_order",
                        "input.value": json.dumps(tool_input),
                        "input.mime_type": "application/json",
                        "output.value": "shipped",
                    },
                ):
                    pass
        trace_id = format_trace_id(root.get_span_context().trace_id)
        root_span_id = format_span_id(root.get_span_context().span_id)
    finally:
        provider.shutdown()

    spans = wait_for_spans(
        phoenix_server_client,
        project=project,
        trace_ids=[trace_id],
        min_count=3,
        timeout_seconds=60,
    )

    assert len(spans) == 3
    assert {span["context"]["trace_id"] for span in spans} == {trace_id}
    by_kind = {kind: [s for s in spans if s["span_kind"] == kind] for kind in ("AGENT", "TOOL")}
    (agent,) = by_kind["AGENT"]
    assert agent["name"] == "support-agent"
    assert agent["context"]["span_id"] == root_span_id
    tools = by_kind["TOOL"]
    assert len(tools) == 2
    for tool in tools:
        assert tool["name"] == "lookup_order"
        assert tool["parent_id"] == root_span_id
        attributes = tool.get("attributes", {})
        # Phoenix lifts `openinference.span.kind` out of the attributes into `span_kind`.
        assert "openinference.span.kind" not in attributes
        assert attributes["tool.name"] == "lookup_order"
        assert attributes["output.value"] == "shipped"
        # input.value stays a string on the way through (only JSON metadata-like keys are parsed).
        assert isinstance(attributes["input.value"], str)
    assert sorted(json.loads(t["attributes"]["input.value"])["order_id"] for t in tools) == [
        "A-1",
        "B-2",
    ]


def test_wait_for_spans_times_out_naming_what_it_saw(phoenix_server_client: Client) -> None:
    project = f"test-never-written-{uuid.uuid4().hex[:12]}"

    with pytest.raises(TimeoutError, match=r"saw 0 of 1 spans .*not created yet"):
        wait_for_spans(phoenix_server_client, project=project, min_count=1, timeout_seconds=1)


def test_phoenix_server_answers_on_loopback_with_its_log_in_the_working_dir(
    phoenix_server: LocalPhoenix,
) -> None:
    assert phoenix_server.running
    assert phoenix_server.base_url == f"http://127.0.0.1:{phoenix_server.port}"
    assert phoenix_server.otlp_traces_endpoint == f"{phoenix_server.base_url}/v1/traces"
    assert phoenix_server.port != phoenix_server.grpc_port
    assert phoenix_server.log_path.parent == phoenix_server.working_dir
    assert (phoenix_server.working_dir / "phoenix.db").exists()
    assert "Application startup complete" in phoenix_server.log_path.read_text(errors="replace")


# --- finding the executable ----------------------------------------------------------------------


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env override, an empty PATH and a working directory with no `.venv-phoenix`."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / "pyproject.toml").write_text("")  # the repository root: the search stops here
    monkeypatch.delenv(FLYWHEEL_PHOENIX_BIN, raising=False)
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.chdir(workdir)
    return workdir


def test_find_phoenix_binary_names_the_fix_when_nothing_is_found(nothing_installed: Path) -> None:
    with pytest.raises(PhoenixNotFoundError) as raised:
        find_phoenix_binary()

    message = str(raised.value)
    assert FLYWHEEL_PHOENIX_BIN in message
    assert "make .venv-phoenix/" in message
    assert "pip install arize-phoenix" in message


def test_find_phoenix_binary_prefers_env_then_repo_venv_then_path(
    nothing_installed: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = "#!/bin/sh\nexit 0\n"
    on_path = tmp_path / "path-bin"
    on_path.mkdir()
    path_phoenix = _write_executable(on_path / "phoenix", script)
    monkeypatch.setenv("PATH", str(on_path))
    assert find_phoenix_binary() == path_phoenix

    venv_bin = nothing_installed / ".venv-phoenix" / "bin"
    venv_bin.mkdir(parents=True)
    venv_phoenix = _write_executable(venv_bin / "phoenix", script)
    subdir = nothing_installed / "docs"
    subdir.mkdir()
    monkeypatch.chdir(subdir)  # found from inside the repository, not only at its root
    assert find_phoenix_binary() == venv_phoenix

    explicit = _write_executable(tmp_path / "my-phoenix", script)
    monkeypatch.setenv(FLYWHEEL_PHOENIX_BIN, str(explicit))
    assert find_phoenix_binary() == explicit


def test_find_phoenix_binary_rejects_a_wrong_env_value_instead_of_falling_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(FLYWHEEL_PHOENIX_BIN, str(tmp_path / "missing" / "phoenix"))

    with pytest.raises(PhoenixNotFoundError, match=f"{FLYWHEEL_PHOENIX_BIN}=.*not an executable"):
        find_phoenix_binary()


# --- lifecycle, with stand-ins for the server -------------------------------------------------------


def test_start_raises_with_the_log_tail_when_the_server_exits_early(tmp_path: Path) -> None:
    binary = _write_executable(
        tmp_path / "phoenix",
        """
        #!/bin/sh
        echo "migrating..."
        echo "ERROR: [Errno 98] address already in use" >&2
        exit 3
        """,
    )
    server = LocalPhoenix(binary=binary, working_dir=tmp_path / "wd", startup_timeout_seconds=30)

    with pytest.raises(PhoenixStartError) as raised:
        server.start()

    message = str(raised.value)
    assert "exited with code 3" in message
    assert "migrating...\nERROR: [Errno 98] address already in use" in message
    assert str(server.log_path) in message
    assert "pip install arize-phoenix" in message
    assert not server.running
    server.stop()  # idempotent after a failed start


def test_start_times_out_with_the_log_tail_and_kills_the_server(tmp_path: Path) -> None:
    binary = _write_executable(
        tmp_path / "phoenix",
        """
        #!/bin/sh
        echo "importing for ever"
        exec sleep 60
        """,
    )
    server = LocalPhoenix(binary=binary, working_dir=tmp_path / "wd", startup_timeout_seconds=1)

    with pytest.raises(PhoenixStartError, match=r"(?s)within 1 s.*importing for ever"):
        server.start()

    assert _process_gone(server.pid)


_FAKE_SERVER = """
import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

if os.environ.get("IGNORE_SIGTERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("env", {k: v for k, v in os.environ.items() if k.startswith("PHOENIX_")}, flush=True)

class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PHOENIX_PORT"])), Health).serve_forever()
"""


@pytest.fixture
def fake_phoenix(tmp_path: Path) -> Path:
    """A `phoenix` stand-in that answers /healthz on PHOENIX_PORT and logs its PHOENIX_* env."""
    script = tmp_path / "fake_phoenix.py"
    script.write_text(_FAKE_SERVER)
    return _write_executable(
        tmp_path / "phoenix", f'#!/bin/sh\nexec "{sys.executable}" "{script}"\n'
    )


def test_server_env_is_isolated_from_inherited_phoenix_settings(
    fake_phoenix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOENIX_SQL_DATABASE_URL", "postgresql://someone/production")

    with LocalPhoenix(binary=fake_phoenix, working_dir=tmp_path / "wd") as server:
        pass

    log = server.log_path.read_text()
    assert "PHOENIX_SQL_DATABASE_URL" not in log
    for expected in (
        f"'PHOENIX_PORT': '{server.port}'",
        f"'PHOENIX_GRPC_PORT': '{server.grpc_port}'",
        f"'PHOENIX_WORKING_DIR': '{tmp_path / 'wd'}'",
        "'PHOENIX_HOST': '127.0.0.1'",
        "'PHOENIX_TELEMETRY_ENABLED': 'false'",
        "'PHOENIX_ALLOW_EXTERNAL_RESOURCES': 'false'",
        "'PHOENIX_DISCOVER_CONFIG': 'false'",
    ):
        assert expected in log


def test_stop_escalates_to_sigkill_and_is_idempotent(fake_phoenix: Path, tmp_path: Path) -> None:
    server = LocalPhoenix(
        binary=fake_phoenix,
        working_dir=tmp_path / "wd",
        stop_timeout_seconds=0.5,
        env={"IGNORE_SIGTERM": "1"},
    )
    server.start()
    assert server.running

    server.stop()

    assert not server.running
    assert _process_gone(server.pid)
    server.stop()
