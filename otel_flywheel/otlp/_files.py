"""Read OTLP trace files in the shapes the OpenTelemetry Collector's file exporter writes them.

That exporter (collector-contrib ``exporter/fileexporter``, ``file_writer.go``) writes
``format: json`` as one OTLP/JSON request per line, and ``format: proto`` (or any compressed
output) as a stream of frames, each a 4-byte big-endian unsigned length then that many bytes of
marshaled request. Its only compression is zstd, which the standard library cannot read before
Python 3.14, so we name the fix instead; gzip (what people apply by hand) we read. Hand-made dumps
are often one bare ``ExportTraceServiceRequest`` per file, and examples pretty-printed JSON: both
are accepted too.
"""

from __future__ import annotations

import codecs
import gzip
import io
import itertools
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, TypeAlias, TypeVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_flywheel.errors import ConfigError, OTLPDecodeError
from otel_flywheel.otlp._decode import (
    decode_otlp_json,
    decode_otlp_json_value,
    decode_otlp_protobuf,
)

__all__ = ["OnDecodeError", "read_otlp_file"]

OnDecodeError: TypeAlias = Literal["raise", "skip"] | Callable[[OTLPDecodeError], object]
"""What ``read_otlp_file`` does with a request it cannot decode: raise, skip it, or call this."""

_T = TypeVar("_T")


class _Stream(Protocol):
    """What we use of a binary file, plain or ``GzipFile``."""

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def __iter__(self) -> Iterator[bytes]: ...


_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_FRAME_HEADER_BYTES = 4
# Every request a real exporter marshals starts with field 1 (resource_spans, length-delimited):
# tag byte 0x0a. A frame header starts with it only for a message of 160 MiB or more.
_BARE_PROTOBUF_FIRST_BYTE = 0x0A
# A JSON object's start: '{' then a key or '}'. A protobuf byte after '"' is a tag (< 0x20), which a
# JSON string cannot hold raw, so binary data that happens to start "\n{" is not mistaken for JSON.
_JSON_START = re.compile(rb'\s*\{\s*(?:"[^\x00-\x1f]|\})')
# Text has no control bytes but tab and line ends; protobuf has them within its first few bytes
# (tags, lengths). So a JSON-lines file whose first line is damaged is still read as lines.
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SNIFF_BYTES = 256
_READ_CHUNK_BYTES = 1 << 20
_ZSTD_FIX = (
    "the file is zstd-compressed (the Collector file exporter's `compression: zstd`); "
    "decompress it first with `zstd -d FILE`"
)


def read_otlp_file(
    path: str | os.PathLike[str] | BinaryIO, *, on_error: OnDecodeError = "raise"
) -> Iterator[ExportTraceServiceRequest]:
    """Yield each ``ExportTraceServiceRequest`` in an OTLP traces file, detecting its format.

    ``path`` may also be an open binary stream (``sys.stdin.buffer`` for ``-``); one that cannot
    seek (a pipe) is read into memory first, since detecting the format looks ahead.

    Formats: OTLP/JSON lines (blank lines skipped), one or more pretty-printed OTLP/JSON documents,
    length-prefixed protobuf frames (the Collector's ``format: proto``), or one bare protobuf
    request; any of them gzip-compressed.

    ``on_error`` decides what happens to one request that does not decode (a bad line or frame):
    ``"raise"`` raises its ``OTLPDecodeError``, ``"skip"`` drops it, a callable receives the error
    and reading goes on, so a CLI can report every bad line and keep the good ones. Errors that
    leave nothing to read after them (unsupported compression, a corrupt gzip stream, a truncated
    frame, broken JSON in a multi-line document) always raise, after everything before them has been
    yielded. Error messages start with the path and the line or byte where decoding failed.
    """
    if not callable(on_error) and on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error={on_error!r}: use 'raise', 'skip' or a callable")
    if isinstance(path, (str, os.PathLike)):
        return _read_file(Path(path), on_error)
    return _read_open(path, str(getattr(path, "name", "<stream>")), on_error)


def _read_file(path: Path, on_error: OnDecodeError) -> Iterator[ExportTraceServiceRequest]:
    with path.open("rb") as raw:
        yield from _read(raw, str(path), on_error)


def _read_open(
    stream: BinaryIO, label: str, on_error: OnDecodeError
) -> Iterator[ExportTraceServiceRequest]:
    raw = stream if stream.seekable() else io.BytesIO(stream.read())
    yield from _read(raw, label, on_error)


def _read(raw: BinaryIO, path: str, on_error: OnDecodeError) -> Iterator[ExportTraceServiceRequest]:
    magic = raw.read(len(_ZSTD_MAGIC))
    raw.seek(0)
    if magic.startswith(_ZSTD_MAGIC):
        raise OTLPDecodeError(f"{path}: {_ZSTD_FIX}")
    if not magic.startswith(_GZIP_MAGIC):
        yield from _read_stream(raw, path, on_error)
        return
    with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
        try:
            yield from _read_stream(unzipped, path, on_error)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            # EOFError: the gzip stream ends early, as when a writer was killed mid-file.
            raise OTLPDecodeError(f"{path}: corrupt gzip data: {error}") from None


