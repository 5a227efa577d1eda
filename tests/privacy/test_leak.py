"""Leak test: thousands of generated PII and secret values reach Phoenix and the flywheel as tokens only.

One real run exports through ``register()`` to a real ``phoenix serve``: an instrumented agent (the
``openai`` client under OpenInference's instrumentor, talking to a scripted model) plus spans that put
values on every surface a span has: string and integer attributes, OpenInference message and GenAI
message JSON, tool-argument JSON, string arrays, exception and custom events, event names, status descriptions,
link attributes and resource attributes. Then every raw value is searched for in:

- everything Phoenix returns over REST for the project (three endpoints, raw response text);
- the OTLP request bodies that left the process (a recording proxy sits in front of Phoenix, because
  Phoenix stores neither resource nor link attributes, so REST alone could not show those leaking);
- the traces the flywheel pipeline received, and the library's own log records.

Positive controls keep the search honest: every value must be in the raw spans the SDK ended, and the
agent's own model (which is meant to see raw input) must have received the values sent to it.

Still to add when the judge exists: search the request bodies the judge sends to its LLM server.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import ipaddress
import itertools
import json
import logging
import random
import re
import string
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import phonenumbers
import pytest
from faker import Faker
from openai import OpenAI
from openinference.instrumentation import (
    OITracer,
    TraceConfig,
    using_metadata,
    using_tags,
    using_user,
)
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, Tracer
from phoenix.client import Client
from phone_corpus import national_numbers, unassigned_numbers

from otel_flywheel import register
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.privacy import RedactionAudit, build_redactor
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

SEED = 20261121
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "ja_JP", "en_IN")
PHONE_REGIONS = dict(
    zip(LOCALES, ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "JP", "IN"), strict=True)
)
IBAN_LOCALES = ("de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT", "pt_BR")
CARD_TYPES = ("visa16", "mastercard", "amex", "discover", "jcb16", "diners", "visa13", "visa19")
OTHER_KEY = b"leak-test-other-key-fedcba9876543210"
MODEL = "gpt-4o-mini"
PSEUDONYM = re.compile(r"<EMAIL:[0-9a-f]{8}>")

# What a planted value looks like in prose; JSON leaves and arrays get the bare value.
LABELS = {
    "email": "write to {}",
    "phone": "call {}",
    "phone_national": "call {}",  # no country code: (415) 555-0132, 030 901820, 03-1234-5678
    "phone_unassigned": "call {}",  # "+" numbers in ranges libphonenumber does not deem valid
    "card": "card {}",
    "iban": "IBAN {}",
    "ssn": "SSN {}",
    "ipv4": "client ip {}",
    "ipv6": "client ip {}",
    "openai_key": "OPENAI_API_KEY={}",
    "anthropic_key": "using key {}",
    "aws_key": "aws_access_key_id = {}",
    "github_token": "GITHUB_TOKEN={}",
    "gitlab_token": "token {}",
    "slack_token": "slack token {}",
    "jwt": "session {}",
    "bearer": "Authorization: {}",
    "pem": "key:\n{}\n",
    "url_password": "connecting to {}",
    "connection_string": "conn {}",
    # written as people and tools write them: the words before bare digits, typographic spaces
    # and hyphens, accents in the local part, values inside URLs and HTML, India's unprefixed mobiles
    "phone_context": "{}",
    "phone_typographic": "call {}",
    "phone_unprefixed": "call {}",
    "email_latin": "write to {}",
    "url_encoded": "GET {}",
    "html_page": "page: {}",
    # keys without a vendor's prefix, named by the key before them; SSNs without dashes
    "keyed_secret": "{}",
    "ssn_undashed": "{}",
    # passwords, PINs, one-time codes and keys told in a sentence, as customers tell them
    "told_credential": "{}",
    # an address spelled out against scrapers, on a contact page or in a signature
    "email_spelled_out": "Contact: {}",
    # passwords in the commands agents run and the configs they read; credentials in headers
    "command_password": "$ {}",
    "header_credential": "{}",
}
KINDS = tuple(LABELS)

# (surface, values per span or unit, units): string values taken from the interleaved pool.
CONVERSATIONS = 6
HISTORY_MESSAGES = 8
VALUES_PER_MESSAGE = 5
VALUES_PER_ANSWER = 3
TOOL_CALLS_PER_CONVERSATION = 2
VALUES_PER_TOOL_CALL = 25
CARD_INTS_PER_TOOL_CALL = 1
SURFACE_SPANS = {
    # surface: (spans, string values per span)
    "string attribute": (10, 30),
    "string array": (5, 40),
    "GenAI message JSON": (10, 30),
    "exception event": (10, 15),
    "status description": (10, 10),
    "custom event": (5, 40),
    "event name": (3, 20),
    "link attribute": (2, 100),
}
RESOURCE_VALUES = 80
CARD_INT_ATTRIBUTES = 30  # per integer span, plus one array of the same length
INTEGER_SPANS = 2


@dataclass(frozen=True)
class Planted:
    """One generated value: how it is written where it is placed, and what must never reappear."""

    kind: str
    text: str
    needles: tuple[str, ...]

    def prose(self) -> str:
        return LABELS[self.kind].format(self.text)


# --- generating values ----------------------------------------------------------------------------


class ValueFactory:
    """Seeded PII and secrets: Faker for personal data, a seeded RNG for secrets."""

    def __init__(self, seed: int) -> None:
        self.faker = Faker(list(LOCALES))
        self.faker.seed_instance(seed)
        self.rng = random.Random(seed)
        self._seen: set[str] = set()
        self._national = [number for _, number in national_numbers(seed)]
        self._unassigned = [number for _, number in unassigned_numbers(seed)]
        self.rng.shuffle(self._national)
        self.rng.shuffle(self._unassigned)

    def many(self, kind: str, count: int) -> list[Planted]:
        """``count`` new values made by the method named ``kind``."""
        make = getattr(self, kind)
        values: list[Planted] = []
        while len(values) < count:
            planted = make()
            # Every value distinct in every form (a card spaced and bare), so each is traceable.
            if self._seen.isdisjoint(planted.needles):
                self._seen.update(planted.needles)
                values.append(planted)
        return values

    def _chars(self, count: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(count))

    def _locale(self) -> str:
        return self.rng.choice(LOCALES)

    # --- personal data

    def email(self) -> Planted:
        fake = self.faker[self._locale()]
        style = self.rng.randrange(4)
        if style == 0:
            address = fake.email()
        elif style == 1:
            address = fake.free_email()
        elif style == 2:
            address = fake.company_email()
        else:
            user, domain = fake.email().split("@")
            address = f"{user}+{self._chars(5).lower()}@mail.{domain}"
        return Planted("email", address, (address,))

    def phone(self) -> Planted:
        while True:
            locale = self._locale()
            raw = self.faker[locale].phone_number()
            try:
                number = phonenumbers.parse(raw, PHONE_REGIONS[locale])
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                break
        formats = (
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.E164,
        )
        text = phonenumbers.format_number(number, self.rng.choice(formats))
        needles = [text]
        if " " in text and len(national := text.split(" ", 1)[1]) >= 8:
            needles.append(national)
        return Planted("phone", text, tuple(needles))

    def phone_national(self) -> Planted:
        text = self._national.pop()
        return Planted("phone_national", text, (text,))

    def phone_unassigned(self) -> Planted:
        text = self._unassigned.pop()
        return Planted("phone_unassigned", text, (text,))

    def phone_context(self) -> Planted:
        """Digits no region reads, after words that say what they are ("called from ...")."""
        digits = str(self.rng.randrange(2_000_000_000, 9_999_999_999))
        words = self.rng.choice(
            ("phone:", "Mobile", "tel.", "my number is", "call me at", "Customer called from",
             "callback number", "Caller ID:", "SMS to", "WhatsApp", "contact number")
        )  # fmt: skip
        return Planted("phone_context", f"{words} {digits}", (digits,))

    def phone_typographic(self) -> Planted:
        """A number with the no-break spaces, thin spaces or non-breaking hyphens of typesetting
        and chat models."""
        number = self.phone().text
        joiner = self.rng.choice(("\u00a0", "\u202f", "\u2009", "\u2011"))
        text = number.replace(" ", joiner) if " " in number else number
        return Planted("phone_typographic", text, (text,))

    def phone_unprefixed(self) -> Planted:
        """An Indian mobile written as India writes it, without the trunk 0: "98123 45678"."""
        while True:
            number = phonenumbers.parse(str(self.rng.randrange(6_000_000_000, 9_999_999_999)), "IN")
            if phonenumbers.is_valid_number(number):
                break
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return Planted("phone_unprefixed", text.removeprefix("0"), (text.removeprefix("0"),))

    def email_latin(self) -> Planted:
        """An address whose local part has accents, as French, German and Spanish names do."""
        first = self.rng.choice(("josé", "zoë", "andré", "françois", "jürgen", "müller", "łukasz"))
        local = f"{first}.{self.faker['fr_FR'].last_name().lower().replace(' ', '')}"
        text = f"{local}{self.rng.randrange(100)}@{self.faker.free_email_domain()}"
        return Planted("email_latin", text, (text,))

    def url_encoded(self) -> Planted:
        """An email and a phone number percent-encoded in a URL's query, as HTTP spans carry it."""
        email = quote(self.faker.email(), safe="")
        phone = quote(self.phone().text, safe="")
        host = self.faker.domain_name()
        text = f"https://crm.{host}/v1/customers?email={email}&phone={phone}&page=2"
        return Planted("url_encoded", text, (email, phone))

    def html_page(self) -> Planted:
        """A scraped page's contact line: &nbsp; between the groups, &#64; for the "@"."""
        phone = self.phone().text.replace(" ", "&nbsp;")
        user, domain = self.faker.email().split("@")
        email = f"{user}&#64;{domain}"
        text = f"<p>Tel.&nbsp;{phone} &middot; <a>{email}</a></p>"
        return Planted("html_page", text, (phone, email))

    def keyed_secret(self) -> Planted:
        """A key without a vendor's prefix, where a key names it: a query parameter, a header,
        an environment line, JSON in a message, a command line's flag."""
        host = self.faker.domain_name()
        alphabet = self.rng.choice(
            (
                "0123456789abcdef",
                string.ascii_letters + string.digits,
                string.ascii_letters + "0123456789-_",
            )
        )
        value = self._chars(self.rng.randrange(24, 48), alphabet)
        value = (
            self._chars(1, "abcdef") + value + self._chars(1, string.digits)
        )  # a letter, a digit
        templates = (
            "GET https://api.{host}/v1/weather?q=Paris&api_key={v}&units=metric",
            "https://maps.{host}/geocode?key={v}",
            "OPENWEATHER_API_KEY={v}",
            "X-API-Key: {v}",
            "Authorization: Token {v}",
            "client_secret={v}",
            'upstream rejected {{"access_token": "{v}", "scope": "read"}}',
            "curl -s -H 'apikey: {v}' https://{host}/rest/v1/orders",
            "tool --api-key {v} --region eu",
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={v};EndpointSuffix=x",
        )
        text = self.rng.choice(templates).format(host=host, v=value)
        return Planted("keyed_secret", text, (value,))

    def email_spelled_out(self) -> Planted:
        """ "jane [at] example [dot] com" and its bracketed variants."""
        user, domain = self.faker[self._locale()].email().split("@")
        at, dot = self.rng.choice(
            ((" [at] ", " [dot] "), ("(at)", "(dot)"), (" {at} ", "."), ("<at>", "<dot>"))
        )
        text = f"{user}{at}{domain.replace('.', dot)}"
        return Planted("email_spelled_out", text, (text,))

    def told_credential(self) -> Planted:
        """A password, PIN, one-time code or key told in words to a support agent."""
        rng = self.rng
        kind = rng.randrange(3)
        if kind == 0:
            value = self.faker.password(length=rng.randrange(8, 16))
            template = rng.choice(
                (
                    "my password is {v}",
                    "My password is: {v}",
                    'the password is "{v}"',
                    "my new password is now {v} thanks",
                    "I think the password was {v}",
                )
            )
        elif kind == 1:
            # Grouped or eight long: a bare four-digit needle would be found in any dump's
            # timestamps and counts (test_told_secrets.py has four-digit PINs).
            first, second = self._chars(3, string.digits), self._chars(3, string.digits)
            value = rng.choice(
                (f"{first} {second}", f"{first}{second[:1]}-{second}0", f"{first}{second}42")
            )
            template = rng.choice(
                (
                    "my PIN is {v}",
                    "your one-time code is {v}",
                    "Verification code is: {v}",
                    "the SMS code was {v}",
                    "the passcode is {v}",
                )
            )
        else:
            value = self._chars(1, "abcdef") + self._chars(30, "0123456789abcdef") + "7"
            template = rng.choice(("the token is {v}", "my API key is {v}", "secret key was {v}"))
        return Planted("told_credential", template.format(v=value), (value,))

    def card_number(self) -> str:
        number = self.faker.credit_card_number(self.rng.choice(CARD_TYPES))
        assert luhn_ok(number), number
        return number

    def card_int(self) -> Planted:
        """A card number to be set as an integer, as a payment SDK's attributes might hold it."""
        digits = self.card_number()
        return Planted("card", digits, (digits,))

    def card(self) -> Planted:
        digits = self.card_number()
        style = self.rng.randrange(4)
        if style == 0 or len(digits) not in (15, 16):
            text = digits
        elif len(digits) == 15:  # American Express groups 4-6-5
            text = f"{digits[:4]} {digits[4:10]} {digits[10:]}"
        else:
            separator = ("-", " ", ".")[style - 1]
            text = separator.join(digits[i : i + 4] for i in range(0, 16, 4))
        return Planted("card", text, tuple(dict.fromkeys((text, digits))))

    def iban(self) -> Planted:
        compact = self.faker[self.rng.choice(IBAN_LOCALES)].iban()
        assert iban_ok(compact), compact
        grouped = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
        text = self.rng.choice((compact, grouped))
        return Planted("iban", text, tuple(dict.fromkeys((text, compact))))

    def ssn(self) -> Planted:
        text = self.faker["en_US"].ssn()
        return Planted("ssn", text, (text,))

    def ssn_undashed(self) -> Planted:
        """An SSN written without dashes, after the words that name it."""
        digits = self.faker["en_US"].ssn().replace("-", "")
        sep = self.rng.choice(("", " ", "."))
        written = f"{digits[:3]}{sep}{digits[3:5]}{sep}{digits[5:]}"
        words = self.rng.choice(("SSN", "SSN:", "ssn=", "SSN#", "Social Security Number"))
        return Planted("ssn_undashed", f"{words} {written}", (written,))

    def ipv4(self) -> Planted:
        text = self.faker.ipv4_public()
        return Planted("ipv4", text, (text,))

    def ipv6(self) -> Planted:
        address = self.faker.ipv6()
        text = self.rng.choice((address, ipaddress.IPv6Address(address).compressed))
        return Planted("ipv6", text, (text,))

    # --- secrets

    def _secret(self, kind: str, prefix: str, body: str) -> Planted:
        return Planted(kind, prefix + body, (prefix + body, body))

    def openai_key(self) -> Planted:
        urlsafe = string.ascii_letters + string.digits + "-_"
        match self.rng.randrange(3):
            case 0:
                return self._secret("openai_key", "sk-", self._chars(48))
            case 1:
                return self._secret(
                    "openai_key", "sk-", f"{self._chars(20)}T3BlbkFJ{self._chars(20)}"
                )
            case _:
                prefix = self.rng.choice(("sk-proj-", "sk-svcacct-", "sk-admin-"))
                return self._secret("openai_key", prefix, self._chars(64, urlsafe))

    def anthropic_key(self) -> Planted:
        prefix = self.rng.choice(("sk-ant-api03-", "sk-ant-admin01-"))
        body = self._chars(93, string.ascii_letters + string.digits + "-_") + "AA"
        return self._secret("anthropic_key", prefix, body)

    def aws_key(self) -> Planted:
        prefix = self.rng.choice(("AKIA", "ASIA"))
        return self._secret("aws_key", prefix, self._chars(16, string.ascii_uppercase + "234567"))

    def github_token(self) -> Planted:
        if self.rng.randrange(4) == 0:
            return self._secret(
                "github_token", "github_pat_", f"{self._chars(22)}_{self._chars(59)}"
            )
        prefix = self.rng.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_"))
        return self._secret("github_token", prefix, self._chars(36))

    def gitlab_token(self) -> Planted:
        body = self._chars(20, string.ascii_letters + string.digits + "-_")
        return self._secret("gitlab_token", "glpat-", body)

    def slack_token(self) -> Planted:
        numbers = f"{self._chars(11, string.digits)}-{self._chars(12, string.digits)}"
        if self.rng.randrange(2):
            return self._secret("slack_token", f"xoxb-{numbers}-", self._chars(24))
        return self._secret(
            "slack_token",
            f"xoxp-{numbers}-{self._chars(12, string.digits)}-",
            self._chars(32, "0123456789abcdef"),
        )

    def jwt(self) -> Planted:
        header = {"alg": self.rng.choice(("HS256", "RS256")), "typ": "JWT"}
        claims = {
            "sub": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "email": self.faker.email(),
            "iat": 1_763_700_000 + self.rng.randrange(10**6),
        }
        signature = self.rng.randbytes(32 if header["alg"] == "HS256" else 256)
        segments = [_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode())]
        segments.append(_b64url(signature))
        text = ".".join(segments)
        return Planted("jwt", text, (text, segments[1], segments[2]))

    def bearer(self) -> Planted:
        token = self._chars(40, string.ascii_letters + string.digits + "-._")
        return Planted("bearer", f"Bearer {token}", (token,))

    def pem(self) -> Planted:
        label = self.rng.choice(
            ("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY")
        )
        body = base64.b64encode(self.rng.randbytes(self.rng.randrange(180, 360))).decode()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        text = "\n".join((f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"))
        return Planted("pem", text, tuple(line for line in lines if len(line) >= 16))

    def _password(self) -> str:
        password = self.faker.password(length=14, special_chars=False)
        return password + self.rng.choice("!*~_-.") + self._chars(1, string.digits)

    def url_password(self) -> Planted:
        fake = self.faker
        password, user, host = self._password(), fake.user_name(), fake.domain_name()
        templates = (
            "https://{user}:{pw}@{host}/api/v1/export",
            "postgres://{user}:{pw}@db.{host}:5432/orders",
            "postgresql://{user}:{pw}@{host}/app?sslmode=require",
            "mysql://{user}:{pw}@{host}:3306/shop",
            "mongodb+srv://{user}:{pw}@cluster0.{host}/test?retryWrites=true",
            "redis://:{pw}@cache.{host}:6379/0",
            "amqp://{user}:{pw}@mq.{host}:5672/%2F",
            "ftp://{user}:{pw}@files.{host}/incoming",
        )
        text = self.rng.choice(templates).format(user=user, pw=password, host=host)
        return Planted("url_password", text, (password,))

    def connection_string(self) -> Planted:
        fake = self.faker
        password, user, host = self._password(), fake.user_name(), fake.domain_name()
        templates = (
            "Server=tcp:{host},1433;Database=orders;User ID={user};Password={pw};Encrypt=true;",
            "Data Source={host};Initial Catalog=shop;User Id={user};Pwd={pw};",
            "host={host} port=5432 dbname=app user={user} password={pw} sslmode=require",
            "jdbc:postgresql://{host}:5432/app?user={user}&password={pw}",
            "DRIVER={{ODBC Driver 18 for SQL Server}};SERVER={host};UID={user};PWD={pw}",
        )
        text = self.rng.choice(templates).format(user=user, pw=password, host=host)
        return Planted("connection_string", text, (password,))

    def command_password(self) -> Planted:
        """A password in a command line, an XML config or under a key ending in "pass"."""
        fake = self.faker
        password, user, host = self._password(), fake.user_name(), fake.domain_name()
        templates = (
            "mysql -h db.{host} -u {user} -p{pw} orders",
            "mysqldump --single-transaction -u{user} -p'{pw}' shop > shop.sql",
            "redis-cli -h cache.{host} -a {pw} ping",
            "sshpass -p '{pw}' ssh -o StrictHostKeyChecking=no {user}@bastion.{host} uptime",
            "curl -s -u {user}:{pw} https://api.{host}/v1/orders",
            "docker login -u {user} --password {pw} registry.{host}",
            "<server><id>releases</id><username>{user}</username><password>{pw}</password></server>",
            "DB_PASS={pw}",
            "smtp.pass: '{pw}'",
        )
        text = self.rng.choice(templates).format(user=user, pw=password, host=host)
        return Planted("command_password", text, (password,))

    def header_credential(self) -> Planted:
        """A session cookie or an Authorization header's credentials, as a log prints them."""
        value = self._chars(1, "abcdef") + self._chars(30) + self._chars(1, string.digits)
        templates = (
            "Cookie: theme=dark; sessionid={v}; lang=en",
            "Set-Cookie: session={v}; Path=/; HttpOnly; Secure",
            "headers={{'Cookie': 'sid={v}', 'Accept': '*/*'}}",
            "Authorization: Token {v}",
        )
        text = self.rng.choice(templates).format(v=value)
        return Planted("header_credential", text, (value,))


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- where the values go --------------------------------------------------------------------------


@dataclass
class Plan:
    """Every planted value by surface, handed out from one pool interleaved across kinds."""

    pool: Iterator[Planted]
    by_surface: dict[str, list[Planted]] = field(default_factory=lambda: defaultdict(list))

    def take(self, surface: str, count: int) -> list[Planted]:
        values = list(itertools.islice(self.pool, count))
        assert len(values) == count, "the pool is too small for the plan"
        self.by_surface[surface].extend(values)
        return values

    def add(self, surface: str, values: Sequence[Planted]) -> None:
        self.by_surface[surface].extend(values)

    @property
    def planted(self) -> list[Planted]:
        return [value for values in self.by_surface.values() for value in values]


def strings_needed() -> int:
    conversation = (
        HISTORY_MESSAGES * VALUES_PER_MESSAGE
        + VALUES_PER_ANSWER
        + TOOL_CALLS_PER_CONVERSATION * VALUES_PER_TOOL_CALL
        + 4  # context metadata and tags
    )
    spans = sum(count * per_span for count, per_span in SURFACE_SPANS.values())
    return CONVERSATIONS * conversation + spans + RESOURCE_VALUES


def make_plan(factory: ValueFactory) -> Plan:
    per_kind = -(-strings_needed() // len(KINDS))
    by_kind = [factory.many(kind, per_kind) for kind in KINDS]
    interleaved = [value for group in zip(*by_kind, strict=True) for value in group]
    return Plan(pool=iter(interleaved))


# --- the OTLP recording proxy ---------------------------------------------------------------------


class RecordingProxy:
    """Forwards OTLP/HTTP requests to Phoenix and keeps their bodies: exactly what left the process."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        assert parts.hostname is not None
        assert parts.port is not None
        self._target = (parts.hostname, parts.port)
        self._lock = threading.Lock()  # guards _bodies (handler threads append)
        self._bodies: list[bytes] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def bodies(self) -> list[bytes]:
        with self._lock:
            return list(self._bodies)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _record(self, body: bytes) -> None:
        with self._lock:
            self._bodies.append(body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                gzipped = self.headers.get("content-encoding") == "gzip"
                proxy._record(gzip.decompress(body) if gzipped else body)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                connection = http.client.HTTPConnection(*proxy._target, timeout=30)
                try:
                    connection.request("POST", self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                finally:
                    connection.close()
                self.send_response(response.status)
                self.send_header("content-type", response.getheader("content-type") or "")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log on stderr

        return Handler


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


# --- the run --------------------------------------------------------------------------------------

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name.replace('_', ' ')} in the CRM",
            "parameters": {"type": "object", "additionalProperties": True},
        },
    }
    for name in ("update_customer", "send_message")
]


@dataclass(repr=False)  # pytest would print megabytes of haystack on a failure
class LeakRun:
    project: str
    other_project: str
    plan: Plan
    stable_email: str
    raw_spans: str  # the SDK's ended spans, before redaction: the positive control
    llm_requests: str  # what the agent's own model received (raw, by design)
    phoenix: str  # every REST response for both projects, raw text
    phoenix_spans: list[dict[str, Any]]
    other_phoenix_spans: list[dict[str, Any]]
    wire: str  # every OTLP request body that left the process, decoded leniently
    pipeline: str  # every AgentTrace the flywheel received, as JSON
    logs: str
    planted_per_span: dict[str, int]  # span id -> values planted on that span (surface spans)
    span_count: int
    timings: dict[str, float]


def run_conversations(
    provider: TracerProvider, plan: Plan, ints: Iterator[Planted], factory: ValueFactory
) -> str:
    """A tool-calling support agent on the real ``openai`` client, instrumented by OpenInference.

    Returns the request bodies the agent's model received, as JSON.
    """
    tracer = OITracer(provider.get_tracer("leak-test.agent"), config=TraceConfig())
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer() as llm,
            OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
        ):
            for index in range(CONVERSATIONS):
                user = factory.many("email", 1)
                plan.add("user.id", user)
                history = [
                    {
                        "role": "user" if turn % 2 == 0 else "assistant",
                        "content": "; ".join(
                            v.prose()
                            for v in plan.take("OpenInference message", VALUES_PER_MESSAGE)
                        ),
                    }
                    for turn in range(HISTORY_MESSAGES)
                ]
                calls = [
                    ToolCallReply(TOOLS[i % 2]["function"]["name"], tool_arguments(plan, ints))
                    for i in range(TOOL_CALLS_PER_CONVERSATION)
                ]
                answer = " ".join(
                    v.prose()
                    for v in plan.take(
                        "OpenInference message (the model's answer)", VALUES_PER_ANSWER
                    )
                )
                llm.enqueue(ToolCalls(calls), Text(f"Done. {answer}"))
                metadata = plan.take("context metadata and tags", 4)
                with (
                    using_user(user[0].text),
                    using_metadata(
                        {
                            "customer": {"contact": metadata[0].text, "backup": [metadata[1].text]},
                            "ticket": f"T-{index}",
                        }
                    ),
                    using_tags([metadata[2].text, f"vip {metadata[3].text}"]),
                ):
                    converse(client, tracer, history)
            llm_requests = json.dumps(llm.requests)
            assert llm.pending_replies == 0
    finally:
        instrumentor.uninstrument()
    return llm_requests


def tool_arguments(plan: Plan, ints: Iterator[Planted]) -> dict[str, Any]:
    """Nested objects and arrays, the way a model fills a CRM tool's arguments."""
    values = [v.text for v in plan.take("tool-argument JSON", VALUES_PER_TOOL_CALL)]
    card = next(ints)
    plan.add("integer (in tool-argument JSON)", [card])
    return {
        "customer": {
            "primary": values[0],
            "contacts": [{"value": v, "verified": i % 2 == 0} for i, v in enumerate(values[1:9])],
            "notes": values[9:13],
        },
        "payment": {"card_number": int(card.text), "reference": values[13]},
        "history": [[v] for v in values[14:18]],
        "message": "; ".join(values[18:23]),
        "by_contact": {values[23]: "primary", values[24]: "backup"},  # values as object keys
        "count": 25,
    }


def converse(client: OpenAI, tracer: OITracer, history: list[dict[str, Any]]) -> None:
    with tracer.start_as_current_span("support-agent", openinference_span_kind="agent") as agent:
        agent.set_input(history[0]["content"])
        messages: list[dict[str, Any]] = [{"role": "system", "content": "Help the customer."}]
        messages += history
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        message = first.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls or []:
            function = call.function  # type: ignore[union-attr]
            with tracer.start_as_current_span(
                function.name, openinference_span_kind="tool"
            ) as tool:
                tool.set_tool(name=function.name, parameters={"type": "object"})
                tool.set_input(function.arguments, mime_type="application/json")
                tool.set_output('{"ok": true}', mime_type="application/json")
                tool.set_status(Status(StatusCode.OK))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"ok": true}'})
        final = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        agent.set_output(final.choices[0].message.content or "")
        agent.set_status(Status(StatusCode.OK))


def plant_surfaces(
    tracer: Tracer, plan: Plan, ints: Iterator[Planted], links_to: Sequence[SpanContext]
) -> dict[str, int]:
    """One trace per span, each span carrying one surface's share. Returns span id -> planted."""
    planted: dict[str, int] = {}

    def record(span: Any, count: int) -> None:
        planted[format(span.get_span_context().span_id, "016x")] = count

    spans, per_span = SURFACE_SPANS["string attribute"]
    for index in range(spans):
        values = plan.take("string attribute", per_span)
        with tracer.start_as_current_span(f"crm.note.{index}") as span:
            for i, value in enumerate(values):
                span.set_attribute(f"crm.note.{i}", value.prose())
            record(span, per_span)

    spans, per_span = SURFACE_SPANS["string array"]
    for index in range(spans):
        values = plan.take("string array", per_span)
        with tracer.start_as_current_span(f"crm.lists.{index}") as span:
            for i in range(0, per_span, 10):
                span.set_attribute(f"crm.list.{i // 10}", [v.text for v in values[i : i + 10]])
            record(span, per_span)

    spans, per_span = SURFACE_SPANS["GenAI message JSON"]
    for index in range(spans):
        texts = [v.text for v in plan.take("GenAI message JSON", per_span)]
        with tracer.start_as_current_span(f"chat {MODEL}") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", MODEL)
            span.set_attribute(
                "gen_ai.system_instructions",
                json.dumps([{"type": "text", "content": f"Customer on file: {texts[0]}"}]),
            )
            user_parts = [{"type": "text", "content": v} for v in texts[1:21]]
            span.set_attribute(
                "gen_ai.input.messages", json.dumps([{"role": "user", "parts": user_parts}])
            )
            output = [
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "text", "content": ", ".join(texts[21:25])},
                        {
                            "type": "tool_call",
                            "id": f"call_{index}",
                            "name": "update_customer",
                            "arguments": {"contacts": texts[25:28], "ref": {"id": texts[28]}},
                        },
                    ],
                    "finish_reason": "tool_call",
                }
            ]
            span.set_attribute("gen_ai.output.messages", json.dumps(output))
            span.set_attribute("gen_ai.tool.call.arguments", json.dumps({"to": texts[29]}))
            record(span, per_span)

    spans, per_span = SURFACE_SPANS["exception event"]
    for index in range(spans):
        values = plan.take("exception event", per_span)
        try:
            with tracer.start_as_current_span(f"crm.sync.{index}") as span:
                record(span, per_span)
                for chunk in (values[0:5], values[5:10]):
                    try:
                        raise ValueError("rejected: " + "; ".join(v.prose() for v in chunk))
                    except ValueError as exc:
                        span.record_exception(exc, attributes={"crm.input": chunk[0].text})
                # Escapes the span: the SDK records it and sets the status description from it.
                raise LookupError("no account for " + "; ".join(v.prose() for v in values[10:]))
        except LookupError:
            pass

    spans, per_span = SURFACE_SPANS["status description"]
    for index in range(spans):
        values = plan.take("status description", per_span)
        with tracer.start_as_current_span(f"crm.verify.{index}") as span:
            span.set_status(
                Status(
                    StatusCode.ERROR,
                    "verification failed for " + "; ".join(v.prose() for v in values),
                )
            )
            record(span, per_span)

    spans, per_span = SURFACE_SPANS["custom event"]
    for index in range(spans):
        values = plan.take("custom event", per_span)
        with tracer.start_as_current_span(f"crm.audit.{index}") as span:
            for event in range(0, per_span, 10):
                chunk = values[event : event + 10]
                attributes: dict[str, Any] = {
                    f"field.{i}": v.prose() for i, v in enumerate(chunk[:8])
                }
                attributes["fields"] = [v.text for v in chunk[8:]]
                span.add_event("customer.updated", attributes)
            record(span, per_span)

    spans, per_span = SURFACE_SPANS["event name"]
    for index in range(spans):
        values = plan.take("event name", per_span)
        with tracer.start_as_current_span(f"crm.notify.{index}") as span:
            for value in values:
                span.add_event(f"notified {value.prose()}")
            record(span, per_span)

    spans, per_span = SURFACE_SPANS["link attribute"]
    for index in range(spans):
        values = plan.take("link attribute", per_span)
        links = [
            Link(
                links_to[(index * 5 + n) % len(links_to)],
                {f"crm.ref.{i}": v.prose() for i, v in enumerate(values[n * 20 : n * 20 + 20])},
            )
            for n in range(5)
        ]
        with tracer.start_as_current_span(f"crm.merge.{index}", links=links) as span:
            record(span, per_span)

    for index in range(INTEGER_SPANS):
        values = [next(ints) for _ in range(2 * CARD_INT_ATTRIBUTES)]
        plan.add("integer attribute", values)
        with tracer.start_as_current_span(f"payments.{index}") as span:
            for i, value in enumerate(values[:CARD_INT_ATTRIBUTES]):
                span.set_attribute(f"payment.card.{i}", int(value.text))
            span.set_attribute("payment.cards", [int(v.text) for v in values[CARD_INT_ATTRIBUTES:]])
            record(span, len(values))
    return planted


