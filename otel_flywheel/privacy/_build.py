"""Building the ``Redactor`` from settings: detectors, modes, allowlist and key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_flywheel.config import PrivacySettings, resolve_settings
from otel_flywheel.privacy._detectors import BuiltinDetector, Detector, RegexDetector, TermDetector
from otel_flywheel.privacy._keys import load_redaction_key
from otel_flywheel.privacy._redactor import DEFAULT_ALLOW_KEYS, Redactor

__all__ = ["build_redactor"]


def build_redactor(
    settings: PrivacySettings | Mapping[str, Any] | None = None, *, key: bytes | None = None
) -> Redactor | None:
    """The redactor the settings describe, or ``None`` when redaction is turned off.

    ``settings`` may be explicit values for ``PrivacySettings`` (environment and config file fill
    in the rest); ``key`` defaults to ``load_redaction_key()``.
    """
    if not isinstance(settings, PrivacySettings):
        settings = resolve_settings(PrivacySettings, settings)
    if not settings.enabled:
        return None
    detectors: list[Detector] = [
        BuiltinDetector(
            phone_regions=settings.phone_regions, default_phone_region=settings.phone_region
        )
    ]
    detectors += [RegexDetector(rule.name, rule.pattern) for rule in settings.patterns]
    detectors += [TermDetector(name, terms) for name, terms in settings.terms.items() if terms]
    if settings.presidio:
        from otel_flywheel.privacy._presidio import PresidioDetector

        detectors.append(PresidioDetector())
    return Redactor(
        key=key if key is not None else load_redaction_key(),
        detectors=detectors,
        modes=settings.modes,
        default_mode=settings.default_mode,
        allow_keys=DEFAULT_ALLOW_KEYS | frozenset(settings.allow_keys),
    )
