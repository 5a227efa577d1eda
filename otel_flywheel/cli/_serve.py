"""``otel-flywheel serve``: the OTLP/HTTP receiver, run under uvicorn.

The library builds the app (``otel_flywheel.server.create_app``); this command resolves the
settings, loads the pipeline, opens the spool, and runs uvicorn, whose signal handlers stop it
cleanly on SIGTERM or Ctrl-C: no new connections, requests in flight answered, the spool
delivered for up to ``shutdown_timeout_seconds``, every open trace handed over, the pipeline shut
down.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from otel_flywheel import _env
from otel_flywheel._flywheel import Flywheel
from otel_flywheel.capture import TracePipeline
from otel_flywheel.config import resolve_settings
from otel_flywheel.errors import ConfigError
from otel_flywheel.state import private_directory, state_dir

__all__ = ["add_serve_parser", "build_default_pipeline", "load_pipeline"]

EXAMPLES = """\
examples:
  otel-flywheel serve --project support-agent          # 127.0.0.1:4319, spool in .flywheel/,
                                                        # verdicts and datasets into Phoenix :6006
  FLYWHEEL_SERVER_TOKEN=s3cret otel-flywheel serve --host 0.0.0.0 \\
      --ssl-certfile cert.pem --ssl-keyfile key.pem     # reachable from other hosts: auth + TLS
  otel-flywheel serve --pipeline my_agent.flywheel:make_pipeline --spool /var/lib/flywheel/spool.sqlite

endpoints: POST /v1/traces (OTLP/HTTP protobuf or JSON, gzip), POST /v1/feedback (JSON),
GET /healthz, GET /readyz, GET /metrics (Prometheus). Settings: FLYWHEEL_SERVER_* variables or the
`server:` section of flywheel.yaml. FLYWHEEL_SERVER_TOKEN turns on bearer auth for /v1/traces;
feedback needs its own token, FLYWHEEL_SERVER_FEEDBACK_TOKEN (without one it is off), and is
refused for traces this server never received (FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK=hold keeps
it until the trace arrives). A trace leaves the spool once its verdict is durable in the outbox;
dead outbox writes: otel-flywheel outbox status.

