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
from pathlib import Path
from typing import TYPE_CHECKING

from otel_flywheel.datasets import DatasetExample, LoadedDataset, read_examples
from otel_flywheel.errors import ConfigError
from otel_flywheel.export._errors import ExportError
from otel_flywheel.model import AgentTrace
from otel_flywheel.phoenix import PhoenixAccessError, load_dataset, pull_traces

if TYPE_CHECKING:
    from otel_flywheel.phoenix import PhoenixClient
    from otel_flywheel.privacy import Redactor
    from otel_flywheel.routing import RoutingStore

__all__ = [
    "EXAMPLE_FILE_SUFFIXES",
    "TraceLookup",
    "load_examples_file",
    "load_source",
]

logger = logging.getLogger(__name__)

EXAMPLE_FILE_SUFFIXES = (".jsonl", ".parquet", ".pq")


def load_examples_file(path: str | Path) -> LoadedDataset:
    """The examples of a file ``export evals`` wrote; raises `ExportError` for a bad file."""
    try:
        examples = read_examples(path)
    except ConfigError as exc:
        raise ExportError(str(exc)) from None
    names = sorted({e.dataset for e in examples})
    versions = sorted({e.dataset_version for e in examples if e.dataset_version})
    return LoadedDataset(
        name=", ".join(names) or Path(path).name,
        examples=examples,
        version_id=", ".join(versions) or None,
        origin=str(path),
    )


def load_source(
    client: PhoenixClient | None, ref: str, *, version_id: str | None = None
) -> LoadedDataset:
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
    try:
        return load_dataset(client, ref, version_id=version_id)
    except PhoenixAccessError as exc:
        raise ExportError(str(exc)) from None


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
        client: PhoenixClient | None = None,
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
