"""The built-in redactor (pseudonyms for PII, masks for secrets) and what it makes of a text, with
the kinds it counted: for tests that check outputs and audits together."""

from __future__ import annotations

from otel_flywheel.privacy import BuiltinDetector, RedactionAudit, Redactor


def builtin_redactor(key: bytes) -> Redactor:
    return Redactor(key=key, detectors=[BuiltinDetector()])


def redacted(redactor: Redactor, text: str) -> tuple[str, dict[str, int]]:
    """``text`` redacted, and the kinds replaced in it with their counts."""
    audit = RedactionAudit()
    return str(redactor.redact_text(text, audit)), dict(audit.counts)
