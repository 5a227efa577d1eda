"""Redaction of attribute values: detect, then mask, pseudonymize or drop, and count what was done.

Strings are scanned by the detectors. A string that holds JSON (tool arguments, message lists) is
parsed, its string leaves are redacted and it is serialized again, so the JSON stays valid. Integers
shaped like a card number are checked too: the OTel Collector's redaction processor leaked those.

Pseudonyms are ``<KIND:xxxxxxxx>``: the first 8 hex digits of HMAC-SHA256(key, kind + value), so the
same value gives the same token across spans, traces and processes that share the key, and nothing
about the value can be recovered without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from otel_flywheel import semconv as sc
from otel_flywheel.config import RedactionMode
from otel_flywheel.privacy._detectors import SECRET_KINDS, Detector, Match, find_all

__all__ = [
    "DEFAULT_ALLOW_KEYS",
    "DEFAULT_ALLOW_KEY_PREFIXES",
    "DROP",
    "Mode",
    "RedactionAudit",
    "Redactor",
]

Mode = RedactionMode

KIND_USER: Final = "USER"

# Keys whose values are technical and never personal: redacting them would only mangle data the
# flywheel needs (which model, how many tokens, which span kind). Ids that *can* be personal
# (session.id, user.id) are not here: they are pseudonymized, which keeps them joinable.
DEFAULT_ALLOW_KEYS: Final = frozenset(
    {
        sc.SpanAttributes.OPENINFERENCE_SPAN_KIND,
        sc.SpanAttributes.LLM_MODEL_NAME,
        sc.SpanAttributes.LLM_PROVIDER,
        sc.SpanAttributes.LLM_SYSTEM,
        sc.SpanAttributes.INPUT_MIME_TYPE,
        sc.SpanAttributes.OUTPUT_MIME_TYPE,
        sc.SpanAttributes.EMBEDDING_MODEL_NAME,
        sc.ResourceAttributes.PROJECT_NAME,
        sc.gen_ai.GEN_AI_OPERATION_NAME,
        sc.gen_ai.GEN_AI_SYSTEM,
        sc.gen_ai.GEN_AI_PROVIDER_NAME,
        sc.gen_ai.GEN_AI_REQUEST_MODEL,
        sc.gen_ai.GEN_AI_RESPONSE_MODEL,
        sc.gen_ai.GEN_AI_RESPONSE_ID,
        sc.gen_ai.GEN_AI_RESPONSE_FINISH_REASONS,
        sc.gen_ai.GEN_AI_TOOL_CALL_ID,
        sc.gen_ai.GEN_AI_TOOL_TYPE,
        sc.SERVICE_NAME,
        "service.version",
        "service.namespace",
        "service.instance.id",
        sc.ERROR_TYPE,
        sc.EXCEPTION_TYPE,
    }
)
DEFAULT_ALLOW_KEY_PREFIXES: Final = (
    "llm.token_count.",
    "gen_ai.usage.",
    "gen_ai.request.",  # temperature, max_tokens, top_p ...
    "telemetry.sdk.",
    "flywheel.",
    "process.runtime.",
)
# Always pseudonymized, whatever they look like: DESIGN.md's "user_id (pseudonymized)".
DEFAULT_PSEUDONYMIZE_KEYS: Final = frozenset({sc.SpanAttributes.USER_ID, "enduser.id"})

_JSON_STARTS = ("{", "[")
_CARD_DIGITS = range(13, 20)


class _Drop:
    """Sentinel: the value must be dropped, not replaced."""

    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()


@dataclass
class RedactionAudit:
    """What redaction did to one span: counts per kind. Never holds an original value."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self.counts))

    def attributes(self) -> dict[str, Any]:
        """The audit attributes a redacted span carries (empty when nothing was redacted)."""
        if not self.counts:
            return {}
        return {
            sc.FLYWHEEL_REDACTION_COUNT: self.total,
            sc.FLYWHEEL_REDACTION_TYPES: self.kinds,
        }


