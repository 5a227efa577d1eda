"""Secret patterns for the built-in detector: API keys, tokens, private keys, passwords.

Each pattern is one branch of the detector's scan (see ``_shapes.Alternative``), written to fail
fast: it is anchored on a rare character ("J" of ``eyJ``, "x" of ``xoxb-``, "g" of ``ghp_``) or
found at a keyword (``sk-``, ``Bearer``, ``password``), and carries a left-boundary lookbehind so a
scan never restarts inside a token it has already walked past (that keeps the whole pass linear
even on megabytes of base64). Shapes follow the published token formats
and gitleaks' rules; where a vendor's format is versioned or undocumented (key lengths, suffixes) the
pattern is deliberately looser than gitleaks: a redactor that misses a key leaks it, while one that
redacts an odd ``sk-...`` string costs nothing.

Kinds are separate so modes can differ per kind and the audit names what was found.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Final

from otel_flywheel.privacy._shapes import ACCESS_LOG_TIMES, Alternative, Span, Start, Validator

__all__ = [
    "KIND_ANTHROPIC_KEY",
    "KIND_API_KEY",
    "KIND_AWS_KEY_ID",
    "KIND_BEARER_TOKEN",
    "KIND_GITHUB_TOKEN",
    "KIND_GITLAB_TOKEN",
    "KIND_JWT",
    "KIND_OPENAI_KEY",
    "KIND_PASSWORD",
    "KIND_PRIVATE_KEY",
    "KIND_SLACK_TOKEN",
    "SECRET_ALTERNATIVES",
    "SECRET_KINDS",
    "is_credential_header_value",
    "is_placeholder",
    "is_reference",
    "is_working_directory",
    "key_shaped",
    "named_key_kind",
    "names_credential_header",
    "names_pass",
    "names_password",
    "names_secret",
    "reads_as_word",
    "shaped_like_password",
]

KIND_OPENAI_KEY: Final = "OPENAI_KEY"
KIND_ANTHROPIC_KEY: Final = "ANTHROPIC_KEY"
KIND_AWS_KEY_ID: Final = "AWS_ACCESS_KEY_ID"
KIND_GITHUB_TOKEN: Final = "GITHUB_TOKEN"
KIND_GITLAB_TOKEN: Final = "GITLAB_TOKEN"
KIND_SLACK_TOKEN: Final = "SLACK_TOKEN"
KIND_JWT: Final = "JWT"
KIND_BEARER_TOKEN: Final = "BEARER_TOKEN"
KIND_PRIVATE_KEY: Final = "PRIVATE_KEY"
KIND_PASSWORD: Final = "PASSWORD"
KIND_API_KEY: Final = "API_KEY"  # other vendors' prefixed keys, and a value under a secret's key

SECRET_KINDS: Final = frozenset(
    {
        KIND_OPENAI_KEY,
        KIND_ANTHROPIC_KEY,
        KIND_AWS_KEY_ID,
        KIND_GITHUB_TOKEN,
        KIND_GITLAB_TOKEN,
        KIND_SLACK_TOKEN,
        KIND_JWT,
        KIND_BEARER_TOKEN,
        KIND_PRIVATE_KEY,
        KIND_PASSWORD,
        KIND_API_KEY,
    }
)

# Vendors' published token prefixes (gitleaks' rules): GitLab's (glpat-, gldt-, ...), and other
# vendors' keys with the shape of what follows the prefix.
_GITLAB_PREFIXES: Final = (
    "pat", "dt", "rt", "ptt", "ft", "soat", "oas", "imt", "agent", "ffct", "cbt"
)  # fmt: skip
_VENDOR_KEYS: Final = (
    ("google", "AIza", r"[0-9A-Za-z_\-]{35}"),
    ("stripe_live", "sk_live_", r"[0-9A-Za-z]{24,}"),
    ("stripe_test", "sk_test_", r"[0-9A-Za-z]{24,}"),
    ("stripe_restricted_live", "rk_live_", r"[0-9A-Za-z]{24,}"),
    ("stripe_restricted_test", "rk_test_", r"[0-9A-Za-z]{24,}"),
    ("huggingface", "hf_", r"[A-Za-z0-9]{30,}"),
    ("groq", "gsk_", r"[A-Za-z0-9]{48,}"),
    ("xai", "xai-", r"[A-Za-z0-9]{60,}"),
    ("npm", "npm_", r"[A-Za-z0-9]{36,}"),
    ("pypi", "pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_\-]{50,}"),
    ("sendgrid", "SG.", r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"),
    ("digitalocean", "dop_v1_", r"[a-f0-9]{64}"),
    ("replicate", "r8_", r"[A-Za-z0-9]{37,}"),
    ("perplexity", "pplx-", r"[A-Za-z0-9]{48,}"),
    ("databricks", "dapi", r"[a-f0-9]{32}(?:-[0-9])?"),
    *((f"shopify_{kind}", f"shp{kind}_", r"[a-fA-F0-9]{32}") for kind in ("at", "ca", "pa", "ss")),
    ("linear", "lin_api_", r"[A-Za-z0-9]{40}"),
    ("notion", "ntn_", r"[0-9]{11}[A-Za-z0-9]{35}"),
    ("google_oauth", "ya29.", r"[0-9A-Za-z_\-]{30,}"),
    ("twilio", "SK", r"[0-9a-fA-F]{32}"),
    ("postman", "PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}"),
    ("grafana", "glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    ("new_relic", "NRAK-", r"[A-Z0-9]{27}"),
    ("sentry", "sntrys_", r"[A-Za-z0-9+/=_\-]{60,}"),
    ("supabase", "sbp_", r"[a-f0-9]{40}"),
    ("tailscale", "tskey-", r"[a-z]+-[A-Za-z0-9]{10,}-[A-Za-z0-9]{20,}"),
    ("pulumi", "pul-", r"[a-f0-9]{40}"),
    ("age", "AGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    ("atlassian", "ATATT3", r"[A-Za-z0-9_\-=]{186,}"),
    ("docker", "dckr_pat_", r"[A-Za-z0-9_\-]{27,}"),
    ("square_access", "sq0atp-", r"[A-Za-z0-9_\-]{22,}"),
    ("square_secret", "sq0csp-", r"[A-Za-z0-9_\-]{43,}"),
    ("airtable", "pat", r"[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
    ("netlify", "nfp_", r"[A-Za-z0-9]{36,}"),
    ("vault_service", "hvs.", r"[A-Za-z0-9_\-]{90,}"),
    ("vault_batch", "hvb.", r"[A-Za-z0-9_\-]{90,}"),
    *(
        (f"doppler_{kind}", f"dp.{kind}.", r"[A-Za-z0-9_\-.]{40,}")
        for kind in ("st", "ct", "sa", "pt", "scim", "audit")
    ),
    ("grafana_cloud", "glc_", r"[A-Za-z0-9+/]{32,}={0,2}"),
    ("planetscale_token", "pscale_tkn_", r"[A-Za-z0-9_\-]{43}"),
    ("planetscale_password", "pscale_pw_", r"[A-Za-z0-9_\-]{43}"),
    ("google_refresh", "1//0", r"[A-Za-z0-9_\-]{40,}"),
    ("artifactory", "AKCp", r"[A-Za-z0-9]{69}"),
    # The services an agent's own stack calls (vendors' documented formats): observability,
    # vector stores, search and scraping tools, sandboxes, model hosts.
    ("langsmith_personal", "lsv2_pt_", r"[A-Za-z0-9]{24,}_[A-Za-z0-9]{8,}"),
    ("langsmith_service", "lsv2_sk_", r"[A-Za-z0-9]{24,}_[A-Za-z0-9]{8,}"),
    ("pinecone", "pcsk_", r"[A-Za-z0-9_]{40,}"),
    ("llamacloud", "llx-", r"[A-Za-z0-9]{40,}"),
    ("jina", "jina_", r"[A-Za-z0-9_\-]{40,}"),
    ("nvidia", "nvapi-", r"[A-Za-z0-9_\-]{60,}"),
    ("tavily", "tvly-", r"(?:dev-|prod-)?[A-Za-z0-9]{24,}"),
    ("firecrawl", "fc-", r"[a-f0-9]{32}"),
    ("browserbase", "bb_live_", r"[A-Za-z0-9_\-]{20,}"),
    ("e2b", "e2b_", r"[a-f0-9]{40}"),
    ("cerebras", "csk-", r"[A-Za-z0-9]{40,}"),
    ("elevenlabs", "sk_", r"[a-f0-9]{48}"),
    ("stripe_webhook", "whsec_", r"[A-Za-z0-9+/]{24,}={0,2}"),
    ("sentry_user", "sntryu_", r"[a-f0-9]{64}"),
    ("heroku", "HRKU-AA", r"[A-Za-z0-9_\-]{58}"),
    ("flyio", "fo1_", r"[A-Za-z0-9_\-]{43}"),
    *(
        (f"flyio_{kind}", f"{kind}_", r"[A-Za-z0-9+/]{100,}={0,3}")
        for kind in ("fm1a", "fm1r", "fm2")
    ),
    ("cloudflare_origin_ca", "v1.0-", r"[a-f0-9]{24}-[a-f0-9]{146}"),
)
# Vendors whose prefix is short or a word's ("ak-", "pa-"): their keys are random base62, so a
# body written in one case only (a slug, "pa-some-article-title-...") is not one of them.
_MIXED_CASE_VENDOR_KEYS: Final = (
    ("modal_token_id", "ak-", r"[A-Za-z0-9]{22}"),
    ("modal_token_secret", "as-", r"[A-Za-z0-9]{22}"),
    ("fireworks", "fw_", r"[A-Za-z0-9]{20,}"),
    ("voyage", "pa-", r"[A-Za-z0-9_\-]{40,}"),
    ("notion_legacy", "secret_", r"[A-Za-z0-9]{43}"),
)
_MIXED_CASE: Final = r"(?=[A-Za-z0-9_\-]*[a-z])(?=[A-Za-z0-9_\-]*[A-Z])"
# Vendors whose prefix is a word's start ("key-value"): their keys hold a digit.
_DIGITED_VENDOR_KEYS: Final = (
    # Mailgun's private and public API keys: 32 lower-case letters and digits.
    ("mailgun_private", "key-", r"[a-z0-9]{32}"),
    ("mailgun_public", "pubkey-", r"[a-z0-9]{32}"),
)
_WITH_A_DIGIT: Final = r"(?=[a-z]*[0-9])"

# --- validators ------------------------------------------------------------------------------

# Values that are placeholders, templates or already-redacted tokens, not secrets: redacting them
# again would only add noise (and `<PASSWORD>` tokens must survive a second pass unchanged).
_PLACEHOLDER = re.compile(
    r"\*+|x+|X+|•+|\.{3}|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|\{[^{}]*\}|%s|%\([a-z_]+\)s"
    r"|(?i:true|false|null|none|nil|undefined|required|optional|changeme|redacted"
    r"|(?:your|my)?_?(?:password|passwd|pass|pwd|secret))"
)


# A key that names a password, as ``kv_password`` reads one in text ("password", "DB_PASSWORD",
# "PGPASSWORD", "db.password", "passwd", "passphrase", "pwd" at a word's start), here a whole
# JSON field name or attribute key: its value is the password, whatever it looks like.
_PASSWORD_KEY = re.compile(r"(?s:.*)(?:[Pp](?i:ass(?:word|wd|phrase))|(?<![A-Za-z])[Pp](?i:wd))")
_PASSWORD_SYMBOLS: Final = frozenset("!@#$%^&*+=?~")
_CAPITAL_INSIDE: Final = re.compile(r"[a-z][A-Z]")
# printf-style fields and punctuation only: "%s:%s", "%(user)s/%(pw)s", a template's value.
_FORMAT_ONLY = re.compile(
    r"(?:%[-#0 +]*[0-9]*(?:\.[0-9]+)?[sdifrxX]|%\([A-Za-z_]\w*\)s|[^A-Za-z0-9])+"
)
_PASS_KEY = re.compile(r"(?s:.*[A-Za-z0-9][_.\-])?(?i:pass)")


# A key that names an API key or another secret ("api_key", "apiKey", "X-Api-Key",
# "client_secret", "aws_secret_access_key", "access_token", "refresh_token", "secret"): its value
# is one, whatever it looks like. At the key's end, so "secret_name", "token_count" and
# "access_token_expires_in" are not.
def _word(word: str) -> str:
    """``word`` starting a key or a part of one: after a non-letter, in any case, or capitalized
    after a lower-case letter or a digit (camelCase: "clientSecret")."""
    return f"(?:(?<![A-Za-z])(?i:{word})|(?<=[a-z0-9]){word[0].upper()}(?i:{word[1:]}))"


_JOIN: Final = r"[_.\-]?"
# The words before "token" that make it a credential ("access_token", "hf_token"); a page's or a
# stream's token ("next_page_token", "eos_token") is not one.
_TOKEN_OWNERS: Final = (
    "access", "auth", "refresh", "session", "bearer", "api", "id", "oauth", "bot", "app", "csrf",
    "xsrf", "personal", "private", "github", "gh", "gitlab", "hf", "huggingface", "slack",
    "discord", "telegram", "npm", "pypi", "vault", "service", "security", "client", "user",
)  # fmt: skip
# The words before "key" that make it a secret one ("access_key", Azure's "AccountKey" and
# "Ocp-Apim-Subscription-Key"); "api" and "secret" are their own rules.
_KEY_OWNERS: Final = (
    "access", "account", "master", "subscription", "encryption", "signing", "private",
)  # fmt: skip
_SECRET_KEY = re.compile(
    r"(?s:.*?)(?:"
    + "|".join(
        (
            _word("api") + _JOIN + _word("key"),
            "(?<![A-Za-z])(?i:apikey)",
            # Rails' "secret_key_base" too
            _word("secret") + f"(?:{_JOIN}{_word('key')}(?:{_JOIN}{_word('base')})?)?",
            f"(?:{'|'.join(_word(w) for w in _KEY_OWNERS)})" + _JOIN + _word("key"),
            f"(?:{'|'.join(_word(w) for w in _TOKEN_OWNERS)})" + _JOIN + _word("token"),
        )
    )
    + ")"
)


def names_secret(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` holds an API key or another secret."""
    return _SECRET_KEY.fullmatch(key) is not None