def fetch_phoenix(http: httpx.Client, project: str) -> list[str]:
    """Everything Phoenix's REST API returns about a project's spans, as raw response text."""
    texts = []
    endpoints: tuple[tuple[str, dict[str, str | int]], ...] = (
        (f"/v1/projects/{project}/spans", {"limit": 1000}),
        (f"/v1/projects/{project}/spans/otlpv1", {"limit": 1000}),
        (f"/v1/projects/{project}/traces", {"limit": 1000, "include_spans": "true"}),
    )
    for path, params in endpoints:
        cursor = None
        while True:
            response = http.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
            response.raise_for_status()
            texts.append(response.text)
            cursor = response.json().get("next_cursor")
            if not cursor:
                break
    return texts


@pytest.fixture(scope="module")
def leak_run(phoenix_server: LocalPhoenix) -> LeakRun:
    timings: dict[str, float] = {}
    started = time.monotonic()
    factory = ValueFactory(SEED)
    plan = make_plan(factory)
    int_count = (
        CONVERSATIONS * TOOL_CALLS_PER_CONVERSATION + 2 * CARD_INT_ATTRIBUTES * INTEGER_SPANS
    )
    ints = iter(factory.many("card_int", int_count))
    resource_values = plan.take("resource attribute", RESOURCE_VALUES)
    (stable,) = factory.many("email", 1)
    plan.add("pseudonym stability", [stable])
    timings["generate"] = time.monotonic() - started

    suffix = uuid.uuid4().hex[:10]
    project, other_project = f"leak-{suffix}", f"leak-other-key-{suffix}"
    records = _Records()
    library_logger = logging.getLogger("otel_flywheel")
    previous_level = library_logger.level
    library_logger.addHandler(records)
    library_logger.setLevel(logging.DEBUG)
    try:
        with (
            RecordingProxy(phoenix_server.base_url) as proxy,
            pytest.MonkeyPatch.context() as monkeypatch,
            httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http,
        ):
            monkeypatch.setenv(
                "OTEL_RESOURCE_ATTRIBUTES",
                ",".join(
                    f"owner.contact.{i}={quote(v.text, safe='')}"
                    for i, v in enumerate(resource_values)
                ),
            )
            started = time.monotonic()
            pipeline = InMemoryPipeline()
            provider = register(
                project=project, endpoint=proxy.url, pipeline=pipeline, set_global=False, batch=True
            )
            raw = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(raw))
            other_pipeline = InMemoryPipeline()
            other_provider = register(
                project=other_project,
                endpoint=proxy.url,
                pipeline=other_pipeline,
                redactor=build_redactor(key=OTHER_KEY),
                set_global=False,
                batch=True,
            )
            try:
                llm_requests = run_conversations(provider, plan, ints, factory)
                tracer = provider.get_tracer("leak-test.surfaces")
                roots = [s.context for s in raw.get_finished_spans() if s.parent is None]
                planted_per_span = plant_surfaces(tracer, plan, ints, roots)
                for name in ("stability.a", "stability.b"):
                    with tracer.start_as_current_span(name) as span:
                        span.set_attribute("customer.email", stable.text)
                with other_provider.get_tracer("leak-test").start_as_current_span(
                    "stability.c"
                ) as span:
                    span.set_attribute("customer.email", stable.text)
                timings["run agent and plant"] = time.monotonic() - started

                started = time.monotonic()
                assert provider.force_flush()
                assert other_provider.force_flush()
                raw_spans = raw.get_finished_spans()
                trace_count = len({s.context.trace_id for s in raw_spans})
                traces = pipeline.wait_for(trace_count, timeout_seconds=30)
                other_traces = other_pipeline.wait_for(1, timeout_seconds=30)
                timings["flush and pipeline"] = time.monotonic() - started

                started = time.monotonic()
                client = Client(http_client=http)
                phoenix_spans = wait_for_spans(
                    client,
                    project=project,
                    min_count=len(raw_spans),
                    limit=len(raw_spans) + 50,
                    timeout_seconds=60,
                )
                other_phoenix_spans = wait_for_spans(client, project=other_project, min_count=1)
                phoenix_texts = fetch_phoenix(http, project) + fetch_phoenix(http, other_project)
                timings["Phoenix ingest and fetch"] = time.monotonic() - started
            finally:
                provider.shutdown()
                other_provider.shutdown()
            wire = [body.decode("utf-8", errors="replace") for body in proxy.bodies]
    finally:
        library_logger.removeHandler(records)
        library_logger.setLevel(previous_level)

    return LeakRun(
        project=project,
        other_project=other_project,
        plan=plan,
        stable_email=stable.text,
        raw_spans="\n".join(span.to_json() for span in raw_spans),
        llm_requests=llm_requests,
        phoenix="\n".join(phoenix_texts),
        phoenix_spans=[dict(s) for s in phoenix_spans],
        other_phoenix_spans=[dict(s) for s in other_phoenix_spans],
        wire="\n".join(wire),
        pipeline="\n".join(t.to_json() for t in [*traces, *other_traces]),
        logs="\n".join(records.texts),
        planted_per_span=planted_per_span,
        span_count=len(raw_spans),
        timings=timings,
    )


