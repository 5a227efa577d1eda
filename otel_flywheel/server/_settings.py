"""``otel-flywheel serve`` settings: where it listens, where it spools, and its limits.

Resolved like every other setting (explicit argument > environment > config file section
``server`` > default); the environment variable names are in ``otel_flywheel._env``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Final, Literal

from pydantic import Field, SecretStr

from otel_flywheel import _env
from otel_flywheel.config import Settings
from otel_flywheel.state import state_path

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "FEEDBACK_TOKEN_IDENTITY",
    "SPOOL_FILE_NAME",
    "ServerSettings",
    "UnknownTraceFeedback",
]

UnknownTraceFeedback = Literal["refuse", "hold", "accept"]
# Who sent feedback with FLYWHEEL_SERVER_FEEDBACK_TOKEN (named tokens give their own names).
FEEDBACK_TOKEN_IDENTITY: Final = "feedback-token"

DEFAULT_HOST: Final = "127.0.0.1"
# 4317/4318 are OTLP gRPC/HTTP (the Collector's own receivers): next to them, not on them.
DEFAULT_PORT: Final = 4319
SPOOL_FILE_NAME: Final = "spool.sqlite"
_MIB: Final = 1024 * 1024


class ServerSettings(Settings):
    """What ``otel-flywheel serve`` binds, where it spools and when it pushes back.

    Tokens are read from the environment or the config file only: a secret on a command line is
    visible to every user of the machine (``ps``). ``token`` guards ``/v1/traces`` (the
    Collector's credential); feedback has its own, so that a leaked Collector config cannot
    write labels: ``feedback_token`` (its sender is recorded as ``feedback-token``) and/or
    ``feedback_tokens``, a mapping of sender name to token (config file only). Without either,
    ``/v1/feedback`` answers 403.

    ``unknown_trace_feedback`` says what happens to feedback naming a trace (or span) this
    instance has not received: ``refuse`` (404, the default), ``hold`` it until the trace arrives
    (at most ``feedback_hold_seconds``, at most ``max_held_feedback`` records), or ``accept`` it
    as it is. What counts as received: the last ``max_known_traces`` traces, within
    ``known_trace_retention_seconds``.
    """

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    token: SecretStr | None = None
    feedback_token: SecretStr | None = None
    feedback_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    unknown_trace_feedback: UnknownTraceFeedback = "refuse"
    feedback_hold_seconds: float = Field(3600.0, gt=0)
    max_held_feedback: int = Field(10_000, gt=0)
    known_trace_retention_seconds: float = Field(7 * 86_400.0, gt=0)
    max_known_traces: int = Field(100_000, gt=0)
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
        "feedback_token": (_env.FLYWHEEL_SERVER_FEEDBACK_TOKEN,),
        "unknown_trace_feedback": (_env.FLYWHEEL_SERVER_UNKNOWN_TRACE_FEEDBACK,),
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
        return state_path(SPOOL_FILE_NAME, environ=environ)

    def token_value(self) -> str | None:
        """The traces bearer token, or ``None`` when auth is off (unset or blank)."""
        return _secret(self.token)

    def feedback_credentials(self) -> dict[str, str]:
        """Sender name -> token for ``/v1/feedback``; empty when feedback is off."""
        credentials = {
            name: value
            for name, secret in self.feedback_tokens.items()
            if (value := _secret(secret)) is not None
        }
        single = _secret(self.feedback_token)
        if single is not None:
            credentials[FEEDBACK_TOKEN_IDENTITY] = single
        return credentials


def _secret(secret: SecretStr | None) -> str | None:
    if secret is None:
        return None
    value = secret.get_secret_value().strip()
    return value or None
