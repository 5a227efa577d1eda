"""``otel-flywheel serve`` settings: where it listens, where it spools, and its limits.

Resolved like every other setting (explicit argument > environment > config file section
``server`` > default); the environment variable names are in ``otel_flywheel._env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Final

from pydantic import Field, SecretStr

from otel_flywheel import _env
from otel_flywheel.config import _Settings
from otel_flywheel.privacy._keys import DEFAULT_STATE_DIR

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "SPOOL_FILE_NAME",
    "ServerSettings",
]

DEFAULT_HOST: Final = "127.0.0.1"
# 4317/4318 are OTLP gRPC/HTTP (the Collector's own receivers): next to them, not on them.
DEFAULT_PORT: Final = 4319
SPOOL_FILE_NAME: Final = "spool.sqlite"
_MIB: Final = 1024 * 1024


class ServerSettings(_Settings):
    """What ``otel-flywheel serve`` binds, where it spools and when it pushes back.

    ``token`` is read from the environment or the config file only: a secret on a command line
    is visible to every user of the machine (``ps``).
    """

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    token: SecretStr | None = None
    spool: Path | None = None  # None: <state dir>/spool.sqlite
    max_spool_spans: int = Field(200_000, gt=0)
    max_spool_feedback: int = Field(100_000, gt=0)
    max_body_bytes: int = Field(16 * _MIB, gt=0)
    max_concurrent_requests: int = Field(64, gt=0)
    # What a 503/429 tells the sender to wait; the OTel exporters and the Collector honour it.
    retry_after_seconds: int = Field(1, ge=0)
    # On shutdown, how long the ingest worker may keep delivering what the spool holds before it
    # stops; whatever is left stays in the spool for the next start.
    shutdown_timeout_seconds: float = Field(20.0, gt=0)

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "host": (_env.FLYWHEEL_SERVER_HOST,),
        "port": (_env.FLYWHEEL_SERVER_PORT,),
        "token": (_env.FLYWHEEL_SERVER_TOKEN,),
        "spool": (_env.FLYWHEEL_SERVER_SPOOL,),
        "max_spool_spans": (_env.FLYWHEEL_SERVER_MAX_SPOOL_SPANS,),
        "max_body_bytes": (_env.FLYWHEEL_SERVER_MAX_BODY_BYTES,),
        "max_concurrent_requests": (_env.FLYWHEEL_SERVER_MAX_CONCURRENT_REQUESTS,),
    }
    file_section: ClassVar[str] = "server"

    def spool_path(self, *, environ: Mapping[str, str] | None = None) -> Path:
        """``spool``, else ``spool.sqlite`` in the state directory (``FLYWHEEL_STATE_DIR``)."""
        if self.spool is not None:
            return self.spool
        environ = os.environ if environ is None else environ
        state_dir = environ.get(_env.FLYWHEEL_STATE_DIR) or DEFAULT_STATE_DIR
        return Path(state_dir) / SPOOL_FILE_NAME

    def token_value(self) -> str | None:
        """The bearer token, or ``None`` when auth is off (unset or blank)."""
        if self.token is None:
            return None
        value = self.token.get_secret_value().strip()
        return value or None