exit codes: 0 stopped cleanly; 2 bad options, pipeline or spool (message on stderr); 3 uvicorn could
not start (port in use, bad certificate). On SIGTERM it stops cleanly, then ends by that signal
(143 in a shell), as uvicorn does; Ctrl-C gives 130.
"""


def add_serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="receive OTLP traces over HTTP (from a Collector) and run them through the flywheel",
        description=(
            "Receive OTLP/HTTP traces and feedback, spool them durably to local SQLite, assemble "
            "and redact each trace as the in-process processor does, and hand it to a pipeline."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 4319)")
    parser.add_argument(
        "--spool", type=Path, help="SQLite spool file, one per instance (default .flywheel/)"
    )
    parser.add_argument(
        "--project",
        help="Phoenix project for annotations and datasets (default: FLYWHEEL_PROJECT, "
        "PHOENIX_PROJECT_NAME, config file, else 'default')",
    )
    parser.add_argument(
        "--phoenix-url",
        help="Phoenix to write annotations and datasets to (default: PHOENIX_COLLECTOR_ENDPOINT, "
        "else http://localhost:6006)",
    )
    judge = parser.add_mutually_exclusive_group()
    judge.add_argument(
        "--judge",
        dest="judge",
        action="store_true",
        default=None,
        help="run the rubric LLM judge (default: when FLYWHEEL_JUDGE_MODEL is set)",
    )
    judge.add_argument(
        "--no-judge", dest="judge", action="store_false", help="run only the deterministic checks"
    )
    parser.add_argument(
        "--rubrics", type=Path, help="a directory of rubric YAML files (default: the shipped ones)"
    )
    parser.add_argument(
        "--tools",
        type=Path,
        help="tool definitions and declarations (MCP tools/list JSON, plus optional"
        ' "read_only" and "retrieval" name lists), as for evaluate --tools',
    )
    parser.add_argument(
        "--pipeline",
        metavar="MODULE:CALLABLE",
        help="zero-argument factory returning your own TracePipeline (imported with the working "
        "directory on sys.path) instead of the flywheel's",
    )
    parser.add_argument(
        "--max-spool-spans", type=int, help="spooled spans before 503 (default 200000)"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, help="largest body, sent or inflated (default 16 MiB)"
    )
    parser.add_argument(
        "--max-concurrent-requests", type=int, help="POSTs in flight before 429 (default 64)"
    )
    parser.add_argument("--ssl-certfile", type=Path, help="serve HTTPS with this certificate")
    parser.add_argument("--ssl-keyfile", type=Path, help="the certificate's private key")
    parser.set_defaults(handler=run_serve)


def build_default_pipeline(args: argparse.Namespace) -> Flywheel:
    """The flywheel ``serve`` runs without ``--pipeline``: checks, judge, routing into Phoenix."""
    from otel_flywheel._flywheel import build_flywheel
    from otel_flywheel._register import resolve_otlp_traces_endpoint
    from otel_flywheel.config import resolve_project
    from otel_flywheel.phoenix import base_url_of

    return build_flywheel(
        project=resolve_project(args.project),
        phoenix_url=base_url_of(resolve_otlp_traces_endpoint(args.phoenix_url)),
        phoenix_api_key=os.environ.get(_env.PHOENIX_API_KEY),
        judge=args.judge,
        rubrics_dir=args.rubrics,
        tools=args.tools,
    )


def load_pipeline(spec: str) -> TracePipeline:
    """Call the zero-argument factory ``spec`` names (``package.module:callable``).

    Raises ``ConfigError`` naming the fix when it cannot be imported, called, or does not return
    a ``TracePipeline``.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--pipeline {spec!r}: use MODULE:CALLABLE, e.g. my_agent.flywheel:make")
    # As uvicorn does for its app: the working directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"--pipeline {spec!r}: cannot import {module_name!r}: {error}") from None
    factory: Any = module
    for part in attribute.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise ConfigError(f"--pipeline {spec!r}: {module_name!r} has no {attribute!r}")
    if not callable(factory):
        raise ConfigError(f"--pipeline {spec!r}: {attribute!r} is not callable")
    pipeline = factory()
    if not isinstance(pipeline, TracePipeline):
        raise ConfigError(
            f"--pipeline {spec!r} returned {type(pipeline).__qualname__}, which is not a "
            "TracePipeline: it needs submit(trace), force_flush(timeout_millis) and shutdown()"
        )
    return pipeline


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from otel_flywheel.server import ServerSettings, create_app, open_spool

    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        print("otel-flywheel serve: give both --ssl-certfile and --ssl-keyfile", file=sys.stderr)
        return 2
    try:
        # First, so that whatever creates a file in it next (the redaction key, the outbox, the
        # spool) finds it private: everything in it is agent data.
        private_directory(state_dir())
        settings = resolve_settings(
            ServerSettings,
            {
                "host": args.host,
                "port": args.port,
                "spool": args.spool,
                "max_spool_spans": args.max_spool_spans,
                "max_body_bytes": args.max_body_bytes,
                "max_concurrent_requests": args.max_concurrent_requests,
            },
        )
        pipeline: TracePipeline = (
            load_pipeline(args.pipeline) if args.pipeline else build_default_pipeline(args)
        )
        spool = open_spool(settings)
    except (ConfigError, OSError) as exc:
        print(f"otel-flywheel serve: {exc}", file=sys.stderr)
        return 2
    try:
        flywheel = pipeline if isinstance(pipeline, Flywheel) else None
        app = create_app(
            pipeline=pipeline,
            spool=spool,
            settings=settings,
            feedback_sink=flywheel,
            collectors=flywheel.collectors() if flywheel is not None else (),
        )
    except ConfigError as exc:
        spool.close()
        print(f"otel-flywheel serve: {exc}", file=sys.stderr)
        return 2

    scheme = "https" if args.ssl_certfile else "http"
    auth = "bearer token" if settings.token_value() else "none"
    feedback_senders = sorted(settings.feedback_credentials())
    feedback = (
        f"feedback from {', '.join(feedback_senders)}"
        if feedback_senders
        else "feedback off (set FLYWHEEL_SERVER_FEEDBACK_TOKEN)"
    )
    print(
        f"otel-flywheel serve: {scheme}://{_url_host(settings.host)}:{settings.port}/v1/traces, "
        f"spool {spool.path} ({spool.depth_spans} spans waiting), "
        f"pipeline {type(pipeline).__qualname__}, auth {auth}, {feedback}",
        file=sys.stderr,
    )
    if not _is_loopback(settings.host) and settings.token_value() is None:
        print(
            f"otel-flywheel serve: warning: {settings.host} is reachable from other hosts and "
            "FLYWHEEL_SERVER_TOKEN is not set: anyone who can connect can write traces",
            file=sys.stderr,
        )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        lifespan="on",
        # Our logging (main() configured it); uvicorn's INFO lines say where it listens.
        log_config=None,
        log_level="info",
        access_log=False,
        # Requests in flight finish within this; the app's own shutdown comes after.
        timeout_graceful_shutdown=30,
    )
    # What exists now (modules, the pipeline, the redactor's compiled patterns) lives as long as
    # the server: frozen out of the collector's sight, a full collection walks only what serving
    # creates (docs/benchmarks.md, "Ingest": GC was ~4 us per delivered span).
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
