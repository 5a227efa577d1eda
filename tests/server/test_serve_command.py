"""The real ``otel-flywheel serve`` command: crash safety under SIGKILL, a clean SIGTERM, TLS, and
the errors it reports before it starts."""

from __future__ import annotations

import signal
import ssl
import subprocess
import threading

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_harness import metric_value, wait_until
from span_log_pipeline import SPAN_LOG_ENV, read_span_log

from otel_flywheel.cli import main
from otel_flywheel.server import Spool
from otel_flywheel.testing.phoenix import find_free_port

PIPELINE = "span_log_pipeline:make_pipeline"
# Nothing closes by itself: every span the first instance acknowledged is still in its spool.
PATIENT = {"FLYWHEEL_TRACE_GRACE_MILLIS": "600000", "FLYWHEEL_TRACE_IDLE_TIMEOUT_MILLIS": "600000"}


def ids(spans) -> set[tuple[str, str]]:
    return {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in spans}


def agent_runs(recorded_provider, runs: int) -> list:
    provider, recorded = recorded_provider
    tracer = provider.get_tracer("support-agent")
    for run in range(runs):
        with tracer.start_as_current_span(f"run-{run}", attributes={"input.value": "help"}):
            for step in range(3):
                with tracer.start_as_current_span(f"step-{step}"):
                    pass
    return list(recorded.get_finished_spans())


def test_every_span_acknowledged_before_a_sigkill_is_delivered_after_a_restart(
    serve_command, recorded_provider, tmp_path
):
    span_log = tmp_path / "spans.log"
    args = ["--spool", str(tmp_path / "spool.sqlite"), "--pipeline", PIPELINE]
    first = serve_command(args, env={SPAN_LOG_ENV: str(span_log), **PATIENT})
    spans = agent_runs(recorded_provider, 300)
    # Batches of 7 spans: most traces (4 spans each) straddle two requests.
    batches = [spans[i : i + 7] for i in range(0, len(spans), 7)]
    exporter = OTLPSpanExporter(endpoint=first.traces_url, timeout=2)
    acknowledged: set[tuple[str, str]] = set()
    sent = [0]

    def send() -> None:
        for batch in batches:
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                return  # the server is gone
            acknowledged.update(ids(batch))
            sent[0] += 1

    sender = threading.Thread(target=send)
    sender.start()
    wait_until(lambda: sent[0] >= 10, "ten acknowledged batches")
    first.stop(signal.SIGKILL)  # while the exporter is still sending
    sender.join(60)
    exporter.shutdown()
    assert 10 <= sent[0] < len(batches), "the kill did not land while the exporter was sending"
    assert read_span_log(span_log) == (set(), False)  # nothing was delivered before the kill

    second = serve_command(args, env={SPAN_LOG_ENV: str(span_log)})

    wait_until(
        lambda: acknowledged <= read_span_log(span_log)[0],
        f"all {len(acknowledged)} acknowledged spans to reach the pipeline",
    )
    wait_until(
        lambda: metric_value(second.base_url, "flywheel_server_spool_spans") == 0, "an empty spool"
    )


def test_sigterm_hands_over_open_traces_and_shuts_the_pipeline_down(
    serve_command, recorded_provider, tmp_path
):
    span_log = tmp_path / "spans.log"
    serve = serve_command(
        ["--spool", str(tmp_path / "spool.sqlite"), "--pipeline", PIPELINE],
        env={SPAN_LOG_ENV: str(span_log), **PATIENT},
    )
    spans = agent_runs(recorded_provider, 2)
    exporter = OTLPSpanExporter(endpoint=serve.traces_url)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    wait_until(
        lambda: metric_value(serve.base_url, "flywheel_server_open_traces") == 2, "two open traces"
    )

    code = serve.stop(signal.SIGTERM)

    assert code == -signal.SIGTERM, serve.log()  # uvicorn re-raises the signal once it is done
    assert read_span_log(span_log) == (ids(spans), True)
    assert "Application shutdown complete" in serve.log()


