"""The Collector configurations: collector-config.yaml, its load-balancing variant, and the sidecar
config in docs/deployment.md.

otelcol-contrib reports some mistakes only when it starts (an undefined component, a queue naming a
storage that does not exist) and others never (a default pointing at the wrong port, a queue that
drops after five minutes, a regex that masks token counts). These tests read the YAML as the
Collector would, expanding ``${env:NAME:-default}`` the same way, and check the parts we rely on.
The redaction patterns are run with Python's ``re`` in place of Go's RE2; they use only syntax
both engines share, which one test enforces.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from openinference.semconv import resource as oi_resource
from openinference.semconv import trace as oi_trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import format_trace_id
from phoenix.client import Client

from otel_flywheel import _env
from otel_flywheel import semconv as sc
from otel_flywheel._register import DEFAULT_PHOENIX_ENDPOINT
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.config import CaptureSettings
from otel_flywheel.privacy import BuiltinDetector, RedactionAudit, Redactor
from otel_flywheel.server import DEFAULT_PORT, ServerSettings, Spool, create_app
from otel_flywheel.testing.phoenix import LocalPhoenix, find_free_port, wait_for_spans

REPO = Path(__file__).resolve().parent.parent
MAIN_FILE = REPO / "collector-config.yaml"
LOADBALANCING_FILE = REPO / "collector-config.loadbalancing.yaml"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"

KINDS = ("receivers", "processors", "exporters")
PHOENIX_EXPORTER = "otlp_http/phoenix"
FLYWHEEL_EXPORTER = "otlp_http/flywheel"
BALANCER = "load_balancing/flywheel"
# How the otlp_http exporter turns its `endpoint` (a base URL) into the traces URL.
TRACES_PATH = "/v1/traces"
# What one span may weigh for a full batch to fit in one request to `serve` (LLM spans carry
# whole prompts; 128 KiB is generous).
SPAN_BYTES_BUDGET = 128 * 1024
MASK = "****"  # what the redaction processor writes when no hash_function is set


# --- reading configs as the Collector does ---------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_ENV_REFERENCE = re.compile(r"env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.S)
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def _lookup(reference: str, environ: Mapping[str, str]) -> str:
    match = _ENV_REFERENCE.fullmatch(reference)
    assert match is not None, f"${{{reference}}} is not an ${{env:NAME:-default}} reference"
    name, default = match["name"], match["default"]
    if name in environ:
        return environ[name]
    assert default is not None, f"${{{reference}}} has no default: the config breaks when unset"
    return default


def expand(node: Any, environ: Mapping[str, str]) -> Any:
    """``node`` after the Collector's env substitution (confmap): a value that is one whole
    reference is parsed as YAML, a reference inside a longer string is replaced as text."""
    if isinstance(node, dict):
        return {key: expand(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [expand(value, environ) for value in node]
    if not isinstance(node, str):
        return node
    whole = _REFERENCE.fullmatch(node)
    if whole is not None:
        value = _lookup(whole[1], environ)
        return yaml.safe_load(value) if value else value
    return _REFERENCE.sub(lambda match: _lookup(match[1], environ), node)


def _documented_configs() -> list[dict[str, Any]]:
    """The complete Collector configs among docs/deployment.md's YAML blocks."""
    blocks = [yaml.safe_load(block) for block in _YAML_BLOCK.findall(DEPLOYMENT_DOC.read_text())]
    return [block for block in blocks if isinstance(block, dict) and "service" in block]


def _load(path: Path) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text())
    assert isinstance(config, dict)
    return config


def _sidecar() -> dict[str, Any]:
    (config,) = _documented_configs()
    return config


MAIN = _load(MAIN_FILE)
LOADBALANCING = _load(LOADBALANCING_FILE)
SIDECAR = _sidecar()
CONFIGS = {
    "collector-config.yaml": MAIN,
    "collector-config.loadbalancing.yaml": LOADBALANCING,
    "deployment.md sidecar": SIDECAR,
}
DEFAULTS = {name: expand(config, environ={}) for name, config in CONFIGS.items()}


@pytest.fixture(params=sorted(CONFIGS))
def config_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _type(component_id: str) -> str:
    return component_id.partition("/")[0]


