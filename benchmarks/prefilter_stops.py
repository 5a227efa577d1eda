"""Where the redaction prefilter sends Python: its stops on realistic agent text, per pattern.

Every built-in branch and keyword adds patterns to the compiled prefilter (``privacy/_prefilter``),
and each place a pattern matches is a regex call, and often a validator, in Python. A pattern
that matches common text (a two-letter vendor prefix in every "TASK") costs more than the rest of
a branch. This script prints how many places reach Python on the agent text of
``redaction.py``'s section 0, and the patterns that match most often:

    .venv/bin/python benchmarks/prefilter_stops.py
    PYTHONPATH=<checkout> .venv/bin/python benchmarks/prefilter_stops.py   # an older commit

Counts, not time: the same for the same code and texts on any machine.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import Any

from agent_text import agent_texts

from otel_flywheel.privacy import BuiltinDetector
from otel_flywheel.privacy._prefilter import Prefilter


def _prefilter_of(detector: BuiltinDetector) -> Prefilter:
    """The detector's prefilter, found in its object graph (the script measures older commits
    too, so it relies on no private attribute's name)."""
    seen: set[int] = set()
    todo: list[Any] = [detector]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Prefilter):
            return node
        if isinstance(node, (list, tuple)):
            todo.extend(node)
        elif isinstance(node, dict):
            todo.extend(node.values())
        else:
            todo.extend(getattr(node, "__dict__", {}).values())
            for slot in getattr(type(node), "__slots__", ()):
                todo.append(getattr(node, slot, None))
    raise SystemExit("no prefilter: is Hyperscan installed?")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent-texts", type=int, default=120, help="texts per kind")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--top", type=int, default=12, help="patterns listed")
    args = parser.parse_args(argv)

    texts = [text.text for text in agent_texts(args.agent_texts, seed=args.seed)]
    prefilter = _prefilter_of(BuiltinDetector())
    places = sum(len(prefilter.starts(text)) for text in texts)
    # Places handed to a reader of their own (a table's header): none before the tenth pass.
    places_of = getattr(prefilter, "places", None)
    reported = sum(len(places_of(text).reported) for text in texts) if places_of else 0

    # The same database, scanned again to count each pattern's matches (before the places of one
    # group are merged and the ruled-out ones dropped).
    matches: Counter[int] = Counter()

    def count(pattern_id: int, *_: object) -> None:
        matches[pattern_id] += 1

    scratch = prefilter._scratch()
    for text in texts:
        data = b"\n" + text.encode("ascii", "replace")
        prefilter._database.scan(data, match_event_handler=count, scratch=scratch)

    megabytes = sum(len(text.encode()) for text in texts) / 1e6
    print(f"agent text: {len(texts)} texts, {megabytes:.2f} MB, seed {args.seed}")
    # Older commits keep no pattern text: their ids are listed instead.
    patterns = getattr(prefilter, "patterns", None) or [
        f"pattern {i}" for i in range(len(prefilter._targets))
    ]
    print(f"patterns: {len(patterns)}; pattern matches: {sum(matches.values())}")
    print(f"places that reach Python: {places}, and {reported} reported to a reader (tables)")
    print(f"most frequent patterns, of {len(matches)} that matched:")
    for pattern_id, hits in matches.most_common(args.top):
        print(f"  {hits:6d}  {patterns[pattern_id][:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
