"""The README's "closing the loop" examples, run as written (a README promise is a test): the
few-shot snippet against the session's Phoenix and the scripted model, and the ``replay --compare``
command as CI runs it, against a dataset of the README's name."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from phoenix.client import Client

from otel_flywheel import semconv as sc
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text
from otel_flywheel.testing.phoenix import LocalPhoenix

README = Path(__file__).parents[1] / "README.md"
HERE = Path(__file__).parent
CLI = str(Path(sys.executable).parent / "otel-flywheel")


def block(marker: str, language: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, f"README.md lost its {marker}"
    return match.group(1)


def ensure_dataset(client: Client, name: str, examples: list[dict[str, Any]]) -> None:
    if name not in {d["name"] for d in client.datasets.list()}:
        client.datasets.create_dataset(name=name, examples=examples)


def test_the_readme_fewshot_example_puts_golden_examples_in_front_of_the_model(
    phoenix_server: LocalPhoenix, monkeypatch: pytest.MonkeyPatch
) -> None:
    with httpx.Client(base_url=phoenix_server.base_url, timeout=60) as http:
        ensure_dataset(
            Client(http_client=http),
            "support-agent/golden",
            [
                {
                    "input": {"input": "How long does standard shipping take?"},
                    "output": {"output": "Standard shipping takes 3-5 business days."},
                    "metadata": {
                        "route": "golden",
                        "example_id": "ship",
                        "user_id": "<USER:0000aaaa>",
                    },
                },
                {
                    "input": {"input": "What does the warranty cover?"},
                    "output": {"output": "Manufacturing defects, for a year."},
                    "metadata": {"route": "golden", "example_id": "warranty"},
                },
            ],
        )
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", phoenix_server.base_url)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with (
        ScriptedLLMServer() as llm,
        OpenAI(base_url=llm.base_url, api_key="t", max_retries=0) as client,
    ):
        llm.enqueue(Text("Express takes 1-2 business days."))
        namespace: dict[str, Any] = {
            "tracer": provider.get_tracer("agent"),
            "client": client,
            "SYSTEM_PROMPT": "You are a support agent.",
            "TOOLS": [
                {
                    "type": "function",
                    "function": {"name": "search_kb", "parameters": {"type": "object"}},
                }
            ],
        }
        exec(compile(block("fewshot-example", "python"), str(README), "exec"), namespace)
        library = namespace["library"]
        try:
            assert library.wait_ready(60), library.stats
            answer = namespace["answer"](
                "How long does express shipping take?", user_id="u-7", session_id="s-7"
            )
        finally:
            library.close()
        sent = llm.requests[-1]["messages"]
    assert answer == "Express takes 1-2 business days."
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "How long does standard shipping take?"
    (span,) = exporter.get_finished_spans()
    assert span.attributes[sc.FLYWHEEL_FEWSHOT_EXAMPLE_IDS] == ("ship",)


# The user's module the README command names: two variants of an order agent (scripted models).
# The few-shot one is shown a golden lookup; its scripted model then looks up the order asked for,
# where the plain one looks up a wrong id.
MY_AGENT = """
import json
import re

from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor

from otel_flywheel.fewshot import FewShotExample, FewShotLibrary
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls
import replay_agents

OpenAIInstrumentor().instrument()  # the global provider replay sets


def model(request):
    messages = request["messages"]
    results = [m for m in messages if m["role"] == "tool" and not m.get("tool_call_id", "").startswith("fewshot")]
    if results:
        return Text("Checked: " + results[-1]["content"])
    question = [m for m in messages if m["role"] == "user"][-1]["content"]
    shown = any(m.get("tool_calls") for m in messages[:-1])
    order = re.search(r"A-\\d{4}", question).group(0) if shown else "A-0000"
    return ToolCalls([ToolCallReply("lookup_order", {"order_id": order})])


LIBRARY = FewShotLibrary.from_examples(
    [
        FewShotExample.from_messages(
            "golden-track",
            [
                {"role": "user", "content": "Where is order A-0042?"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "A-0042"}}}]},
                {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
                {"role": "assistant", "content": "Order A-0042 has shipped."},
            ],
        )
    ],
    redactor=None,
)
_server = ScriptedLLMServer(responder=model).start()
_client = OpenAI(base_url=_server.base_url, api_key="t", max_retries=0)


class Agent(replay_agents.OrderAgent):
    # The order agent, with or without a few-shot library.

    def __init__(self, client, library=None):
        super().__init__(client)
        self._library = library

    def _loop(self, question):
        shots = self._library.select(question).messages if self._library is not None else []
        messages = [*shots, {"role": "user", "content": question}]
        reply = self._client.chat.completions.create(model="m", messages=messages, tools=replay_agents.TOOLS)
        call = reply.choices[0].message.tool_calls[0]
        result = replay_agents.lookup_order(**json.loads(call.function.arguments))
        messages += [
            reply.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
        ]
        return self._client.chat.completions.create(model="m", messages=messages).choices[0].message.content


PLAIN, FEWSHOT = Agent(_client), Agent(_client, LIBRARY)


def answer(input):
    return PLAIN.answer(input["input"])


def answer_with_fewshot(input):
    return FEWSHOT.answer(input["input"])
"""


def test_the_readme_compare_command_runs_as_printed(
    phoenix_server: LocalPhoenix, tmp_path: Path
) -> None:
    orders = [f"A-{n:04d}" for n in range(2001, 2009)]
    with httpx.Client(base_url=phoenix_server.base_url, timeout=60) as http:
        client = Client(http_client=http)
        ensure_dataset(
            client,
            "support-agent/regression",
            [
                {
                    "input": {"input": f"Where is order {order}?"},
                    "output": {
                        "output": "",
                        "expected_tool_calls": [
                            {"name": "lookup_order", "arguments": {"order_id": order}}
                        ],
                    },
                    "metadata": {
                        "route": "golden",
                        "example_id": order,
                        "project": "support-agent",
                    },
                }
                for order in orders
            ],
        )
    package = tmp_path / "my_agent"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "replay.py").write_text(MY_AGENT)
    command = shlex.split(block("compare-example", "bash").replace("\\\n", " "))
    assert command[:2] == ["otel-flywheel", "replay"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_JUDGE", "OPENAI_"))},
        "PYTHONPATH": os.pathsep.join([str(HERE / "replay"), os.environ.get("PYTHONPATH", "")]),
        "PHOENIX_COLLECTOR_ENDPOINT": phoenix_server.base_url,
        "FLYWHEEL_STATE_DIR": str(tmp_path / "state"),
    }
    result = subprocess.run(
        [CLI, *command[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    out = result.stdout
    assert "  plain: my_agent.replay:answer" in out
    assert "  fewshot: my_agent.replay:answer_with_fewshot" in out
    assert "fewshot - plain over the 8 examples both scored: +100.0%" in out
    assert "fewshot is better" in out
    assert "preference pairs: 8 written to support-agent/preference (delivered)" in out
    with httpx.Client(base_url=phoenix_server.base_url, timeout=60) as http:
        deadline = time.monotonic() + 60
        while True:
            try:
                held = Client(http_client=http).datasets.get_dataset(
                    dataset="support-agent/preference"
                )
                if len(held.examples) >= 8:
                    break
            except ValueError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert {e["metadata"]["route_reason"] for e in held.examples} == {"replay_comparison"}
