"""Environment variables otel-flywheel reads, each documented once.

Precedence everywhere: explicit argument > environment > config file > default. Standard ``OTEL_*``,
``PHOENIX_*`` and ``OPENAI_*`` variables are honoured where they apply and listed here too.
"""

from __future__ import annotations

from typing import Final

FLYWHEEL_CONFIG: Final = "FLYWHEEL_CONFIG"
"""Path of the YAML config file. Default: ``flywheel.yaml`` in the working directory, if present."""

FLYWHEEL_PROJECT: Final = "FLYWHEEL_PROJECT"
"""Phoenix project that traces, annotations and datasets belong to. Falls back to
``PHOENIX_PROJECT_NAME``, then ``default``."""

FLYWHEEL_STATE_DIR: Final = "FLYWHEEL_STATE_DIR"
"""Directory for the flywheel's local state (outbox, spool, keys). Default: ``.flywheel``."""

FLYWHEEL_MAX_QUEUE_SIZE: Final = "FLYWHEEL_MAX_QUEUE_SIZE"
"""Ended spans the capture queue holds before it drops (and counts) new ones. Default 8192."""

FLYWHEEL_MAX_BUFFERED_TRACES: Final = "FLYWHEEL_MAX_BUFFERED_TRACES"
"""Open traces the assembler holds; past it the oldest is closed early. Default 1000."""

FLYWHEEL_MAX_SPANS_PER_TRACE: Final = "FLYWHEEL_MAX_SPANS_PER_TRACE"
"""Spans kept per trace; later ones are dropped, counted and the trace marked truncated. Default 2000."""

FLYWHEEL_TRACE_GRACE_MILLIS: Final = "FLYWHEEL_TRACE_GRACE_MILLIS"
"""How long a trace stays open after its root span ended, for late children. Default 1000."""

FLYWHEEL_TRACE_IDLE_TIMEOUT_MILLIS: Final = "FLYWHEEL_TRACE_IDLE_TIMEOUT_MILLIS"
"""A trace whose root never arrives is closed after this long without a new span. Default 30000."""

FLYWHEEL_SCHEDULE_DELAY_MILLIS: Final = "FLYWHEEL_SCHEDULE_DELAY_MILLIS"
"""How often the capture worker wakes when the queue is below its batch threshold. Default 200."""

FLYWHEEL_PHOENIX_BIN: Final = "FLYWHEEL_PHOENIX_BIN"
"""Path of the ``phoenix`` executable (or of the python of an environment that has ``arize-phoenix``)
that the demo and the test fixtures start. Default: ``.venv-phoenix/bin/phoenix`` in the working
directory or the repository around it, then ``phoenix`` on ``PATH``."""

FLYWHEEL_SAMPLE_RATIO: Final = "FLYWHEEL_SAMPLE_RATIO"
"""Share of traces the flywheel captures, 0.0-1.0, decided per trace id (as ``TraceIdRatioBased``).
Export to Phoenix is unaffected. Default 1.0; CPU-bound agents lower it (see docs/benchmarks.md)."""

FLYWHEEL_REDACTION: Final = "FLYWHEEL_REDACTION"
"""``off`` disables PII and secret redaction (for local debugging only). Default: on."""

FLYWHEEL_REDACTION_KEY: Final = "FLYWHEEL_REDACTION_KEY"
"""Secret for pseudonyms (HMAC key, >= 16 characters). Share it across agents, receivers and CI so
the same value gets the same token everywhere. Default: generated into the state directory."""

FLYWHEEL_EVALUATORS: Final = "FLYWHEEL_EVALUATORS"
"""The evaluator suite: the name of an entry point in the ``otel_flywheel.evaluators`` group.
Default ``default`` (the shipped checks and rubric judge)."""

FLYWHEEL_JUDGE_MODEL: Final = "FLYWHEEL_JUDGE_MODEL"
"""The judge's model name on its endpoint. Required to judge; there is no default."""

FLYWHEEL_JUDGE_BASE_URL: Final = "FLYWHEEL_JUDGE_BASE_URL"
"""OpenAI-compatible endpoint of the judge (OpenAI, Azure, vLLM, Ollama, llama.cpp). Falls back to
``OPENAI_BASE_URL``."""