# An HTTP header that carries credentials, as a key ("Authorization", "http.request.header.cookie",
# "set-cookie"): its value is one where it looks like one, since the same names hold statuses in
# business data ("authorization": "approved", a payment's; "cookie": "accepted", a consent's).
_HEADER_KEY = re.compile(r"(?s:.*?)(?:" + _word("authorization") + "|" + _word("cookie") + ")")


def names_credential_header(key: str) -> bool:
    """Whether a field or attribute named ``key`` is an Authorization or Cookie header."""
    return _HEADER_KEY.fullmatch(key) is not None


def is_credential_header_value(key: str, value: str) -> bool:
    """Credentials under a header's key: a cookie's generated value ("sessionid=8f3k..."), or
    an Authorization value whose last word looks generated ("Token 8f3k...", "Basic dXNl...")."""
    if key.lower().endswith("cookie"):
        return _cookie_header(value, 0, len(value), 0) is not None
    words = value.split()
    return bool(words) and not is_reference(value) and key_shaped(words[-1], 8)


def names_password(key: str) -> bool:
    """Whether a JSON field or attribute named ``key`` holds a password."""
    return _PASSWORD_KEY.fullmatch(key) is not None


def _names_a_password(key: str) -> bool:
    return names_password(key) or names_pass(key)


