"""Redaction of feedback: corrections and reasons are user text, with the same PII as prompts."""

from __future__ import annotations

import dataclasses
from typing import Any

from otel_flywheel.model import Feedback
from otel_flywheel.privacy._redactor import RedactionAudit, Redactor

__all__ = ["redact_feedback"]

# Free text a person or a detector wrote; ids, enums, numbers and times carry no PII.
_TEXT_FIELDS = ("correction", "chosen", "rejected", "reason", "annotator", "evidence")


def redact_feedback(feedback: Feedback, redactor: Redactor) -> Feedback:
    """A copy of ``feedback`` whose free-text fields went through ``redactor``."""
    audit = RedactionAudit()
    changes: dict[str, Any] = {
        name: redactor.redact_message(value, audit)
        for name in _TEXT_FIELDS
        if isinstance(value := getattr(feedback, name), str)
    }
    return dataclasses.replace(feedback, **changes) if changes else feedback