class Redactor:
    """Detects sensitive values in attribute values and replaces them according to their mode.

    ``modes`` maps a detector kind to its mode; kinds not listed use ``default_mode``, except
    secrets, which are masked unless a mode is given for them (a pseudonym of a secret is a stable
    handle nobody needs). Thread-safe: it holds no mutable state.
    """

    def __init__(
        self,
        *,
        key: bytes,
        detectors: Sequence[Detector],
        modes: Mapping[str, Mode] | None = None,
        default_mode: Mode = "pseudonymize",
        allow_keys: Iterable[str] = DEFAULT_ALLOW_KEYS,
        allow_key_prefixes: Iterable[str] = DEFAULT_ALLOW_KEY_PREFIXES,
        pseudonymize_keys: Iterable[str] = DEFAULT_PSEUDONYMIZE_KEYS,
    ) -> None:
        if len(key) < 16:
            raise ValueError("a redaction key needs at least 16 bytes")
        self._key = key
        self._detectors = tuple(detectors)
        self._modes = dict(modes or {})
        self._default_mode: Mode = default_mode
        self._allow_keys = frozenset(allow_keys)
        self._allow_prefixes = tuple(allow_key_prefixes)
        self._pseudonymize_keys = frozenset(pseudonymize_keys)

    # --- tokens --------------------------------------------------------------------------------

    def mode_of(self, kind: str) -> Mode:
        if kind in self._modes:
            return self._modes[kind]
        return "mask" if kind in SECRET_KINDS else self._default_mode

    def token(self, kind: str, value: str) -> str:
        """``<KIND>`` when masking, ``<KIND:hmac8>`` when pseudonymizing."""
        if self.mode_of(kind) != "pseudonymize":
            return f"<{kind}>"
        return self._pseudonym(kind, value)

    # --- values --------------------------------------------------------------------------------

    def is_allowed(self, key: str) -> bool:
        return key in self._allow_keys or key.startswith(self._allow_prefixes)

    def redact_attributes(
        self, attributes: Mapping[str, Any], audit: RedactionAudit
    ) -> dict[str, Any]:
        """A redacted copy; attributes whose value must be dropped are left out."""
        redacted: dict[str, Any] = {}
        for key, value in attributes.items():
            new = self.redact_attribute(key, value, audit)
            if new is not DROP:
                redacted[key] = new
        return redacted

    def redact_attribute(self, key: str, value: Any, audit: RedactionAudit) -> Any:
        if self.is_allowed(key):
            return value
        if key in self._pseudonymize_keys and isinstance(value, str) and value:
            audit.counts[KIND_USER] += 1
            return self._pseudonym(KIND_USER, value)
        return self.redact_value(value, audit)

    def redact_value(self, value: Any, audit: RedactionAudit) -> Any:
        """A value with its sensitive parts replaced, or ``DROP``."""
        if isinstance(value, str):
            return self.redact_text(value, audit)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return self._redact_int(value, audit)
        if isinstance(value, list | tuple):
            items = [self.redact_value(item, audit) for item in value]
            if any(item is DROP for item in items):
                return DROP
            return tuple(items) if isinstance(value, tuple) else items
        if isinstance(value, Mapping):  # OTLP kvlist values
            result = {}
            for k, v in value.items():
                new = self.redact_value(v, audit)
                if new is DROP:
                    return DROP
                result[k] = new
            return result
        return value

    def redact_text(self, text: str, audit: RedactionAudit) -> str | _Drop:
        stripped = text.lstrip()
        if stripped.startswith(_JSON_STARTS):
            redacted_json = self._redact_json_text(text, audit)
            if redacted_json is not None:
                return redacted_json
        return self._redact_plain(text, audit)

    def redact_message(self, text: str, audit: RedactionAudit) -> str:
        """For places that cannot be dropped (a status description): drop degrades to mask."""
        result = self.redact_text(text, audit)
        return "<REDACTED>" if result is DROP else str(result)

    # --- internals ----------------------------------------------------------------------------

    def _redact_plain(self, text: str, audit: RedactionAudit) -> str | _Drop:
        matches = find_all(text, self._detectors)
        if not matches:
            return text
        if any(self.mode_of(m.kind) == "drop" for m in matches):
            for match in matches:
                audit.counts[match.kind] += 1
            return DROP
        return self._replace(text, matches, audit)

    def _replace(self, text: str, matches: Sequence[Match], audit: RedactionAudit) -> str:
        parts: list[str] = []
        position = 0
        for match in matches:  # sorted and non-overlapping, as find_all returns them
            parts.append(text[position : match.start])
            parts.append(self.token(match.kind, text[match.start : match.end]))
            audit.counts[match.kind] += 1
            position = match.end
        parts.append(text[position:])
        return "".join(parts)

    def _redact_json_text(self, text: str, audit: RedactionAudit) -> str | _Drop | None:
        """Redact inside JSON; ``None`` when the text is not JSON after all."""
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return None
        local = RedactionAudit()
        redacted = self._redact_json(document, local)
        if isinstance(redacted, _Drop):
            audit.counts.update(local.counts)
            return DROP
        if not local.counts:
            return text  # untouched: keep the original bytes, formatting included
        audit.counts.update(local.counts)
        return json.dumps(redacted, ensure_ascii=False)

    def _redact_json(self, node: Any, audit: RedactionAudit) -> Any:
        if isinstance(node, str):
            return self._redact_plain(node, audit)
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            return self._redact_int(node, audit)
        if isinstance(node, list):
            items = [self._redact_json(item, audit) for item in node]
            return DROP if any(item is DROP for item in items) else items
        if isinstance(node, dict):
            result = {}
            for key, value in node.items():
                # Keys inside JSON are usually structure (argument names), but a map can be keyed
                # by data ({"jane@example.com": "primary"}): keys are scanned too. Allow-listed
                # keys (a nested "model") keep their values, like top-level attributes.
                new = value if self.is_allowed(key) else self._redact_json(value, audit)
                new_key = self._redact_plain(key, audit)
                if new is DROP or new_key is DROP:
                    return DROP
                result[str(new_key)] = new
            return result
        return node

    def _redact_int(self, value: int, audit: RedactionAudit) -> int | str | _Drop:
        digits = str(abs(value))
        if len(digits) not in _CARD_DIGITS:
            return value
        matches = [
            m for m in find_all(digits, self._detectors) if m.start == 0 and m.end == len(digits)
        ]
        if not matches:
            return value
        kind = matches[0].kind
        audit.counts[kind] += 1
        if self.mode_of(kind) == "drop":
            return DROP
        return self.token(kind, digits)

    def _pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}\0{value}".encode(errors="surrogatepass"), "sha256")
        return f"<{kind}:{digest.hexdigest()[:8]}>"


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key, for logs: which key, never the key."""
    return hashlib.sha256(b"otel-flywheel key fingerprint\0" + key).hexdigest()[:12]
