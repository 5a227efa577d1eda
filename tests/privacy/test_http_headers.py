"""Credentials in HTTP headers: Cookie and Set-Cookie lines in text, and OTel's header attributes,
which hold every header as an array of strings ("http.request.header.x-api-key": ["..."])."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redacting import builtin_redactor, redacted

from otel_flywheel.privacy import (
    RedactingSpanExporter,
    RedactionAudit,
    Redactor,
)

KEY = b"http-headers-test-key-0123456789"
SESSION = "abc123def456ghi789jkl012mno345pq"
CSRF = "Zx9abc123def456ghi789jkl"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return builtin_redactor(KEY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Cookie: sessionid={SESSION}; theme=dark", "Cookie: sessionid=<API_KEY>; theme=dark"),
        (f"Cookie: theme=dark; sessionid={SESSION}", "Cookie: theme=dark; sessionid=<API_KEY>"),
        # from the first credential to the last, the pairs between them included
        (f"cookie: sid={SESSION}; lang=en; csrf={CSRF}; x=1", "cookie: sid=<API_KEY>; x=1"),
        (
            f"Set-Cookie: session={SESSION}; Path=/; HttpOnly; Secure",
            "Set-Cookie: session=<API_KEY>; Path=/; HttpOnly; Secure",
        ),
        (f"Set-Cookie: token={JWT}; Path=/", "Set-Cookie: token=<JWT>; Path=/"),
        (
            f"headers={{'Cookie': 'sid={SESSION}', 'Host': 'x'}}",
            "headers={'Cookie': 'sid=<API_KEY>', 'Host': 'x'}",
        ),
        (f'Cookie: a="{SESSION}"; b=1', 'Cookie: a="<API_KEY>"; b=1'),
    ],
)
def test_session_values_in_cookie_headers_are_redacted(
    redactor: Redactor, text: str, expected: str
) -> None:
    assert redacted(redactor, text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Cookie: theme=dark; lang=en; consent=yes",
        "cookie: true",
        'document.cookie = "theme=dark"',
        "Set-Cookie: lang=en-US; Path=/; Max-Age=31536000",
        "the cookie: a=b",
    ],
)
def test_cookie_headers_without_a_credential_are_kept(redactor: Redactor, text: str) -> None:
    assert redacted(redactor, text) == (text, {})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.request.header.x-api-key", "a1b2c3d4e5f6a7b8c9d0"),
        ("http.request.header.authorization", "Token a1b2c3d4e5f6a7b8c9d0"),
        ("http.request.header.authorization", "ApiKey a1b2c3d4e5f6a7b8c9d0"),
        ("http.request.header.proxy-authorization", "Basic dXNlcjpodW50ZXIy"),
        ("http.request.header.cookie", f"sessionid={SESSION}; theme=dark"),
        ("http.response.header.set-cookie", f"session={SESSION}; Path=/"),
        ("http.request.header.x-auth-token", "a1b2c3d4e5f6"),
    ],
)
def test_otel_header_arrays_under_a_secret_header_are_redacted_whole(
    redactor: Redactor, key: str, value: str
) -> None:
    audit = RedactionAudit()
    out = redactor.redact_attributes({key: [value, value + "9"], "http.route": "/login"}, audit)
    assert out == {key: ["<API_KEY>", "<API_KEY>"], "http.route": "/login"}
    assert audit.counts == {"API_KEY": 2}


@pytest.mark.parametrize(
    "document",
    [
        {"authorization": "approved", "cookie": "accepted"},  # a payment's, a consent's status
        {"payment": {"authorization": "pending"}, "Cookie": "theme=dark; lang=en"},
        {"http.request.header.authorization": "required"},
    ],
)
def test_header_keys_holding_no_credential_are_kept(
    redactor: Redactor, document: dict[str, object]
) -> None:
    text = json.dumps(document)
    assert redacted(redactor, text) == (text, {})


def test_arrays_under_other_named_keys_are_read_item_by_item(redactor: Redactor) -> None:
    audit = RedactionAudit()
    out = redactor.redact_attributes(
        {"customer.phone": ("+44 20 7946 0958", "n/a"), "tags": ["vip", "+44 20 7946 0958"]}, audit
    )
    phone = out["customer.phone"][0]
    assert out["customer.phone"] == (phone, "n/a")  # a tuple stays a tuple
    assert phone.startswith("<PHONE:")
    assert out["tags"] == ["vip", phone]


def test_an_exporter_never_sees_a_header_credential() -> None:
    # The SDK path: a span with header attributes, through the redacting exporter.
    inner = InMemorySpanExporter()
    provider = TracerProvider()
    redactor = builtin_redactor(KEY)
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(inner, redactor)))
    with provider.get_tracer("t").start_as_current_span("GET /orders") as span:
        span.set_attribute("http.request.header.authorization", ["Token a1b2c3d4e5f6a7b8c9d0"])
        span.set_attribute("http.request.header.cookie", [f"sessionid={SESSION}"])
    provider.shutdown()
    (exported,) = inner.get_finished_spans()
    assert exported.attributes is not None
    flat = repr(dict(exported.attributes))
    assert "a1b2c3d4e5f6a7b8c9d0" not in flat
    assert SESSION not in flat
    assert exported.attributes["http.request.header.cookie"] == ("<API_KEY>",)


@pytest.mark.parametrize(
    ("document", "expected", "counts"),
    [
        (  # Node's multi-valued headers, as an HTTP tool returns them
            {"headers": {"set-cookie": [f"session={SESSION}; Path=/", f"csrf={CSRF}"]}},
            {"headers": {"set-cookie": ["<API_KEY>", "<API_KEY>"]}},
            {"API_KEY": 2},
        ),
        (
            {"x-api-key": ["a1b2c3d4e5f6a7b8c9d0"], "tags": ["vip", "b"]},
            {"x-api-key": ["<API_KEY>"], "tags": ["vip", "b"]},
            {"API_KEY": 1},
        ),
        (
            {"phone": ["n/a", "4155550132"], "note": "ok"},
            {"phone": ["n/a", "<PHONE>"], "note": "ok"},
            {"PHONE": 1},
        ),
    ],
)
def test_json_lists_under_a_key_that_names_their_kind_are_read_item_by_item(
    redactor: Redactor,
    document: dict[str, object],
    expected: dict[str, object],
    counts: dict[str, int],
) -> None:
    out, found = redacted(redactor, json.dumps(document))
    parsed = json.loads(out)
    if "phone" in parsed:  # a pseudonym, not a mask: compare its kind
        parsed["phone"] = [v if not v.startswith("<PHONE:") else "<PHONE>" for v in parsed["phone"]]
    assert parsed == expected
    assert found == counts
