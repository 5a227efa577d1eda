"""An API key, a secret or a credential token is found by the key that names it, in text.

Vendors' keys are found by their prefixes (``sk-``, ``ghp_``, ``AIza``); a key without one
(a weather API's hex key, a client secret, a self-hosted service's token) was left raw unless it
sat in a JSON field or an attribute named for it. In text it is named too: ``api_key=...`` in a
URL or a shell line, ``X-API-Key: ...`` in a header dump, ``"client_secret": "..."`` in an
exception's message, ``--api-key ...`` on a command line. The key is read with the same rule as
a JSON field's (``names_secret``), and the value must look generated: code, placeholders and
counts written the same way stay.
"""

from __future__ import annotations

import json
import random
import string

import pytest
from key_fields import assert_redacted_as_written, redact

from otel_flywheel.privacy import BuiltinDetector

HEX_KEY = "4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
MIXED_KEY = "Zx9_k2LmQ8vR4tY7uI1oP3aS5dF6gH0j"
B64_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
UUID_KEY = "3f2c9a1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c"


@pytest.mark.parametrize(
    "template",
    [
        # configs and environments
        "api_key={}", "API_KEY = {}", "export OPENWEATHER_API_KEY={}", "apiKey: {}", "APIKEY={}",
        "client_secret={}", "CLIENT_SECRET: {}", "secret_key='{}'", 'SECRET_KEY = "{}"',
        "secret: {}", "aws_secret_access_key = {}", "AWS_SECRET_ACCESS_KEY={}",
        "access_key: {}", "master_key => {}", "api-key := {}",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=x",
        # tokens, by whose they are
        "access_token={}", "auth_token: {}", "refresh_token = {}", "id_token={}", "HF_TOKEN={}",
        "GITHUB_TOKEN={}", "PRIVATE-TOKEN: {}", "token: {}", "token={}", "apiToken: {}",
        # JSON and Python dicts written in text (an exception's message, a log line)
        'request failed: {{"api_key": "{}", "q": "London"}}', "params={{'apikey': '{}'}}",
        # headers
        "X-API-Key: {}", "x-api-key:{}", "curl -H 'apikey: {}' https://api.example.com",
        "Ocp-Apim-Subscription-Key: {}", "API key: {}", "Secret key: {}",
        # URLs
        "GET https://api.example.com/v1/search?q=x&api_key={}",
        "https://maps.example.com/geo?key={}&addr=1", "https://example.com/cb?access_token={}",
        "https://example.com/cb?token={}&state=abc", "wss://stream.example.com/?apikey={}",
        "https://acme.blob.core.windows.net/c/f.pdf?sv=2022-11-02&sp=r&sig={}",
        # command lines
        "tool --api-key {} --verbose", "cli login --token {}", "run --client-secret '{}'",
        "deploy --auth-token={}",
        # Rails' secret_key_base, a raw key in an environment variable
        "SECRET_KEY_BASE={}", "secret_key_base: {}",
        # XML settings: .NET's appSettings, Java's properties
        '<add key="ApiKey" value="{}" />', '<add key="Stripe:SecretKey" value="{}"/>',
        '<entry key="client.secret">{}</entry>',
        # npm's per-registry token set on a command line
        "npm config set //registry.npmjs.org/:_authToken {}",
        "npm config set '//npm.pkg.github.com/:_authToken' '{}'",
    ],
)  # fmt: skip
@pytest.mark.parametrize("value", [HEX_KEY, MIXED_KEY, B64_KEY, UUID_KEY])
def test_a_value_after_a_key_naming_a_secret_is_redacted_where_it_is_written(
    template: str, value: str
) -> None:
    assert_redacted_as_written(template.format(value), value, "API_KEY")


@pytest.mark.parametrize(
    ("text", "credentials"),
    [
        ("Authorization: Token {}", None),
        ("authorization: ApiKey {}", None),
        ("Authorization: SSWS {}", None),
        ("Authorization: {}", None),
        ('curl -H "Authorization: token {}" https://api.github.example', None),
        ('headers = {{"Authorization": "Token {}"}}', None),
    ],
)
@pytest.mark.parametrize("value", [HEX_KEY, MIXED_KEY, UUID_KEY])
def test_authorization_credentials_after_any_scheme_are_redacted(
    text: str, credentials: None, value: str
) -> None:
    assert_redacted_as_written(text.format(value), value, "API_KEY")