FLYWHEEL_JUDGE_API_KEY: Final = "FLYWHEEL_JUDGE_API_KEY"
"""API key for the judge's endpoint. Falls back to ``OPENAI_API_KEY``."""

FLYWHEEL_JUDGE_CONCURRENCY: Final = "FLYWHEEL_JUDGE_CONCURRENCY"
"""Judge requests in flight at once. Default 8."""

FLYWHEEL_JUDGE_MAX_RETRIES: Final = "FLYWHEEL_JUDGE_MAX_RETRIES"
"""Retries of a rate-limited, failed or timed-out judge request (Retry-After honoured). Default 5."""

FLYWHEEL_JUDGE_TIMEOUT_SECONDS: Final = "FLYWHEEL_JUDGE_TIMEOUT_SECONDS"
"""Timeout of one judge request. Default 60."""

FLYWHEEL_JUDGE_REQUESTS_PER_SECOND: Final = "FLYWHEEL_JUDGE_REQUESTS_PER_SECOND"
"""Optional ceiling on the judge's request rate. Default: none."""

FLYWHEEL_JUDGE_SAMPLES: Final = "FLYWHEEL_JUDGE_SAMPLES"
"""Self-consistency: judge each input this many times; confidence is the agreement. Default 1."""

FLYWHEEL_JUDGE_CACHE: Final = "FLYWHEEL_JUDGE_CACHE"
"""SQLite file caching scored judgments, or ``off``. Default: ``<state dir>/judge-cache.sqlite3``."""

FLYWHEEL_JUDGE_MAX_INPUT_TOKENS: Final = "FLYWHEEL_JUDGE_MAX_INPUT_TOKENS"
"""Budget for one judge prompt (estimated as UTF-8 bytes / 3.5). Default: from the judge model's
context window (half of it, at most 16000). A rubric's own ``max_input_tokens`` may lower it."""

FLYWHEEL_JUDGE_CONTEXT_TOKENS: Final = "FLYWHEEL_JUDGE_CONTEXT_TOKENS"
"""The judge model's context window in tokens, when the built-in table does not know the model or
the server runs it with a smaller one (a local server's ``--max-model-len``, Ollama's
``num_ctx``). Default: the table, else 32000."""

FLYWHEEL_JUDGE_MAX_PARTS: Final = "FLYWHEEL_JUDGE_MAX_PARTS"
"""The most parts a trace too long for one prompt is judged in (each part one request, plus one
to combine them). Default 8; 1 never splits (long traces are cut to fit instead)."""

FLYWHEEL_JUDGE_SAMPLE_RATIO: Final = "FLYWHEEL_JUDGE_SAMPLE_RATIO"
"""Share of *passing* traces the pipeline sends to the LLM judge, 0.0-1.0, decided per trace id.
Traces a deterministic check failed, and traces with negative feedback, are always judged.
Default 1.0."""

FLYWHEEL_PIPELINE_MAX_QUEUE_SIZE: Final = "FLYWHEEL_PIPELINE_MAX_QUEUE_SIZE"
"""Traces waiting for evaluation (queued, being judged or waiting to retry the judge) before the
pipeline drops new ones and counts them. Default 1000."""

FLYWHEEL_PIPELINE_CONCURRENCY: Final = "FLYWHEEL_PIPELINE_CONCURRENCY"
"""Traces evaluated at once. Requests to the judge are bounded separately by
``FLYWHEEL_JUDGE_CONCURRENCY``. Default 16."""

FLYWHEEL_COHORT_ATTRIBUTES: Final = "FLYWHEEL_COHORT_ATTRIBUTES"
"""Comma-separated span or resource attributes every verdict records as its cohort
(``tenant,plan,locale``), so ``otel-flywheel report`` can cut failure rates by them. Values are
read from the redacted trace. Default: none."""

# --- standard variables, read where they apply ----------------------------------------------------
PHOENIX_PROJECT_NAME: Final = "PHOENIX_PROJECT_NAME"
"""Phoenix's own project variable; used when ``FLYWHEEL_PROJECT`` is unset."""

