"""One redaction pass over many strings: look each up, scan the rest together, rebuild.

The redactor hands a ``Batch`` every string of what it redacts at once (a span: its attribute
values, event and link attributes, name and status). A string it has redacted before comes from
the ``ResultCache``. A string that holds a JSON object or array is parsed and its leaves are
added instead, each looked up on its own (a tool's output reappears as a message inside the next
LLM request). Everything left is scanned in one joined call (``find_in_each``), and each result
is cached: the string, what it became, and the kinds found.
"""

from __future__ import annotations

import json
from itertools import compress
from typing import TYPE_CHECKING, Final, NamedTuple

from otel_flywheel.privacy import _json
from otel_flywheel.privacy._joined import JsonDocument, find_in_each

if TYPE_CHECKING:
    from otel_flywheel.privacy._redactor import Redactor

__all__ = ["Batch", "Result"]

# Shorter strings scan in less time than a cache round trip takes. Inside a JSON document, where
# most strings are short keys and values scanned together, only long ones are looked up.
CACHE_FROM: Final = 32
LEAF_CACHE_FROM: Final = 64
# Short strings remembered as holding nothing (``Redactor.clean_short``), at most.
CLEAN_SHORT_ENTRIES: Final = 4096
_IS_LONG: Final = LEAF_CACHE_FROM.__le__  # called on a length: len >= LEAF_CACHE_FROM
_JSON_STARTS: Final = ("{", "[")
# First characters of a text that may hold JSON (after leading whitespace); "" is the empty text.
_MAY_START_JSON: Final = frozenset({"{", "[", " ", "\t", "\n", "\r", "\x0b", "\x0c"})
# Changed strings are substituted in the source (not rebuilt) while they are under this fraction
# of it: finding a string's token costs a pass over the source per string.
_SUBSTITUTE_BELOW: Final = 8
# ... except in a short document (a tool's arguments, a small request), where a pass over the
# source costs less than the walk and the serialization of a rebuild, whatever changed in it.
_SUBSTITUTE_ANY_UNDER: Final = 4096


class Result(NamedTuple):
    """What a string became (the same string when nothing was found, or the drop sentinel), and
    the kinds replaced in it, one per value."""

    text: object
    kinds: tuple[str, ...]


class _Document(NamedTuple):
    source: str
    document: JsonDocument
    first: int  # its texts are the strings to scan from this index on
    cached: dict[int, Result]  # texts answered by the cache (scanned as "")
    long: list[int]  # the texts long enough to be looked up and cached
    by_orjson: bool  # which parser read it, and so which one writes it again (``_json``)
    # Long texts already in this batch (scanned as ""): their index in the batch's scan.
    aliases: dict[int, int]


