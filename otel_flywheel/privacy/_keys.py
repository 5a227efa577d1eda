"""The pseudonymization key: from ``FLYWHEEL_REDACTION_KEY``, else generated once and kept locally.

Pseudonyms are only as stable as the key: every process that must produce the same token for the
same value (agents, the OTLP receiver, replay in CI) needs the same key. A generated key is
therefore written to the state directory and reused, with a warning saying how to share it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from otel_flywheel import _env
from otel_flywheel.errors import ConfigError
from otel_flywheel.state import private_directory
from otel_flywheel.state import state_dir as _state_dir

__all__ = ["KEY_FILE_NAME", "MIN_KEY_CHARS", "load_redaction_key", "redaction_key_path"]

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "redaction.key"
MIN_KEY_CHARS = 16


def redaction_key_path(
    *, environ: Mapping[str, str] | None = None, state_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Where a generated key is kept: ``<state dir>/redaction.key`` (it may not exist yet)."""
    directory = Path(state_dir) if state_dir is not None else _state_dir(environ=environ)
    return directory / KEY_FILE_NAME


def load_redaction_key(
    *, environ: Mapping[str, str] | None = None, state_dir: str | os.PathLike[str] | None = None
) -> bytes:
    """The key bytes: ``FLYWHEEL_REDACTION_KEY``, else ``<state dir>/redaction.key`` (created once)."""
    environ = os.environ if environ is None else environ
    configured = environ.get(_env.FLYWHEEL_REDACTION_KEY)
    if configured is not None and configured.strip():
        key = configured.strip()
        if len(key) < MIN_KEY_CHARS:
            # A short key makes pseudonyms guessable by brute force over likely values: refuse.
            raise ConfigError(
                f"{_env.FLYWHEEL_REDACTION_KEY} must be at least {MIN_KEY_CHARS} characters; "
                'generate one with `python -c "import secrets; print(secrets.token_hex(32))"`'
            )
        return key.encode()
    return _stored_key(redaction_key_path(environ=environ, state_dir=state_dir))


def _stored_key(path: Path) -> bytes:
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    # The state directory is private (0700) whatever the umask, like every file the flywheel keeps.
    private_directory(path.parent)
    key = secrets.token_hex(32)
    try:
        # O_EXCL: if another process created it first, use theirs, so both pseudonymize alike.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    logger.warning(
        "no %s set: generated a redaction key in %s. Pseudonyms are stable only where this key "
        "is used: set %s to the same secret on every agent, receiver and CI job.",
        _env.FLYWHEEL_REDACTION_KEY,
        path,
        _env.FLYWHEEL_REDACTION_KEY,
    )
    return key.encode()


def _read_key(path: Path) -> bytes:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"{path} holds no usable key; delete it to generate a new one")
    return key.encode()
