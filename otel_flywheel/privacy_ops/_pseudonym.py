"""A raw user id as capture pseudonymized it: ``<USER:hmac8>`` under the shared redaction key.

Purge takes the id a person gives (their account id); stores hold only its pseudonym. The
pseudonym is the capture path's: the same HMAC key (``FLYWHEEL_REDACTION_KEY``, else the state
directory's key file) through the same ``user.id`` rule of the `Redactor`. Unlike capture, this
never generates a key: a fresh key would give a pseudonym nothing was stored under, and the purge
would report nothing to remove while the user's data stays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from otel_flywheel import _env
from otel_flywheel import semconv as sc
from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy import (
    RedactionAudit,
    Redactor,
    load_redaction_key,
    redaction_key_path,
)

__all__ = ["is_pseudonym", "pseudonymize_user"]


def pseudonymize_user(
    user_id: str, *, key: bytes | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """``user_id``'s pseudonym; raises `ConfigError` when no redaction key exists here."""
    if not user_id:
        raise ValueError("user_id is empty")
    if key is None:
        key = _existing_key(os.environ if environ is None else environ)
    # No detectors: only the user.id rule applies, exactly as at capture.
    redactor = Redactor(key=key, detectors=[])
    pseudonym = redactor.redact_attribute(sc.SpanAttributes.USER_ID, user_id, RedactionAudit())
    assert isinstance(pseudonym, str)
    return pseudonym


def is_pseudonym(value: str) -> bool:
    """``<USER:xxxxxxxx>``: the shape capture gives user ids."""
    return (
        value.startswith("<USER:")
        and value.endswith(">")
        and len(value) == len("<USER:>") + 8
        and all(c in "0123456789abcdef" for c in value[6:-1])
    )


def _existing_key(environ: Mapping[str, str]) -> bytes:
    if (environ.get(_env.FLYWHEEL_REDACTION_KEY) or "").strip():
        return load_redaction_key(environ=environ)
    key_file = redaction_key_path(environ=environ)
    if key_file.is_file():
        return load_redaction_key(environ=environ)
    raise ConfigError(
        f"no redaction key here ({_env.FLYWHEEL_REDACTION_KEY} is unset and "
        f"{key_file} does not exist), so the user's pseudonym cannot be "
        f"computed. Fix: set {_env.FLYWHEEL_REDACTION_KEY} to the key the agents use, or give "
        "the pseudonym itself (--pseudonym '<USER:...>')"
    )
