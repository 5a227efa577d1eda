"""PII and secret redaction at capture: nothing raw leaves the agent's process.

``register()`` wires it in front of the OTLP exporter and into the flywheel's own path; use these
pieces directly when you assemble a TracerProvider yourself. See docs/privacy.md.
"""

from __future__ import annotations

from otel_flywheel.privacy._build import build_redactor
from otel_flywheel.privacy._detectors import (
    BUILTIN_KINDS,
    DEFAULT_PHONE_REGIONS,
    SECRET_KINDS,
    BuiltinDetector,
    Detector,
    Match,
    RegexDetector,
    TermDetector,
    find_all,
)
from otel_flywheel.privacy._feedback import redact_feedback
from otel_flywheel.privacy._keys import load_redaction_key, redaction_key_path
from otel_flywheel.privacy._redactor import DROP, RedactionAudit, Redactor
from otel_flywheel.privacy._spans import (
    RedactedResourceCache,
    RedactingSpanExporter,
    redact_readable_span,
    redact_span_view,
)

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_PHONE_REGIONS",
    "DROP",
    "SECRET_KINDS",
    "BuiltinDetector",
    "Detector",
    "Match",
    "RedactedResourceCache",
    "RedactingSpanExporter",
    "RedactionAudit",
    "Redactor",
    "RegexDetector",
    "TermDetector",
    "build_redactor",
    "find_all",
    "load_redaction_key",
    "redact_feedback",
    "redact_readable_span",
    "redact_span_view",
    "redaction_key_path",
]
