"""The second PII scan: every string in every row, through the capture path's detectors.

Redaction at capture should leave nothing to find: values in datasets are tokens such as
``<EMAIL:1a2b3c4d>``, which no detector matches. The scan is the check that it did: a detector
added since (a customer list, an account-number pattern), feedback routed by a flywheel built
without a redactor, or an example someone typed into Phoenix by hand. Anything found fails the
export; the error names the row, the field and the kind, never the value.

The detectors are the ones the privacy settings configure (``privacy.patterns``, ``terms``,
``presidio``), always enabled: ``FLYWHEEL_REDACTION=off`` turns redaction off while debugging,
not this check.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from otel_flywheel.config import PrivacySettings, resolve_settings
from otel_flywheel.export._errors import PIIFinding
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.privacy import RedactionAudit, Redactor, build_redactor

__all__ = ["pii_scanner", "scan_rows"]


def pii_scanner(privacy: PrivacySettings | Mapping[str, Any] | None = None) -> Redactor:
    """A redactor used only for what it finds: the configured detectors, forced on.

    ``privacy``: explicit privacy settings; the environment and config file fill in the rest.
    """
    settings = (
        privacy
        if isinstance(privacy, PrivacySettings)
        else resolve_settings(PrivacySettings, privacy)
    )
    settings = settings.model_copy(update={"enabled": True})
    # The key only shapes pseudonyms, which the scan throws away: a throwaway key avoids creating
    # a key file (and its warning) on a machine that only exports.
    redactor = build_redactor(settings, key=secrets.token_bytes(32))
    assert redactor is not None  # enabled above
    return redactor


def scan_rows(rows: Sequence[TrainingRow], scanner: Redactor) -> list[PIIFinding]:
    """Every finding in ``rows`` (row index, example, field path, kinds), in row order."""
    findings: list[PIIFinding] = []
    for index, row in enumerate(rows):
        for path, kinds in _scan(row.data, scanner, ""):
            metadata = row.example.metadata
            findings.append(
                PIIFinding(
                    row=index,
                    example_id=row.example.example_id,
                    dataset=row.example.dataset,
                    field=path,
                    kinds=kinds,
                    source_trace_id=_text(metadata.get("source_trace_id")),
                    source_span_id=_text(metadata.get("source_span_id")) or row.example.span_id,
                )
            )
    return findings


def _scan(node: Any, scanner: Redactor, path: str) -> list[tuple[str, tuple[str, ...]]]:
    if isinstance(node, Mapping):
        found: list[tuple[str, tuple[str, ...]]] = []
        for key, value in node.items():
            # Keys can hold data too ({"jane@example.com": ...}), as the redactor knows.
            found += _leaf(str(key), scanner, f"{path}.{key} (key)" if path else f"{key} (key)")
            found += _scan(value, scanner, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(node, list | tuple):
        found = []
        for index, item in enumerate(node):
            found += _scan(item, scanner, f"{path}[{index}]")
        return found
    return _leaf(node, scanner, path)


def _leaf(value: Any, scanner: Redactor, path: str) -> list[tuple[str, tuple[str, ...]]]:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return []
    audit = RedactionAudit()
    scanner.redact_value(value, audit)
    return [(path, audit.kinds)] if audit.total else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
