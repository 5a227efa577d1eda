"""What redaction costs and what it finds, on a labelled corpus of realistic agent spans.

The corpus is built in-process from a fixed seed (Faker in four locales, ``random.Random``): traces
of an OpenInference AGENT span, an LLM span (flattened ``llm.input_messages.*`` plus the messages
as ``input.value`` JSON), a TOOL span (JSON arguments and result; sometimes an exception event and
an error status) and a RETRIEVER span (``retrieval.documents.*``). About one string in ten carries
a planted value: an email, a phone number (valid for its locale, as Faker wrote it or in
international format), a payment card, an IBAN, a US SSN, an IP address or a secret (API keys and
tokens, a JWT, a bearer token, a password in a connection string), half of them after words that
say what they are ("my IBAN"), half bare. The rest is benign technical text: questions, answers,
UUIDs, trace ids, timestamps, versions, prices, order numbers that fail Luhn, user agents, stack
traces. The strings are the values redaction scans: string attributes (not allow-listed keys),
event attributes and status descriptions.

1. Strings: ``Redactor.redact_text`` over every string, MB/s of UTF-8 input (median of runs);
   recall per kind (a planted value counts as found when it no longer appears verbatim in the
   output); false positives (benign strings altered / benign strings). With Presidio importable,
   the same for ``PresidioDetector`` (Presidio's pattern recognizers, no NLP model) in the same
   ``Redactor``, and for both detectors together (``privacy.presidio: true``).
2. Spans: ``redact_readable_span`` per span; and end to end, the CPU time of the export thread per
   span: ``BatchSpanProcessor`` around an exporter that only counts, against the same exporter
   wrapped in ``RedactingSpanExporter``, alternately (ABAB...), median of runs.

No assertions on time. Every end-to-end run checks that every span reached the exporter; if not,
the script says so and exits with status 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shlex
import statistics
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import phonenumbers
from faker import Faker
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode

from otel_flywheel import semconv as sc
from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy import (
    BuiltinDetector,
    Detector,
    RedactedResourceCache,
    RedactingSpanExporter,
    RedactionAudit,
    Redactor,
    redact_readable_span,
)

SA = sc.SpanAttributes
MA = sc.MessageAttributes
DA = sc.DocumentAttributes
KEY = b"redaction-benchmark-key-0123456789abcdef"
LABELS = ("email", "phone", "card", "iban", "ssn", "ip", "secret")
PRESIDIO_LABELS = frozenset(LABELS) - {"secret"}  # Presidio has no secret recognizers
LOCALES = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR"}
_EXPORT_TIMEOUT_SECONDS = 120
_END = datetime(2025, 10, 1, tzinfo=timezone.utc)  # the corpus's "now": fixed, so runs agree
_EPOCH_MILLIS = int(_END.timestamp() * 1000)
_DELAY_MILLIS = 20  # the BatchSpanProcessor's schedule delay in the end-to-end runs
_SYSTEM_PROMPT = (
    "You are the support agent of an online shop. Use the tools to look up orders, refunds and"
    " shipping; never reveal internal notes. Answer in the customer's language, briefly."
)
_TOOLS = ("lookup_order", "check_refund_policy", "create_refund", "update_contact", "search_kb")

# --- the corpus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """One string redaction scans, with the values planted in it: ``(label, value)``."""

    key: str
    value: str
    planted: tuple[tuple[str, str], ...]


@dataclass
class SpanSpec:
    name: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status_description: str | None = None


@dataclass
class Corpus:
    spans: list[SpanSpec]
    texts: list[Text]

    @property
    def megabytes(self) -> float:
        return sum(len(text.value.encode()) for text in self.texts) / 1e6


class CorpusBuilder:
    """Deterministic for a seed: Faker instances and one ``random.Random`` seeded from it."""

    def __init__(self, seed: int, plant_rate: float) -> None:
        self.rng = random.Random(seed)
        self.plant_rate = plant_rate
        self.fakers: dict[str, Faker] = {}
        for number, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed + number)
            self.fakers[locale] = fake
        self.fake = self.fakers["en_US"]
        self.planted: list[tuple[str, str]] = []  # in the trace being built

    # planted values

    def plant(self) -> tuple[str, str] | None:
        if self.rng.random() >= self.plant_rate:
            return None
        label = self.rng.choice(LABELS)
        value = getattr(self, f"_{label}")()
        self.planted.append((label, value))
        return label, value

    def _locale(self) -> Faker:
        return self.fakers[self.rng.choice(list(LOCALES))]

    def _email(self) -> str:
        return str(self._locale().email())

    def _phone(self) -> str:
        for _ in range(100):
            locale = self.rng.choice(list(LOCALES))
            raw = str(self.fakers[locale].phone_number())
            try:
                number = phonenumbers.parse(raw, LOCALES[locale])
            except phonenumbers.NumberParseException:
                continue
            if not phonenumbers.is_valid_number(number):
                continue  # Faker invents area codes; an invalid number is nobody's
            if self.rng.random() < 0.5:
                return raw
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        raise RuntimeError("Faker produced no valid phone number in 100 tries")

    def _card(self) -> str:
        digits = str(self.fake.credit_card_number())
        if self.rng.random() < 0.5:
            return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
        return digits

    def _iban(self) -> str:
        iban = str(self._locale().iban())
        if self.rng.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def _ssn(self) -> str:
        return str(self.fake.ssn())

    def _ip(self) -> str:
        return str(self.fake.ipv6() if self.rng.random() < 0.3 else self.fake.ipv4_public())

    def _secret(self) -> str:
        rng = self.rng
        alnum = string.ascii_letters + string.digits

        def chars(n: int, alphabet: str = alnum) -> str:
            return "".join(rng.choice(alphabet) for _ in range(n))

        makers: list[Callable[[], str]] = [
            lambda: f"sk-proj-{chars(48, alnum + '-_')}",
            lambda: f"sk-ant-api03-{chars(93, alnum + '-_')}AA",
            lambda: f"AKIA{chars(16, string.ascii_uppercase + string.digits)}",
            lambda: f"ghp_{chars(36)}",
            lambda: f"glpat-{chars(20, alnum + '-_')}",
            lambda: f"xoxb-{chars(12, string.digits)}-{chars(12, string.digits)}-{chars(24)}",
            lambda: f"eyJhbGciOiJIUzI1NiJ9.eyJ{chars(60, alnum + '-_')}.{chars(43, alnum + '-_')}",
            lambda: f"Bearer {chars(40, alnum + '-._')}",
            lambda: f"postgresql://app:{chars(18)}@db.internal:5432/orders",
        ]
        return rng.choice(makers)()

    # benign technical values

    def order_number(self) -> str:
        """16 digits failing Luhn, like the order numbers the issue's false-positive corpus names."""
        while True:
            digits = "".join(self.rng.choice(string.digits) for _ in range(16))
            total = 0
            for index, char in enumerate(reversed(digits)):
                digit = int(char) * (2 if index % 2 else 1)
                total += digit - 9 if digit > 9 else digit
            if total % 10:
                return digits

    def benign_fact(self) -> str:
        rng, fake = self.rng, self.fake
        facts: list[Callable[[], str]] = [
            lambda: f"order {self.order_number()} placed {self.timestamp()}",
            lambda: f"request_id={fake.uuid4()} trace_id={rng.getrandbits(128):032x}",
            lambda: f"span {rng.getrandbits(64):016x} took {rng.uniform(1, 900):.1f} ms",
            lambda: f"total {rng.uniform(5, 900):.2f} EUR for {rng.randint(1, 9)} items",
            lambda: (
                f"prompt_tokens={rng.randint(50, 4000)} completion_tokens={rng.randint(5, 900)}"
            ),
            lambda: (
                f"running python 3.{rng.randint(9, 13)}.{rng.randint(0, 12)}, "
                f"opentelemetry-sdk 1.{rng.randint(20, 40)}.{rng.randint(0, 3)}"
            ),
            lambda: (
                f"image sha256:{fake.sha256()} built at {_EPOCH_MILLIS - rng.randint(0, 10**10)}"
            ),
            lambda: f"user agent {fake.user_agent()}",
            lambda: (
                f"commit {fake.sha1()} on branch release/{rng.randint(1, 9)}.{rng.randint(0, 30)}"
            ),
            lambda: (
                f"pod checkout-{fake.lexify('??????????').lower()}-{fake.lexify('?????').lower()}"
            ),
            lambda: (
                f"GET /api/v2/orders/{self.order_number()}/items?page={rng.randint(1, 40)} -> 200"
            ),
            lambda: (
                f"SKU KB-{rng.randint(1000, 9999)} x{rng.randint(1, 5)} at ${rng.uniform(3, 400):,.2f}"
            ),
        ]
        return rng.choice(facts)()

    def timestamp(self) -> str:
        """ISO 8601 up to a fixed end: Faker's default end is now, which would vary the corpus."""
        return str(self.fake.iso8601(end_datetime=_END))

    def sentence(self) -> str:
        return str(self.fake.sentence(nb_words=self.rng.randint(6, 14)))

    def prose(self, planted: tuple[str, str] | None, phrasings: dict[str, Sequence[str]]) -> str:
        fact = self.benign_fact()
        parts = [self.sentence(), fact[0].upper() + fact[1:] + "."]
        if self.rng.random() < 0.5:
            parts.append(self.sentence())
        if planted is not None:
            label, value = planted
            if self.rng.random() < 0.5:  # with words that say what it is
                phrase = self.rng.choice(phrasings[label]).format(value)
            else:  # bare, inside other text
                phrase = f"{self.sentence()[:-1]} {value}."
            parts.insert(self.rng.randint(0, len(parts)), phrase)
        return " ".join(parts)

    # texts of the spans

    def user_message(self) -> str:
        return self.prose(self.plant(), _USER_PHRASINGS)

    def assistant_message(self) -> str:
        return self.prose(self.plant(), _ASSISTANT_PHRASINGS)

    def tool_arguments(self, tool: str) -> str:
        arguments: dict[str, Any] = {
            "order_id": self.order_number(),
            "fields": self.rng.sample(["status", "items", "shipping", "refund", "history"], 3),
            "since": self.timestamp(),
            "include_history": self.rng.random() < 0.5,
        }
        planted = self.plant()
        if planted is not None:
            label, value = planted
            if self.rng.random() < 0.5:
                arguments[_ARGUMENT_NAMES[label]] = value
            else:
                arguments["note"] = f"{self.sentence()[:-1]} {value}"
        return json.dumps({"tool": tool, "arguments": arguments})

    def tool_result(self) -> str:
        result: dict[str, Any] = {
            "order_id": self.order_number(),
            "status": self.rng.choice(["delivered", "shipped", "refunded", "pending"]),
            "updated_at": self.timestamp(),
            "items": [
                {
                    "sku": f"SKU-{self.rng.randint(1000, 9999)}",
                    "name": self.fake.word().title(),
                    "qty": self.rng.randint(1, 4),
                    "price": f"{self.rng.uniform(3, 400):.2f}",
                }
                for _ in range(self.rng.randint(1, 3))
            ],
            "request_id": str(self.fake.uuid4()),
            "log": self.benign_fact(),
        }
        planted = self.plant()
        if planted is not None:
            label, value = planted
            result["customer"] = {_ARGUMENT_NAMES[label]: value, "since": self.timestamp()[:10]}
        return json.dumps(result)

    def document(self) -> str:
        planted = self.plant()
        body = self.prose(planted, _USER_PHRASINGS)
        return f"Ticket #{self.rng.randint(10000, 99999)} ({self.timestamp()[:10]}): {body}"

    def exception_message(self) -> str:
        planted = self.plant()
        if planted is not None:
            return f"ValueError: cannot update contact for customer: invalid value {planted[1]!r}"
        return (
            f"TimeoutError: upstream orders-{self.rng.randint(1, 9)}.svc did not answer within"
            f" {self.rng.randint(1, 30) * 1000} ms (request_id={self.fake.uuid4()})"
        )

    def stacktrace(self, message: str) -> str:
        frames = "".join(
            f'  File "/app/agent/{self.fake.word()}.py", line {self.rng.randint(10, 900)},'
            f" in {self.fake.word()}_{self.fake.word()}\n    result = await client.call(payload)\n"
            for _ in range(self.rng.randint(2, 5))
        )
        return f"Traceback (most recent call last):\n{frames}{message}"

    # spans

    def trace(self) -> list[SpanSpec]:
        self.planted = []
        question = self.user_message()
        answer = self.assistant_message()
        tool = self.rng.choice(_TOOLS)
        messages = [
            {"role": "system", "content": _SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]
        agent = SpanSpec(
            "support_agent",
            {
                SA.OPENINFERENCE_SPAN_KIND: "AGENT",
                SA.INPUT_VALUE: question,
                SA.OUTPUT_VALUE: answer,
                SA.SESSION_ID: str(self.fake.uuid4()),
            },
        )
        llm_attributes: dict[str, Any] = {
            SA.OPENINFERENCE_SPAN_KIND: "LLM",
            SA.LLM_MODEL_NAME: "gpt-4o-mini",
            SA.LLM_PROVIDER: "openai",
            SA.LLM_INVOCATION_PARAMETERS: json.dumps({"temperature": 0.2, "max_tokens": 1024}),
            SA.LLM_TOKEN_COUNT_PROMPT: self.rng.randint(200, 4000),
            SA.LLM_TOKEN_COUNT_COMPLETION: self.rng.randint(10, 600),
            SA.INPUT_VALUE: json.dumps({"messages": messages}, ensure_ascii=False),
            SA.INPUT_MIME_TYPE: "application/json",
            SA.OUTPUT_VALUE: answer,
        }
        for index, message in enumerate(messages):
            prefix = f"{SA.LLM_INPUT_MESSAGES}.{index}."
            llm_attributes[prefix + MA.MESSAGE_ROLE] = message["role"]
            llm_attributes[prefix + MA.MESSAGE_CONTENT] = message["content"]
        llm_attributes[f"{SA.LLM_OUTPUT_MESSAGES}.0.{MA.MESSAGE_ROLE}"] = "assistant"
        llm_attributes[f"{SA.LLM_OUTPUT_MESSAGES}.0.{MA.MESSAGE_CONTENT}"] = answer
        llm = SpanSpec("ChatCompletion", llm_attributes)
        tool_span = SpanSpec(
            tool,
            {
                SA.OPENINFERENCE_SPAN_KIND: "TOOL",
                SA.TOOL_NAME: tool,
                SA.INPUT_VALUE: self.tool_arguments(tool),
                SA.INPUT_MIME_TYPE: "application/json",
                SA.OUTPUT_VALUE: self.tool_result(),
            },
        )
        if self.rng.random() < 0.15:
            error = self.exception_message()
            tool_span.events.append(
                (
                    sc.EXCEPTION_EVENT,
                    {
                        sc.EXCEPTION_TYPE: error.split(":", 1)[0],
                        sc.EXCEPTION_MESSAGE: error,
                        sc.EXCEPTION_STACKTRACE: self.stacktrace(error),
                    },
                )
            )
            tool_span.status_description = error
        retriever_attributes: dict[str, Any] = {
            SA.OPENINFERENCE_SPAN_KIND: "RETRIEVER",
            SA.INPUT_VALUE: self.sentence(),
        }
        for index in range(3):
            prefix = f"{SA.RETRIEVAL_DOCUMENTS}.{index}."
            retriever_attributes[prefix + DA.DOCUMENT_ID] = str(self.fake.uuid4())
            retriever_attributes[prefix + DA.DOCUMENT_CONTENT] = self.document()
            retriever_attributes[prefix + DA.DOCUMENT_SCORE] = round(self.rng.random(), 4)
        return [agent, llm, tool_span, SpanSpec("retrieve", retriever_attributes)]


_USER_PHRASINGS: dict[str, Sequence[str]] = {
    "email": ["You can email me at {0}.", "My email address is {0}, please use that one."],
    "phone": ["Call me back on {0}.", "My phone number is {0}."],
    "card": ["Please charge my credit card {0} instead.", "I paid with the card {0}."],
    "iban": ["Refund it to my IBAN {0} please.", "My bank account is {0}."],
    "ssn": ["My SSN is {0} if you need it.", "Social security number: {0}."],
    "ip": ["The server at {0} keeps timing out.", "I am connecting from IP {0}."],
    "secret": ["Here is the API key: {0}", "Use this token: {0}"],
}
_ASSISTANT_PHRASINGS: dict[str, Sequence[str]] = {
    "email": ["I have updated your contact email to {0}."],
    "phone": ["We will call you on {0} tomorrow."],
    "card": ["The refund goes back to the card ending in {0}."],
    "iban": ["The transfer to {0} is scheduled."],
    "ssn": ["I could not verify the number {0}."],
    "ip": ["Requests from {0} are now allowed."],
    "secret": ["The integration now uses the credentials {0}."],
}
_ARGUMENT_NAMES = {
    "email": "email",
    "phone": "phone",
    "card": "card_number",
    "iban": "iban",
    "ssn": "ssn",
    "ip": "client_ip",
    "secret": "api_key",
}


def build_corpus(traces: int, seed: int, plant_rate: float, redactor: Redactor) -> Corpus:
    builder = CorpusBuilder(seed, plant_rate)
    spans: list[SpanSpec] = []
    texts: list[Text] = []
    for _ in range(traces):
        trace = builder.trace()
        planted = builder.planted
        spans += trace
        for span in trace:
            places = [span.attributes, *(attributes for _, attributes in span.events)]
            items = [(k, v) for place in places for k, v in place.items()]
            if span.status_description is not None:
                items.append(("status.description", span.status_description))
            for key, value in items:
                if isinstance(value, str) and not redactor.is_allowed(key):
                    found = tuple((label, raw) for label, raw in planted if contains(value, raw))
                    texts.append(Text(key, value, found))
    return Corpus(spans, texts)


def contains(text: str, value: str) -> bool:
    """``value`` verbatim in ``text``, or as JSON escapes it."""
    return value in text or json.dumps(value, ensure_ascii=False)[1:-1] in text


# --- 1. texts ----------------------------------------------------------------------------------


@dataclass
class Accuracy:
    found: Counter[str] = field(default_factory=Counter)
    planted: Counter[str] = field(default_factory=Counter)
    altered_benign: int = 0
    benign: int = 0

    def add(self, text: Text, found: Sequence[bool], altered: bool) -> None:
        for (label, _), hit in zip(text.planted, found, strict=True):
            self.planted[label] += 1
            self.found[label] += hit
        if not text.planted:
            self.benign += 1
            self.altered_benign += altered

    def recall(self, labels: frozenset[str] | tuple[str, ...] = LABELS) -> float:
        planted = sum(self.planted[label] for label in labels)
        return sum(self.found[label] for label in labels) / planted if planted else float("nan")


@dataclass
class Variant:
    name: str
    redactor: Redactor
    seconds: list[float] = field(default_factory=list)
    accuracy: Accuracy = field(default_factory=Accuracy)

    def redact(self, texts: Sequence[Text]) -> list[str]:
        """The redacted strings, ``""`` for a dropped one; the part that is timed."""
        outputs = [self.redactor.redact_text(text.value, RedactionAudit()) for text in texts]
        return [output if isinstance(output, str) else "" for output in outputs]


def score(texts: Sequence[Text], outputs: Sequence[str]) -> Accuracy:
    accuracy = Accuracy()
    for text, output in zip(texts, outputs, strict=True):
        found = [not contains(output, value) for _, value in text.planted]
        accuracy.add(text, found, output != text.value)
    return accuracy


def measure_texts(variants: Sequence[Variant], texts: Sequence[Text], repeats: int) -> None:
    for variant in variants:  # warm-up: compiled patterns, caches
        variant.redact(texts[:200])
    for _ in range(repeats):
        for variant in variants:
            gc.collect()
            start = time.perf_counter()
            outputs = variant.redact(texts)
            variant.seconds.append(time.perf_counter() - start)
            variant.accuracy = score(texts, outputs)


def report_texts(corpus: Corpus, variants: Sequence[Variant], repeats: int) -> None:
    texts = corpus.texts
    planted = sum(1 for text in texts if text.planted)
    values = Counter(label for text in texts for label, _ in text.planted)
    print(
        f"\n1. strings: {len(texts)}, {corpus.megabytes:.2f} MB; {planted} carry planted"
        f" values ({planted / len(texts):.1%}); median of {repeats} runs"
    )
    print("   planted values per kind: " + ", ".join(f"{k} {values[k]}" for k in LABELS))
    header = f"{'':<38}{'MB/s':>7}{'recall':>8}" + "".join(f"{k:>7}" for k in LABELS) + f"{'FP':>8}"
    print(header)
    print("-" * len(header))
    for variant in variants:
        accuracy = variant.accuracy
        megabytes_per_second = corpus.megabytes / statistics.median(variant.seconds)
        per_kind = "".join(
            f"{accuracy.found[k] / accuracy.planted[k]:>7.1%}"
            if accuracy.planted[k]
            else f"{'-':>7}"
            for k in LABELS
        )
        fp = accuracy.altered_benign / accuracy.benign if accuracy.benign else float("nan")
        print(
            f"{variant.name:<38}{megabytes_per_second:>7.2f}{accuracy.recall():>8.1%}{per_kind}"
            f"{fp:>8.2%}"
        )
    print("recall: planted values no longer in the output; FP: benign strings altered / benign")
    for variant in variants:
        if variant.name.startswith("presidio"):
            recall = variant.accuracy.recall(PRESIDIO_LABELS)
            print(f"presidio recall on the kinds it covers (all but secret): {recall:.1%}")


# --- 2. spans ----------------------------------------------------------------------------------


class CountingExporter(SpanExporter):
    """Exports nowhere; counts spans, and spans that carry a redaction audit."""

    def __init__(self) -> None:
        self.spans = 0
        self.audited = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        self.audited += sum(
            1
            for span in spans
            if span.attributes and sc.FLYWHEEL_REDACTION_COUNT in span.attributes
        )
        return SpanExportResult.SUCCESS


def ended_spans(specs: Sequence[SpanSpec]) -> list[ReadableSpan]:
    """Real ended SDK spans with the corpus's attributes, events and statuses."""
    kept: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            kept.append(span)

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "support-agent", "deployment.environment": "benchmark"}
        )
    )
    provider.add_span_processor(Keep())
    tracer = provider.get_tracer("redaction-benchmark")
    for spec in specs:
        with tracer.start_as_current_span(
            spec.name,
            attributes=spec.attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            for name, attributes in spec.events:
                span.add_event(name, attributes)
            if spec.status_description is not None:
                span.set_status(Status(StatusCode.ERROR, spec.status_description))
    provider.shutdown()
    return kept


def redact_span_us(spans: Sequence[ReadableSpan], redactor: Redactor) -> float:
    resources = RedactedResourceCache(redactor)
    gc.collect()
    start = time.perf_counter_ns()
    for span in spans:
        redact_readable_span(span, redactor, resources=resources)
    return (time.perf_counter_ns() - start) / len(spans) / 1000


@dataclass
class ExportRun:
    cpu_us: float  # per span: every thread but the caller's (the BatchSpanProcessor's worker)
    problems: list[str]
    audited: int


def export_run(spans: Sequence[ReadableSpan], redactor: Redactor | None) -> ExportRun:
    """Hands ``spans`` to a BatchSpanProcessor and sleeps until its worker has exported them all.

    No ``force_flush``: it exports on the calling thread. The caller only enqueues, then sleeps,
    so the CPU time of the other threads is the worker's.
    """
    counter = CountingExporter()
    exporter: SpanExporter = (
        counter if redactor is None else RedactingSpanExporter(counter, redactor)
    )
    # Room for every span (none is dropped however far the worker falls behind) and a short
    # delay, so that the last partial batch leaves without waiting 5 s.
    processor = BatchSpanProcessor(
        exporter, max_queue_size=max(len(spans), 512), schedule_delay_millis=_DELAY_MILLIS
    )
    gc.collect()
    caller0, all0 = time.thread_time_ns(), time.process_time_ns()
    for span in spans:
        processor.on_end(span)
    deadline = time.monotonic() + _EXPORT_TIMEOUT_SECONDS
    while counter.spans < len(spans) and time.monotonic() < deadline:
        time.sleep(_DELAY_MILLIS / 1000 / 4)
    caller1, all1 = time.thread_time_ns(), time.process_time_ns()
    processor.shutdown()  # type: ignore[no-untyped-call]
    problems = []
    if counter.spans != len(spans):
        problems.append(f"exported {counter.spans} of {len(spans)} spans")
    cpu_us = ((all1 - all0) - (caller1 - caller0)) / len(spans) / 1000
    return ExportRun(cpu_us, problems, counter.audited)


# --- main --------------------------------------------------------------------------------------


def presidio_detector() -> Detector | None:
    from otel_flywheel.privacy._presidio import PresidioDetector

    try:
        return PresidioDetector()
    except ConfigError as error:  # presidio-analyzer is not installed
        print(f"Presidio skipped: {error}")
        return None


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput, per-span cost and recall of redaction on a labelled span corpus.",
        epilog="example: .venv/bin/python benchmarks/redaction.py --traces 200 --repeats 3",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--traces", type=int, default=200, help="traces of 4 spans in the corpus")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant")
    parser.add_argument("--seed", type=int, default=42, help="seed of Faker and random")
    parser.add_argument(
        "--plant-rate",
        type=float,
        default=0.2,
        help="chance that a generated text (message, tool arguments or result, document, exception"
        " message) gets a planted value; messages reappear in several attributes, and 0.2 plants"
        " a value in ~1 string in 10",
    )
    parser.add_argument(
        "--no-presidio", action="store_true", help="skip Presidio even when it is importable"
    )
    args = parser.parse_args(argv)
    if args.traces < 1 or args.repeats < 1 or not 0 <= args.plant_rate <= 1:
        parser.error("need --traces >= 1, --repeats >= 1 and 0 <= --plant-rate <= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_options(argv)
    print("otel-flywheel redaction benchmark")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}),"
        f" opentelemetry-sdk {version('opentelemetry-sdk')}, otel-flywheel {version('otel-flywheel')},"
        f" phonenumbers {package_version('phonenumbers')},"
        f" presidio-analyzer {package_version('presidio-analyzer')},"
        f" {platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()},"
        f" load average {os.getloadavg()[0]:.2f} at start"
    )
    ours = Redactor(key=KEY, detectors=[BuiltinDetector()])
    corpus = build_corpus(args.traces, args.seed, args.plant_rate, ours)
    print(
        f"corpus: {args.traces} traces, {len(corpus.spans)} spans (AGENT, LLM, TOOL, RETRIEVER),"
        f" seed {args.seed}, plant rate {args.plant_rate:g}"
    )

    presidio = None if args.no_presidio else presidio_detector()
    variants = [Variant("ours: Redactor(BuiltinDetector)", ours)]
    if presidio is not None:
        variants += [
            Variant(
                "presidio: Redactor(PresidioDetector)", Redactor(key=KEY, detectors=[presidio])
            ),
            Variant(
                "both: Redactor(Builtin + Presidio)",
                Redactor(key=KEY, detectors=[BuiltinDetector(), presidio]),
            ),
        ]
    measure_texts(variants, corpus.texts, args.repeats)
    report_texts(corpus, variants, args.repeats)

    spans = ended_spans(corpus.spans)
    print(f"\n2. spans: {len(spans)} ended SDK spans; median of {args.repeats} runs")
    per_span = [("ours", ours, spans)]
    if presidio is not None:  # slow: a subset is enough
        both = Redactor(key=KEY, detectors=[BuiltinDetector(), presidio])
        per_span.append(("both", both, spans[: min(len(spans), 200)]))
    for name, redactor, subset in per_span:
        redact_span_us(subset[:50], redactor)  # warm-up
        us = statistics.median(redact_span_us(subset, redactor) for _ in range(args.repeats))
        print(f"redact_readable_span, {name}: {us:.1f} us per span ({len(subset)} spans)")

    export_run(spans[:200], None)  # warm-up
    export_run(spans[:200], ours)
    baseline: list[ExportRun] = []
    candidate: list[ExportRun] = []
    for _ in range(args.repeats):
        baseline.append(export_run(spans, None))
        candidate.append(export_run(spans, ours))
    base_us = statistics.median(run.cpu_us for run in baseline)
    redacting_us = statistics.median(run.cpu_us for run in candidate)
    print("export thread CPU per span, ours (BatchSpanProcessor's worker; runs alternate):")
    print(f"  BSP + counting exporter                          {base_us:>7.1f} us")
    print(f"  BSP + RedactingSpanExporter(counting exporter)   {redacting_us:>7.1f} us")
    print(
        f"  redaction adds {redacting_us - base_us:.1f} us per span;"
        f" {candidate[-1].audited} of {len(spans)} spans carry a redaction audit"
    )
    print(f"load average {os.getloadavg()[0]:.2f} at end")

    problems = [
        f"{variant} run {number}: {problem}"
        for variant, runs in (("baseline", baseline), ("redacting", candidate))
        for number, run in enumerate(runs, start=1)
        for problem in run.problems
    ]
    if problems:
        print("\n!!! NOT EVERY SPAN ARRIVED: the figures above are suspect")
        for problem in problems:
            print(f"!!!   {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
