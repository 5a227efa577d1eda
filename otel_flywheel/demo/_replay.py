"""The demo's replay step: its regression dataset against a fixed agent, then the original one.

After the demo has routed its failures into ``<project>/regression`` in Phoenix, `demo_replay`

1. replays that dataset against the fixed agent (`respond_fixed`): the cases that failed now
   pass, listed as fixes, and the gate passes; Phoenix records the experiment;
2. replays it against the original agent with that experiment as the baseline
   (``--baseline auto``): every fixed case fails again, listed as a regression, and the gate fails.

Both replays run the demo's real ``SupportAgent`` on the real ``openai`` client against the
scripted model, instrumented by OpenInference on a provider of their own (never the global one).
The examples' questions are redacted (``<EMAIL:...>``); the task maps each back to its scenario,
as the demo's customers asked it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

from opentelemetry.sdk.trace import TracerProvider

from otel_flywheel.demo import _script
from otel_flywheel.demo._agent import SupportAgent
from otel_flywheel.demo._fixed import respond_fixed
from otel_flywheel.replay import GateSettings, ReplayReport, run_replay
from otel_flywheel.testing.llm_server import ScriptedLLMServer

__all__ = ["DEMO_MIN_PASS_RATE", "DEMO_REPETITIONS", "DemoReplay", "demo_replay"]

# The demo's regression set is small: 3 runs per example give the Wilson bound enough samples
# to clear 60 % when every run passes (5 examples x 3 runs: lower bound 80 %).
DEMO_REPETITIONS: Final = 3
DEMO_MIN_PASS_RATE: Final = 0.6

AgentVersion = Literal["fixed", "original"]


@dataclass(frozen=True, kw_only=True)
class DemoReplay:
    """``fixed``: the fixed agent against the dataset; ``original``: the original agent against
    the fixed one's experiment. The demo shows ``fixed`` passing and ``original`` failing."""

    dataset: str
    fixed: ReplayReport
    original: ReplayReport


def demo_replay(
    *,
    phoenix_url: str,
    project: str,
    dataset: str | None = None,
    judge: bool = False,
    repetitions: int = DEMO_REPETITIONS,
    min_pass_rate: float = DEMO_MIN_PASS_RATE,
    progress: Callable[[str], None] | None = None,
) -> DemoReplay:
    """Replay ``dataset`` (default ``<project>/regression``) against both agent versions.

    The deterministic checks decide (the demo's replay needs no judge model); ``judge=True``
    re-judges rubric failures and expected outputs too (``FLYWHEEL_JUDGE_MODEL`` etc.).
    """
    name = dataset or f"{project}/regression"
    gate = GateSettings(min_pass_rate=min_pass_rate)
    reports: dict[AgentVersion, ReplayReport] = {}
    runs: tuple[tuple[AgentVersion, str | None], ...] = (("fixed", None), ("original", "auto"))
    for version, baseline in runs:
        with demo_agent(version) as (task, provider):
            reports[version] = run_replay(
                name,
                task,
                phoenix_url=phoenix_url,
                repetitions=repetitions,
                gate=gate,
                baseline=baseline,
                judge=judge,
                tracer_provider=provider,
                progress=progress,
            )
    return DemoReplay(dataset=name, fixed=reports["fixed"], original=reports["original"])


@contextmanager
def demo_agent(version: AgentVersion) -> Iterator[tuple[Callable[..., str], TracerProvider]]:
    """The demo agent (``fixed`` or ``original``) as a replay task, and the provider it reports
    to. The scripted model and the instrumentation live as long as the context."""
    from openai import OpenAI
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider = TracerProvider()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    responder = respond_fixed if version == "fixed" else _script.respond
    try:
        with (
            ScriptedLLMServer(responder=responder) as llm,
            OpenAI(base_url=llm.base_url, api_key="demo", max_retries=0) as client,
        ):
            tracer = OITracer(
                provider.get_tracer("otel_flywheel.demo.replay"), config=TraceConfig()
            )
            agent = SupportAgent(client=client, tracer=tracer, model=f"acme-support-{version}")
            scenarios = _script.ScenarioLookup()

            def task(input: Mapping[str, Any]) -> str:
                conversation = scenarios.conversation(input)
                reply = agent.run(conversation)
                answer = getattr(reply, "answer", reply)  # AgentReply, or the answer itself
                return str(answer)

            yield task, provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
