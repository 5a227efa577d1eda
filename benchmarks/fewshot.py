"""What ``FewShotLibrary.select`` costs the agent's thread, against what the agent already does per call.

Libraries of N golden examples (100, 1,000, 10,000) are built from a fixed seed: support questions
over a vocabulary of topics, products and order ids, each with an answer and, for most, a tool call
and its result; 200 customers, one session each. Requests are fresh questions from the same
generator. On one core (the process is pinned to CPU 0), per call, median of repeated rounds:

1. **baselines**, what an agent does for every model call anyway, in the same process:
   - ``span``: start and end one OTel SDK span with three attributes (a provider without
     processors: the cheapest real span);
   - ``request``: ``json.dumps`` of a typical chat request (system prompt, three tool
     definitions, the question), what the ``openai`` client does before sending;
2. **select**: ``library.select(question, user_id=..., session_id=...)`` with k = 3 inside a
   recording span (the ids are recorded on it), and ``.messages`` built for the request.

It prints each cost in microseconds and select's as a ratio of each baseline, and the time the
background thread takes to build the library (BM25 index, near-duplicate check). No assertion on
time: tests/benchmarks only checks that the script runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from otel_flywheel import __version__
from otel_flywheel.fewshot import FewShotExample, FewShotLibrary

TOPICS = [
    ("shipping", "Standard shipping takes 3-5 business days; express takes 1-2."),
    ("return", "Items can be returned within 30 days of delivery for a full refund."),
    ("warranty", "Electronics carry a 1-year limited warranty covering defects."),
    ("cancel", "Orders can be cancelled free of charge until they ship."),
    ("invoice", "Invoices are emailed when the order ships and are in your account."),
    ("payment", "We accept cards, PayPal and bank transfer; cards are charged at shipping."),
    ("address", "The delivery address can be changed until the order ships."),
    ("discount", "Discount codes apply to full-price items and cannot be combined."),
]
PRODUCTS = [
    "jacket", "laptop", "headphones", "sofa", "bicycle", "kettle", "camera", "desk lamp",
    "running shoes", "backpack", "monitor", "blender", "tent", "phone case", "printer",
]  # fmt: skip
OPENERS = ["Hi,", "Hello,", "Quick question:", "Please help:", "", "Hey there,"]
TEMPLATES = [
    "{o} how does {t} work for my {p}?",
    "{o} what is your {t} policy for a {p}?",
    "{o} can you check {t} on order {id} ({p})?",
    "{o} I need help with {t}, order {id}, it's a {p}.",
    "{o} tell me about {t} for the {p} I bought.",
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} for the support agent",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    for name in ("lookup_order", "search_kb", "issue_refund")
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="library sizes, comma-separated")
    parser.add_argument("--calls", type=int, default=2000, help="select calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core, as the agent's thread has

    print(f"otel-flywheel {__version__}, Python {platform.python_version()}, {platform.machine()}")
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}\n")
    rng = random.Random(20261206)
    requests = [_question(rng)[0] for _ in range(args.calls)]
    provider = TracerProvider()  # no processors: the cheapest real span
    tracer = provider.get_tracer("bench")
    body = {
        "model": "m",
        "messages": [{"role": "system", "content": "You are a support agent. " * 20}],
        "tools": TOOLS,
    }

    def span() -> Callable[[int], None]:
        def call(index: int) -> None:
            with tracer.start_as_current_span("llm") as current:
                current.set_attribute("llm.model_name", "m")
                current.set_attribute("input.value", requests[index])
                current.set_attribute("session.id", "s-1")

        return call

    def request() -> Callable[[int], None]:
        def call(index: int) -> None:
            json.dumps(
                {
                    **body,
                    "messages": [*body["messages"], {"role": "user", "content": requests[index]}],
                }
            )

        return call

    baselines = {
        "span": _per_call(span(), args.calls, args.rounds),
        "request": _per_call(request(), args.calls, args.rounds),
    }
    print("1. baselines, per call:")
    for name, micros in baselines.items():
        print(f"   {name:<8} {micros:8.2f} us")
    print("\n2. select (k=3, ids recorded on the span, messages built), per call:")
    print(
        f"   {'examples':>9} {'build':>9} {'select':>10} {'x span':>8} {'x request':>10} {'shots':>6}"
    )
    for size in sizes:
        examples = [_example(rng, index) for index in range(size)]
        started = time.perf_counter()
        library = FewShotLibrary.from_examples(examples, k=3, redactor=None)
        build_seconds = time.perf_counter() - started
        shown: list[int] = []

        def select(index: int, library: FewShotLibrary = library, shown: list[int] = shown) -> None:
            with tracer.start_as_current_span("agent"):
                chosen = library.select(
                    requests[index], user_id=f"user-{index % 200}", session_id=f"s-{index % 200}"
                )
                chosen.messages  # noqa: B018 - what the agent puts in its request
                shown.append(len(chosen))

        micros = _per_call(select, args.calls, args.rounds) - baselines["span"]
        print(
            f"   {size:>9,} {build_seconds:>8.2f}s {micros:>8.1f}us "
            f"{micros / baselines['span']:>7.1f}x {micros / baselines['request']:>9.1f}x "
            f"{statistics.mean(shown):>6.2f}"
        )
        library.close()
    print(
        "\nselect's time excludes the span it runs in (the baseline span's cost is subtracted); "
        "shots: examples chosen per request on average."
    )
    return 0


def _per_call(call: Callable[[int], None], calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean microseconds per call."""
    for index in range(min(calls, 200)):  # warm caches (tokenizer, pseudonyms, numpy)
        call(index)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for index in range(calls):
            call(index)
        timings.append((time.perf_counter_ns() - started) / calls / 1000)
    return statistics.median(timings)


def _question(rng: random.Random) -> tuple[str, str]:
    topic, answer = rng.choice(TOPICS)
    text = rng.choice(TEMPLATES).format(
        o=rng.choice(OPENERS), t=topic, p=rng.choice(PRODUCTS), id=f"A-{rng.randrange(10_000):04d}"
    )
    return text.strip(), answer


def _example(rng: random.Random, index: int) -> FewShotExample:
    question, answer = _question(rng)
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    if rng.random() < 0.8:
        arguments = {"query": question.split("?")[0][-40:]}
        messages += [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "search_kb", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"article": answer})},
        ]
    messages.append({"role": "assistant", "content": answer})
    user = index % 200
    return FewShotExample.from_messages(
        f"ex-{index}", messages, user_id=f"user-{user}", session_id=f"s-{user}"
    )


if __name__ == "__main__":
    sys.exit(main())