def names_pass(key: str) -> bool:
    """Whether a JSON field or attribute is named "pass", or ends in "_pass", ".pass" or "-pass"
    ("db_pass", "SMTP_PASS"): a password where the value is shaped like one
    (``shaped_like_password``), since "first_pass": "done" is not."""
    return _PASS_KEY.fullmatch(key) is not None


def shaped_like_password(value: str) -> bool:
    """Four characters or more with letters and digits, or a symbol passwords are made with
    ("S3cr3tPa55", "p@ss!"), that are not a placeholder or code. Where "pass" ends a name, code
    says "first_pass=True," and "fds_to_pass = [listener.fileno(), alive_r]": values without
    either, or that are calls and attributes."""
    value = value.strip()
    core = value.strip(",;()[]{}")
    if len(core) < 4 or is_reference(value) or is_reference(core) or _FORMAT_ONLY.fullmatch(core):
        return False
    if value[:1] in "([{":
        return False  # a literal or an expression in code: `pw = [1]*N`
    if any(c in _PASSWORD_SYMBOLS for c in core):
        return True
    return any(c.isdigit() for c in core) and any(c.isalpha() for c in core)


def _password_in_prose(value: str) -> bool:
    """Letters with digits, a password symbol or a capital after a small letter, and no brackets,
    pipes or slashes: a generated or chosen password ("tgsIGv8Ls9", "p@ss!word", "JfshgPzxtx"),
    not a word, a path or code."""
    return (
        any(c.isalpha() for c in value)
        and (
            any(c.isdigit() or c in _PASSWORD_SYMBOLS for c in value)
            or _CAPITAL_INSIDE.search(value) is not None
        )
        and not any(c in "()[]{}<>|/" for c in value)
    )


def reads_as_word(value: str) -> bool:
    """Whether ``value`` reads as a word of prose ("done", "The", "e-mail"), not as a password
    ("S3cr3t", "p@ss!", "tgsIGvLs"): letters and hyphens only, no capital after a small letter."""
    return _NOT_A_WORD.search(value) is None


def is_placeholder(value: str) -> bool:
    """``***``, ``<redacted>``, ``${DB_PASSWORD}``, ``changeme``: not a password."""
    return _PLACEHOLDER.fullmatch(value) is not None