def _pipeline_components(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for pipeline, settings in config["service"]["pipelines"].items():
        for kind in KINDS:
            for component in settings.get(kind) or []:
                yield pipeline, kind, component


def _references(node: Any) -> list[str]:
    """The ``${...}`` references in a parsed config's values (comments are not config)."""
    if isinstance(node, dict):
        return [reference for value in node.values() for reference in _references(value)]
    if isinstance(node, list):
        return [reference for value in node for reference in _references(value)]
    return _REFERENCE.findall(node) if isinstance(node, str) else []


def _port(address: str) -> int:
    return int(address.rpartition(":")[2].rstrip("/"))


# --- structure -------------------------------------------------------------------------------------


def test_every_component_a_pipeline_names_is_defined(config_name: str) -> None:
    config = CONFIGS[config_name]
    undefined = [
        f"{pipeline}: {kind} {component}"
        for pipeline, kind, component in _pipeline_components(config)
        if component not in (config.get(kind) or {})
    ]
    assert undefined == []
    for pipeline, settings in config["service"]["pipelines"].items():
        assert settings.get("receivers"), f"pipeline {pipeline} has no receiver"
        assert settings.get("exporters"), f"pipeline {pipeline} has no exporter"


def test_every_defined_component_is_used_and_every_extension_enabled(config_name: str) -> None:
    config = CONFIGS[config_name]
    used = {(kind, component) for _, kind, component in _pipeline_components(config)}
    defined = {(kind, component) for kind in KINDS for component in config.get(kind) or {}}
    assert defined - used == set()
    assert set(config["service"]["extensions"]) == set(config["extensions"])


def test_memory_limiter_comes_first_and_batch_last(config_name: str) -> None:
    for pipeline, settings in CONFIGS[config_name]["service"]["pipelines"].items():
        types = [_type(processor) for processor in settings["processors"]]
        assert types[0] == "memory_limiter", pipeline
        assert types[-1] == "batch", pipeline
        assert types.count("memory_limiter") == types.count("batch") == 1, pipeline


def test_every_exporter_retries_forever_from_a_queue_on_disk(config_name: str) -> None:
    config = DEFAULTS[config_name]
    for exporter, settings in config["exporters"].items():
        retry, queue = settings["retry_on_failure"], settings["sending_queue"]
        assert retry["enabled"] is True, exporter
        # 0 = never give up; the Collector's default (300s) drops a batch after five minutes down.
        assert retry["max_elapsed_time"] in (0, "0", "0s"), exporter
        assert queue["enabled"] is True, exporter
        storage = queue["storage"]
        assert _type(storage) == "file_storage", exporter
        assert storage in config["extensions"], f"{exporter}: {storage} is not defined"
        assert storage in config["service"]["extensions"], f"{exporter}: {storage} is not enabled"
        assert queue["sizer"] == "bytes", exporter
        assert queue["queue_size"] > 0, exporter


def test_queue_storage_is_created_and_synced(config_name: str) -> None:
    for name, settings in DEFAULTS[config_name]["extensions"].items():
        if _type(name) == "file_storage":
            assert settings["create_directory"] is True
            assert settings["fsync"] is True
            assert settings["directory"] == settings["compaction"]["directory"]


def test_configs_refer_to_the_environment_only_with_defaults(config_name: str) -> None:
    references = _references(CONFIGS[config_name])
    assert references
    for reference in references:
        _lookup(reference, environ={})  # asserts the ${env:NAME:-default} form


def test_every_environment_variable_a_config_reads_is_documented() -> None:
    documentation = DEPLOYMENT_DOC.read_text()
    names = {
        _ENV_REFERENCE.fullmatch(reference)["name"]  # type: ignore[index]
        for config in CONFIGS.values()
        for reference in _references(config)
    }
    assert _env.FLYWHEEL_SERVER_TOKEN in names
    assert {name for name in names if f"`{name}`" not in documentation} == set()


# --- defaults match Phoenix and `otel-flywheel serve` ----------------------------------------------


def test_phoenix_exporter_defaults_to_phoenixs_address() -> None:
    for name in ("collector-config.yaml", "collector-config.loadbalancing.yaml"):
        assert DEFAULTS[name]["exporters"][PHOENIX_EXPORTER]["endpoint"] == DEFAULT_PHOENIX_ENDPOINT


def test_flywheel_exporter_defaults_to_the_servers_port() -> None:
    for name in ("collector-config.yaml", "deployment.md sidecar"):
        endpoint = DEFAULTS[name]["exporters"][FLYWHEEL_EXPORTER]["endpoint"]
        assert endpoint == f"http://localhost:{DEFAULT_PORT}"


def test_exporters_send_the_tokens_the_servers_check() -> None:
    environ = {_env.FLYWHEEL_SERVER_TOKEN: "fw-t0k3n", _env.PHOENIX_API_KEY: "px-k3y"}
    for name in ("collector-config.yaml", "deployment.md sidecar"):
        exporter = expand(CONFIGS[name], environ)["exporters"][FLYWHEEL_EXPORTER]
        assert exporter["headers"] == {"Authorization": "Bearer fw-t0k3n"}
    for name in ("collector-config.yaml", "collector-config.loadbalancing.yaml"):
        exporter = expand(CONFIGS[name], environ)["exporters"][PHOENIX_EXPORTER]
        assert exporter["headers"] == {"Authorization": "Bearer px-k3y"}


def test_exporters_speak_what_phoenix_and_serve_accept(config_name: str) -> None:
    for exporter, settings in DEFAULTS[config_name]["exporters"].items():
        if _type(exporter) == "otlp_http":
            # Phoenix's /v1/traces takes protobuf only (415 otherwise); both take gzip.
            assert settings["encoding"] == "proto", exporter
            assert settings["compression"] == "gzip", exporter
            assert not settings["endpoint"].endswith(TRACES_PATH), "a base URL: the path is added"


def test_a_full_batch_fits_in_one_request_to_the_server(config_name: str) -> None:
    max_body_bytes = ServerSettings.model_fields["max_body_bytes"].default
    for processor, settings in DEFAULTS[config_name]["processors"].items():
        if _type(processor) == "batch":
            largest = settings["send_batch_max_size"]
            assert 0 < settings["send_batch_size"] <= largest
            assert largest * SPAN_BYTES_BUDGET <= max_body_bytes


def test_receivers_and_probes_listen_on_localhost_unless_told_otherwise() -> None:
    for name in ("collector-config.yaml", "collector-config.loadbalancing.yaml"):
        config = DEFAULTS[name]
        protocols = config["receivers"]["otlp"]["protocols"]
        assert protocols["grpc"]["endpoint"] == "localhost:4317"
        assert protocols["http"]["endpoint"] == "localhost:4318"
        assert config["extensions"]["health_check"]["endpoint"] == "localhost:13133"


# --- the load-balancing variant ----------------------------------------------------------------------


def _balancer() -> dict[str, Any]:
    balancer: dict[str, Any] = DEFAULTS["collector-config.loadbalancing.yaml"]["exporters"][
        BALANCER
    ]
    return balancer


def test_load_balancer_routes_whole_traces_while_phoenix_gets_everything() -> None:
    config = DEFAULTS["collector-config.loadbalancing.yaml"]
    balancer = _balancer()
    assert balancer["routing_key"] == "traceID"
    assert balancer["resolver"]["static"]["hostnames"]
    for pipeline in config["service"]["pipelines"].values():
        if BALANCER in pipeline["exporters"]:
            assert PHOENIX_EXPORTER in pipeline["exporters"]


def test_load_balancer_hands_failed_sends_back_to_its_persistent_queue() -> None:
    otlp = _balancer()["protocol"]["otlp"]
    # An in-memory queue per backend would acknowledge spans it can lose, and keep them from being
    # re-routed; a bounded retry hands the batch back to the balancer's own (persistent) retry.
    assert otlp["sending_queue"] == {"enabled": False}
    assert otlp["retry_on_failure"]["max_elapsed_time"] not in (0, "0", "0s")
    assert "endpoint" not in otlp, "the resolver supplies each backend's endpoint"


def test_sidecars_listen_where_the_load_balancer_sends() -> None:
    hostnames = _balancer()["resolver"]["static"]["hostnames"]
    sidecar_grpc = DEFAULTS["deployment.md sidecar"]["receivers"]["otlp"]["protocols"]["grpc"]
    assert {_port(hostname) for hostname in hostnames} == {_port(sidecar_grpc["endpoint"])}
    # The gateway reaches the sidecar from another host: it cannot listen on localhost only.
    assert sidecar_grpc["endpoint"].startswith("0.0.0.0:")


def test_variants_share_the_single_collectors_settings() -> None:
    for part in ("extensions", "receivers"):
        assert LOADBALANCING[part] == MAIN[part], part
    assert LOADBALANCING["processors"] == MAIN["processors"]
    assert LOADBALANCING["exporters"][PHOENIX_EXPORTER] == MAIN["exporters"][PHOENIX_EXPORTER]
    assert SIDECAR["exporters"][FLYWHEEL_EXPORTER] == MAIN["exporters"][FLYWHEEL_EXPORTER]
    assert SIDECAR["extensions"] == MAIN["extensions"]
    for processor in ("memory_limiter", "batch"):
        assert SIDECAR["processors"][processor] == MAIN["processors"][processor]


def test_documented_resolvers_are_complete() -> None:
    blocks = [yaml.safe_load(block) for block in _YAML_BLOCK.findall(DEPLOYMENT_DOC.read_text())]
    resolvers = {
        kind: settings
        for block in blocks
        if isinstance(block, dict) and "resolver" in block
        for kind, settings in block["resolver"].items()
    }
    assert resolvers["dns"]["hostname"]
    assert resolvers["dns"]["port"] == 4317
    assert resolvers["k8s"]["service"].count(".") == 1, "<service>.<namespace>"
    assert resolvers["k8s"]["ports"] == [4317]


# --- redaction -------------------------------------------------------------------------------------

REDACTION = MAIN["processors"]["redaction"]
BLOCKED_VALUES: list[str] = REDACTION["blocked_values"]
BLOCKED_KEYS: list[str] = REDACTION["blocked_key_patterns"]

# Syntax Python's `re` has and RE2 lacks: lookaround, backreferences, atomic groups, possessive
# quantifiers, conditionals.
_NOT_RE2 = re.compile(r"\(\?[=!<>]|\(\?P=|\\[1-9]|\(\?\(|[*+?}]\+")


def _redact_value(value: str) -> str:
    """What the redaction processor does to an attribute value: each blocked pattern's matches are
    replaced by the mask (Go's ReplaceAllStringFunc)."""
    for pattern in BLOCKED_VALUES:
        value = re.sub(pattern, MASK, value)
    return value


def _key_is_masked(key: str) -> bool:
    return any(re.search(pattern, key) for pattern in BLOCKED_KEYS)  # Go's MatchString searches


def test_redaction_keeps_every_attribute_and_counts_what_it_masks() -> None:
    assert REDACTION["allow_all_keys"] is True
    assert REDACTION["redact_all_types"] is True
    assert REDACTION["summary"] in ("info", "debug")
    assert "allowed_keys" not in REDACTION


@pytest.mark.parametrize("pattern", BLOCKED_VALUES + BLOCKED_KEYS)
def test_redaction_patterns_are_re2_and_survive_env_substitution(pattern: str) -> None:
    re.compile(pattern)
    assert not _NOT_RE2.search(pattern)
    # The Collector expands "${...}" and turns "$$" into "$" in every string, regexes included.
    assert "${" not in pattern
    assert "$$" not in pattern


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("write to jane.doe@example.com today", "jane.doe@example.com"),
        ("card 4111 1111 1111 1111.", "4111 1111 1111 1111"),
        ("card=4111-1111-1111-1111;", "4111-1111-1111-1111"),
        ('{"card": "5555555555554444"}', "5555555555554444"),
        ("mc 2223 0031 2200 3222", "2223 0031 2200 3222"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("discover 6011111111111117", "6011111111111117"),
        ("ssn 123-45-6789", "123-45-6789"),
        ("Authorization: Bearer abc123.def-456_ghi", "abc123.def-456_ghi"),
        (
            "token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
            ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),
        ("OPENAI_API_KEY=sk-" + "A1b2" * 12, "A1b2" * 12),
        ("key sk-proj-" + "x_Y-1" * 20 + " end", "x_Y-1" * 20),
        ("sk-ant-api03-" + "q" * 93 + "AA", "q" * 93),
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("token ghp_" + "a1B2" * 9, "a1B2" * 9),
        ("github_pat_11ABCDEFG0" + "x9" * 30, "x9" * 30),
        ("glpat-" + "x1Y2z3" * 4, "x1Y2z3" * 4),
        ("xoxb-123456789012-1234567890123-" + "aB3" * 8, "aB3" * 8),
        ("key=AIzaSyD" + "x1" * 16, "x1" * 16),
        ("stripe sk_test_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7b\n-----END RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEA7b",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAA (truncated)", "MIIEvQIBAD"),
        ("https://alice:p4ss@example.com/x", "p4ss"),
        (str(4111111111111111), "4111111111111111"),  # an int attribute, redact_all_types
    ],
)
def test_redaction_masks_pii_and_secrets(text: str, secret: str) -> None:
    redacted = _redact_value(text)
    assert secret not in redacted
    assert MASK in redacted


def test_text_the_flywheel_already_redacted_passes_unchanged() -> None:
    # Agents that redact in-process send keyed pseudonyms; masking those again would break the
    # joins they exist for (same user, same session, dedupe).
    redactor = Redactor(key=b"collector-config-tests", detectors=[BuiltinDetector()])
    raw = (
        "Customer jane.doe@example.com (card 4111 1111 1111 1111, ssn 123-45-6789) called from "
        "+44 20 7946 0958. Authorization: Bearer abc123.def-456_ghi; key sk-" + "A1b2" * 12 + "; "
        "db https://alice:p4ss@example.com/x; AKIAIOSFODNN7EXAMPLE; ghp_" + "a1B2" * 9
    )
    redacted = redactor.redact_text(raw, RedactionAudit())
    assert isinstance(redacted, str)
    assert "jane.doe@example.com" not in redacted
    assert "<EMAIL:" in redacted
    assert _redact_value(redacted) == redacted


@pytest.mark.parametrize(
    "value",
    [
        "4bf92f3577b34da6a3ce929d0e0e4736",  # trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # traceparent
        "3f2a9c1e-5731-4609-9375-0a1b2c3d4e5f",
        "3F2A9C1E-5731-4609-9375-0A1B2C3D4E5F",
        str(uuid.UUID(int=0x4111_1111_1111_1111_4111_1111_1111_1111)),
        "1795601730000",  # epoch millis
        "1795601730123456",  # epoch micros
        "1795601730123456789",  # epoch nanos
        "2026-11-24T10:15:30.123Z",
        "v0.159.0",
        "gpt-4o-mini-2024-07-18",
        "claude-3-5-sonnet-20241022",
        "sha256:9b2a6f4c1d0e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
        "flywheel-7d9f8b6c5d-x2x9z",
        '{"order_id": "A-1001", "qty": 2, "total": "129.90"}',
        "Bearer authentication is required",
        "postgresql://localhost:5432/phoenix",
        "task-decomposition",
        "sk-short",
        "AKIA1234",
    ],
)
def test_redaction_leaves_technical_values_alone(value: str) -> None:
    assert _redact_value(value) == value


def _semconv_keys() -> set[str]:
    namespaces: list[Any] = [
        oi_resource.ResourceAttributes,
        *(
            getattr(oi_trace, name)
            for name in dir(oi_trace)
            if name.endswith("Attributes") and isinstance(getattr(oi_trace, name), type)
        ),
        sc.gen_ai,
        sc,
    ]
    return {
        value
        for namespace in namespaces
        for name, value in vars(namespace).items()
        if name.isupper() and isinstance(value, str) and "." in value
    }


def test_key_patterns_spare_every_key_the_flywheel_reads() -> None:
    keys = _semconv_keys()
    assert sc.SpanAttributes.LLM_TOKEN_COUNT_PROMPT in keys
    assert sc.gen_ai.GEN_AI_USAGE_INPUT_TOKENS in keys
    assert sorted(key for key in keys if _key_is_masked(key)) == []


@pytest.mark.parametrize(
    "key",
    [
        "db.password",
        "password",
        "openai.api_key",
        "x-api-key.value",
        "client_secret",
        "aws.secret_access_key",
        "auth_token",
        "oauth.refresh-token",
        "service.credentials",
        "http.request.header.authorization",
        "http.request.header.cookie",
        "http.response.header.set-cookie",
    ],
)
def test_key_patterns_mask_attributes_named_for_a_credential(key: str) -> None:
    assert _key_is_masked(key)


# --- the wire: what the Phoenix exporter sends, a real Phoenix takes ----------------------------------


def test_phoenix_takes_what_the_phoenix_exporter_sends(
    phoenix_server: LocalPhoenix, phoenix_server_client: Client
) -> None:
    # The exporter as the Collector builds it with no environment set (no API key: the header is
    # "Bearer "), pointed at this test's Phoenix instead of :6006. The OTel SDK's OTLP/HTTP
    # exporter sends the same request otlp_http does: POST <base>/v1/traces, protobuf, gzip.
    settings = DEFAULTS["collector-config.yaml"]["exporters"][PHOENIX_EXPORTER]
    assert settings["headers"] == {"Authorization": "Bearer "}
    project = f"test-collector-{uuid.uuid4().hex[:12]}"
    provider = TracerProvider(
        resource=Resource.create({sc.ResourceAttributes.PROJECT_NAME: project})
    )
    exporter = OTLPSpanExporter(
        endpoint=phoenix_server.base_url + TRACES_PATH,
        headers=settings["headers"],
        compression=Compression.Gzip,
        timeout=10,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        tracer = provider.get_tracer("tests.test_collector_config")
        with tracer.start_as_current_span(
            "support-agent", attributes={"input.value": _redact_value("mail jane@example.com")}
        ) as span:
            pass
        trace_id = format_trace_id(span.get_span_context().trace_id)
    finally:
        provider.shutdown()

    (stored,) = wait_for_spans(
        phoenix_server_client,
        project=project,
        trace_ids=[trace_id],
        min_count=1,
        timeout_seconds=60,
    )
    assert stored["name"] == "support-agent"
    assert stored["attributes"]["input.value"] == f"mail {MASK}"


# --- the wire: what the flywheel exporter sends, `otel-flywheel serve` takes --------------------------


@contextlib.contextmanager
def _running_serve(
    spool_path: Path, *, token: str | None
) -> Iterator[tuple[str, InMemoryPipeline]]:
    """``otel-flywheel serve``'s app under a real uvicorn on a free port; yields its base URL and
    the pipeline that receives the assembled traces."""
    port = find_free_port()
    settings = ServerSettings(port=port, token=token)
    pipeline = InMemoryPipeline()
    app = create_app(
        pipeline=pipeline,
        spool=Spool(spool_path, max_spans=settings.max_spool_spans),
        settings=settings,
        redactor=Redactor(key=b"collector-config-tests", detectors=[BuiltinDetector()]),
        # Short assembly timings so the trace closes within the test.
        capture_settings=CaptureSettings(
            trace_grace_millis=50, trace_idle_timeout_millis=500, schedule_delay_millis=20
        ),
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name=f"serve-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "serve did not start within 30 s"
        yield f"http://127.0.0.1:{port}", pipeline
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        assert not thread.is_alive(), "serve did not stop within 60 s"


@pytest.mark.parametrize(
    "token", [None, "fw-t0k3n"], ids=["no token on either side", "the shared token"]
)
def test_serve_takes_what_the_flywheel_exporter_sends(tmp_path: Path, token: str | None) -> None:
    # The exporter as the Collector builds it, with FLYWHEEL_SERVER_TOKEN set on both sides or on
    # neither (then the header is "Bearer ", which serve without a token ignores).
    environ = {} if token is None else {_env.FLYWHEEL_SERVER_TOKEN: token}
    settings = expand(CONFIGS["collector-config.yaml"], environ)["exporters"][FLYWHEEL_EXPORTER]
    assert settings["headers"] == {"Authorization": f"Bearer {token or ''}"}
    with _running_serve(tmp_path / "spool.sqlite", token=token) as (base_url, pipeline):
        provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
        exporter = OTLPSpanExporter(
            endpoint=base_url + TRACES_PATH,
            headers=settings["headers"],
            compression=Compression.Gzip,
            timeout=10,
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        try:
            tracer = provider.get_tracer("tests.test_collector_config")
            with tracer.start_as_current_span(
                "support-agent", attributes={"input.value": "Where is order A-1001?"}
            ) as span:
                pass
            trace_id = format_trace_id(span.get_span_context().trace_id)
        finally:
            provider.shutdown()
        (trace,) = pipeline.wait_for(1, timeout_seconds=30)
    assert trace.trace_id == trace_id
    assert [step.name for step in trace.steps] == ["support-agent"]
