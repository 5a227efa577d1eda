"""A redactor that masks every kind (``<EMAIL>``, ``<IBAN>``), for tests that compare whole
outputs, and the text it makes of a string."""

from __future__ import annotations

from otel_flywheel.privacy import BuiltinDetector, RedactionAudit, Redactor


def masking_redactor(key: bytes) -> Redactor:
    return Redactor(key=key, detectors=[BuiltinDetector()], default_mode="mask")


def masked(redactor: Redactor, text: str) -> str:
    return str(redactor.redact_text(text, RedactionAudit()))
