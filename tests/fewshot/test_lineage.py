"""The loop's lineage: an agent that puts few-shot examples in front of its model through the real
``openai`` client records their ids on its span; the flywheel's capture keeps them (redaction lets
``flywheel.*`` through), routing copies them into the examples it writes, and the export's
manifest names them per row. Also the Phoenix source against the session's Phoenix."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_trace_id

from otel_flywheel import semconv as sc
from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline
from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export import TraceLookup, export_sft, manifest_path_for
from otel_flywheel.fewshot import FewShotLibrary
from otel_flywheel.model import AgentTrace, Feedback
from otel_flywheel.routing import Router, RoutingStore
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls
from otel_flywheel.testing.phoenix import LocalPhoenix

SHIPPING_Q = "How long does standard shipping take?"
TRACK_Q = "Track A-1004"


def test_injected_ids_travel_from_the_span_to_the_dataset_and_the_export(
    redacted_demo_traces: dict[str, AgentTrace],
    golden: Callable[..., DatasetExample],
    tmp_path: Path,
) -> None:
    shipping, track = redacted_demo_traces[SHIPPING_Q], redacted_demo_traces[TRACK_Q]
    loaded = [(golden(shipping), shipping), (golden(track), track)]

    class Given:
        description = "given"

        def load(self) -> list[tuple[DatasetExample, AgentTrace | None]]:
            return loaded

    shots = FewShotLibrary(Given(), k=2, start=False)
    shots.refresh()

    pipeline = InMemoryPipeline()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(FlywheelSpanProcessor(pipeline=pipeline, schedule_delay_millis=10))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    question = "How long does shipping of order A-1004 take?"
    try:
        with (
            ScriptedLLMServer() as llm,
            OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
        ):
            llm.enqueue(Text("3-5 business days."))
            tracer = OITracer(provider.get_tracer("agent"), config=TraceConfig())
            with tracer.start_as_current_span("agent", openinference_span_kind="agent") as span:
                span.set_input(question)
                selection = shots.select(question, user_id="someone-else")
                client.chat.completions.create(
                    model="m",
                    messages=[  # type: ignore[arg-type]
                        {"role": "system", "content": "You are a support agent."},
                        *selection.messages,
                        {"role": "user", "content": question},
                    ],
                )
                span.set_output("3-5 business days.")
                trace_id = format_trace_id(span.get_span_context().trace_id)
            sent = llm.requests[-1]["messages"]
        assert provider.force_flush(30_000)
        (trace,) = pipeline.wait_for(1, timeout_seconds=30)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    # The model got the examples as a chat API takes them.
    assert len(selection) == 2
    assert [m["role"] for m in sent] == [
        "system",
        *(m["role"] for m in selection.messages),
        "user",
    ]
    assert any(m.get("tool_calls") for m in sent)
    # The span carries the ids, through capture and redaction.
    assert trace.trace_id == trace_id
    assert trace.root is not None
    assert list(trace.root.attributes[sc.FLYWHEEL_FEWSHOT_EXAMPLE_IDS]) == list(
        selection.example_ids
    )
    # Routing copies them into the example it writes for this trace...
    router = Router()
    (routed,) = router.feedback_examples(trace, Feedback(trace_id=trace.trace_id, thumbs="up"))
    write = router.example_write(routed, None)
    assert write.metadata["fewshot_example_ids"] == list(selection.example_ids)
    # ... and the export names them for the row it makes of it.
    store = RoutingStore(tmp_path / "routing.sqlite")
    store.put_trace(trace, None)
    example = DatasetExample(
        example_id=write.example_id,
        dataset=write.dataset,
        input=write.input,
        output=write.output,
        metadata=write.metadata,
    )
    try:
        result = export_sft(
            [LoadedDataset(name=write.dataset, examples=[example])],
            out=tmp_path / "sft.jsonl",
            traces=TraceLookup(store=store),
        )
    finally:
        store.close()
    manifest = json.loads(manifest_path_for(result.path).read_text())
    (row,) = manifest["rows"]
    assert row["fewshot_example_ids"] == list(selection.example_ids)


def test_a_library_reads_golden_datasets_from_phoenix(phoenix_server: LocalPhoenix) -> None:
    name = f"fewshot-{uuid.uuid4().hex[:8]}/golden"
    examples = [
        {
            "input": {"input": "How long does standard shipping take?"},
            "output": {"output": "3-5 business days."},
            "metadata": {"route": "golden", "example_id": "ship", "consent": True},
        },
        {
            "input": {"input": "What does the warranty cover?"},
            "output": {"output": "Manufacturing defects for a year."},
            "metadata": {"route": "golden", "example_id": "warranty", "consent": False},
        },
    ]
    with httpx.Client(base_url=phoenix_server.base_url, timeout=60) as http:
        from phoenix.client import Client

        Client(http_client=http).datasets.create_dataset(name=name, examples=examples)
    shots = FewShotLibrary.from_phoenix(
        [name, "never-created/golden"], phoenix_url=phoenix_server.base_url, start=False
    )
    report = shots.refresh()
    assert report.kept == 1
    assert dict(report.left_out) == {"consent_withheld": 1}
    assert shots.select("shipping take how long").example_ids == ("ship",)
    assert shots.stats.source == f"{name}, never-created/golden in {phoenix_server.base_url}"


def test_phoenix_down_delays_the_library_and_never_reaches_the_agent() -> None:
    shots = FewShotLibrary.from_phoenix(
        "support/golden", phoenix_url="http://127.0.0.1:9", refresh_interval_seconds=60
    )
    try:
        selection = shots.select("anything")
        assert selection.skipped == "not_ready"
        assert selection.messages == []
        deadline = time.monotonic() + 30
        while not shots.stats.load_failures:
            assert time.monotonic() < deadline, "the load never failed"
            time.sleep(0.05)
        assert shots.select("anything").skipped == "not_ready"
        assert "ConnectError" in (shots.stats.last_error or "")
    finally:
        shots.close()


def test_tool_calls_in_examples_are_ones_the_scripted_model_can_be_shown_again() -> None:
    """The selection's messages go through the real client twice without an id clash."""
    shots = FewShotLibrary.from_examples(
        [
            __import__(
                "otel_flywheel.fewshot", fromlist=["FewShotExample"]
            ).FewShotExample.from_messages(
                "t",
                [
                    {"role": "user", "content": "Track A-1"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {
                                    "name": "lookup_order",
                                    "arguments": {"order_id": "A-1"},
                                },
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c", "content": "shipped"},
                    {"role": "assistant", "content": "Shipped."},
                ],
            )
        ],
        redactor=None,
    )
    with (
        ScriptedLLMServer() as llm,
        OpenAI(base_url=llm.base_url, api_key="t", max_retries=0) as client,
    ):
        llm.enqueue(ToolCalls([ToolCallReply("lookup_order", {"order_id": "A-2"})]), Text("ok"))
        messages = [*shots.select("track A-2").messages, {"role": "user", "content": "Track A-2"}]
        reply = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
        messages += [
            reply.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "shipped"},
        ]
        client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        ids = [c["id"] for m in llm.requests[-1]["messages"] for c in m.get("tool_calls") or ()]
    assert len(ids) == len(set(ids)) == 2