def test_bearer_and_basic_keep_their_own_kinds_after_authorization() -> None:
    output, counts = redact("Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c")
    assert output == "Authorization: Bearer <BEARER_TOKEN>"
    output, counts = redact("Authorization: Basic dXNlcjpodW50ZXIy")
    assert (output, counts) == ("Authorization: Basic <PASSWORD>", {"PASSWORD": 1})


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("OPENAI_API_KEY=sk-" + "A1b2" * 12, "sk-" + "A1b2" * 12, "OPENAI_KEY"),
        ("token: ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9, "GITHUB_TOKEN"),
        ("api_key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
         "API_KEY"),
        ("Authorization: token glpat-abcdEFGH1234ijklMNOP", "glpat-abcdEFGH1234ijklMNOP", "GITLAB_TOKEN"),
        ("SLACK_TOKEN=xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD",
         "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD", "SLACK_TOKEN"),
        ("secret_access_key: AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID"),
    ],
)  # fmt: skip
def test_a_vendor_key_under_a_secret_name_keeps_its_vendor_kind(
    text: str, value: str, kind: str
) -> None:
    assert_redacted_as_written(text, value, kind)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("posting to https://hooks.slack.com/services/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",
         "T0A1B2C3D/B4E5F6G7H/a1b2C3d4E5f6G7h8I9j0KlMn"),
        ("https://hooks.slack.com/workflows/T0A1B2C3D/A04BCDE5FGH/123456789012345678/abc",
         "T0A1B2C3D/A04BCDE5FGH/123456789012345678/abc"),
        ("webhook=https://discord.com/api/webhooks/112233445566778899/AbCdEfGhIjKlMnOpQrStUvWxYz012345",
         "112233445566778899/AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
        ("https://discordapp.com/api/webhooks/998877665544/x-Y_z0123456789abcdefghij",
         "998877665544/x-Y_z0123456789abcdefghij"),
    ],
)  # fmt: skip
def test_an_incoming_webhooks_secret_path_is_redacted(text: str, secret: str) -> None:
    output, counts = redact(text)
    assert secret not in output
    assert sum(counts.values()) == 1
    assert output.count("<") == 1


@pytest.mark.parametrize(
    "template",
    ["PRIVATE_KEY={}", "private_key = '{}'", "wallet.privateKey: {}", "--private-key {}"],
)
@pytest.mark.parametrize(
    "value",
    [
        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",  # an Ethereum key
        "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        "MC4CAQAwBQYDK2VwBCIEIGv9Gb3xJ1kq7sP0Zc2m4R8tYw5uN6eL3aH1oQ9dV2fX",  # base64 (PKCS#8)
    ],
)
def test_a_private_key_s_value_is_redacted_where_it_is_written(template: str, value: str) -> None:
    assert_redacted_as_written(template.format(value), value, "API_KEY")


@pytest.mark.parametrize(
    "text",
    [
        "private_key: Ed25519PrivateKey | Ed448PrivateKey",
        "private_key: CertificateIssuerPrivateKeyTypes,",
        "private_key = rust_openssl.hpke.MLKEM768X25519PrivateKey",
        "private_key = serialization.load_pem_private_key(data, password=None)",
        "private_key: /etc/ssl/private/server.key",
        "private_key=None",
    ],
)
def test_a_private_key_s_name_before_code_or_a_path_is_left_alone(text: str) -> None:
    assert BuiltinDetector().find(text) == []