def checkable(value: Planted) -> list[str]:
    """The needles written as placed (not alternate forms such as a compact IBAN)."""
    return [needle for needle in value.needles if needle in value.text]


def found_in(needle: str, haystack: str) -> bool:
    """Whether ``needle`` is in ``haystack`` as written or JSON-escaped once or twice ("\\u00a0",
    as ``to_json`` and JSON answers write what is not ASCII; twice in a JSON string in JSON)."""
    if needle in haystack:
        return True
    if needle.isascii():
        return False
    once = json.dumps(needle)[1:-1]
    return once in haystack or json.dumps(once)[1:-1] in haystack


def leaks(run: LeakRun, haystack: str) -> str:
    """Every planted value found in ``haystack``, by surface, as lines for a failure message."""
    lines = [
        f"{surface} / {value.kind}: {needle!r}"
        for surface, values in run.plan.by_surface.items()
        for value in values
        for needle in value.needles
        if found_in(needle, haystack)
    ]
    return "\n".join(lines)


# --- the assertions -------------------------------------------------------------------------------


def test_the_plan_covers_every_kind_on_every_surface_with_over_2000_values(
    leak_run: LeakRun,
) -> None:
    planted = leak_run.plan.planted
    assert len(planted) >= 2000
    assert {v.kind for v in planted} == set(KINDS)
    for surface, values in leak_run.plan.by_surface.items():
        kinds = {v.kind for v in values}
        if surface.startswith("integer"):
            assert kinds == {"card"}
        elif len(values) >= 2 * len(KINDS):  # the big surfaces take whole runs of the pool
            assert kinds == set(KINDS), surface


