"""OTLP traces in and out: decode OTLP/JSON and protobuf requests, read Collector file-exporter files.

Everything here raises ``OTLPDecodeError`` (never a protobuf or JSON exception) for input that is not
OTLP traces, with a message that says where decoding failed.
"""

from __future__ import annotations

from otel_flywheel.otlp._decode import (
    decode_otlp_json,
    decode_otlp_json_value,
    decode_otlp_protobuf,
    encode_otlp_json,
)
from otel_flywheel.otlp._files import OnDecodeError, read_otlp_file

__all__ = [
    "OnDecodeError",
    "decode_otlp_json",
    "decode_otlp_json_value",
    "decode_otlp_protobuf",
    "encode_otlp_json",
    "read_otlp_file",
]
