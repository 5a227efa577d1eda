"""The export tests' worlds: one project routed through a real flywheel into the session's Phoenix,
and the agent zoo's conversations captured in process (no Phoenix) for the format tests."""

from __future__ import annotations

import os

# Set before any test module here imports datasets or transformers, which read them on import:
# nothing in these tests may reach the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import uuid
from collections.abc import Iterator

import httpx
import pytest
from agent_zoo import Zoo, capture_scenarios
from export_world import World, populated
from phoenix.client import Client

from otel_flywheel._flywheel import build_flywheel
from otel_flywheel._register import register
from otel_flywheel.privacy import build_redactor
from otel_flywheel.routing import RoutingStore
from otel_flywheel.testing.llm_server import ScriptedLLMServer
from otel_flywheel.testing.phoenix import LocalPhoenix


@pytest.fixture(scope="session")
def export_world(
    phoenix_server: LocalPhoenix, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Built once: the export and purge tests only read it, or add users of their own."""
    state_dir = tmp_path_factory.mktemp("export-state")
    project = f"export-{uuid.uuid4().hex[:8]}"
    redactor = build_redactor()
    # Its own outbox and routing store (both read FLYWHEEL_STATE_DIR when built): other tests'
    # leftovers must not be delivered here, nor ours elsewhere. Set only while building, so the
    # rest of the session keeps its own state directory.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(state_dir))
        flywheel = build_flywheel(
            project=project, phoenix_url=phoenix_server.base_url, judge=False, redactor=redactor
        )
    provider = register(
        project=project,
        endpoint=phoenix_server.base_url,
        pipeline=flywheel,
        redactor=redactor,
        batch=False,
        set_global=False,
    )
    timeout = httpx.Timeout(60.0, connect=10.0)
    with (
        httpx.Client(base_url=phoenix_server.base_url, timeout=timeout) as http,
        ScriptedLLMServer() as llm,
    ):
        world = World(
            project=project,
            client=Client(http_client=http),
            flywheel=flywheel,
            provider=provider,
            llm=llm,
            state_dir=state_dir,
        )
        try:
            with populated(world):
                yield world
        finally:
            provider.shutdown()


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    """The agent zoo's conversations, captured once, with golden and preference examples."""
    with ScriptedLLMServer() as llm:
        traces = capture_scenarios(llm)
    store = RoutingStore(tmp_path_factory.mktemp("zoo-store") / "routing.sqlite")
    try:
        yield Zoo.build(traces, store)
    finally:
        store.close()
