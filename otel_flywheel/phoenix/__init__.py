"""Arize Phoenix, the one adapter: every read from and write to Phoenix goes through this package.

- connecting: `phoenix_client` / `new_client` (one timeout, errors that name the URL and the fix),
  `require_project`, `PhoenixAccessError`;
- traces: `pull_traces` (whole traces, built and redacted as at capture), `trace_pages`,
  `wait_for_spans`;
- annotations: `annotations_on`, `trace_annotations`, the `Annotation` record;
- datasets: `load_dataset`, `dataset_names`, `example_count`;
- experiments: `create_experiment`, `log_runs`, `experiment_runs`, ...;
- purge: `delete_user_examples`, `delete_user_traces`;
- writing: `PhoenixSink`, the outbox's sink for annotations and dataset examples;
- links into the UI: `span_url`, `trace_url`.

Importing this package does not import ``phoenix.client`` (about half a second): functions import
it when they first need it. ``PhoenixClient`` names the client's type for annotations.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from otel_flywheel.phoenix._annotations import (
    Annotation,
    annotate_span,
    annotations_on,
    trace_annotations,
)
from otel_flywheel.phoenix._connection import (
    CONNECT_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    DatasetNotFoundError,
    PhoenixAccessError,
    base_url_of,
    default_base_url,
    http_of,
    new_client,
    phoenix_client,
    require_project,
    timeout,
)
from otel_flywheel.phoenix._contents import PhoenixContents, read_contents
from otel_flywheel.phoenix._datasets import dataset_names, example_count, load_dataset
from otel_flywheel.phoenix._experiments import (
    ExperimentEvaluation,
    ExperimentNotFoundError,
    ExperimentRun,
    create_experiment,
    experiment_runs,
    experiment_url,
    experiments_of,
    log_runs,
)
from otel_flywheel.phoenix._links import span_url, trace_url
from otel_flywheel.phoenix._purge import (
    DatasetPurge,
    PhoenixPurgeError,
    ProjectPurge,
    delete_user_examples,
    delete_user_traces,
)
from otel_flywheel.phoenix._sink import PhoenixSink
from otel_flywheel.phoenix._span_views import span_view_from_phoenix
from otel_flywheel.phoenix._traces import (
    MAX_WINDOW_SPANS,
    PulledTraces,
    describe_window,
    pull_traces,
    trace_pages,
    wait_for_spans,
)

if TYPE_CHECKING:
    from phoenix.client import Client as PhoenixClient

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "MAX_WINDOW_SPANS",
    "REQUEST_TIMEOUT_SECONDS",
    "Annotation",
    "DatasetNotFoundError",
    "DatasetPurge",
    "ExperimentEvaluation",
    "ExperimentNotFoundError",
    "ExperimentRun",
    "PhoenixAccessError",
    "PhoenixClient",
    "PhoenixContents",
    "PhoenixPurgeError",
    "PhoenixSink",
    "ProjectPurge",
    "PulledTraces",
    "annotate_span",
    "annotations_on",
    "base_url_of",
    "create_experiment",
    "dataset_names",
    "default_base_url",
    "delete_user_examples",
    "delete_user_traces",
    "describe_window",
    "example_count",
    "experiment_runs",
    "experiment_url",
    "experiments_of",
    "http_of",
    "load_dataset",
    "log_runs",
    "new_client",
    "phoenix_client",
    "pull_traces",
    "read_contents",
    "require_project",
    "span_url",
    "span_view_from_phoenix",
    "timeout",
    "trace_annotations",
    "trace_pages",
    "trace_url",
    "wait_for_spans",
]


def __getattr__(name: str) -> Any:
    # The client's type, at run time only when asked for: importing it loads phoenix.client.
    if name != "PhoenixClient":
        raise AttributeError(f"module 'otel_flywheel.phoenix' has no attribute {name!r}")
    value = import_module("phoenix.client").Client
    globals()[name] = value
    return value
