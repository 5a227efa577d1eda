"""The pytest fixtures otel-flywheel ships (entry point ``pytest11``), as logfire ships ``capfire``.

pytest loads this module into every session of anyone who has otel-flywheel installed, so importing it
must stay cheap and side-effect free: pytest and the standard library only at import time; the server
helpers, ``httpx`` and ``phoenix.client`` are imported inside the fixtures.

Fixtures:

- ``phoenix_server`` (session): one real ``phoenix serve`` per test session, on free ports, with its
  database and log in a pytest temporary directory. It fails, never skips, when no Phoenix executable
  is found: a suite that asked for a real server must not pass without one.
- ``phoenix_server_client`` (function): a ``phoenix.client.Client`` bound to that server, closed after
  the test.
- ``llm_server`` (function): a ``ScriptedLLMServer``, the OpenAI-compatible stand-in for a model;
  ``llm_server.enqueue(...)`` scripts its replies, ``llm_server.base_url`` goes to the ``openai`` client.

The phoenix-client package ships its own pytest plugin (``@pytest.mark.phoenix`` records tests as
experiment runs, plus an autouse ``__phoenix_repetition__`` fixture); these names do not collide with
it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from phoenix.client import Client

    from otel_flywheel.testing.llm_server import ScriptedLLMServer
    from otel_flywheel.testing.phoenix import LocalPhoenix

__all__ = ["llm_server", "phoenix_server", "phoenix_server_client"]

# Replay as tests (`@pytest.mark.flywheel_replay`, fixture `flywheel_case`); as cheap to import.
pytest_plugins = ["otel_flywheel.testing.replay"]


@pytest.fixture(scope="session")
def phoenix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPhoenix]:
    """A real Phoenix server for the whole session, stopped (SIGTERM, then SIGKILL) at its end.

    The executable comes from ``find_phoenix_binary()``: ``$FLYWHEEL_PHOENIX_BIN``, then
    ``.venv-phoenix/bin/phoenix`` in the repository, then ``phoenix`` on ``PATH``.
    """
    from otel_flywheel.testing.phoenix import LocalPhoenix, find_phoenix_binary

    binary = (
        find_phoenix_binary()
    )  # raises PhoenixNotFoundError naming the fix: an error, not a skip
    # PHOENIX_DISCOVER_CONFIG=false only while this server lives, not from pytest_configure for every
    # session: this plugin is loaded into suites that have nothing to do with us, and some of them rely
    # on `.env.phoenix` discovery (phoenix-client's own pytest plugin reads its server from there).
    # Sessions that do talk to our throwaway server must not send a developer's discovered API key or
    # project settings to it, nor trip over a discovered file's permission warnings.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PHOENIX_DISCOVER_CONFIG", "false")
        with LocalPhoenix(binary=binary, working_dir=tmp_path_factory.mktemp("phoenix")) as server:
            yield server


@pytest.fixture
def phoenix_server_client(phoenix_server: LocalPhoenix) -> Iterator[Client]:
    """A ``phoenix.client.Client`` for ``phoenix_server``; its HTTP connections close after the test."""
    import httpx
    from phoenix.client import Client

    # Our own httpx client, so the connections are closed deterministically (no ResourceWarning under
    # `filterwarnings = error`) and no credentials are read from the environment for a local server.
    # Timeouts match phoenix-client's own defaults.
    timeout = httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=10.0)
    with httpx.Client(base_url=phoenix_server.base_url, timeout=timeout) as http_client:
        yield Client(http_client=http_client)


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI-compatible server on a free port, closed after the test."""
    from otel_flywheel.testing.llm_server import ScriptedLLMServer

    with ScriptedLLMServer() as server:
        yield server
