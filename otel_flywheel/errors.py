"""The errors otel-flywheel raises. Each message says what to change."""

from __future__ import annotations

__all__ = ["ConfigError", "FlywheelError", "OTLPDecodeError"]


class FlywheelError(Exception):
    """Base class of every error otel-flywheel raises on purpose."""


class ConfigError(FlywheelError, ValueError):
    """A setting is invalid. The message names the setting, the bad value and the fix."""


class OTLPDecodeError(FlywheelError, ValueError):
    """Bytes that should be OTLP traces are not. The message says where decoding failed."""
