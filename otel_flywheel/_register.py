"""``register()``: the one call an agent makes to feed the flywheel.

It sets up a TracerProvider exporting OTLP to Phoenix plus the ``FlywheelSpanProcessor``, or adds the
processor to a provider that already exists (the global one, or one passed in, such as the provider
``phoenix.otel.register()`` returns). Attaching to an existing provider adds no second exporter: that
provider already sends its spans wherever its owner pointed it.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from otel_flywheel import _env
from otel_flywheel import semconv as sc
from otel_flywheel._feedback import set_feedback_sink
from otel_flywheel._flywheel import build_flywheel
from otel_flywheel.capture import FlywheelSpanProcessor, TracePipeline
from otel_flywheel.config import PrivacySettings, resolve_project
from otel_flywheel.errors import ConfigError
from otel_flywheel.phoenix import base_url_of
from otel_flywheel.privacy import Redactor, build_redactor

__all__ = ["DEFAULT_PHOENIX_ENDPOINT", "register", "resolve_otlp_traces_endpoint"]

logger = logging.getLogger(__name__)

DEFAULT_PHOENIX_ENDPOINT = "http://localhost:6006"
_TRACES_PATH = "/v1/traces"

_lock = threading.Lock()  # guards _registered
# provider -> its flywheel processor, so a second register() does not capture every span twice.
_registered: weakref.WeakKeyDictionary[TracerProvider, FlywheelSpanProcessor] = (
    weakref.WeakKeyDictionary()
)


def register(
    *,
    project: str | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    tracer_provider: TracerProvider | None = None,
    pipeline: TracePipeline | None = None,
    evaluate: bool = True,
    judge: bool | None = None,
    rubrics: str | os.PathLike[str] | None = None,
    tools: str | os.PathLike[str] | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    redactor: Redactor | None = None,
    batch: bool = True,
    set_global: bool = True,
    resource: Mapping[str, Any] | None = None,
) -> TracerProvider:
    """Capture this process's agent traces for the flywheel and export them to Phoenix.

    - ``project``: the Phoenix project (``FLYWHEEL_PROJECT``, ``PHOENIX_PROJECT_NAME``, config file
      ``project:``, else ``default``). Set as the ``openinference.project.name`` resource attribute.
    - ``endpoint``: Phoenix's base URL or its OTLP/HTTP traces URL (``PHOENIX_COLLECTOR_ENDPOINT``,
      then ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
      ``http://localhost:6006``). ``headers`` default to ``PHOENIX_API_KEY`` as a bearer token; the
      exporter also reads ``OTEL_EXPORTER_OTLP_HEADERS`` itself.
    - ``tracer_provider``: add to this provider instead. When omitted and a global SDK provider is
      already set (``phoenix.otel.register()`` sets one), the processor is added to that one.
    - ``pipeline``: where assembled traces go. Default: the flywheel (``evaluate=True``):
      deterministic checks, the rubric judge (``judge``: default on when ``FLYWHEEL_JUDGE_MODEL``
      is set; ``rubrics``: a directory replacing the shipped rubrics; ``tools``: a tool file, MCP
      ``tools/list`` JSON plus ``read_only``/``retrieval`` name lists, saying which tools only
      read, so findings about a write rank first), routing into the same
      Phoenix as annotations and datasets through the durable outbox in ``FLYWHEEL_STATE_DIR``,
      and ``otel_flywheel.feedback(...)``. ``evaluate=False`` only logs the captured traces.
    - ``privacy`` / ``redactor``: PII and secret redaction, on by default (config section
      ``privacy``, ``FLYWHEEL_REDACTION_KEY``; see docs/privacy.md). The capture worker redacts
      each span once and feeds both paths from it: the OTLP exporter gets the redacted copy (it
      never sees a raw span), and the pipeline its view, as traces.
    - ``batch``: export in batches (default; the SDK's ``BatchSpanProcessor``, fed by the capture
      worker) or span by span from the worker.
    - ``set_global``: make a newly created provider the global one.
    - ``resource``: more resource attributes for a newly created provider, such as
      ``service.name`` and ``service.version`` (the agent version ``otel-flywheel report``
      compares; ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` are read too).

    Returns the provider. Calling it again for the same provider adds nothing and returns it.
    """
    provider = tracer_provider or _existing_global_provider()
    created = provider is None
    traces_endpoint: str | None = None
    if provider is None:
        # Checked before the processor starts its worker thread: a bad URL must leave nothing running.
        traces_endpoint = resolve_otlp_traces_endpoint(endpoint)
        provider = TracerProvider(
            resource=Resource.create(
                {**(resource or {}), sc.ResourceAttributes.PROJECT_NAME: resolve_project(project)}
            )
        )

    # Resolved before anything starts: a bad setting must not leave a worker thread behind.
    active_redactor = redactor if redactor is not None else build_redactor(privacy)
    with _lock:
        if provider in _registered:
            logger.warning("otel-flywheel is already registered on this TracerProvider")
            return provider
        if pipeline is None and evaluate:
            flywheel = build_flywheel(
                project=resolve_project(project),
                phoenix_url=base_url_of(traces_endpoint or resolve_otlp_traces_endpoint(endpoint)),
                phoenix_api_key=os.environ.get(_env.PHOENIX_API_KEY),
                judge=judge,
                rubrics_dir=rubrics,
                tools=tools,
                redactor=active_redactor,
            )
            set_feedback_sink(flywheel)
            pipeline = flywheel
        # A provider we create exports through the processor: its worker redacts each span once
        # and hands the copy to the OTLP exporter and its view to the flywheel. A provider that
        # exists keeps its own exporters; we only capture.
        exporter: SpanExporter | None = None
        if created:
            exporter = OTLPSpanExporter(endpoint=traces_endpoint, headers=_headers(headers))
        processor = FlywheelSpanProcessor(
            pipeline=pipeline,
            redactor=active_redactor or False,
            exporter=exporter,
            export_batch=batch,
        )
        _registered[provider] = processor

    if not created and active_redactor is not None:
        logger.warning(
            "otel-flywheel added to an existing TracerProvider: the flywheel sees redacted spans, "
            "but that provider's own exporters send them unredacted. Let otel_flywheel.register() "
            "create the provider, or wrap your exporter in "
            "otel_flywheel.privacy.RedactingSpanExporter."
        )
    _add_processor(provider, processor)
    if created and set_global:
        trace.set_tracer_provider(provider)
    return provider


def resolve_otlp_traces_endpoint(
    endpoint: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str:
    """The OTLP/HTTP traces URL, by the precedence ``register()`` documents.

    A Phoenix base URL gets ``/v1/traces`` appended, as ``phoenix.otel`` does; so does
    ``OTEL_EXPORTER_OTLP_ENDPOINT``, as the OTel spec says. ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
    used exactly as given.
    """
    environ = os.environ if environ is None else environ
    if endpoint:
        return _with_traces_path(endpoint, setting="endpoint")
    if value := environ.get(_env.PHOENIX_COLLECTOR_ENDPOINT):
        return _with_traces_path(value, setting=_env.PHOENIX_COLLECTOR_ENDPOINT)
    if value := environ.get(_env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT):
        _check_url(value, setting=_env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
        return value
    if value := environ.get(_env.OTEL_EXPORTER_OTLP_ENDPOINT):
        return _with_traces_path(value, setting=_env.OTEL_EXPORTER_OTLP_ENDPOINT)
    return DEFAULT_PHOENIX_ENDPOINT + _TRACES_PATH


def _existing_global_provider() -> TracerProvider | None:
    current = trace.get_tracer_provider()
    return current if isinstance(current, TracerProvider) else None


def _add_processor(provider: TracerProvider, processor: SpanProcessor) -> None:
    # phoenix.otel's TracerProvider *replaces* its exporting processor on add_span_processor unless
    # told not to; spans would silently stop reaching Phoenix. Detect the keyword, not the class.
    parameters = inspect.signature(provider.add_span_processor).parameters
    if "replace_default_processor" in parameters:
        add: Any = provider.add_span_processor
        add(processor, replace_default_processor=False)
    else:
        provider.add_span_processor(processor)


def _headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if headers is not None:
        return dict(headers)
    if api_key := os.environ.get(_env.PHOENIX_API_KEY):
        return {"authorization": f"Bearer {api_key}"}
    return None  # the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS itself


def _with_traces_path(url: str, *, setting: str) -> str:
    _check_url(url, setting=setting)
    stripped = url.rstrip("/")
    return stripped if stripped.endswith(_TRACES_PATH) else stripped + _TRACES_PATH


def _check_url(url: str, *, setting: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{setting}={url!r} is not an http(s) URL; use e.g. {DEFAULT_PHOENIX_ENDPOINT}"
        )