PHOENIX_COLLECTOR_ENDPOINT: Final = "PHOENIX_COLLECTOR_ENDPOINT"
"""Phoenix base URL (``http://host:6006``) or its OTLP traces URL; where ``register()`` exports."""

PHOENIX_API_KEY: Final = "PHOENIX_API_KEY"
"""Sent as a bearer token to Phoenix when set."""

OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
"""Full OTLP/HTTP traces URL; used by ``register()`` when no Phoenix endpoint is given."""

OTEL_EXPORTER_OTLP_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""OTLP/HTTP base URL; ``/v1/traces`` is appended, as the OTel spec says."""

# --- otel-flywheel serve --------------------------------------------------------------------------
FLYWHEEL_SERVER_HOST: Final = "FLYWHEEL_SERVER_HOST"
"""Address ``otel-flywheel serve`` binds. Default ``127.0.0.1``; ``0.0.0.0`` only with a token."""

FLYWHEEL_SERVER_PORT: Final = "FLYWHEEL_SERVER_PORT"
"""Port of ``otel-flywheel serve`` (``POST /v1/traces``, ``/v1/feedback``, probes, metrics).
Default 4319, next to the Collector's OTLP ports 4317/4318."""

FLYWHEEL_SERVER_TOKEN: Final = "FLYWHEEL_SERVER_TOKEN"
"""When set, ``POST /v1/traces`` on ``otel-flywheel serve`` needs ``Authorization: Bearer <token>``
(401 otherwise); GET probes and ``/metrics`` stay open. Feedback has its own credential
(``FLYWHEEL_SERVER_FEEDBACK_TOKEN``). Default: unset, no auth for traces."""

FLYWHEEL_SERVER_FEEDBACK_TOKEN: Final = "FLYWHEEL_SERVER_FEEDBACK_TOKEN"
"""The credential ``POST /v1/feedback`` requires (``Authorization: Bearer <token>``), separate from
``FLYWHEEL_SERVER_TOKEN`` so that a leaked Collector config cannot write labels. Feedback sent
with it is recorded as sent by ``feedback-token``; named tokens go in the config file
(``server.feedback_tokens``). Without any, ``/v1/feedback`` answers 403."""

FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK: Final = "FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK"
"""Feedback naming a trace or span ``otel-flywheel serve`` has not received: ``refuse`` (404,
the default), ``hold`` (until the trace arrives, bounded) or ``accept``."""

FLYWHEEL_SERVER_SPOOL: Final = "FLYWHEEL_SERVER_SPOOL"
"""SQLite file where ``otel-flywheel serve`` keeps accepted spans and feedback until they are
delivered. One per instance. Default: ``<state dir>/spool.sqlite``."""

FLYWHEEL_SERVER_MAX_SPOOL_SPANS: Final = "FLYWHEEL_SERVER_MAX_SPOOL_SPANS"
"""Spans the spool holds before ``otel-flywheel serve`` answers 503 with ``Retry-After``.
Default 200000."""

FLYWHEEL_SERVER_MAX_BODY_BYTES: Final = "FLYWHEEL_SERVER_MAX_BODY_BYTES"
"""Largest request body ``otel-flywheel serve`` takes, on the wire and after decompression (413
past it). Default 16777216 (16 MiB)."""

FLYWHEEL_SERVER_MAX_CONCURRENT_REQUESTS: Final = "FLYWHEEL_SERVER_MAX_CONCURRENT_REQUESTS"
"""POSTs ``otel-flywheel serve`` handles at once; more get 429 with ``Retry-After``. Default 64."""

# --- otel-flywheel judge: read through phoenix.client, named in its errors --------------------------
PHOENIX_ENDPOINT: Final = "PHOENIX_ENDPOINT"
"""Phoenix's base URL for API clients; phoenix.client reads it before ``PHOENIX_COLLECTOR_ENDPOINT``.
``otel-flywheel judge`` finds Phoenix through it unless ``--phoenix-url`` is given."""

PHOENIX_BASE_URL: Final = "PHOENIX_BASE_URL"
"""Older Phoenix base URL variable; phoenix.client reads it after the collector variables."""