def test_every_planted_value_was_really_on_the_spans_the_sdk_ended(leak_run: LeakRun) -> None:
    # Positive control: nothing was dropped by attribute limits before redaction could be tested.
    missing = [
        f"{v.kind}: {needle!r}"
        for v in leak_run.plan.planted
        for needle in checkable(v)
        if not found_in(needle, leak_run.raw_spans)
    ]
    assert missing == []


def test_the_agents_own_model_received_the_raw_conversation(leak_run: LeakRun) -> None:
    # The agent's model is meant to see its input; this shows the search finds what is there.
    sent = leak_run.plan.by_surface["OpenInference message"]
    missing = [n for v in sent for n in checkable(v) if not found_in(n, leak_run.llm_requests)]
    assert missing == []


def test_phoenix_rest_returns_none_of_the_planted_values(leak_run: LeakRun) -> None:
    assert len(leak_run.phoenix_spans) == leak_run.span_count
    found = leaks(leak_run, leak_run.phoenix)
    assert not found, f"raw values in Phoenix's REST responses:\n{found}"


def test_the_otlp_requests_that_left_the_process_hold_none_of_the_planted_values(
    leak_run: LeakRun,
) -> None:
    assert leak_run.wire  # the proxy saw the export
    found = leaks(leak_run, leak_run.wire)
    assert not found, f"raw values in the OTLP requests sent to Phoenix:\n{found}"