def _not_placeholder(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    return None if _PLACEHOLDER.fullmatch(text, start, end) else (start, end)


def _url_password(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """A URL's password, not a port and a fragment ("//host:8080#/users@1") or a port and
    properties (SQL Server's "jdbc:sqlserver://db:1433;user=sa;password=p@ss;": its own
    password is a property, found by its key), nor a placeholder."""
    port, hash_sign, _ = text[start:end].partition("#")
    if hash_sign and port.isdigit():
        return None
    if _PORT_THEN_PROPERTIES.match(text, start, end):
        return None
    return _not_placeholder(text, start, end, floor)


_PORT_THEN_PROPERTIES: Final = re.compile(r"[0-9]{1,5};")


# A field is "*" (any) or a name: "*" is no part of one (".*" is a pattern's, as in an ARN's).
_PGPASS_HOST: Final = re.compile(r"\*|[A-Za-z0-9_.\-]{1,253}")
_PGPASS_HOST_EDGES: Final = " \t\n\"'`"  # a line's or a word's start, a quote (a message's repr)


def _pgpass_password(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """A ~/.pgpass line's password: a host starts the line (or a word or a quoted string, as
    when a message quotes the line), before the port, the database and the user; not a
    placeholder."""
    host_end = start - 1  # the ":" before the password
    for _ in range(3):  # back past the user's, the database's and the port's
        host_end = text.rfind(":", 0, host_end)
    host = max(text.rfind(edge, 0, host_end) for edge in _PGPASS_HOST_EDGES) + 1
    if host_end < 0 or not _PGPASS_HOST.fullmatch(text, host, host_end):
        return None
    return _not_placeholder(text, start, end, floor)


# What stands before a DSN written without a scheme: a space, a quote, "=" of its variable.
_DSN_STOPS: Final = frozenset(" \t\r\n\"'`=<>(,;")
_LONGEST_USERINFO: Final = 256


def _go_dsn_password(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """The password of a Go MySQL DSN found at its "@tcp(": from the first ":" of the DSN (a
    user name has none) to the "@"; not a placeholder."""
    begin = start
    while begin > max(floor, start - _LONGEST_USERINFO) and text[begin - 1] not in _DSN_STOPS:
        begin -= 1
    colon = text.find(":", begin, start)
    if colon < 0 or colon + 1 >= start:
        return None
    return _not_placeholder(text, colon + 1, start, floor)


def _looks_like_token(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """Bearer values: a token has a digit, token punctuation or mixed case; prose ("bearer tokens",
    "Bearer authentication") and identifiers ("Bearer access_token") have none of these."""
    while end > start and text[end - 1] == ".":
        end -= 1  # the sentence's full stop, not the token's
    value = text[start:end]
    if len(value) < 8 or _PLACEHOLDER.fullmatch(value):
        return None
    if any(c.isdigit() or c in ".~+/=-" for c in value):
        return start, end
    if sum(c.isupper() for c in value) >= 2 and any(c.islower() for c in value):
        return start, end
    return None


# What follows "password:" in code and docs rather than in configs: type annotations
# (`password: str`, `password: Optional[str]`).
_TYPE_NAMES = frozenset(
    ("str", "bytes", "int", "bool", "float", "object", "None", "Any", "Optional", "Union",
     "SecretStr", "SecretBytes", "string", "String", "number", "boolean", "text", "varchar", "char")
)  # fmt: skip
# Code, not a secret: a call or subscript (`str(password)`, `kwargs["pwd"]`), closed, or cut at a
# space or a quote after a name of letters, or in lower case with an underscore (`os.getenv(`,
# `Annotated[`, `pkcs_9(`; a password's "Tb(dRNs39", "NGos6GZg(a" or "Vgq_T9Xi(8R" is neither), an attribute of a usual receiver (`self.password`, `args.pwd`) or one
# named for a credential (`settings.DB_PASSWORD`), an environment reference (`$DB_PASSWORD`,
# `%PGPASS%`), or a digit-free variable named for what it holds (`db_password`). Digits keep
# "Passw0rd" and "Password1", weak passwords that are common, on the redacted side.
_CODE_VALUE = re.compile(
    r"[A-Za-z_][\w.]*(?:\(.*\)|\[.*\])[\w.()\[\]]*"
    r"|(?:[A-Za-z_][A-Za-z_.]{2,}|[a-z_][a-z0-9_.]*_[a-z0-9_.]*)[(\[].*"
    r"|(?:self|cls|this|args|opts|options|config|cfg|conf|settings|params|kwargs|env|request)"
    r"(?:\.\w+)+"
    r"|[A-Za-z_]\w*(?:\.\w+)*\.(?i:\w*(?:pass|pwd|secret)\w*)"
    r"|\$[A-Za-z_]\w*|%[A-Za-z_]\w*%"
    r"|(?i:[a-z_]*(?:pass|pwd|secret)[a-z_]*)"
)


# A lowercase name without digits after " = " is a variable (`password = auth`); "hunter2" is not.
_VARIABLE = re.compile(r"[a-z_]+")
# A word of prose: letters, perhaps hyphenated ("The", "required", "e-mail", "SHA-hashed"); no
# digit, no other symbol and no capital after a small letter, as passwords have ("tgsIGv8Ls9").
_NOT_A_WORD = re.compile(r"[^\w\-]|[0-9_]|[a-z][A-Z]")


# The shell's PWD (and a config's "pwd: ~/src") is the working directory: a path, not a password.
# Only the bare key: "db_pwd=/x" stays a password.
_PWD_KEY_BEFORE = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?i:pwd)[\"']?[ \t]*(?:=>|:=|[=:])[ \t]*[\"']?\Z"
)
_PATH = re.compile(r"/|~/|~\Z|[A-Za-z]:[\\/]")


def is_working_directory(key: str, value: str) -> bool:
    """A "pwd" key (not "passwd", not "db_pwd") whose value is a path: the shell's PWD."""
    return key.lower() == "pwd" and _PATH.match(value) is not None


# A key in a URL's query ("?password=", "&pwd="), where "&" starts the next parameter.
_QUERY_KEY: Final = re.compile(r"[?&][\w.\-]+=\Z")
_NEXT_PARAMETER: Final = re.compile(r"&[\w.\-]+=")
_BARE_VALUE_END: Final = re.compile(r"[\s;,\"'<>]")


def _config_password(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """key=value passwords, minus what the same shape means in code and prose."""
    if _PATH.match(text[start:end]) and _PWD_KEY_BEFORE.search(text[max(0, start - 12) : start]):
        return None  # PWD=/home/alice/project: the working directory
    if start > 0 and text[start - 1] in "\"'":
        return None if _PLACEHOLDER.fullmatch(text, start, end) else (start, end)
    if (
        text.startswith("&", end)
        and not _QUERY_KEY.search(text, max(0, start - 64), start)
        and not _NEXT_PARAMETER.match(text, end)
    ):
        # "&" ends a query's value ("?password=...&next=", "pwd=...&user=app"), not a config's:
        # `DB_PASSWORD=Xk9&mQ2Lp7` runs on.
        stop = _BARE_VALUE_END.search(text, end)
        end = stop.start() if stop is not None else len(text)
    value = text[start:end]
    core = value.strip("()[]{},")  # `copy_with(password=None)`, `password: (bool, optional)`
    if len(core) < 4 or any(
        _PLACEHOLDER.fullmatch(v) or _CODE_VALUE.fullmatch(v) for v in (value, core)
    ):
        return None  # nobody's password is "pw"; `password=un, pw` is code
    separator = text[:start].rstrip(" \t")
    if separator.endswith(":"):
        # YAML/log style: a value is the rest of the line or of the field. "password: The password
        # for ..." continues as prose, and `password: str` is an annotation. A value of letters
        # with digits or symbols ("password: tgsIGv8Ls9 for the db") is a password, whatever
        # follows it; a path ("NOPASSWD: /bin/systemctl restart") or code is not.
        if core in _TYPE_NAMES:
            return None
        rest = text[end : end + 2]
        if rest[:1] == " " and rest[1:2].isalnum() and not _password_in_prose(value):
            return None
    elif text[start - 1] == " " and _VARIABLE.fullmatch(core):
        return None  # `password = auth`, `user_password = index_info`: an assignment in code
    return start, end


# --- values named by their key in text ------------------------------------------------------------

# The key before a value that ``kv_secret`` proposes: an identifier ("api_key",
# "OPENWEATHER_API_KEY", "X-API-Key", "--api-key", "client_secret"), or "API key" in prose, then
# the separator ("=", ":", "=>", ":=", a CLI flag's space) and an opening quote.
_KEY_BEFORE = re.compile(
    r"(?:(?P<qualifier>(?i:api|secret|access))[ ])?(?P<key>[A-Za-z0-9_.\-]{1,64})[\"']?"
    r"(?P<separator>[ \t]*(?:=>|:=|[=:])[ \t]*|[ \t]+)[\"']?\Z"
)
# A bare "token" is a credential unless a word before it says whose token it is ("page_token");
# "key" and "sig" only as a URL's query parameters (``_QUERY_SECRETS``).
_BARE_TOKEN = re.compile(r"(?s:.*?)(?:(?<![A-Za-z])(?i:token)|(?<=[a-z0-9])Token)")
_NOT_A_CREDENTIAL_TOKEN = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])(?i:page|next|continuation|pagination|sync|cursor|resume|start|end"
    r"|stop|eos|bos|pad|unk|sep|cls|mask|special|max|min|total|num|prompt|completion|input|output"
    r"|first|last|cancellation|idempotency|request|trace|span)|(?<=[a-z0-9])(?:Page|Next|Sync"
    r"|Cursor|Resume|Cancellation|Continuation|Pagination|Idempotency|Request))"
    r"[_.\-]?(?:(?<![A-Za-z])(?i:token)|(?<=[a-z0-9])Token)"
)
# The vendors' kinds by their prefixes, to name what a key found by its key is
# (``OPENAI_API_KEY=sk-...`` is an OpenAI key); the vendors' branches check more.
_VENDOR_KINDS: Final = (
    ("sk-ant-", KIND_ANTHROPIC_KEY),
    ("sk-", KIND_OPENAI_KEY),
    *((prefix, KIND_AWS_KEY_ID) for prefix in ("AKIA", "ASIA")),
    *((prefix, KIND_GITHUB_TOKEN) for prefix in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    ("github_pat_", KIND_GITHUB_TOKEN),
    *((f"gl{prefix}-", KIND_GITLAB_TOKEN) for prefix in _GITLAB_PREFIXES),
    *((prefix, KIND_SLACK_TOKEN) for prefix in ("xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "xoxe", "xapp-")),
)  # fmt: skip
_JWT_SHAPE: Final = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


def named_key_kind(value: str) -> str:
    """A key named by its key is an API key, unless its prefix or shape says whose it is."""
    for prefix, kind in _VENDOR_KINDS:
        if value.startswith(prefix):
            return kind
    return KIND_JWT if _JWT_SHAPE.fullmatch(value) else KIND_API_KEY


def _with_head(width: int) -> Validator:
    """A token found at a part in its middle (".atlasv1.", "-us12"): the ``width`` characters
    before it, which the pattern's look-behind checked, go with it."""

    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        return max(floor, start - width), end

    return validate


def _with_bot_id(text: str, start: int, end: int, floor: int) -> Span | None:
    """A Telegram bot token found at its ":": the bot's id before it goes with it."""
    first = start
    while first > floor and text[first - 1] in _ASCII_DIGITS:
        first -= 1
    return first, end


_ASCII_DIGITS: Final = frozenset("0123456789")


def _bearer_kind(value: str) -> str:
    """A bearer token that is a JWT is reported as one: the more specific finding."""
    return KIND_JWT if _JWT_SHAPE.fullmatch(value) else KIND_BEARER_TOKEN


# What a value under a key-naming word is in documentation and templates rather than a key.
_KEY_PLACEHOLDER = re.compile(
    r"(?i:(?:your|my|insert|enter|replace|example|dummy|fake|sample)[_\- ].*"
    r"|.*[_\-](?:here|example|placeholder)|replace_?me|todo|tbd)"
)
# A reference to a value in code: dotted names without digits (`process.env.API_KEY`,
# `settings.OPENAI_API_KEY`); `_CODE_VALUE` has calls, subscripts and environment references.
_DOTTED_NAME = re.compile(r"[A-Za-z_]+(?:\.[A-Za-z_]+)+")


def key_shaped(value: str, shortest: int) -> bool:
    """Whether ``value`` has the look of a generated key or token: long enough, and with letters
    and digits, or with both cases throughout (base64). Identifiers (`api_key`, `OPENAI_API_KEY`),
    words and plain numbers (ids, counts) have neither."""
    if len(value) < shortest or value.isdigit():
        return False
    has_digit = any(c.isdigit() for c in value)
    has_letter = any(c.isalpha() for c in value)
    if has_digit and has_letter:
        return True
    return (
        len(value) >= 16
        and sum(c.isupper() for c in value) >= 2
        and sum(c.islower() for c in value) >= 2
    )


def is_reference(value: str) -> bool:
    """A placeholder or code, not a value: `${API_KEY}`, `YOUR_API_KEY`, `os.environ["KEY"]`."""
    return bool(
        _PLACEHOLDER.fullmatch(value)
        or _KEY_PLACEHOLDER.fullmatch(value)
        or _CODE_VALUE.fullmatch(value)
        or _DOTTED_NAME.fullmatch(value)
    )


def _names_a_token(name: str) -> bool:
    """A bare "token" (or one ending a name), not a page's, a stream's or a count's."""
    return bool(_BARE_TOKEN.fullmatch(name)) and not _NOT_A_CREDENTIAL_TOKEN.fullmatch(name)


# Query parameters that hold a credential by themselves: a maps API's "key", OpenWeatherMap's
# "appid", and the "sig" of an Azure shared access signature, which grants what the URL names to
# whoever holds it.
_QUERY_SECRETS: Final = frozenset(("key", "sig", "appid"))


def _is_query_key(name: str, text: str, at: int) -> bool:
    """A URL's query parameter that holds a credential ("?key=", "&sig=")."""
    return name.lower() in _QUERY_SECRETS and at > 0 and text[at - 1] in "?&;"


# An environment variable's name ending in "_KEY" ("MAILGUN_KEY", "MAPS_KEY"): a secret where
# its value is letters and digits run together, both, as generated keys are; not a setting
# ("SORT_KEY=created_at", "CACHE_KEY=user_profile_1") nor a constant in code ("CONTEXT_KEY =
# "RemoveImportsVisitor"", a class's name).
_ENVIRONMENT_KEY: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_KEY")
_GENERATED: Final = re.compile(r"(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]+")
_PRIVATE_KEY_NAME: Final = re.compile(r"(?i:private)[_.\-]?(?i:key)\Z|(?<=[a-z0-9])PrivateKey\Z")
_RAW_KEY: Final = re.compile(
    r"(?:0x)?[0-9a-fA-F]{32,}|(?=[A-Za-z0-9+/_\-]*[0-9])(?=[A-Za-z0-9+/_\-]*[a-z])"
    r"(?=[A-Za-z0-9+/_\-]*[A-Z])[A-Za-z0-9+/_\-]{32,}={0,2}"
)


def _keyed_secret(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """A value after a key that names an API key, a secret or a credential token, in text:
    `api_key=...`, `"client_secret": "..."`, `X-API-Key: ...`, `?key=...`, `--api-key ...`.

    The key is read back from the value (``_KEY_BEFORE``) and judged by ``names_secret``, the
    rule for JSON fields and attributes, or as a bare "token" or a URL's "key", which ask more of
    the value. The value must look generated (``key_shaped``), not like code or a placeholder,
    and its prefix names its kind (``named_key_kind``)."""
    while end > start and text[end - 1] in ".)]}>":
        end -= 1  # a sentence's full stop, a closing bracket around the pair
    value = text[start:end]
    if is_reference(value):
        return None
    before = _KEY_BEFORE.search(text, max(0, start - 80), start)
    if before is None:
        return None
    key, separator = before["key"], before["separator"]
    if not separator.strip(" \t") and not key.startswith("-"):
        return None  # a space separates a value from its key only after a CLI flag
    name = f"{before['qualifier']}_{key}" if before["qualifier"] else key
    if _PRIVATE_KEY_NAME.search(name) is not None:
        # "private_key: Ed25519PrivateKey" is a type in code: in text, a private key's value is
        # the key itself, hex ("0x4c08...") or base64 with digits in it.
        return (start, end) if _RAW_KEY.fullmatch(value) is not None else None
    if names_secret(name):
        shortest = 8
    elif _names_a_token(name) or _is_query_key(name, text, before.start()):
        shortest = 16  # a looser name asks more of the value
    elif _ENVIRONMENT_KEY.fullmatch(name) and _GENERATED.fullmatch(value):
        shortest = 20  # "MAILGUN_KEY=...": a variable's key, where "cache_key" is not one
    else:
        return None
    return (start, end) if key_shaped(value, shortest) else None


def _not_a_reference(text: str, start: int, end: int, floor: int) -> Span | None:
    return None if is_reference(text[start:end]) else (start, end)


_XML_SETTING_KEY: Final = re.compile(r'key="([^"]*)"')


def _xml_setting(names: Callable[[str], bool]) -> Validator:
    """A setting's value whose key ``names`` accepts, not a placeholder or a reference
    (``${DB_PASSWORD}``)."""

    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        opening = text.rfind("<", 0, start)
        key = _XML_SETTING_KEY.search(text, opening, start) if opening >= 0 else None
        value = text[start:end]
        if key is None or is_reference(value):
            return None
        return (start, end) if names(key.group(1)) else None

    return validate


def _authorization(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """An `Authorization` header's credentials after a scheme other than Bearer and Basic
    ("Token", "ApiKey", "SSWS") or none; those two have their own branches."""
    while end > start and text[end - 1] == ".":
        end -= 1
    value = text[start:end]
    if is_reference(value):
        return None
    return (start, end) if key_shaped(value, 8) else None


def _cookie_header(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """A Cookie header's values that look generated ("sessionid=8f3kq..."), from the first to
    the last (the pairs between them go too), or a Set-Cookie's value (its attributes follow);
    "Cookie: theme=dark; lang=en" holds no credential."""
    header = text[max(0, start - 160) : start].lower()
    set_cookie = header[: header.rfind("cookie")].endswith("set-")
    found: list[tuple[int, int]] = []
    at = start  # where the current pair's value starts
    for pair in text[start:end].split(";"):
        value_at = at if at == start else at + len(pair) - len(pair.partition("=")[2])
        value = text[value_at : at + len(pair)]
        stripped = value.strip(' \t"')
        if key_shaped(stripped, 16):
            left = value_at + len(value) - len(value.lstrip(' \t"'))
            found.append((left, left + len(stripped)))
        if set_cookie:
            break
        at += len(pair) + 1
    if not found:
        return None
    return found[0][0], found[-1][1]


def _basic_credentials(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """``Basic`` values must decode to ``user:password``, or the word was just prose."""
    try:
        decoded = base64.b64decode(text[start:end] + "==", validate=False)
    except (binascii.Error, ValueError):
        return None
    return (start, end) if b":" in decoded else None


def _slack_token(text: str, start: int, end: int, floor: int) -> tuple[int, int] | None:
    """Real Slack tokens are long and carry numeric team/user ids; ``xoxo-indieweb-1`` does not."""
    if end - start < 20 or not any(c.isdigit() for c in text[start:end]):
        return None
    return start, end


# --- patterns ------------------------------------------------------------------------------------

# "Not right after a character that continues a token", written to follow a pattern's first
# character (see Alternative): the lookbehind spans that character too.
_B = r"(?<![A-Za-z0-9_\-].)"
_B64URL = r"[A-Za-z0-9_\-]"

SECRET_ALTERNATIVES: Final[tuple[Alternative, ...]] = (
    # The whole PEM block, multi-line. The body may not contain "-----", so the search for the END
    # line stops at the next dashes (another BEGIN, a truncation) instead of running on: linear
    # even on text full of BEGIN lines. The second branch catches a block cut off before its END
    # line (span attributes are length-limited, so truncated keys are common); it takes the base64
    # body and the RFC 1421 headers (Proc-Type, DEK-Info), escaped newlines included.
    Alternative(
        "pem",
        KIND_PRIVATE_KEY,
        "[-]",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?:[^-]|-(?!----)){0,32768}?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"|[A-Za-z0-9+/=\s:,\\\-]*)",
        keywords=("-----BEGIN",),
    ),
    # PuTTY's private key files (.ppk, versions 2 and 3): the private part is the base64 lines
    # after "Private-Lines: N" and the MAC after them (the public lines, the comment and the
    # key's type stay readable); escaped newlines included, as in a JSON-quoted file.
    Alternative(
        "putty_private_key",
        KIND_PRIVATE_KEY,
        "[P]",
        r"Private-Lines:[ \t]*[0-9]{1,3}(?:(?:\r?\n|\\r?\\n)[A-Za-z0-9+/=]{1,128}(?![\w\-:])){1,128}"
        r"(?:(?:\r?\n|\\r?\\n)Private-(?:MAC|Hash):[ \t]*[0-9a-fA-F]{40,128})?",
        keywords=("Private-Lines:",),
        after_keyword=r"[ \t]*[0-9]",
    ),
    # Anthropic before OpenAI: both start with `sk-`. gitleaks pins api03/admin01 at 93 chars +
    # "AA"; the version digits and length are not a published contract, so any sk-ant-<word><nn>-.
    Alternative(
        "anthropic",
        KIND_ANTHROPIC_KEY,
        "[s]",
        r"s" + _B + r"k-ant-[a-z]{2,10}[0-9]{2}-" + _B64URL + r"{20,}",
        keywords=("sk-",),
    ),
    # OpenAI: legacy `sk-` + 48 alphanumerics, and the current `sk-proj-`, `sk-svcacct-`,
    # `sk-admin-` (and the short-lived `sk-None-`) keys with `_`/`-` in the body. Other
    # OpenAI-compatible providers (DeepSeek, OpenRouter `sk-or-v1-`...) reuse the `sk-` prefix with
    # 32+ characters; they are keys all the same, so the floor is 32, not 48.
    Alternative(
        "openai",
        KIND_OPENAI_KEY,
        "[s]",
        r"s" + _B + r"k-[A-Za-z0-9]" + _B64URL + r"{31,}",
        keywords=("sk-",),
    ),
    # Other vendors' keys, by their published prefixes (gitleaks' rules): Google API keys and
    # OAuth access tokens, Stripe secret and restricted keys, Hugging Face, Groq, xAI, npm, PyPI,
    # SendGrid, DigitalOcean, Replicate, Perplexity, Databricks, Shopify, Linear, Notion, Twilio,
    # Postman, Grafana, New Relic, Sentry, Supabase, Tailscale, Pulumi, age, Atlassian, Docker
    # Hub, Square, Airtable, Netlify, Vault, Doppler, PlanetScale, Artifactory tokens, Google
    # OAuth refresh tokens, and the agent stack's: LangSmith, Pinecone, LlamaCloud, Jina, NVIDIA,
    # Tavily, Firecrawl, Browserbase, E2B, Cerebras, ElevenLabs, Modal, Fireworks, Voyage, Stripe
    # and Svix webhook secrets, Sentry user tokens, Heroku, Fly.io, Cloudflare Origin CA keys.
    # Each is found at its prefix; lengths are floors where the vendor may grow.
    *(
        Alternative(
            f"{name}_key",
            KIND_API_KEY,
            re.escape(prefix[0]),
            re.escape(prefix[0])
            + _B
            + re.escape(prefix[1:])
            + shape
            + body
            + r"(?![A-Za-z0-9_\-])",
            keywords=(prefix,),
            # The prefilter stops only where the body follows: "SK" alone is in every "TASK".
            after_keyword=body,
        )
        for keys, shape in (
            (_VENDOR_KEYS, ""),
            (_MIXED_CASE_VENDOR_KEYS, _MIXED_CASE),
            (_DIGITED_VENDOR_KEYS, _WITH_A_DIGIT),
        )
        for name, prefix, body in keys
    ),
    # Telegram bot tokens: the bot's id (8 to 10 digits), ":", then "AA" and 33 more, alone or
    # in the Bot API's URLs (".../bot123456789:AA.../sendMessage"). Found at ":AA", the id taken
    # back with it (``_with_bot_id``).
    Alternative(
        "telegram_bot",
        KIND_API_KEY,
        "[:]",
        r"(?:"
        + "|".join(rf"(?<=(?:(?<![A-Za-z0-9_\-:])|(?<=/bot))[0-9]{{{n}}})" for n in (8, 9, 10))
        + r"):AA[A-Za-z0-9_\-]{33}(?![A-Za-z0-9_\-])",
        validate=_with_bot_id,
        keywords=(":AA",),
        after_keyword=r"[A-Za-z0-9_\-]{33}",
    ),
    # Facebook's Graph API access tokens: "EAA" and 100 or more letters and digits. Not inside
    # base64 (a "+" or "/" on either side), whose long runs of letters hold "EAA" too.
    Alternative(
        "facebook_key",
        KIND_API_KEY,
        "[E]",
        r"(?<![A-Za-z0-9_\-+/])EAA[A-Za-z0-9]{100,}(?![A-Za-z0-9_\-+/=])",
        keywords=("EAA",),
        after_keyword="[A-Za-z0-9]{100}",
    ),
    # HashiCorp Terraform Cloud's API tokens: 14 characters, ".atlasv1.", 60 to 70 more; and
    # Mailchimp's API keys: 32 hex digits, then the data center ("-us12"). Found at the part in
    # their middle, the head taken back with it (``_with_head``).
    Alternative(
        "terraform",
        KIND_API_KEY,
        "[.]",
        r"(?<=(?<![A-Za-z0-9_\-.])[A-Za-z0-9]{14})\.atlasv1\.[A-Za-z0-9_\-=]{60,70}"
        r"(?![A-Za-z0-9_\-=])",
        validate=_with_head(14),
        keywords=(".atlasv1.",),
        after_keyword=r"[A-Za-z0-9_\-=]{60}",
    ),
    Alternative(
        "mailchimp",
        KIND_API_KEY,
        "[-]",
        r"(?<=(?<![A-Za-z0-9_\-])[a-f0-9]{32})-us[0-9]{1,2}(?![A-Za-z0-9_\-])",
        validate=_with_head(32),
        keywords=("-us",),
        after_keyword="[0-9]",
    ),
    # AWS unique-id prefixes: AKIA (long-term access key), ASIA (STS temporary key) and the
    # user/group/role/policy ids; 16 more base32-ish characters, nothing alphanumeric after.
    Alternative(
        "aws",
        KIND_AWS_KEY_ID,
        "[A]",
        r"(?<![A-Za-z0-9].)(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|NPA|NVA|IPA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        starts=(Start("A[A-Z]{3}[A-Z0-9]{16}"),),
    ),
    # GitHub: ghp_ (classic PAT), gho_ (OAuth), ghu_/ghs_ (app user/server), ghr_ (refresh): 36
    # characters today; GitHub reserves the right to grow them, hence no upper bound. Fine-grained
    # PATs are github_pat_ + 22 + "_" + 59.
    Alternative(
        "github",
        KIND_GITHUB_TOKEN,
        "[g]",
        _B + r"(?:h[pousr]_[A-Za-z0-9]{36,}|ithub_pat_[A-Za-z0-9_]{40,})",
        starts=(Start("gh[pousr]_"), Start("github_pat_")),
    ),
    # GitLab's documented prefixes (PAT, deploy, runner, trigger, feed, SCIM, OAuth secret, agent,
    # feature-flag, CI job); routable tokens end in `.<2><7>`, kept as an optional tail so a
    # sentence's full stop is not swallowed.
    Alternative(
        "gitlab",
        KIND_GITLAB_TOKEN,
        "[g]",
        _B + r"l(?:" + "|".join(_GITLAB_PREFIXES) + ")-"
        r"[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9]{2,})?",
        # The prefixes themselves: "gl" and two letters stop at "glass", "global", "flaglist".
        starts=tuple(Start(f"gl{prefix}-") for prefix in _GITLAB_PREFIXES),
    ),
    # Slack: xoxb/xoxp/xoxa/xoxr/xoxs/xoxo/xoxe tokens, configuration tokens (xoxe.xoxp-), app-level
    # tokens (xapp-); the validator wants length and a digit (team ids) to skip "xoxo-" words.
    Alternative(
        "slack",
        KIND_SLACK_TOKEN,
        "[x]",
        _B + r"(?:ox[abposre](?:\.xox[bp])?|app)-[A-Za-z0-9\-]{8,}[A-Za-z0-9]",
        validate=_slack_token,
        starts=(Start("xox[abposre]"), Start("xapp-")),
    ),
    # JWT (JWS compact): base64url JSON header (`{"` encodes to `eyJ`), payload, signature (empty
    # for alg=none). An optional JWE tail takes the two extra segments of an encrypted token.
    # Anchored at the "J": a lower-case "e" would enter the scan at one character in ten.
    Alternative(
        "jwt",
        KIND_JWT,
        "[J]",
        r"(?<=(?<![A-Za-z0-9_\-])eyJ)" + _B64URL + r"{5,}\." + _B64URL + r"{5,}\." + _B64URL + r"*"
        r"(?:\." + _B64URL + r"+\." + _B64URL + r"+)?",
        lead=2,
        starts=(Start("eyJ[A-Za-z0-9_\\-]{5}", 2),),
    ),
    # A value under a key that names an API key, a secret or a credential token, in text:
    # `api_key=...`, `"client_secret": "..."`, `X-API-Key: ...`, `?key=...`, `AccountKey=...;`,
    # and as a command line's flag: `--api-key 4f9a...`, `--token ...`. Found at the key's last
    # word; the validator reads the whole key back (``_keyed_secret``).
    Alternative(
        "kv_secret",
        KIND_API_KEY,
        "[KkSsTt]",
        r"(?i:key_base|key|secret|token|sig|appid)(?:[\"']?[ \t]*(?:=>|:=|[=:](?!=))[ \t]*"
        r"(?:\"(?P<kv_secret_q>[^\"\s]{1,512})\"|'(?P<kv_secret_s>[^'\s]{1,512})'"
        r"|(?P<kv_secret_v>[^\s;,&\"'<>|]{1,512}))"
        r"|[ \t]+[\"']?(?P<kv_secret_flag>[^\s;&\"'<>|]{8,512}))",
        value_groups=("kv_secret_q", "kv_secret_s", "kv_secret_v", "kv_secret_flag"),
        validate=_keyed_secret,
        kind_of=named_key_kind,
        keywords=("key", "secret", "token", "sig", "key_base", "appid"),
        after_keyword=r"(?:[\"']?[ \t]*[=:]|[ \t])",
    ),
    # npm's per-registry credentials set on a command line (with "=" they are kv_secret's):
    # "npm config set //registry.npmjs.org/:_authToken npm_...", ":_password", ":_auth".
    Alternative(
        "npm_auth",
        KIND_API_KEY,
        "[:]",
        r":_(?:authToken|auth|password)[\"']?[ \t]+[\"']?(?P<npm_auth_v>[^\s\"']{8,512})",
        value_groups=("npm_auth_v",),
        validate=_not_a_reference,
        keywords=(":_auth", ":_password"),
        after_keyword=r"(?:Token)?[\"']?[ \t]",
    ),
    # XML settings: .NET's `<add key="ApiKey" value="..." />` and Java's properties
    # `<entry key="db.password">...</entry>`, where the key names a secret or a password.
    *(
        Alternative(
            f"xml_setting_{kind.lower()}",
            kind,
            "[k]",
            r"key=\"[A-Za-z0-9_.:\-]{1,64}\"(?:[ \t]+value=\"(?P<xml_setting_"
            + kind.lower()
            + r"_v>[^\"\r\n]{1,512})\"|[ \t]*>(?P<xml_setting_"
            + kind.lower()
            + r"_e>[^<\r\n]{1,512})</entry>)",
            value_groups=(f"xml_setting_{kind.lower()}_v", f"xml_setting_{kind.lower()}_e"),
            validate=_xml_setting(names),
            keywords=("key",),
            after_keyword='="',
        )
        for kind, names in ((KIND_PASSWORD, _names_a_password), (KIND_API_KEY, names_secret))
    ),
    # `Authorization: Token ...`, `Authorization: ApiKey ...`: the credentials after any scheme
    # but Bearer and Basic (their branches follow), or with none.
    Alternative(
        "authorization",
        KIND_API_KEY,
        "[Aa]",
        r"(?i:authorization)[\"']?[ \t]*[=:][ \t]*[\"']?(?!(?i:bearer|basic)[ \t])"
        r"(?:[A-Za-z][A-Za-z0-9_\-]{0,30}[ \t]+)?(?P<authorization_v>[A-Za-z0-9._~+/=\-]{8,512})",
        value_groups=("authorization_v",),
        validate=_authorization,
        kind_of=named_key_kind,
        keywords=("authorization",),
        after_keyword=r"[\"']?[ \t]*[=:]",
    ),
    # `Cookie: sessionid=...; csrftoken=...` and `Set-Cookie: session=...; Path=/`: the pairs
    # (a Set-Cookie's first only: its attributes follow), where one holds a generated value.
    Alternative(
        "cookie",
        KIND_API_KEY,
        "[Cc]",
        r"(?<![A-Za-z0-9_])(?i:cookie)[\"']?[ \t]*:[ \t]*[\"']?"
        r"[^\s=;,\"']{1,128}=\"?(?P<cookie_v>[^\r\n\"']{1,4096})",
        value_groups=("cookie_v",),
        validate=_cookie_header,
        kind_of=named_key_kind,
        keywords=("cookie",),
        after_keyword=r"[\"']?[ \t]*:",
    ),
    # Incoming webhooks are a URL whose path is the secret: anyone holding it can post.
    Alternative(
        "slack_webhook",
        KIND_SLACK_TOKEN,
        "[h]",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<slack_webhook_v>[A-Za-z0-9_/\-]{20,})",
        value_groups=("slack_webhook_v",),
        keywords=("hooks.slack.com/",),
    ),
    Alternative(
        "discord_webhook",
        KIND_API_KEY,
        "[d]",
        r"discord(?:app)?\.com/api/webhooks/(?P<discord_webhook_v>[0-9]{5,}/[A-Za-z0-9_\-]{20,})",
        value_groups=("discord_webhook_v",),
        keywords=("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"),
    ),
    # `Authorization: Bearer <token>` or any `bearer <token>`: only the token is the value.
    Alternative(
        "bearer",
        KIND_BEARER_TOKEN,
        "[Bb]",
        r"[Bb](?<![A-Za-z0-9_].)(?i:earer)[ \t]+(?P<bearer_v>[A-Za-z0-9._~+/\-]{8,}=*)",
        value_groups=("bearer_v",),
        validate=_looks_like_token,
        kind_of=_bearer_kind,
        keywords=("bearer",),
    ),
    # HTTP Basic credentials are base64("user:password"): a password. The validator decodes them,
    # so "basic questions" in prose never matches.
    Alternative(
        "basic",
        KIND_PASSWORD,
        "[Bb]",
        r"[Bb](?<![A-Za-z0-9_].)(?i:asic)[ \t]+(?P<basic_v>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])",
        value_groups=("basic_v",),
        validate=_basic_credentials,
        keywords=("basic",),
    ),
    # scheme://user:PASSWORD@host: the userinfo ends at the last "@" before the path, so the value
    # is greedy and backtracks to it (unencoded "@" and "#" in passwords happen: a DSN is written
    # by hand more often than encoded). Angle brackets and `${` never occur in a real password
    # here: they are placeholders or our own tokens. The branch is anchored at the ":" of "://"
    # (the scheme adds nothing to the evidence).
    Alternative(
        "url_password",
        KIND_PASSWORD,
        "[:]",
        r"//[^\s:/?#@<>\"'`]{0,256}:(?P<url_password_v>[^\s/?<>\"'`]{1,256})@",
        value_groups=("url_password_v",),
        validate=_url_password,
        # "://" with a ":" and an "@" after it, before any character that ends the userinfo: a URL
        # without a password never reaches Python. "?" is left out of the classes (and the bounds
        # of the repeats dropped) so that they admit more than the regex: the prefilter scans
        # non-ASCII characters as "?".
        starts=(Start(r"://[^\t\n\x0b\x0c\r :/#@<>\"'`]*:[^\t\n\x0b\x0c\r /<>\"'`]+@"),),
        refuses=ACCESS_LOG_TIMES,
    ),
    # Go's MySQL driver writes a DSN without a scheme: user:PASSWORD@tcp(db:3306)/orders (or
    # unix(...), udp(...)). Found at "@tcp(", the password read back to the user's ":".
    Alternative(
        "go_dsn_password",
        KIND_PASSWORD,
        "[@]",
        r"@(?i:tcp6?|udp6?|unix)\(",
        validate=_go_dsn_password,
        keywords=("@tcp(", "@tcp6(", "@udp(", "@udp6(", "@unix("),
    ),
    # A password file's line (PostgreSQL's ~/.pgpass): host:port:database:user:PASSWORD, found
    # at its port (PostgreSQL's, or "*"); the host before it starts a line, a word or a quote.
    Alternative(
        "pgpass_password",
        KIND_PASSWORD,
        "[:]",
        r":(?:5432|\*)(?::(?:\*|(?:[^:\s\\*]|\\.)+)){2}:(?P<pgpass_v>(?:[^\s\\\"'`]|\\.)+)",
        value_groups=("pgpass_v",),
        validate=_pgpass_password,
        keywords=(":5432:", ":*:"),
    ),
    # key=value passwords: connection strings (`Password=...;`, `pwd=...`), env (`PGPASSWORD=`,
    # `MYSQL_PWD=`), config (`db.password: ...`, `"password": "..."`). "password"/"passwd" may end
    # a longer identifier (PGPASSWORD, DB_PASSWORD); "pwd" must start a word. A bare "pass" is not a
    # key: test logs say "PASS: test_x". Quoted values run to the closing quote; bare ones stop at
    # ; , & or whitespace.
    Alternative(
        "kv_password",
        KIND_PASSWORD,
        "[Pp]",
        r"[Pp](?:(?i:ass(?:word|wd|phrase))|(?<![A-Za-z].)(?i:wd))[\"']?[ \t]*(?:=>|:=|[=:](?!=))[ \t]*"
        r"(?:\"(?P<kv_password_q>[^\"\r\n]{1,256})\"|'(?P<kv_password_s>[^'\r\n]{1,256})'"
        r"|(?P<kv_password_v>[^\s;,&\"'<>]{1,256}))",
        value_groups=("kv_password_q", "kv_password_s", "kv_password_v"),
        validate=_config_password,
        keywords=("password", "passwd", "passphrase", "pwd"),  # what the regex starts with
    ),
)
