"""Redaction of attribute values: detect, then mask, pseudonymize or drop, and count what was done.

Strings are scanned by the detectors, all of a span's at once (``_batch``, ``_joined``), and a
string seen before is not scanned again (``_cache``). A string that holds JSON (tool arguments,
message lists) is parsed, its string leaves are redacted and it is serialized again, so the JSON
stays valid. Integers shaped like a card number are checked too: the OTel Collector's redaction
processor leaked those.

Pseudonyms are ``<KIND:xxxxxxxx>``: the first 8 hex digits of HMAC-SHA256(key, kind + value), so the
same value gives the same token across spans, traces and processes that share the key, and nothing
about the value can be recovered without the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from otel_flywheel import semconv as sc
from otel_flywheel.config import RedactionMode
from otel_flywheel.privacy._batch import Batch, Result
from otel_flywheel.privacy._cache import DEFAULT_MAX_ENTRIES, ResultCache
from otel_flywheel.privacy._cards import CARD_LENGTHS
from otel_flywheel.privacy._detectors import SECRET_KINDS, Detector, Match
from otel_flywheel.privacy._joined import is_joinable
from otel_flywheel.privacy._json_tables import COLUMN_KEYS
from otel_flywheel.privacy._keyed import kind_under, names_a_kind

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

_REMEMBERED_KEYS: Final = 4096
_REMEMBERED_PSEUDONYMS: Final = 4096


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
    handle nobody needs). Results are cached per string (``cache_entries``; see ``_cache``), so a
    string repeated across a trace is redacted once. Thread-safe: the cache is the only mutable
    state, and it is safe to share.
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
        cache_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if len(key) < 16:
            raise ValueError("a redaction key needs at least 16 bytes")
        self._key = key
        # Copied per token: a keyed HMAC's copy skips the key schedule that ``hmac.digest``
        # redoes on every call (1.0 us against 1.6 us here), and gives the same digest.
        self._mac = hmac.new(key, digestmod="sha256")
        self._detectors = tuple(detectors)
        self._modes = dict(modes or {})
        self._default_mode: Mode = default_mode
        self._allow_keys = frozenset(allow_keys)
        self._allow_prefixes = tuple(allow_key_prefixes)
        self._pseudonymize_keys = frozenset(pseudonymize_keys)
        # is_allowed per key seen, but keys that name a password or a phone number (asked about
        # every time: they are few, and their values are replaced whole); a lost race only
        # repeats work.
        self._allowed: dict[str, bool] = {}
        # Detectors whose matches survive joining strings (see _joined) scan a batch at once.
        self.joinable = tuple(d for d in self._detectors if is_joinable(d))
        self.per_string = tuple(d for d in self._detectors if not is_joinable(d))
        self.cache: ResultCache[Result] = ResultCache(max_entries=cache_entries)
        # Short attribute values redacted before with nothing found: a span's kind, model name,
        # roles and tool names repeat in every span, and a set lookup costs less than a place in
        # a batch (``Batch.add``, ``_batch.CLEAN_SHORT_ENTRIES``).
        self.clean_short: set[str] = set()
        # Attribute keys redacted before with nothing found: a span's keys are the same few
        # hundred, scanned once each.
        self.clean_keys: set[str] = set()
        # (kind, value) -> token, for values that repeat (an address per log line).
        self._pseudonyms: dict[tuple[str, str], str] = {}
        self.drop: Final = DROP

    def clear_caches(self) -> None:
        """Forget every result and token computed so far (to measure what new text costs)."""
        self.cache.clear()
        self.clean_short.clear()
        self.clean_keys.clear()
        self._pseudonyms.clear()

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

    @property
    def allowed_so_far(self) -> Callable[[str], bool | None]:
        """``is_allowed``'s remembered answer for a key, None for a key not asked about yet: a
        dict lookup, for the walk over a JSON document's thousands of keys."""
        return self._allowed.get

    def is_allowed(self, key: str) -> bool:
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = key in self._allow_keys or key.startswith(self._allow_prefixes)
            # Keys repeat (JSON field names, attributes): remembered, so that the walk over a
            # document asks only about new keys and those naming a password or a phone number.
            if len(self._allowed) < _REMEMBERED_KEYS and (
                allowed or not (key in COLUMN_KEYS or names_a_kind(key))
            ):
                self._allowed[key] = allowed
        return allowed

    kind_under: Final = staticmethod(kind_under)  # the field's kind (``_keyed``)

    def whole_result(self, kind: str, value: str) -> Result:
        """What ``value`` becomes when all of it is a value of ``kind`` (see ``kind_under``)."""
        return self.replaced(value, [Match(0, len(value), kind)])

    def redact_attributes(
        self, attributes: Mapping[str, Any], audit: RedactionAudit
    ) -> dict[str, Any]:
        """A redacted copy; attributes whose value must be dropped are left out."""
        return self.redact_many([attributes], (), audit)[0][0]

    def redact_many(
        self,
        attribute_maps: Sequence[Mapping[str, Any]],
        texts: Sequence[str],
        audit: RedactionAudit,
    ) -> tuple[list[dict[str, Any]], list[str | _Drop]]:
        """Redacted copies of several attribute maps and texts, scanned together: a span's
        attributes, its events' and links' attributes, its name and status in one pass."""
        batch = Batch(self)
        add, allowed, pseudonymize_keys = batch.add, self._allowed, self._pseudonymize_keys
        clean, clean_keys = self.clean_short, self.clean_keys
        plans: list[list[tuple[str, _Planned | int | str]]] = []
        new_keys: dict[str, int] = {}  # keys not known to hold nothing -> their handle
        for attributes in attribute_maps:
            plan: list[tuple[str, _Planned | int | str]] = []
            for key, value in attributes.items():
                if key not in clean_keys and key not in new_keys:
                    new_keys[key] = add(key)  # "customer.jane@example.com" happens too
                # Most values are strings of keys that are neither allowed nor pseudonymized:
                # their plan is the bare handle (an int), without a call or a tuple; or the
                # string itself, for a short one known to hold nothing.
                if (
                    type(value) is str
                    and allowed.get(key) is False
                    and key not in pseudonymize_keys
                ):
                    plan.append((key, value if value in clean else add(value)))
                else:
                    plan.append((key, self._plan_attribute(batch, key, value)))
            plans.append(plan)
        # Names repeat in every span ("exception", "chat gpt-4o-mini"): a short one known to hold
        # nothing is kept as it is, like an attribute's value.
        handles = [text if text in clean else add(text) for text in texts]
        found = batch.run()
        maps = []
        results = batch.results
        renamed = self._renamed_keys(new_keys, results)
        for plan in plans:
            redacted: dict[str, Any] = {}
            for key, planned in plan:
                if type(planned) is int:
                    value = results[planned].text
                elif type(planned) is str:
                    value = planned
                else:
                    value = self._finish(batch, planned, found)  # type: ignore[arg-type]
                leaving = renamed.get(key, key) if renamed else key  # the key, redacted
                if value is not DROP and leaving is not DROP:
                    redacted[leaving] = value
            maps.append(redacted)
        audit.counts.update(found)
        redacted_texts: list[str | _Drop] = [
            handle if isinstance(handle, str) else results[handle].text  # type: ignore[misc]
            for handle in handles
        ]
        return maps, redacted_texts

    def redact_attribute(self, key: str, value: Any, audit: RedactionAudit) -> Any:
        redacted = self.redact_many([{key: value}], (), audit)[0][0]
        return redacted.get(key, DROP)

    def redact_value(self, value: Any, audit: RedactionAudit) -> Any:
        """A value with its sensitive parts replaced, or ``DROP``."""
        batch = Batch(self)
        planned = self._plan_value(batch, value)
        found = batch.run()
        result = self._finish(batch, planned, found)
        audit.counts.update(found)
        return result

    def redact_text(self, text: str, audit: RedactionAudit) -> str | _Drop:
        """``text`` redacted; a JSON object or array stays valid JSON (only its strings change)."""
        batch = Batch(self)
        handle = batch.add(text)
        audit.counts.update(batch.run())
        return batch.result(handle).text  # type: ignore[return-value]

    def redact_message(self, text: str, audit: RedactionAudit) -> str:
        """For places that cannot be dropped (a status description): drop degrades to mask."""
        result = self.redact_text(text, audit)
        return "<REDACTED>" if result is DROP else str(result)

    def replaced(self, text: str, matches: Sequence[Match]) -> Result:
        """``text`` with ``matches`` (sorted, not overlapping) replaced by their tokens."""
        kinds = tuple(match.kind for match in matches)
        if any(self.mode_of(kind) == "drop" for kind in kinds):
            return Result(DROP, kinds)
        parts: list[str] = []
        position = 0
        for match in matches:
            parts.append(text[position : match.start])
            parts.append(self.token(match.kind, text[match.start : match.end]))
            position = match.end
        parts.append(text[position:])
        return Result("".join(parts), kinds)

    # --- internals ----------------------------------------------------------------------------

    def _renamed_keys(self, handles: dict[str, int], results: Sequence[Result]) -> dict[str, Any]:
        """The keys a finding changed, and what each became (``DROP`` drops its attribute); the
        others are remembered as holding nothing (a bounded set: keys are meant to repeat)."""
        renamed: dict[str, Any] = {}
        clean_keys = self.clean_keys
        for key, handle in handles.items():
            result = results[handle]
            if result.kinds:
                renamed[key] = result.text
            elif len(clean_keys) < _REMEMBERED_KEYS:
                clean_keys.add(key)
        return renamed

    def _plan_attribute(self, batch: Batch, key: str, value: Any) -> _Planned:
        if self.is_allowed(key):
            return ("keep", value)
        if key in self._pseudonymize_keys and isinstance(value, str) and value:
            return ("user", value)
        kind = self.kind_under(key, value)
        if kind is not None:
            return ("whole", kind, str(value))
        if (
            (type(value) is list or type(value) is tuple)
            and key not in self._allowed  # remembered keys name no kind (``is_allowed``)
            and names_a_kind(key)
        ):
            # An array under a key that names its kind: OTel's HTTP header attributes hold every
            # header so ("http.request.header.x-api-key": ["..."]). Each item is read as the
            # key's value would be.
            items = [self._plan_attribute(batch, key, item) for item in value]
            return ("seq", items, type(value) is tuple)
        return self._plan_value(batch, value)

    def _plan_value(self, batch: Batch, value: Any) -> _Planned:
        kind = type(value)
        if kind is str:
            return ("str", batch.add(value))
        if value is None or kind is bool or kind is float:
            return ("keep", value)
        if kind is list or kind is tuple:
            return ("seq", [self._plan_value(batch, item) for item in value], kind is tuple)
        if isinstance(value, str):
            return ("str", batch.add(str(value)))
        if isinstance(value, int) and not isinstance(value, bool):
            digits = str(abs(value))
            if len(digits) in CARD_LENGTHS:  # the OTel Collector's redaction leaked these
                return ("int", batch.add_card_shaped(digits), value)
            return ("keep", value)
        if isinstance(value, Mapping):  # OTLP kvlist values
            return ("map", {k: self._plan_value(batch, v) for k, v in value.items()})
        return ("keep", value)

    def _finish(self, batch: Batch, planned: _Planned, found: list[str]) -> Any:
        what = planned[0]
        if what == "keep":
            return planned[1]
        if what == "str":
            return batch.result(planned[1]).text
        if what == "int":
            result = batch.result(planned[1])
            return result.text if result.kinds else planned[2]
        if what == "seq":
            items = [self._finish(batch, item, found) for item in planned[1]]
            if any(item is DROP for item in items):
                return DROP
            return tuple(items) if planned[2] else items
        if what == "map":
            values = {k: self._finish(batch, v, found) for k, v in planned[1].items()}
            return DROP if any(v is DROP for v in values.values()) else values
        if what == "whole":  # a value of its key's kind, whatever it looks like (``kind_under``)
            found.append(planned[1])
            return self.whole_result(planned[1], planned[2]).text
        found.append(KIND_USER)  # "user": pseudonymized whatever it looks like
        return self._pseudonym(KIND_USER, planned[1])

    def _pseudonym(self, kind: str, value: str) -> str:
        token = self._pseudonyms.get((kind, value))
        if token is None:
            mac = self._mac.copy()
            mac.update(f"{kind}\0{value}".encode(errors="surrogatepass"))
            token = f"<{kind}:{mac.hexdigest()[:8]}>"
            if len(self._pseudonyms) >= _REMEMBERED_PSEUDONYMS:
                self._pseudonyms.clear()  # bounded; the values that repeat come back at once
            self._pseudonyms[(kind, value)] = token
        return token


# How _plan_value describes a value: ("keep", value), ("str", handle), ("int", handle, value),
# ("seq", [planned...], is_tuple), ("map", {key: planned}), ("user", value), ("whole", kind, text).
_Planned = tuple[Any, ...]


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key, for logs: which key, never the key."""
    return hashlib.sha256(b"otel-flywheel key fingerprint\0" + key).hexdigest()[:12]