NEAR_MISSES = [
    # code: annotations, variables, environment references, calls, attributes
    "api_key: str", "api_key: Optional[str] = None", "api_key=os.environ['OPENAI_API_KEY']",
    "api_key=settings.OPENAI_API_KEY", "api_key = process.env.OPENAI_API_KEY", "api_key=api_key",
    "client = OpenAI(api_key=api_key)", "apiKey: config.apiKey", "token: self.token",
    "secret = get_secret('db')", "export OPENAI_API_KEY=$OPENAI_API_KEY", "--api-key $API_KEY",
    "secret_key_base: <%= ENV['SECRET_KEY_BASE'] %>", "token=None", "secret: true",
    # placeholders and documentation
    "token: <redacted>", "api_key=YOUR_API_KEY", "api_key=sk-...", "API key: Please set it",
    "api_key=${OPENAI_API_KEY}", "api_key={{ secrets.OPENAI_API_KEY }}", "X-API-Key: <your-key>",
    "apikey: your_api_key_here", "api_key='test'", "Authorization: required",
    "authorization: the token must be sent", "Use --token to pass your token.",
    "client_secret=REPLACE_ME", "api_key=xxxxxxxxxxxxxxxxxxxxxxxx", "secret: !vault |",
    # other keys: names, counts, ids, cursors, hashes of things that are not credentials
    "secret_name=my-secret-name", "key=value", "sort key: created_at", "max_tokens=4096",
    "token_count: 123", "tokens: 512", "key: value", "primary key: id", "partition key=tenant_id",
    "S3 key: uploads/2024/report-2024-01-15.pdf", "cache key=user:123:profile",
    "nextPageToken=CiAKGjBpNDd2Nmp5b2hrZjQ1c2Vy", "page_token=CAUQAA", "eos_token: </s>",
    "pad_token_id=50256", "token: 42", "--token-file /etc/token", "--max-tokens 2048",
    "the monkey: george123456", "hotkey=ctrl+shift+k", "keyboard: qwerty",
    "idempotency_key=order-2024-01-15-0001", "trace_token=abc", "request token: 4f9a",
    "key: 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'",
    "llm.token_count.prompt: 1234", "cancellation_token=ct_8c1f2e3d4b5a69788f7e",
    "keys: [a, b]", "secret_ref: projects/123/secrets/db/versions/1", "api_key_id=key_123",
    "continuationToken: eyJwYWdlIjoyfQ", "ssh-keygen -t ed25519 -C work-laptop-2024",
    # ("the token is 8c1f..." is a credential told in words: test_told_secrets.py)
    "sig: 8c1f2e3d4b5a69788f7e6d5c4b3a2910", "signal=SIGTERM", "design=flat2024",  # "sig" in a URL only
    # settings that name no secret, or hold a reference
    '<add key="PageSize" value="50" />', '<add key="ApiKey" value="${API_KEY}" />',
    '<add key="ApiBaseUrl" value="https://api.example.com/v2" />', '<entry key="db.url">jdbc:x</entry>',
    "private_key_path=/etc/ssl/private/server.key", "npm config set //r.example/:_authToken ${NPM_TOKEN}",
    "npm config get :_authToken", "key_base: 16",
    # an environment variable's "_KEY" that holds a setting, and a constant in code
    "SORT_KEY=created_at", "CACHE_KEY=user_profile_12345", "PARTITION_KEY=tenant42",
    'CONTEXT_KEY = "RemoveImportsVisitor"', "FOREIGN_KEY=1234567890123456789012",
    "IDEMPOTENCY_KEY=order-2024-01-15-0001", "primary_key=a1b2c3d4e5f6a7b8c9d0e1",
]  # fmt: skip


def test_openweathermaps_appid_in_a_query_is_a_credential() -> None:
    value = "ff71f69684f49530eb09b9e9e410b5954602ab18"
    text = f"GET https://api.openweathermap.org/data/2.5/weather?q=Paris&appid={value}"
    assert [text[m.start : m.end] for m in BuiltinDetector().find(text)] == [value]
    for other in ("appid=com.example.app", "?appid=12345", "the appid is set"):
        assert BuiltinDetector().find(other) == []


@pytest.mark.parametrize(
    "template",
    ["MAILGUN_KEY={}", "export MAPS_KEY={}", 'SENDGRID_KEY="{}"', "DD_KEY: {}",
     "  ALGOLIA_ADMIN_KEY={}  # rotated"],
)  # fmt: skip
def test_a_generated_value_under_an_environment_variables_key_is_redacted(template: str) -> None:
    value = "Xk29fLq83mZp01RtY7vBn4Qw"
    text = template.format(value)
    assert [text[m.start : m.end] for m in BuiltinDetector().find(text)] == [value]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_code_placeholders_and_other_keys_are_left_alone(text: str) -> None:
    assert BuiltinDetector().find(text) == []


def _generated_key(rng: random.Random) -> str:
    alphabet = rng.choice(
        (
            string.hexdigits.lower()[:16],
            string.ascii_letters + string.digits,
            string.digits + "abcdef-",
        )
    )
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(20, 64)))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value.strip("-")


def test_generated_keys_under_generated_names_in_generated_surroundings_are_all_found() -> None:
    rng = random.Random(1207)
    names = ("api_key", "API_KEY", "apiKey", "X-Api-Key", "client_secret", "SECRET_KEY",
             "access_token", "auth_token", "STRIPE_SECRET", "OPENWEATHER_API_KEY", "token")  # fmt: skip
    shapes = ("{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'", "?{k}={v}&page=2", "--{k} {v}")
    for _ in range(400):
        name, shape, value = rng.choice(names), rng.choice(shapes), _generated_key(rng)
        if shape.startswith("--"):
            name = name.lower().replace("_", "-")
        line = f"step 3: {shape.format(k=name, v=value)} (retrying)"
        output, counts = redact(line)
        assert value not in output, line
        assert counts == {"API_KEY": 1}, line


def test_a_json_document_quoting_a_keyed_secret_in_a_string_stays_valid() -> None:
    document = {"error": f'upstream said: {{"api_key": "{HEX_KEY}"}} is invalid', "status": 401}
    output, counts = redact(json.dumps(document))
    assert HEX_KEY not in output
    assert counts == {"API_KEY": 1}
    assert json.loads(output)["status"] == 401
