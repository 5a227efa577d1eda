"""The demo's loop into the agent: the support agent with few-shot examples from its golden set,
replayed against the regression set beside the original agent (``replay --compare``).

The few-shot variant is the demo's ``SupportAgent`` with a ``FewShotLibrary`` reading
``<project>/golden`` from Phoenix (source traces from the demo's routing store): for each
question it puts the most similar approved conversations between the system prompt and the
question, and records their ids on its span.

**The demo's model is scripted**, so what it "learns" from the examples is scripted too, by one
rule: a question whose fix uses a tool that one of the injected examples demonstrates gets the
fixed agent's turns (`respond_fixed`); every other question plays as the original agent's. Which
questions improve thus depends on what the library retrieves, for real (BM25 over the golden
examples, the customer's own conversations left out); how a real model improves on seeing them is
what a replay with a real model measures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from opentelemetry.sdk.trace import TracerProvider

from otel_flywheel.demo import _script
from otel_flywheel.demo._fixed import FIXED_TURNS, respond_fixed
from otel_flywheel.replay import ComparisonReport, GateSettings, ReplayTask, run_comparison
from otel_flywheel.testing.llm_server import Reply

__all__ = ["FEWSHOT_K", "VARIANT_NAMES", "demo_fewshot_comparison", "respond_fewshot"]

FEWSHOT_K: Final = 2
VARIANT_NAMES: Final = ("original", "fewshot")
_REPETITIONS: Final = 3


def respond_fewshot(request: Mapping[str, Any]) -> Reply:
    """The scripted model of the few-shot variant (see the module docstring)."""
    messages = list(request.get("messages") or [])
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        return _script.respond(request)
    head = [m for m in messages[: users[0]] if m.get("role") == "system"]
    shown = messages[len(head) : users[-1]]  # the examples the library put in front of it
    own = {**request, "messages": [*head, *messages[users[-1] :]]}
    demonstrated = {
        call["function"]["name"]
        for message in shown
        for call in message.get("tool_calls") or ()
        if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping)
    }
    fixed = FIXED_TURNS.get(str(messages[users[-1]].get("content")))
    if fixed and not isinstance(fixed[0], str) and fixed[0][0][0] in demonstrated:
        return respond_fixed(own)
    return _script.respond(own)


def demo_fewshot_comparison(
    *,
    phoenix_url: str,
    project: str,
    routing_store: str | Path | None = None,
    dataset: str | None = None,
    repetitions: int = _REPETITIONS,
    progress: Callable[[str], None] | None = None,
) -> ComparisonReport:
    """Replay ``dataset`` (default ``<project>/regression``) with the original agent and with its
    few-shot variant side by side; the pairs where the few-shot run passed and the original failed
    go to ``<project>/preference`` (through ``routing_store``'s directory's preference outbox)."""
    name = dataset or f"{project}/regression"
    outbox = Path(routing_store).parent / "replay-preferences.sqlite" if routing_store else None
    with _agents(phoenix_url, project, routing_store) as (original, fewshot, provider):
        return run_comparison(
            name,
            ReplayTask.wrap(original, name="the demo agent"),
            ReplayTask.wrap(fewshot, name=f"the demo agent with {FEWSHOT_K} golden examples"),
            names=VARIANT_NAMES,
            phoenix_url=phoenix_url,
            repetitions=repetitions,
            gate=GateSettings(min_pass_rate=0.0),  # an A/B: the comparison is the point
            judge=False,
            tracer_provider=provider,
            preferences_outbox=outbox,
            progress=progress,
        )


@contextmanager
def _agents(
    phoenix_url: str, project: str, routing_store: str | Path | None
) -> Iterator[tuple[Callable[..., str], Callable[..., str], TracerProvider]]:
    """The original and the few-shot agent as replay tasks, instrumented on one provider."""
    from openai import OpenAI
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor

    from otel_flywheel.demo._agent import SupportAgent
    from otel_flywheel.fewshot import FewShotLibrary
    from otel_flywheel.testing.llm_server import ScriptedLLMServer

    library = FewShotLibrary.from_phoenix(
        f"{project}/golden",
        phoenix_url=phoenix_url,
        routing_store=routing_store,
        k=FEWSHOT_K,
        start=False,
    )
    library.refresh()
    provider = TracerProvider()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    scenarios = _script.ScenarioLookup()
    try:
        with (
            ScriptedLLMServer(responder=_script.respond) as plain_llm,
            ScriptedLLMServer(responder=respond_fewshot) as fewshot_llm,
            OpenAI(base_url=plain_llm.base_url, api_key="demo", max_retries=0) as plain_client,
            OpenAI(base_url=fewshot_llm.base_url, api_key="demo", max_retries=0) as fewshot_client,
        ):
            tracer = OITracer(
                provider.get_tracer("otel_flywheel.demo.fewshot"), config=TraceConfig()
            )
            agents = {
                "original": SupportAgent(
                    client=plain_client, tracer=tracer, model="acme-support-1"
                ),
                "fewshot": SupportAgent(
                    client=fewshot_client,
                    tracer=tracer,
                    model="acme-support-1-fewshot",
                    fewshot=library,
                ),
            }

            def task(version: str) -> Callable[..., str]:
                def answer(input: Mapping[str, Any]) -> str:
                    return agents[version].run(scenarios.conversation(input)).answer

                return answer

            yield task("original"), task("fewshot"), provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        library.close()
