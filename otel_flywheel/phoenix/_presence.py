"""What this sink has learned about which spans and traces Phoenix holds, bounded.

Phoenix answers 404 for an annotation on a span it has not ingested, and silently leaves an
example unlinked when its span is missing; so the sink remembers spans seen present (no need to
check them again) and since when a target has been seen missing (to stop waiting for one that never
arrives). Both maps are LRU-bounded: forgetting a present span costs one more check, forgetting a
missing one restarts its wait, which errs on the side of waiting.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable

__all__ = ["Presence", "span_lookup_query"]


class Presence:
    """Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(
        self, *, max_entries: int, wait_seconds: float, clock: Callable[[], float]
    ) -> None:
        self._max_entries = max_entries
        self._wait_seconds = wait_seconds
        self._clock = clock
        self._lock = threading.Lock()  # guards both maps; held for dict operations only
        self._present: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._missing_since: collections.OrderedDict[str, float] = collections.OrderedDict()

    def unknown_spans(self, span_ids: Iterable[str]) -> list[str]:
        """The span ids not seen present yet, sorted, once each."""
        with self._lock:
            return sorted({span_id for span_id in span_ids if span_id not in self._present})

    def found(self, target: str, target_ids: Iterable[str]) -> None:
        """Phoenix has these (``target`` is ``span`` or ``trace``)."""
        with self._lock:
            for target_id in target_ids:
                self._missing_since.pop(f"{target}:{target_id}", None)
                if target == "span":
                    self._present[target_id] = None
                    self._present.move_to_end(target_id)
                    if len(self._present) > self._max_entries:
                        self._present.popitem(last=False)

    def missing(self, target: str, target_id: str) -> bool:
        """Phoenix lacks it now; True once it has lacked it for ``wait_seconds``."""
        now = self._clock()
        key = f"{target}:{target_id}"
        with self._lock:
            since = self._missing_since.get(key)
            if since is None:
                if len(self._missing_since) >= self._max_entries:
                    self._missing_since.popitem(last=False)
                self._missing_since[key] = since = now
        return now - since >= self._wait_seconds


def span_lookup_query(span_ids: list[str]) -> tuple[str, dict[str, str]]:
    """A GraphQL query asking for each span by its OTel id, one alias per span, and its variables.

    ``getSpanByOtelId`` needs no project, unlike the REST span routes: an example knows its span
    but not which project the span was exported to.
    """
    variables = {f"s{index}": span_id for index, span_id in enumerate(span_ids)}
    declarations = ", ".join(f"${name}: String!" for name in variables)
    fields = " ".join(f"{name}: getSpanByOtelId(spanId: ${name}) {{ id }}" for name in variables)
    return f"query({declarations}) {{ {fields} }}", variables