def _read_stream(
    stream: _Stream, path: str, on_error: OnDecodeError
) -> Iterator[ExportTraceServiceRequest]:
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)  # cheap on gzip too: it re-reads at most _SNIFF_BYTES
    text_head = head.removeprefix(_UTF8_BOM)
    if not head:
        return
    if _JSON_START.match(text_head) or _is_text(text_head):
        yield from _read_json(stream, path, on_error)
    elif head[0] == _BARE_PROTOBUF_FIRST_BYTE:
        request = _decode_record(decode_otlp_protobuf, stream.read(), path, "", on_error)
        if request is not None:
            yield request
    else:
        yield from _read_frames(stream, path, on_error)


def _is_text(head: bytes) -> bool:
    try:
        # Incremental: the sniffed head may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return _CONTROL_BYTE.search(head) is None


def _read_json(
    stream: _Stream, path: str, on_error: OnDecodeError
) -> Iterator[ExportTraceServiceRequest]:
    first = True
    for line_number, line in enumerate(stream, start=1):
        stripped = line.strip().removeprefix(_UTF8_BOM) if first else line.strip()
        if not stripped:
            continue
        if first and not stripped.endswith(b"}"):
            # Not one object per line: an object spread over lines, as in pretty-printed examples.
            stream.seek(0)
            yield from _read_json_documents(stream.read(), path, on_error)
            return
        first = False
        request = _decode_record(
            decode_otlp_json, stripped, path, f", line {line_number}", on_error
        )
        if request is not None:
            yield request


def _read_json_documents(
    data: bytes, path: str, on_error: OnDecodeError
) -> Iterator[ExportTraceServiceRequest]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise OTLPDecodeError(f"{path}: not valid UTF-8 at byte {error.start}") from None
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return
        where = f", line {text.count(chr(10), 0, position) + 1}"
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            # Nothing marks where the next document starts, so this ends the file.
            raise OTLPDecodeError(f"{path}: not valid JSON: {error}") from None
        except RecursionError:
            raise OTLPDecodeError(f"{path}{where}: nested too deeply") from None
        request = _decode_record(decode_otlp_json_value, value, path, where, on_error)
        if request is not None:
            yield request


def _read_frames(
    stream: _Stream, path: str, on_error: OnDecodeError
) -> Iterator[ExportTraceServiceRequest]:
    offset = 0
    for index in itertools.count():
        header = stream.read(_FRAME_HEADER_BYTES)
        if not header:
            return
        where = f", frame {index} at byte {offset}"
        if len(header) < _FRAME_HEADER_BYTES:
            raise OTLPDecodeError(f"{path}{where}: the file ends inside a 4-byte length prefix")
        size = int.from_bytes(header, "big")
        payload = _read_up_to(stream, size)
        if len(payload) < size:
            raise OTLPDecodeError(
                f"{path}{where}: the length prefix says {size} bytes but only {len(payload)} "
                "follow; the file is truncated, or it is none of OTLP/JSON, length-prefixed "
                "OTLP protobuf or a bare ExportTraceServiceRequest"
            )
        offset += _FRAME_HEADER_BYTES + size
        if payload.startswith(_ZSTD_MAGIC):
            raise OTLPDecodeError(
                f"{path}{where}: each frame is zstd-compressed (the Collector file exporter's "
                "`compression: zstd` without its `exporter.file.nativeCompression` feature "
                "gate); write the file uncompressed, or enable that gate and run `zstd -d FILE`"
            )
        # Compressed `format: json` output is framed too; decompressed, its frames hold JSON.
        decode = decode_otlp_json if payload.startswith(b"{") else decode_otlp_protobuf
        request = _decode_record(decode, payload, path, where, on_error)
        if request is not None:
            yield request


def _read_up_to(stream: _Stream, size: int) -> bytes:
    """Up to ``size`` bytes, read in chunks so a bogus 4 GiB length does not allocate 4 GiB."""
    buffer = io.BytesIO()
    while buffer.tell() < size:
        chunk = stream.read(min(_READ_CHUNK_BYTES, size - buffer.tell()))
        if not chunk:
            break
        buffer.write(chunk)
    return buffer.getvalue()


def _decode_record(
    decode: Callable[[_T], ExportTraceServiceRequest],
    data: _T,
    path: str,
    where: str,
    on_error: OnDecodeError,
) -> ExportTraceServiceRequest | None:
    """``decode(data)``, or None once ``on_error`` has dealt with its error (located in the file)."""
    try:
        return decode(data)
    except OTLPDecodeError as error:
        located = OTLPDecodeError(f"{path}{where}: {error}")
    if on_error == "raise":
        raise located
    if callable(on_error):
        on_error(located)
    return None