class Batch:
    """Strings to redact together; ``add`` each, ``run`` once, then read each ``result``."""

    __slots__ = (
        "_earlier_documents",
        "_earlier_texts",
        "_found",
        "_pending",
        "_redactor",
        "_scan",
        "_whole_only",
    )

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._pending: list[Result | int | _Document] = []
        self._scan: list[str] = []
        self._whole_only: set[int] = set()
        self._found: dict[int, Result] = {}
        # Long strings and JSON documents met in this batch: a span repeats its text (an LLM
        # request's messages are in input.value and flattened beside it), and the cache answers
        # only from the next batch on. A text scanned as text (a JSON leaf, or an attribute that
        # is not JSON) -> its index in the scan; an attribute read as JSON -> its document. A
        # JSON leaf that looks like a document stands for an attribute only where both are text.
        self._earlier_texts: dict[str, int] = {}
        self._earlier_documents: dict[str, _Document] = {}

    def add(self, text: str) -> int:
        """A handle for ``text``'s result."""
        pending = self._pending
        if len(text) < CACHE_FROM and text[:1] not in _MAY_START_JSON:
            scan = self._scan  # short plain text, the common case: scanned, never looked up
            scan.append(text)
            pending.append(len(scan) - 1)
        else:
            pending.append(self._plan(text))
        return len(pending) - 1

    def add_card_shaped(self, digits: str) -> int:
        """A handle for an integer's digits, replaced only by a finding that is all of them."""
        self._whole_only.add(len(self._scan))
        self._scan.append(digits)
        self._pending.append(len(self._scan) - 1)
        return len(self._pending) - 1

    def result(self, handle: int) -> Result:
        result = self._pending[handle]
        assert isinstance(result, Result), "run() first"
        return result

    @property
    def results(self) -> list[Result]:
        """Every handle's result, by handle (after ``run``)."""
        return self._pending  # type: ignore[return-value]

    def run(self) -> list[str]:
        """Scan what is left and resolve every handle; returns the kinds found, one per value."""
        redactor = self._redactor
        scan = self._scan
        for index, matches in find_in_each(scan, redactor.joinable, redactor.per_string).items():
            if index in self._whole_only:
                whole = [m for m in matches if m.start == 0 and m.end == len(scan[index])]
                if whole:
                    self._found[index] = redactor.replaced(scan[index], whole[:1])
            else:
                self._found[index] = redactor.replaced(scan[index], matches)
        kinds: list[str] = []
        rebuilt: dict[int, Result] = {}  # by id: a document met twice is rebuilt once
        for handle, pending in enumerate(self._pending):
            if type(pending) is int:
                result = self._scanned(pending)
            elif type(pending) is _Document:
                once = rebuilt.get(id(pending))
                if once is None:
                    once = rebuilt[id(pending)] = self._rebuilt(pending)
                result = once
            else:
                result = pending  # type: ignore[assignment]
            self._pending[handle] = result
            kinds.extend(result.kinds)
        return kinds

    # --- planning -------------------------------------------------------------------------------

    def _plan(self, text: str) -> Result | int | _Document:
        cache = self._redactor.cache
        long_text = len(text) >= CACHE_FROM
        json_like = text.startswith(_JSON_STARTS) or (
            text[:1].isspace() and text.lstrip().startswith(_JSON_STARTS)
        )
        if long_text:
            cached = cache.get(text)
            if cached is not None:
                return cached
            earlier = (self._earlier_documents if json_like else self._earlier_texts).get(text)
            if earlier is not None:
                return earlier
        if json_like:
            redactor = self._redactor
            try:
                value, by_orjson = _json.loads(text)
                document = self._document(value)
                if by_orjson and document.wide_float:  # maybe an integer beyond 64 bits
                    value, by_orjson = _json.loads(text, exact_integers=True)
                    document = self._document(value)
            except (ValueError, RecursionError):
                pass  # not JSON after all (or nested deeper than the walk goes): scanned as text
            else:
                first = len(self._scan)
                texts = document.texts
                cached_leaves: dict[int, Result] = {}
                for index, kind in document.by_key.items():  # replaced whole: nothing to scan
                    cached_leaves[index] = redactor.whole_result(kind, texts[index])
                # The long strings among thousands, picked in C: answered by the cache, or by
                # their first occurrence in this batch, or scanned here and remembered.
                long = list(compress(range(len(texts)), map(_IS_LONG, map(len, texts))))
                aliases: dict[int, int] = {}
                scanned_texts = self._earlier_texts
                for index in long:
                    if index in cached_leaves:
                        continue
                    leaf = texts[index]
                    hit = cache.get(leaf)
                    if hit is not None:
                        cached_leaves[index] = hit
                    elif (seen := scanned_texts.get(leaf)) is not None:
                        aliases[index] = seen
                    else:
                        scanned_texts[leaf] = first + index
                if cached_leaves or aliases:
                    texts = [
                        "" if i in cached_leaves or i in aliases else leaf
                        for i, leaf in enumerate(texts)
                    ]
                self._whole_only.update(first + i for i in document.whole_only)
                self._scan.extend(texts)
                pending = _Document(text, document, first, cached_leaves, long, by_orjson, aliases)
                if long_text:
                    self._earlier_documents[text] = pending
                return pending
        self._scan.append(text)
        index = len(self._scan) - 1
        if long_text:
            self._earlier_texts.setdefault(text, index)
        return index

    def _document(self, value: object) -> JsonDocument:
        redactor = self._redactor
        return JsonDocument(
            value, redactor.is_allowed, redactor.allowed_so_far, redactor.kind_under
        )

    # --- resolving ------------------------------------------------------------------------------

    def _scanned(self, index: int) -> Result:
        text = self._scan[index]
        result = self._found.get(index)
        if result is None:
            result = Result(text, ())
            if len(text) < CACHE_FROM:
                if index not in self._whole_only:
                    clean = self._redactor.clean_short
                    if len(clean) >= CLEAN_SHORT_ENTRIES:
                        clean.clear()  # bounded; the values that repeat come back at once
                    clean.add(text)
                return result
        if len(text) >= CACHE_FROM and index not in self._whole_only:
            self._redactor.cache.put(text, result)
        return result

    def _rebuilt(self, pending: _Document) -> Result:
        first, texts = pending.first, pending.document.texts
        changed: dict[int, object] = {}
        kinds: list[str] = []
        for index, hit in pending.cached.items():
            if hit.kinds:
                changed[index] = hit.text
                kinds.extend(hit.kinds)
        for index, earlier in pending.aliases.items():
            repeated = self._found.get(earlier)
            if repeated is not None:
                changed[index] = repeated.text
                kinds.extend(repeated.kinds)
        cache = self._redactor.cache
        for index in pending.long:
            if index not in pending.cached and index not in pending.aliases:
                leaf = texts[index]
                found = self._found.get(first + index)
                cache.put(leaf, found or Result(leaf, ()))
        for index, found in self._found.items():
            if first <= index < first + len(texts):
                changed[index - first] = found.text
                kinds.extend(found.kinds)
        if not changed:
            result = Result(pending.source, ())  # untouched: the original bytes, formatting kept
        else:
            drop = self._redactor.drop
            text = _substituted(pending.source, pending.document, changed, drop)
            if text is None:
                value = pending.document.rebuilt(changed, drop)
                text = drop if value is drop else _json.dumps(value, by_orjson=pending.by_orjson)
            result = Result(text, tuple(kinds))
        if len(pending.source) >= CACHE_FROM:
            self._redactor.cache.put(pending.source, result)
        return result


