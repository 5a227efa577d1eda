"""Run a real ``phoenix serve`` as a child process, for the demo and the tests.

The Phoenix server lives in its own environment (``.venv-phoenix``): with the server package installed,
every ``import phoenix.*`` loads the whole app (~9 s), so the library's environment holds the client
only and the server runs as a separate process, as a deployed Phoenix would.

``phoenix.client`` is imported inside the functions that need it. ``wait_for_spans`` is the Phoenix
adapter's (``otel_flywheel.phoenix``), re-exported for tests.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from otel_flywheel import _env
from otel_flywheel.errors import FlywheelError
from otel_flywheel.phoenix import wait_for_spans

if TYPE_CHECKING:
    pass

__all__ = [
    "FLYWHEEL_PHOENIX_BIN",
    "LocalPhoenix",
    "PhoenixNotFoundError",
    "PhoenixStartError",
    "find_free_port",
    "find_phoenix_binary",
    "wait_for_spans",
]

logger = logging.getLogger(__name__)

FLYWHEEL_PHOENIX_BIN: Final = _env.FLYWHEEL_PHOENIX_BIN

_PHOENIX_VENV_BIN: Final = Path(".venv-phoenix", "bin", "phoenix")
_INSTALL_HINT: Final = (
    "run `make .venv-phoenix/.installed-20.26.1` in the otel-flywheel checkout (or "
    "`pip install arize-phoenix` into a separate environment), then set "
    f"{FLYWHEEL_PHOENIX_BIN}=/path/to/that/env/bin/phoenix"
)
_LOG_FILE_NAME: Final = "phoenix-serve.log"
_LOG_TAIL_LINES: Final = 40
_LOG_TAIL_BYTES: Final = 16 * 1024
_HEALTH_POLL_SECONDS: Final = 0.2


class PhoenixNotFoundError(FlywheelError, FileNotFoundError):
    """No Phoenix server executable was found. The message says how to install one."""


class PhoenixStartError(FlywheelError, RuntimeError):
    """``phoenix serve`` exited or did not become healthy in time. The message holds the log tail."""


def find_free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now.

    The OS picks it (bind to port 0); another process may take it before the server binds it, in which
    case the server exits early and ``LocalPhoenix`` reports the log tail.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_phoenix_binary(*, cwd: str | os.PathLike[str] | None = None) -> Path:
    """Locate the ``phoenix`` executable to start.

    Precedence: ``$FLYWHEEL_PHOENIX_BIN`` > ``.venv-phoenix/bin/phoenix`` in ``cwd`` or an ancestor up
    to the repository root (the first directory holding ``pyproject.toml`` or ``.git``) >
    ``phoenix`` on ``PATH``.

    Raises:
        PhoenixNotFoundError: ``$FLYWHEEL_PHOENIX_BIN`` names no executable file, or nothing was found.
    """
    explicit = os.environ.get(FLYWHEEL_PHOENIX_BIN, "").strip()
    if explicit:
        # An explicit setting that is wrong must not silently fall back to another Phoenix.
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise PhoenixNotFoundError(
                f"{FLYWHEEL_PHOENIX_BIN}={explicit!r} is not an executable file; point it at the "
                f"`phoenix` executable of an environment with arize-phoenix, or {_INSTALL_HINT}"
            )
        return path

    start = Path.cwd() if cwd is None else Path(cwd)
    for directory in (start, *start.parents):
        candidate = directory / _PHOENIX_VENV_BIN
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        # Stop at the repository root: a `.venv-phoenix` further up belongs to another project.
        if (directory / "pyproject.toml").exists() or (directory / ".git").exists():
            break

    on_path = shutil.which("phoenix")
    if on_path is not None:
        return Path(on_path)

    raise PhoenixNotFoundError(
        f"no Phoenix server found: {FLYWHEEL_PHOENIX_BIN} is unset, there is no {_PHOENIX_VENV_BIN} "
        f"in {start} or its repository, and `phoenix` is not on PATH; {_INSTALL_HINT}"
    )


class LocalPhoenix:
    """A ``phoenix serve`` child process on free local ports, with its own SQLite working directory.

    Use it as a context manager, or call ``start()`` and ``stop()``. The demo may leave the server
    running when it exits: nothing stops it implicitly.

    Args:
        binary: the ``phoenix`` executable, or a python with arize-phoenix installed (then started as
            ``python -m phoenix.server.main serve``). Default: ``find_phoenix_binary()``.
        working_dir: ``PHOENIX_WORKING_DIR`` (holds ``phoenix.db`` and the server log). Default: a new
            temporary directory, kept after ``stop()`` so the log can be read.
        port: HTTP port (UI, REST, OTLP/HTTP). Default: a free port.
        grpc_port: OTLP/gRPC port. Phoenix binds it on all interfaces whatever ``PHOENIX_HOST`` says,
            so it must be free too. Default: a free port.
        startup_timeout_seconds: how long to wait for ``GET /healthz`` to answer 200. A warm start
            takes ~8-12 s, mostly imports; a cold disk or a busy CI runner takes longer.
        stop_timeout_seconds: how long ``stop()`` waits after SIGTERM before it sends SIGKILL. Phoenix
            drains its span queue for up to 5 s on SIGTERM.
        env: extra environment for the server, applied last (explicit settings win).
    """

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        working_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        grpc_port: int | None = None,
        startup_timeout_seconds: float = 90.0,
        stop_timeout_seconds: float = 10.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if startup_timeout_seconds <= 0:
            raise ValueError(
                f"startup_timeout_seconds must be > 0, got {startup_timeout_seconds!r}"
            )
        if stop_timeout_seconds < 0:
            raise ValueError(f"stop_timeout_seconds must be >= 0, got {stop_timeout_seconds!r}")
        # Absolute: the server runs with its working dir as cwd, where a relative path means nothing.
        self._binary = Path(binary).absolute() if binary is not None else None
        self._working_dir = Path(working_dir) if working_dir is not None else None
        self._port = port
        self._grpc_port = grpc_port
        self._startup_timeout_seconds = startup_timeout_seconds
        self._stop_timeout_seconds = stop_timeout_seconds
        self._extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> LocalPhoenix:
        """Start the server and block until ``GET /healthz`` answers 200.

        Raises:
            PhoenixNotFoundError: no ``binary`` was given and none was found.
            PhoenixStartError: the process exited early or did not become healthy in time; the message
                holds the tail of the server log.
        """
        if self._process is not None:
            raise RuntimeError("LocalPhoenix.start() was already called; create a new instance")
        binary = self._binary if self._binary is not None else find_phoenix_binary()
        self._binary = binary
        if self._working_dir is None:
            self._working_dir = Path(tempfile.mkdtemp(prefix="flywheel-phoenix-"))
        self._working_dir.mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._port = find_free_port()
        if self._grpc_port is None:
            self._grpc_port = find_free_port()

        command = _serve_command(binary)
        log_path = self.log_path
        started = time.monotonic()
        # The child gets its own duplicate of the log descriptor; ours closes right after Popen.
        with log_path.open("wb") as log_file:
            try:
                self._process = subprocess.Popen(
                    command,
                    env=self._child_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=self._working_dir,
                    # Own process group: stop() signals the whole group, and a Ctrl-C meant for
                    # the parent does not kill the server mid-drain.
                    start_new_session=True,
                )
            except OSError as error:  # not executable, no interpreter line, vanished
                raise PhoenixStartError(
                    f"cannot run `{' '.join(command)}`: {error}; {_INSTALL_HINT}"
                ) from error
        logger.info(
            "started %s (pid %d) on %s, log at %s",
            " ".join(command),
            self._process.pid,
            self.base_url,
            log_path,
        )
        try:
            self._wait_until_healthy(started)
        except BaseException:
            self.stop()
            raise
        logger.info("Phoenix ready at %s after %.1f s", self.base_url, time.monotonic() - started)
        return self

    def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL it after ``stop_timeout_seconds``.

        Idempotent; a no-op before ``start()``.
        """
        process = self._process
        if process is None or process.returncode is not None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=self._stop_timeout_seconds)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "Phoenix (pid %d) ignored SIGTERM for %.1f s; sending SIGKILL",
                    process.pid,
                    self._stop_timeout_seconds,
                )
                # The leader is not reaped yet, so its pid still names our process group.
                _signal_group(process, signal.SIGKILL)
                process.wait()
        logger.info("Phoenix (pid %d) stopped with code %s", process.pid, process.returncode)

    def __enter__(self) -> LocalPhoenix:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where it is -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The HTTP port (UI, REST, GraphQL, OTLP/HTTP)."""
        if self._port is None:
            raise RuntimeError("LocalPhoenix has no port before start()")
        return self._port

    @property
    def grpc_port(self) -> int:
        """The OTLP/gRPC port."""
        if self._grpc_port is None:
            raise RuntimeError("LocalPhoenix has no gRPC port before start()")
        return self._grpc_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what ``phoenix.client.Client(base_url=...)`` takes."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def otlp_traces_endpoint(self) -> str:
        """The OTLP/HTTP traces URL, for ``OTLPSpanExporter(endpoint=...)``."""
        return f"{self.base_url}/v1/traces"

    @property
    def working_dir(self) -> Path:
        """``PHOENIX_WORKING_DIR``: the SQLite database and the server log."""
        if self._working_dir is None:
            raise RuntimeError("LocalPhoenix has no working directory before start()")
        return self._working_dir

    @property
    def log_path(self) -> Path:
        """The server's stdout and stderr (a fresh database logs ~4.5 k lines of migration SQL)."""
        return self.working_dir / _LOG_FILE_NAME

    @property
    def pid(self) -> int:
        """The server's process id (also its process group id)."""
        if self._process is None:
            raise RuntimeError("LocalPhoenix has no process before start()")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"LocalPhoenix({where}, running={self.running})"

    # --- internals ---------------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        # Drop every inherited PHOENIX_* variable: a throwaway server must not pick up the developer's
        # PHOENIX_SQL_DATABASE_URL (their Postgres), auth secrets or root path.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PHOENIX_")}
        env.update(
            PHOENIX_WORKING_DIR=str(self.working_dir),
            PHOENIX_PORT=str(self.port),
            PHOENIX_GRPC_PORT=str(self.grpc_port),
            PHOENIX_HOST="127.0.0.1",
            PHOENIX_TELEMETRY_ENABLED="false",
            PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
            # The server bundles phoenix.client, which would read the nearest `.env.phoenix`.
            PHOENIX_DISCOVER_CONFIG="false",
        )
        env.update(self._extra_env)
        return env

    def _wait_until_healthy(self, started: float) -> None:
        assert self._process is not None
        deadline = started + self._startup_timeout_seconds
        while True:
            code = self._process.poll()
            if code is not None:
                raise PhoenixStartError(
                    f"`{' '.join(_serve_command(self._binary_path))}` exited with code {code} "
                    f"before {self.base_url}/healthz answered. If the log says a port is in use, "
                    f"retry (ports are chosen free but can be taken in between); if the binary is "
                    f"not a Phoenix server, {_INSTALL_HINT}. "
                    f"Last lines of {self.log_path}:\n{_tail(self.log_path)}"
                )
            if _healthz_ok(self.port):
                return
            if time.monotonic() >= deadline:
                raise PhoenixStartError(
                    f"Phoenix did not answer {self.base_url}/healthz within "
                    f"{self._startup_timeout_seconds:g} s (pid {self._process.pid}); pass a larger "
                    f"startup_timeout_seconds if the machine is slow, or read the log. "
                    f"Last lines of {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(_HEALTH_POLL_SECONDS)

    @property
    def _binary_path(self) -> Path:
        assert self._binary is not None
        return self._binary


def _serve_command(binary: Path) -> list[str]:
    # A python interpreter (e.g. `.venv-phoenix/bin/python`) runs the server module; anything else
    # is taken to be the `phoenix` console script.
    if binary.name.startswith("python"):
        return [str(binary), "-m", "phoenix.server.main", "serve"]
    return [str(binary), "serve"]


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    if sys.platform == "win32":  # no process groups to signal; the server has no children there
        if signum == signal.SIGTERM:
            process.terminate()
        else:
            process.kill()
        return
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, signum)


def _healthz_ok(port: int) -> bool:
    # http.client rather than urllib: urllib honours HTTP(S)_PROXY, which would route a loopback
    # health check through a corporate proxy.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:  # refused while starting, reset, timed out
        return False
    finally:
        connection.close()


def _tail(path: Path, *, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            size = log_file.tell()
            log_file.seek(max(0, size - _LOG_TAIL_BYTES))
            data = log_file.read()
    except OSError as error:
        return f"(log unreadable: {error})"
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else "(log is empty)"