def test_tls_is_served_with_the_certificate_and_key_given(
    serve_command, recorded_provider, tmp_path, monkeypatch
):
    # requests lets these variables override a session's CA file (psf/requests#3829), which is
    # how the exporter passes certificate_file: unset them so the exporter trusts our cert.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    trust = ssl.create_default_context(cafile=str(cert))
    serve = serve_command(
        ["--spool", str(tmp_path / "spool.sqlite"), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        scheme="https",
        verify=trust,
    )  # fmt: skip

    exporter = OTLPSpanExporter(endpoint=serve.traces_url, certificate_file=str(cert))
    assert exporter.export(agent_runs(recorded_provider, 1)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{serve.port}/healthz")  # plain HTTP is not spoken


def test_the_tokens_come_from_the_environment_each_for_its_own_path(
    serve_command, recorded_provider, tmp_path
):
    serve = serve_command(
        ["--spool", str(tmp_path / "spool.sqlite")],
        env={
            "FLYWHEEL_SERVER_TOKEN": "t0ken-t0ken",
            "FLYWHEEL_SERVER_FEEDBACK_TOKEN": "f33dback-t0ken",
            "FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK": "accept",
        },
    )
    body = {"trace_id": "ab" * 16, "thumbs": "up"}
    url = f"{serve.base_url}/v1/feedback"
    exporter = OTLPSpanExporter(
        endpoint=serve.traces_url, headers={"Authorization": "Bearer t0ken-t0ken"}
    )

    assert exporter.export(agent_runs(recorded_provider, 1)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert httpx.post(url, json=body).status_code == 401
    assert (
        httpx.post(url, json=body, headers={"Authorization": "Bearer t0ken-t0ken"}).status_code
        == 401
    )
    assert (
        httpx.post(url, json=body, headers={"Authorization": "Bearer f33dback-t0ken"}).status_code
        == 202
    )


# --- errors before it starts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--pipeline", "no_such_module:make"], "cannot import 'no_such_module'"),
        (["--pipeline", "span_log_pipeline:missing"], "has no 'missing'"),
        (["--pipeline", "span_log_pipeline:SHUTDOWN_LINE"], "is not callable"),
        (["--pipeline", "builtins:dict"], "returned dict, which is not a TracePipeline"),
        (["--pipeline", "no-colon"], "use MODULE:CALLABLE"),
        (["--port", "70000"], "port is invalid"),
        (["--max-spool-spans", "0"], "max_spool_spans is invalid"),
        (["--ssl-certfile", "cert.pem"], "give both --ssl-certfile and --ssl-keyfile"),
    ],
)
def test_bad_options_exit_2_naming_the_problem(capsys, tmp_path, options, message):
    code = main(["serve", "--spool", str(tmp_path / "spool.sqlite"), *options])

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "tools.json"),  # missing
        ("{", "not JSON"),
        ('{"tools": [{"description": "x"}]}', "tools[0] has no name"),
    ],
)
def test_a_bad_tool_file_exits_2_naming_the_problem(
    capsys, tmp_path, monkeypatch, content, message
):
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path / "state"))
    tools = tmp_path / "tools.json"
    if content is not None:
        tools.write_text(content, encoding="utf-8")
    code = main(
        ["serve", "--spool", str(tmp_path / "spool.sqlite"), "--no-judge", "--tools", str(tools)]
    )

    assert code == 2
    assert message in capsys.readouterr().err


def test_a_spool_in_use_by_another_instance_exits_2(capsys, tmp_path):
    path = tmp_path / "spool.sqlite"
    with Spool(path, max_spans=10):
        code = main(["serve", "--spool", str(path), "--port", str(find_free_port())])

    assert code == 2
    assert "give each instance its own --spool" in capsys.readouterr().err
