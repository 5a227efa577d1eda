"""What ``otel-flywheel serve`` writes to disk (raw spans in its spool, raw feedback, the outbox, the
routing store, the redaction key) is private to its user whatever the umask it runs under."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_harness import FEEDBACK_AUTH, FEEDBACK_TOKEN, metric_value, wait_until

from otel_flywheel.testing.phoenix import find_free_port


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(root: Path, found: dict[str, int], umask: int) -> None:
    for name, mode in found.items():
        expected = 0o700 if (root / name).is_dir() or name == "." else 0o600
        assert mode == expected, f"{name} is {mode:o} under umask {umask:03o}, not {expected:o}"


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_every_file_serve_creates_is_private_whatever_the_umask(
    serve_command, recorded_provider, tmp_path, umask
):
    state = tmp_path / "var" / "flywheel"
    serve = serve_command(
        ["--project", "private-files", "--no-judge"],
        env={
            "FLYWHEEL_STATE_DIR": str(state),
            "FLYWHEEL_SERVER_FEEDBACK_TOKEN": FEEDBACK_TOKEN,
            # Nothing listens there: the writes wait in the outbox, on disk.
            "PHOENIX_COLLECTOR_ENDPOINT": f"http://127.0.0.1:{find_free_port()}",
            "PHOENIX_DISCOVER_CONFIG": "false",
            "FLYWHEEL_REDACTION_KEY": "",
        },
        umask=umask,
    )
    provider, recorded = recorded_provider
    with provider.get_tracer("t").start_as_current_span("root") as root:
        pass
    exporter = OTLPSpanExporter(endpoint=serve.traces_url)
    assert exporter.export(recorded.get_finished_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    trace_id = f"{root.get_span_context().trace_id:032x}"
    feedback = httpx.post(
        f"{serve.base_url}/v1/feedback",
        json={"trace_id": trace_id, "thumbs": "down", "correction": "Write to ada@example.com"},
        headers=FEEDBACK_AUTH,
    )
    assert feedback.status_code == 202
    wait_until(
        lambda: metric_value(serve.base_url, "flywheel_pipeline_traces_evaluated_total") == 1,
        "the verdict",
    )

    running = modes(state)
    expected = {
        f"{store}{suffix}"
        for store in ("spool.sqlite", "outbox.sqlite", "routing.sqlite")
        for suffix in ("", "-wal", "-shm")
    } | {"spool.sqlite.lock", "redaction.key"}
    assert expected <= set(running), sorted(running)
    assert_private(state, running, umask)
    serve.stop()
    assert_private(state, modes(state), umask)
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
