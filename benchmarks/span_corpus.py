"""A labelled corpus of realistic agent spans, for the redaction benchmark.

Built in-process from a fixed seed (Faker in four locales, ``random.Random``): traces of an
OpenInference AGENT span, an LLM span (flattened ``llm.input_messages.*`` plus the messages as
``input.value`` JSON), a TOOL span (JSON arguments and result; sometimes an exception event and an
error status) and a RETRIEVER span (``retrieval.documents.*``). About one string in ten carries a
planted value: an email, a phone number (valid for its locale, as Faker wrote it or in
international format), a payment card, an IBAN, a US SSN, an IP address or a secret (API keys and
tokens, a JWT, a bearer token, a password in a connection string), half of them after words that
say what they are ("my IBAN"), half bare. The rest is benign technical text: questions, answers,
UUIDs, trace ids, timestamps, versions, prices, order numbers that fail Luhn, user agents, stack
traces.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import phonenumbers
from faker import Faker

from otel_flywheel import semconv as sc
from otel_flywheel.privacy import Redactor

__all__ = ["LABELS", "Corpus", "SpanSpec", "Text", "build_corpus", "contains"]

SA = sc.SpanAttributes
MA = sc.MessageAttributes
DA = sc.DocumentAttributes
LABELS = ("email", "phone", "card", "iban", "ssn", "ip", "secret")
LOCALES = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR"}
_END = datetime(2025, 10, 1, tzinfo=timezone.utc)  # the corpus's "now": fixed, so runs agree
_EPOCH_MILLIS = int(_END.timestamp() * 1000)
_SYSTEM_PROMPT = (
    "You are the support agent of an online shop. Use the tools to look up orders, refunds and"
    " shipping; never reveal internal notes. Answer in the customer's language, briefly."
)
_TOOLS = ("lookup_order", "check_refund_policy", "create_refund", "update_contact", "search_kb")


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