def test_the_flywheel_pipeline_and_the_library_logs_hold_none_of_the_planted_values(
    leak_run: LeakRun,
) -> None:
    found = leaks(leak_run, leak_run.pipeline)
    assert not found, f"raw values in the traces the pipeline received:\n{found}"
    found = leaks(leak_run, leak_run.logs)
    assert not found, f"raw values in otel_flywheel's log records:\n{found}"


def test_redacted_spans_carry_the_redaction_audit_in_phoenix(leak_run: LeakRun) -> None:
    by_id = {s["context"]["span_id"]: s for s in leak_run.phoenix_spans}
    kinds: Counter[str] = Counter()
    for span in leak_run.phoenix_spans:  # every span carries planted values
        attributes = span["attributes"]
        assert attributes.get("flywheel.redaction.count", 0) >= 1, span["name"]
        kinds.update(attributes["flywheel.redaction.types"])
    for span_id, planted in leak_run.planted_per_span.items():
        attributes = by_id[span_id]["attributes"]
        assert attributes["flywheel.redaction.count"] >= planted, by_id[span_id]["name"]
        assert attributes["flywheel.redaction.types"]
    assert {"EMAIL", "PHONE", "CARD", "IBAN"} <= set(kinds), kinds


def test_pseudonyms_are_stable_across_traces_and_differ_across_keys(leak_run: LeakRun) -> None:
    tokens = {
        s["context"]["trace_id"]: s["attributes"]["customer.email"]
        for s in leak_run.phoenix_spans
        if s["name"] in ("stability.a", "stability.b")
    }
    (other,) = [s["attributes"]["customer.email"] for s in leak_run.other_phoenix_spans]

    assert len(tokens) == 2  # two traces
    (token,) = set(tokens.values())
    assert PSEUDONYM.fullmatch(token)
    assert PSEUDONYM.fullmatch(other)
    assert other != token
    redactor = build_redactor()
    assert redactor is not None
    assert token == redactor.token("EMAIL", leak_run.stable_email)
    assert leak_run.stable_email not in leak_run.phoenix


# A card number written right next to other digits: an expiry and CVC after it, a quantity, a
# phone number or an SSN before it.
CARD_NEXT_TO_NUMBERS = (
    "4111111111111111 12/28 123",  # card, expiry, CVC: how people paste a card
    "4111 1111 1111 1111 12/28 123",
    "qty 2 4111111111111111",
    "+44 20 7946 0958 4111 1111 1111 1111",
    "123-45-6789 4111-1111-1111-1111",
)


@pytest.mark.parametrize("text", CARD_NEXT_TO_NUMBERS)
def test_a_card_number_next_to_other_numbers_is_redacted(text: str) -> None:
    redactor = build_redactor()
    assert redactor is not None

    redacted = str(redactor.redact_text(text, RedactionAudit()))

    assert "4111" not in redacted
