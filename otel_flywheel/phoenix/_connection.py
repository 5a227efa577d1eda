"""Connecting to Phoenix: one way to build a client, one timeout, errors that name the URL and the fix.

Every part of otel-flywheel that reads from or writes to Phoenix gets its ``phoenix.client.Client``
here. The client wraps an httpx client of our own: its timeout is ours (phoenix-client's per-call
default of 5 s is too short for a page of big LLM spans or a large upload on a busy server), its
connections close when we say so, and ``PHOENIX_API_KEY`` / ``PHOENIX_CLIENT_HEADERS`` apply as
phoenix-client applies them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

import httpx

from otel_flywheel import _env
from otel_flywheel.errors import FlywheelError

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "DatasetNotFoundError",
    "PhoenixAccessError",
    "base_url_of",
    "default_base_url",
    "http_of",
    "new_client",
    "phoenix_client",
    "require_project",
    "timeout",
]

REQUEST_TIMEOUT_SECONDS: Final = 60.0
"""Per request, for every call otel-flywheel makes to Phoenix."""
CONNECT_TIMEOUT_SECONDS: Final = 10.0
_TRACES_PATH: Final = "/v1/traces"
# Where phoenix.client looks for Phoenix, in its order (PHOENIX.md): named when it cannot connect.
_PHOENIX_URL_VARIABLES: Final = (
    _env.PHOENIX_ENDPOINT,
    _env.PHOENIX_COLLECTOR_ENDPOINT,
    _env.OTEL_EXPORTER_OTLP_ENDPOINT,
    _env.PHOENIX_BASE_URL,
)


class PhoenixAccessError(FlywheelError):
    """Phoenix could not be reached, refused the request, or lacks what was asked for. The message
    names the URL and the fix."""


class DatasetNotFoundError(PhoenixAccessError):
    """Phoenix has no dataset by that name (``known`` lists the ones it has)."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        listed = ", ".join(map(repr, known[:20])) or "none"
        super().__init__(f"Phoenix has no dataset {name!r}; known datasets: {listed}")


def timeout(seconds: float = REQUEST_TIMEOUT_SECONDS) -> httpx.Timeout:
    """The httpx timeout for a request that may take ``seconds`` (connecting never takes long)."""
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS))


def base_url_of(url: str) -> str:
    """Phoenix's base URL (REST, UI) from a URL a user has at hand: its base URL, or its OTLP/HTTP
    traces URL (``PHOENIX_COLLECTOR_ENDPOINT`` often is one)."""
    return url.strip().rstrip("/").removesuffix(_TRACES_PATH)


def default_base_url() -> str:
    """The base URL phoenix-client finds in the environment (``PHOENIX_ENDPOINT``,
    ``PHOENIX_COLLECTOR_ENDPOINT``, ..., else ``http://localhost:6006``)."""
    from phoenix.client.utils.config import get_base_url

    return base_url_of(str(get_base_url()))


def new_client(
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
    on_response: Callable[[httpx.Response], None] | None = None,
) -> Client:
    """A ``phoenix.client.Client`` on an httpx client of our own; close it with
    ``http_of(client).close()``.

    ``base_url`` defaults to what phoenix-client reads from the environment (``PHOENIX_ENDPOINT``,
    ``PHOENIX_COLLECTOR_ENDPOINT``, ...). ``api_key`` replaces ``PHOENIX_API_KEY``.
    ``on_response`` hears every response (a long read shows that it moves).
    """
    from phoenix.client import Client
    from phoenix.client.utils.config import get_base_url, get_env_client_headers

    headers = dict(get_env_client_headers())
    if api_key:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {api_key}"
    resolved = (
        base_url_of(base_url)
        if base_url
        else str(get_base_url(credential_source="explicit arguments" if api_key else None))
    )
    hooks = {"response": [on_response]} if on_response is not None else {}
    http = httpx.Client(
        base_url=resolved.rstrip("/"),
        headers=headers,
        timeout=timeout(timeout_seconds),
        event_hooks=hooks,
    )
    return Client(http_client=http)


def http_of(client: Client) -> httpx.Client:
    """The httpx client under a ``phoenix.client.Client``, for the REST routes phoenix-client has
    no method for (trace annotations, dataset uploads with ids, GraphQL, experiment JSON).

    phoenix-client exposes no public accessor; ``_client`` is the property its own resources use.
    """
    return client._client


@contextmanager
def phoenix_client(
    url: str | None = None,
    *,
    api_key: str | None = None,
    on_response: Callable[[httpx.Response], None] | None = None,
) -> Iterator[tuple[Client, str]]:
    """A client for ``url`` (else what phoenix-client reads from the environment) with its base
    URL; its connections close on exit.

    httpx errors raised inside the block become `PhoenixAccessError`s that name the URL, what went
    wrong and the fix (start Phoenix, point to it, set ``PHOENIX_API_KEY``).
    """
    client = new_client(url, api_key=api_key, on_response=on_response)
    http = http_of(client)
    base_url = str(http.base_url).rstrip("/")
    with http:
        try:
            yield client, base_url
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
            raise PhoenixAccessError(
                f"Phoenix at {base_url} did not answer within {REQUEST_TIMEOUT_SECONDS:.0f} s "
                f"({type(exc).__name__}); it may be busy ingesting: retry, or read less at a time "
                "with --since/--until or --limit"
            ) from exc
        except httpx.TransportError as exc:
            raise PhoenixAccessError(
                f"cannot reach Phoenix at {base_url} ({type(exc).__name__}: {exc}). Start it, or "
                f"point to it with --phoenix-url URL or PHOENIX_COLLECTOR_ENDPOINT "
                f"({_url_source(url)})"
            ) from exc
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise PhoenixAccessError(
                    f"Phoenix at {base_url} refused the request (HTTP {status}): set "
                    f"{_env.PHOENIX_API_KEY} to an API key of that Phoenix"
                ) from exc
            raise PhoenixAccessError(
                f"Phoenix at {base_url} answered HTTP {status} to {exc.request.url.path}: "
                f"{exc.response.text[:300]}"
            ) from exc


def require_project(client: Client, project: str) -> None:
    """Raise `PhoenixAccessError` listing the known projects when Phoenix has no ``project``."""
    try:
        client.projects.get(project_name=project)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
        known = sorted(p["name"] for p in client.projects.list())
        raise PhoenixAccessError(
            f"Phoenix has no project {project!r}; known projects: "
            f"{', '.join(map(repr, known)) or 'none'} (choose one with --project)"
        ) from exc


def _url_source(url: str | None, environ: Mapping[str, str] | None = None) -> str:
    if url:
        return "now: --phoenix-url"
    environ = os.environ if environ is None else environ
    for name in _PHOENIX_URL_VARIABLES:
        if environ.get(name, "").strip():
            return f"now from {name}"
    return "none is set, so the default http://localhost:6006 was used"
