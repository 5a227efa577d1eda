"""Where exports read from: dataset examples (Phoenix, or an examples file) and their source traces.

Examples come from a Phoenix dataset at its latest or a named version (the manifest records which),
or from an examples file that ``export evals`` wrote (gating sets held as files in CI).

Source traces come from the local routing store first: the redacted trace exactly as the pipeline
judged it. A trace the store lacks (another instance routed it, retention removed it, the export
runs elsewhere) is read from Phoenix by its ``source_trace_id``, in the project the example names,
and redacted as capture would.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_flywheel.datasets import DatasetExample, example_from_phoenix, read_examples
from otel_flywheel.errors import ConfigError
from otel_flywheel.export._errors import ExportError
from otel_flywheel.model import AgentTrace

if TYPE_CHECKING:
    from phoenix.client import Client

    from otel_flywheel.privacy import Redactor
    from otel_flywheel.routing import RoutingStore

__all__ = [
    "EXAMPLE_FILE_SUFFIXES",
    "SourceDataset",
    "TraceLookup",
    "load_dataset",
    "load_examples_file",
    "load_source",
    "open_routing_store",
]

logger = logging.getLogger(__name__)

EXAMPLE_FILE_SUFFIXES = (".jsonl", ".parquet", ".pq")
REQUEST_TIMEOUT_SECONDS = 60  # phoenix-client's default of 5 s is too short for big datasets


@dataclass(frozen=True, kw_only=True)
class SourceDataset:
    """The examples of one dataset version (or file), with what identifies it in the manifest."""

    name: str
    examples: list[DatasetExample] = field(default_factory=list)
    dataset_id: str | None = None
    version_id: str | None = None
    origin: str = "phoenix"  # "phoenix", "missing" (a routing dataset not created yet) or a path

    def describe(self) -> dict[str, Any]:
        return {
            "dataset": self.name,
            "dataset_id": self.dataset_id,
            "version_id": self.version_id,
            "origin": self.origin,
            "examples": len(self.examples),
        }


def load_dataset(client: Client, name: str, *, version_id: str | None = None) -> SourceDataset:
    """The examples of Phoenix dataset ``name`` (latest version, or ``version_id``).

    Raises `ExportError` naming the known datasets when there is no such dataset or version.
    """
    import httpx

    try:
        dataset = client.datasets.get_dataset(
            dataset=name, version_id=version_id, timeout=REQUEST_TIMEOUT_SECONDS
        )
    except (ValueError, httpx.HTTPStatusError) as exc:
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code not in (404, 422):
            raise
        if version_id is not None and name in _dataset_names(client):
            raise ExportError(
                f"dataset {name!r} has no version {version_id!r}; list its versions with "
                "phoenix.client's datasets.get_dataset_versions, or drop --version for the latest"
            ) from exc
        raise DatasetNotFoundError(name, _dataset_names(client)) from exc
    examples = [
        example_from_phoenix(example, dataset=dataset.name, version_id=dataset.version_id)
        for example in dataset.examples
    ]
    return SourceDataset(
        name=dataset.name,
        examples=examples,
        dataset_id=dataset.id,
        version_id=dataset.version_id,
    )


class DatasetNotFoundError(ExportError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        listed = ", ".join(map(repr, known[:20])) or "none"
        super().__init__(f"Phoenix has no dataset {name!r}; known datasets: {listed}")


def load_examples_file(path: str | Path) -> SourceDataset:
    """The examples of a file ``export evals`` wrote; raises `ExportError` for a bad file."""
    try:
        examples = read_examples(path)
    except ConfigError as exc:
        raise ExportError(str(exc)) from None
    names = sorted({e.dataset for e in examples})
    versions = sorted({e.dataset_version for e in examples if e.dataset_version})
    return SourceDataset(
        name=", ".join(names) or Path(path).name,
        examples=examples,
        version_id=", ".join(versions) or None,
        origin=str(path),
    )


def load_source(client: Client | None, ref: str, *, version_id: str | None = None) -> SourceDataset:
    """``ref`` as an examples file when it names one (``.jsonl``/``.parquet``), else a dataset."""
    candidate = Path(ref)
    if candidate.suffix.lower() in EXAMPLE_FILE_SUFFIXES:
        if not candidate.is_file():
            raise ExportError(
                f"{ref}: no such examples file. Fix: write one with `otel-flywheel export evals`"
            )
        return load_examples_file(candidate)
    if client is None:
        raise ExportError(f"{ref!r} is not an examples file, and no Phoenix client was given")
    return load_dataset(client, ref, version_id=version_id)


def open_routing_store(path: str | Path | None = None) -> RoutingStore | None:
    """The local routing store (default ``<state dir>/routing.sqlite``), or ``None`` when this
    machine has none: an export must not create an empty store as a side effect."""
    from otel_flywheel._flywheel import ROUTING_STORE_FILE
    from otel_flywheel.config import state_path
    from otel_flywheel.routing import RoutingStore

    target = Path(path) if path is not None else state_path(ROUTING_STORE_FILE)
    return RoutingStore(target) if target.is_file() else None


class TraceLookup:
    """Source traces by trace id: the local routing store first, then Phoenix.

    ``redactor``: applied to traces read from Phoenix (default: the capture path's,
    ``build_redactor()``). ``counts`` says where traces came from (``local_store``, ``phoenix``)
    and how many were ``missing``.
    """

    def __init__(
        self,
        *,
        store: RoutingStore | None = None,
        client: Client | None = None,
        redactor: Redactor | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._redactor = redactor
        self._progress = progress or (lambda message: None)
        self.counts: Counter[str] = Counter()

    def fetch(self, examples: Iterable[DatasetExample]) -> dict[str, tuple[AgentTrace, str]]:
        """Trace id -> (trace, where it came from) for the examples' ``source_trace_id``."""
        wanted: dict[str, str | None] = {}
        for example in examples:
            trace_id = example.metadata.get("source_trace_id")
            if isinstance(trace_id, str) and trace_id:
                project = example.metadata.get("project")
                wanted.setdefault(trace_id, project if isinstance(project, str) else None)
        found: dict[str, tuple[AgentTrace, str]] = {}
        if self._store is not None:
            for trace_id in wanted:
                stored = self._store.get_trace(trace_id=trace_id)
                if stored is not None:
                    found[trace_id] = (stored.trace, "local_store")
        missing = {t: p for t, p in wanted.items() if t not in found}
        if missing and self._client is not None:
            self._progress(f"reading {len(missing)} source traces from Phoenix")
            for trace_id, trace in self._pull(missing).items():
                found[trace_id] = (trace, "phoenix")
        self.counts.update(source for _, source in found.values())
        if len(found) < len(wanted):
            self.counts["missing"] += len(wanted) - len(found)
        return found

    def _pull(self, wanted: Mapping[str, str | None]) -> dict[str, AgentTrace]:
        from otel_flywheel.cli._judge import PhoenixAccessError, pull_traces
        from otel_flywheel.privacy import build_redactor

        assert self._client is not None
        redactor = self._redactor if self._redactor is not None else build_redactor()
        by_project: defaultdict[str, list[str]] = defaultdict(list)
        for trace_id, project in wanted.items():
            if project is None:
                logger.warning("example of trace %s names no project; cannot read it", trace_id)
                continue
            by_project[project].append(trace_id)
        traces: dict[str, AgentTrace] = {}
        for project, trace_ids in by_project.items():
            try:
                pulled = pull_traces(
                    self._client,
                    project=project,
                    since=None,
                    until=None,
                    trace_ids=trace_ids,
                    redactor=redactor,
                )
            except PhoenixAccessError as exc:
                logger.warning("source traces of project %r not read: %s", project, exc)
                continue
            traces.update((trace.trace_id, trace) for trace in pulled.traces)
        return traces


def _dataset_names(client: Client) -> list[str]:
    return sorted(d["name"] for d in client.datasets.list(timeout=REQUEST_TIMEOUT_SECONDS))