def _substituted(
    source: str, document: JsonDocument, changed: dict[int, object], drop: object
) -> str | None:
    """``source`` with each changed string replaced where it stands, or None where that cannot
    be done safely (then the document is rebuilt and serialized).

    A string's JSON token is its encoding in quotes. Where that token occurs in ``source``
    exactly as often as the document holds that string (as values and keys), every occurrence is
    one of them: an unescaped quote only ever delimits a string, so an occurrence cannot straddle
    two tokens unless its content were nothing but the JSON between them. The rest of the text
    keeps its bytes and formatting, and nothing is walked or serialized again."""
    if any(value is drop for value in changed.values()) or document.whole_only & changed.keys():
        return None  # a drop drops the document; a card-shaped integer becomes a string
    if len(source) >= _SUBSTITUTE_ANY_UNDER and sum(
        len(document.texts[index]) for index in changed
    ) * _SUBSTITUTE_BELOW > len(source):
        return None  # a long string (a page, a file): encoding it twice costs more than a rebuild
    tokens: dict[str, tuple[str, object]] = {}  # old string -> (its token in source, new text)
    for index, new in changed.items():
        old = document.texts[index]
        if old in tokens:
            continue
        expected = document.texts.count(old)
        if document.by_key and expected != sum(document.texts[i] == old for i in changed):
            # Replaced for its key ("phone": "4155550132"), kept elsewhere ("order": the same
            # digits): the occurrences differ, so the document is rebuilt.
            return None
        for token in dict.fromkeys((json.dumps(old, ensure_ascii=False), json.dumps(old))):
            occurrences = source.count(token)
            if occurrences == expected:
                tokens[old] = (token, new)
                break
            if occurrences:
                return None  # some occurrences are not this string's tokens (or not all are)
        else:
            return None  # encoded another way than ours (escaped "/", \u escapes of control)
    for token, new in tokens.values():
        source = source.replace(token, json.dumps(new, ensure_ascii=False))
    return source
