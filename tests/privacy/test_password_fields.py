"""A value under a key that names a password is masked, whatever it looks like.

``password=hunter2`` in text was always redacted; the same password as a JSON field
(``{"password": "hunter2"}``, a tool's arguments) or as an attribute (``db.password``) was not,
because the key and its value are separate strings there. Keys are read as the text rule reads
them; placeholders and the shell's working directory (``PWD``) are left alone.
"""

from __future__ import annotations

import json

import pytest
from key_fields import redact, redactor, tool_span_both_ways

from otel_flywheel.privacy import RedactionAudit

SECRET = "Tr0ub4dor&3xyz"


@pytest.mark.parametrize(
    "key",
    ["password", "Password", "PASSWORD", "db_password", "PGPASSWORD", "db.password",
     "new_password", "passwd", "passphrase", "pwd", "db_pwd"],
)  # fmt: skip
def test_a_json_field_naming_a_password_is_masked(key: str) -> None:
    document = {"host": "db1.internal", key: SECRET, "port": 5432}
    output, counts = redact(json.dumps(document))
    assert SECRET not in output
    assert counts == {"PASSWORD": 1}
    redacted = json.loads(output)
    assert redacted[key] == "<PASSWORD>"
    assert redacted["host"] == "db1.internal"
    assert redacted["port"] == 5432


@pytest.mark.parametrize(
    "document",
    [
        {"connect": {"credentials": {"user": "app", "password": SECRET}}},
        [{"name": "primary", "password": SECRET}, {"name": "replica", "password": SECRET}],
        {"password": SECRET, "note": "rotate every 90 days " + "z" * 300},
    ],
    ids=["nested", "in a list", "beside a long string"],
)
def test_password_fields_are_masked_wherever_they_sit(document: object) -> None:
    output, counts = redact(json.dumps(document))
    assert SECRET not in output
    assert counts["PASSWORD"] >= 1
    json.loads(output)  # still valid JSON


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("password", "***"),
        ("password", "<redacted>"),
        ("password", "${DB_PASSWORD}"),
        ("password", "changeme"),
        ("password", ""),
        ("password_hint", "the dog's name"),
        ("passwordless", "true"),
        ("pwd_reset_url", "https://example.com/reset"),
        ("PWD", "/home/alice/project"),
        ("pwd", "~/src"),
        ("OLDPWD", "C:\\Users\\alice"),
    ],
)
def test_placeholders_other_keys_and_the_working_directory_are_left_alone(
    key: str, value: str
) -> None:
    text = json.dumps({key: value})
    output, counts = redact(text)
    assert output == text
    assert counts == {}


def test_text_keeps_the_working_directory_and_masks_a_pwd() -> None:
    assert redact("PWD=/home/alice/project OLDPWD=/tmp")[0] == "PWD=/home/alice/project OLDPWD=/tmp"
    assert redact("pwd: C:\\Users\\alice")[1] == {}
    assert redact("db_pwd=/s3cr3t/x")[1] == {"PASSWORD": 1}  # only the bare key is PWD
    output, counts = redact("mysql -u app pwd=s3cr3t!x")
    assert "s3cr3t!x" not in output
    assert counts == {"PASSWORD": 1}


def test_attributes_naming_a_password_are_masked_and_others_kept() -> None:
    audit = RedactionAudit()
    redacted = redactor().redact_attributes(
        {"db.password": SECRET, "db.user": "app", "password_hint": "dog", "db.pwd": "***"}, audit
    )
    assert redacted == {
        "db.password": "<PASSWORD>",
        "db.user": "app",
        "password_hint": "dog",
        "db.pwd": "***",
    }
    assert dict(audit.counts) == {"PASSWORD": 1}


def test_the_password_mode_applies_drop_included() -> None:
    r = redactor(modes={"PASSWORD": "drop"})
    assert r.redact_attributes({"db.password": SECRET, "db.user": "app"}, RedactionAudit()) == {
        "db.user": "app"
    }
    output = r.redact_text(json.dumps({"password": SECRET}), RedactionAudit())
    assert output is r.drop


def test_a_tool_call_with_a_password_argument_never_reaches_the_exporter_or_the_flywheel() -> None:
    arguments = json.dumps({"dsn": "db1.internal/orders", "user": "app", "password": SECRET})
    exported, trace = tool_span_both_ways(
        "connect_db", {"input.value": arguments, "db.password": SECRET}
    )

    assert SECRET not in exported.to_json()
    assert exported.attributes is not None
    assert exported.attributes["flywheel.redaction.count"] == 2
    assert SECRET not in trace.to_json()
    tool = trace.steps[0].tool
    assert tool is not None
    assert tool.arguments == {"dsn": "db1.internal/orders", "user": "app", "password": "<PASSWORD>"}


def test_a_path_under_a_longer_pwd_key_is_still_a_password() -> None:
    output, counts = redact(json.dumps({"db_pwd": "/s3cr3t/path-like", "PWD": "/home/alice"}))
    assert json.loads(output) == {"db_pwd": "<PASSWORD>", "PWD": "/home/alice"}
    assert counts == {"PASSWORD": 1}


# --- API keys and other secrets under a key that names one ---------------------------------------

API_KEY_VALUE = "kZ9q-2f8Lw_0x7YbM3"  # no vendor prefix: only its key says what it is


@pytest.mark.parametrize(
    "key",
    ["api_key", "apiKey", "API_KEY", "openai.api_key", "X-Api-Key", "http.request.header.x-api-key",
     "secret", "client_secret", "clientSecret", "secret_key", "aws_secret_access_key",
     "access_key", "access_token", "auth_token", "refreshToken", "session_token", "apikey",
     "AccountKey", "Ocp-Apim-Subscription-Key", "master_key", "id_token", "HF_TOKEN", "GITHUB_TOKEN",
     "PRIVATE-TOKEN", "oauth_token", "botToken"],
)  # fmt: skip
def test_a_field_or_attribute_naming_an_api_key_or_a_secret_is_masked(key: str) -> None:
    document = {"model": "gpt-4o-mini", key: API_KEY_VALUE, "max_tokens": 5}
    output, counts = redact(json.dumps(document))
    assert API_KEY_VALUE not in output
    assert counts == {"API_KEY": 1}
    assert json.loads(output) == {"model": "gpt-4o-mini", key: "<API_KEY>", "max_tokens": 5}
    exported, trace = tool_span_both_ways("call_api", {key: API_KEY_VALUE})
    assert exported.attributes is not None
    assert exported.attributes[key] == "<API_KEY>"
    assert API_KEY_VALUE not in trace.to_json()


@pytest.mark.parametrize(
    "document",
    [
        {"secret_name": "prod-db", "token_count": 12, "max_tokens": 512, "keyboard": "qwerty"},
        {"access_token_expires_in": "3600", "api_key_id": "key_123", "monkey": "george"},
        {"api_key": "${OPENAI_API_KEY}", "secret": "<redacted>", "access_token": "***"},
        {"tokenizer": "cl100k_base", "secretary": "Ann", "llm.token_count.total": 17},
        # a model's tokens and a page's cursor are not credentials
        {"token": "Hello", "logprob": -0.31, "top_logprobs": [{"token": "Hi", "logprob": -1.2}]},
        {"next_page_token": "CiAKGjBpNDd2Nmp5", "eos_token": "</s>", "pad_token_id": 50256},
        {"monkey": "george", "keyboard": "qwerty", "primary_key": "id", "sort_key": "created_at"},
    ],
)
def test_other_keys_and_placeholders_under_secret_keys_are_left_alone(document: object) -> None:
    text = json.dumps(document)
    assert redact(text) == (text, {})
