"""The errors an export raises. Messages name the fix, and never a value the PII scan found."""

from __future__ import annotations

from dataclasses import dataclass

from otel_flywheel.errors import FlywheelError

__all__ = ["ExportError", "PIIFinding", "PIIFoundError"]


class ExportError(FlywheelError):
    """An export could not be built: a dataset or file is missing, Phoenix refused, an option is
    wrong. Nothing was written."""


@dataclass(frozen=True, kw_only=True)
class PIIFinding:
    """One value the second PII scan found: where it is and what kind, never the value itself."""

    row: int
    example_id: str
    dataset: str
    field: str  # a path inside the row, e.g. ``messages[2].content``
    kinds: tuple[str, ...]
    source_trace_id: str | None = None
    source_span_id: str | None = None

    def describe(self) -> str:
        where = f"span {self.source_span_id}" if self.source_span_id else "no source span"
        return (
            f"row {self.row} (example {self.example_id} of {self.dataset!r}, {where}) "
            f"{self.field}: {', '.join(self.kinds)}"
        )


class PIIFoundError(ExportError):
    """The second PII scan found personal data or secrets in rows about to be written.

    The export fails whole: nothing is written. ``findings`` say where (row, example, field) and
    what kind, never the value.
    """

    def __init__(self, findings: list[PIIFinding], *, shown: int = 10) -> None:
        self.findings = findings
        rows = len({f.row for f in findings})
        lines = [f.describe() for f in findings[:shown]]
        if len(findings) > shown:
            lines.append(f"... and {len(findings) - shown} more")
        super().__init__(
            f"the PII scan found {len(findings)} values in {rows} rows; nothing was written:\n  "
            + "\n  ".join(lines)
            + "\nFix: these values escaped redaction at capture. Remove those examples "
            "(`otel-flywheel purge`, or delete them in Phoenix) or redact them at the source and "
            "route them again. If a privacy.patterns or privacy.terms rule matched something "
            "that is not personal, narrow that rule."
        )
