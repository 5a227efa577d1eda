"""An optional detector backed by Microsoft Presidio's pattern recognizers, without an NLP model.

``PresidioDetector`` calls each recognizer's ``analyze(text, entities, nlp_artifacts=None)``
directly, with no ``AnalyzerEngine`` and no spaCy model: models cannot be downloaded everywhere
the flywheel runs, and pattern recognizers do not need one. It therefore finds what regexes plus
validators find (more identifier types than the built-in detectors), never free-form names.

Presidio scores each match from 0 to 1. A validator that passes (Luhn, mod-97, a checksum, a
known top-level domain) raises the score to 1 and one that fails discards the match; unvalidated
patterns keep their own score, from 0.01 (a bare 9-digit number as a US driver licence) to 0.6.
Without an NLP engine Presidio's context enhancer cannot run, so a small equivalent runs here: a
recognizer's context word among the 5 words before a match adds 0.35 and lifts the score to at
least 0.4, as ``LemmaContextAwareEnhancer``'s defaults do (whole words, without lemmatization).
Matches scoring below ``score_threshold`` are ignored; see ``DEFAULT_SCORE_THRESHOLD``.

Entity types our built-in detectors also find are reported under our kinds (``EMAIL_ADDRESS`` as
``EMAIL``), so modes and pseudonyms agree whichever detector found a value; the others keep their
Presidio names (``US_PASSPORT``, ``UK_NHS``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Protocol

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy._detectors import (
    KIND_CARD,
    KIND_EMAIL,
    KIND_IBAN,
    KIND_IP,
    KIND_PHONE,
    KIND_SSN,
    Match,
)

__all__ = [
    "DEFAULT_PRESIDIO_RECOGNIZERS",
    "DEFAULT_SCORE_THRESHOLD",
    "PRESIDIO_INSTALL_HINT",
    "PRESIDIO_KINDS",
    "PresidioDetector",
    "PresidioRecognizer",
]

PRESIDIO_INSTALL_HINT: Final = "pip install 'otel-flywheel[presidio]'"

# Presidio entity type -> our kind, for the types the built-in detectors also find.
PRESIDIO_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "EMAIL_ADDRESS": KIND_EMAIL,
        "PHONE_NUMBER": KIND_PHONE,
        "CREDIT_CARD": KIND_CARD,
        "IBAN_CODE": KIND_IBAN,
        "US_SSN": KIND_SSN,
        "IP_ADDRESS": KIND_IP,
    }
)

# Presidio's default English recognizers (presidio_analyzer/conf/default_recognizers.yaml) that
# need no NLP model, less three whose entities are technical values a trace is full of and which
# identify nobody: DateRecognizer (every timestamp), UrlRecognizer (every endpoint; passwords in
# URLs are a built-in secret detector) and UuidRecognizer (every request id).
DEFAULT_PRESIDIO_RECOGNIZERS: Final = (
    "CreditCardRecognizer",
    "CryptoRecognizer",
    "EmailRecognizer",
    "IbanRecognizer",
    "IpRecognizer",
    "MacAddressRecognizer",
    "MedicalLicenseRecognizer",
    "NhsRecognizer",
    "PhoneRecognizer",
    "UsBankRecognizer",
    "UsItinRecognizer",
    "UsLicenseRecognizer",
    "UsPassportRecognizer",
    "UsSsnRecognizer",
)

# 0.4 is Presidio's floor for a match with a context word (``min_score_with_context_similarity``)
# and the score of its phone recognizer (numbers validated by ``phonenumbers``). Passes: every
# validated match, IP and MAC addresses (0.6), dashed SSN/ITIN formats (0.5), anything with a
# context word before it. Ignored: bare weak patterns (a 9-digit number as a passport, 0.05).
DEFAULT_SCORE_THRESHOLD: Final = 0.4

_CONTEXT_BOOST: Final = 0.35  # LemmaContextAwareEnhancer's context_similarity_factor
_CONTEXT_MIN_SCORE: Final = 0.4  # ... its min_score_with_context_similarity
_CONTEXT_WORDS_BEFORE: Final = 5  # ... its context_prefix_count
_CONTEXT_CHARS_BEFORE: Final = 160  # enough text for 5 words
_WORD: Final = re.compile(r"\w+")


class PresidioRecognizer(Protocol):
    """What ``PresidioDetector`` uses of a Presidio recognizer (any that needs no NLP model)."""

    @property
    def supported_entities(self) -> list[str]: ...

    @property
    def context(self) -> list[str] | None: ...

    def analyze(self, text: str, entities: list[str], nlp_artifacts: None = None) -> list[Any]:
        """``RecognizerResult``s: ``entity_type``, ``start``, ``end``, ``score``."""
        ...


class PresidioDetector:
    """Finds the entities of Presidio's pattern recognizers (a ``Detector``).

    ``entities`` limits detection to these Presidio entity types (default: every type of the
    recognizers). ``recognizers`` replaces the defaults (``DEFAULT_PRESIDIO_RECOGNIZERS``) with
    your own instances, for example ``UkNinoRecognizer()`` or a custom ``PatternRecognizer``;
    they must work without an NLP engine. Needs ``presidio-analyzer``
    (``pip install 'otel-flywheel[presidio]'``): without it, ``ConfigError``.

    Thread-safe once constructed: patterns are compiled here, not on the first export.
    """

    def __init__(
        self,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        entities: Iterable[str] | None = None,
        recognizers: Sequence[PresidioRecognizer] | None = None,
    ) -> None:
        if not 0.0 < score_threshold <= 1.0:
            raise ConfigError(
                f"PresidioDetector(score_threshold={score_threshold!r}): use a score in (0, 1];"
                f" the default is {DEFAULT_SCORE_THRESHOLD}"
            )
        if recognizers is None:
            recognizers = default_presidio_recognizers()
        wanted = None if entities is None else frozenset(entities)
        supported = {entity for r in recognizers for entity in r.supported_entities}
        if wanted is not None and wanted - supported:
            raise ConfigError(
                f"PresidioDetector(entities=...): unknown entity types"
                f" {sorted(wanted - supported)}; the recognizers find {sorted(supported)}"
            )
        self.score_threshold = score_threshold
        # (recognizer, the entity types kept from it, its context words in lower case)
        self._recognizers: list[tuple[PresidioRecognizer, list[str], frozenset[str]]] = []
        for recognizer in recognizers:
            kept = [e for e in recognizer.supported_entities if wanted is None or e in wanted]
            if kept:
                context = frozenset(word.lower() for word in recognizer.context or ())
                self._recognizers.append((recognizer, kept, context))
        self.kinds: frozenset[str] = frozenset(
            PRESIDIO_KINDS.get(entity, entity)
            for _, kept, _ in self._recognizers
            for entity in kept
        )
        self.find("")  # compiles every pattern now: Presidio compiles lazily, on first use

    def find(self, text: str) -> list[Match]:
        """Matches at or above the threshold, sorted and non-overlapping (longest first)."""
        candidates: list[tuple[int, int, float, str]] = []
        threshold = self.score_threshold
        for recognizer, entities, context in self._recognizers:
            for result in recognizer.analyze(text, entities, None):
                entity: str = result.entity_type
                if entity not in entities:
                    continue
                start: int = result.start
                score: float = result.score
                if score < threshold and context and _has_context_word(text, start, context):
                    score = min(1.0, max(score + _CONTEXT_BOOST, _CONTEXT_MIN_SCORE))
                if score >= threshold:
                    candidates.append((start, result.end, score, entity))
        candidates.sort(key=lambda c: (c[0], c[0] - c[1], -c[2]))
        matches: list[Match] = []
        end = 0
        for start, stop, _, entity in candidates:
            if start >= end:
                matches.append(Match(start, stop, PRESIDIO_KINDS.get(entity, entity)))
                end = stop
        return matches

    def __repr__(self) -> str:
        return (
            f"PresidioDetector(score_threshold={self.score_threshold}, kinds={sorted(self.kinds)})"
        )


def default_presidio_recognizers() -> list[PresidioRecognizer]:
    """New instances of ``DEFAULT_PRESIDIO_RECOGNIZERS`` (English), email validation offline."""
    try:
        predefined = importlib.import_module("presidio_analyzer.predefined_recognizers")
        tldextract = importlib.import_module("tldextract")
    except ImportError as error:
        raise ConfigError(
            f"privacy.presidio is on but presidio-analyzer cannot be imported ({error});"
            f" install it with {PRESIDIO_INSTALL_HINT}, or turn privacy.presidio off"
        ) from None
    recognizers: list[PresidioRecognizer] = []
    for name in DEFAULT_PRESIDIO_RECOGNIZERS:
        recognizer_type = getattr(predefined, name, None)
        if recognizer_type is None:  # an older presidio-analyzer: use what it has
            continue
        recognizer = recognizer_type()
        if name == "EmailRecognizer":
            # Presidio checks the domain with tldextract's default extractor, which downloads the
            # public suffix list on first use (from the export thread) and writes a cache under
            # ~/.cache. The suffix list bundled with tldextract is enough to validate domains.
            extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
            recognizer.validate_result = lambda text, extract=extractor: extract(text).fqdn != ""
        recognizers.append(recognizer)
    return recognizers


def _has_context_word(text: str, start: int, context: frozenset[str]) -> bool:
    """Whether one of the words before ``start`` is a context word (plurals count)."""
    words = _WORD.findall(text, max(0, start - _CONTEXT_CHARS_BEFORE), start)
    for word in words[-_CONTEXT_WORDS_BEFORE:]:
        lowered = word.lower()
        if lowered in context or lowered.removesuffix("s") in context:
            return True
    return False
