"""The row formats an export can write, by name, and which one a file gets by default.

- ``openai``: OpenAI fine-tuning's JSON lines (`_openai_format`);
- ``hf``: Hugging Face chat templates and TRL, as JSON lines or Parquet (`_hf_format`).

Without ``--format``, a ``.parquet`` file is ``hf`` (OpenAI reads no Parquet) and a ``.jsonl``
file ``openai``, what JSON lines exports always were.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from otel_flywheel.export._errors import ExportError
from otel_flywheel.export._format_base import RowFormat
from otel_flywheel.export._hf_format import HFFormat
from otel_flywheel.export._openai_format import OpenAIFormat
from otel_flywheel.export._write import FileFormat

__all__ = ["ROW_FORMATS", "RowFormatName", "default_row_format", "get_row_format"]

RowFormatName = Literal["openai", "hf"]

ROW_FORMATS: Final[dict[str, RowFormat]] = {
    OpenAIFormat.name: OpenAIFormat(),
    HFFormat.name: HFFormat(),
}
assert set(ROW_FORMATS) == set(get_args(RowFormatName))

_DEFAULTS: Final[dict[FileFormat, RowFormatName]] = {"parquet": "hf", "jsonl": "openai"}


def get_row_format(name: str) -> RowFormat:
    """The format called ``name``; `ExportError` naming the choices for anything else."""
    try:
        return ROW_FORMATS[name]
    except KeyError:
        choices = ", ".join(sorted(ROW_FORMATS))
        raise ExportError(f"unknown row format {name!r}: choose one of {choices}") from None


def default_row_format(file_format: FileFormat) -> RowFormatName:
    """``hf`` for Parquet, ``openai`` for JSON lines."""
    return _DEFAULTS[file_format]
