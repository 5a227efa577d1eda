"""Instructions, not seconds: redaction of section 0's agent text under valgrind, against json.loads.

The machine's speed moves by 20-40% between runs, which hides a change of a few percent;
valgrind's instruction counts repeat exactly. Each count is of a second, warm pass over
``redaction.py``'s agent text (regexes compiled, metadata loaded, the redactor's caches cleared
between the passes, as section 0 clears them), minus a process that stops before that pass:

    python benchmarks/redaction_instructions.py            # three runs under valgrind, ~3 min
    PYTHONPATH=<checkout> python benchmarks/redaction_instructions.py   # an older checkout

Instructions are not time: ``json.loads`` retires more of them per cycle than redaction, whose
ratio in instructions (~4.8) is below its ratio in time (~7.5). Use it to compare two versions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from agent_text import agent_texts
from redaction import KEY, _clear_cache

from otel_flywheel.privacy import BuiltinDetector, RedactionAudit, Redactor

_COLLECTED = re.compile(r"Collected : ([0-9]+)")


def _pass(mode: str, texts: int, seed: int) -> None:
    documents = [t.text for t in agent_texts(texts, seed=seed)]
    redactor = Redactor(key=KEY, detectors=[BuiltinDetector()])
    for text in documents:  # compile what is compiled lazily, load the phone metadata
        redactor.redact_text(text, RedactionAudit())
        json.loads(text)
    _clear_cache(redactor)
    if mode == "loads":
        for text in documents:
            json.loads(text)
    elif mode == "redact":
        for text in documents:
            redactor.redact_text(text, RedactionAudit())


def _instructions(mode: str, texts: int, seed: int) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--pass", mode, "--agent-texts", str(texts), "--seed", str(seed),
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent-texts", type=int, default=120)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pass", dest="mode", choices=("none", "loads", "redact"))
    args = parser.parse_args()
    if args.mode is not None:
        _pass(args.mode, args.agent_texts, args.seed)
        return
    base, loads, redact = (
        _instructions(mode, args.agent_texts, args.seed) for mode in ("none", "loads", "redact")
    )
    print(f"command: {Path(sys.argv[0]).name} --agent-texts {args.agent_texts} --seed {args.seed}")
    print(f"json.loads   {(loads - base) / 1e6:8.1f} M instructions")
    print(f"redact_text  {(redact - base) / 1e6:8.1f} M instructions")
    print(f"ratio        {(redact - base) / (loads - base):8.2f}")


if __name__ == "__main__":
    main()
