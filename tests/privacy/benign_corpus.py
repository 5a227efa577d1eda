"""Benign technical values an agent's spans are full of, none of them personal or secret.

The false-positive test redacts each and counts how many came out altered. Deterministic: the same
seed gives the same corpus, so a regression shows up as a changed rate, not as noise. The families
are the look-alikes that trip regex redactors: hex ids with long digit runs, epoch numbers of card
length, dotted versions of IP shape, dates and times, order numbers that fail Luhn, base64 that
starts like a JWT, colon-separated code, UUIDs whose middle groups pass Luhn, user agents.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache

__all__ = ["FAMILIES", "benign_values", "luhn_uuids"]

_EPOCH = datetime(2026, 11, 24, 10, 15, 30, tzinfo=timezone.utc)
_ALNUM = string.ascii_letters + string.digits


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _failing_luhn(rng: random.Random, length: int, first: str = "") -> str:
    while True:
        digits = first + "".join(rng.choice(string.digits) for _ in range(length - len(first)))
        if not _luhn_ok(digits):
            return digits


def _moment(rng: random.Random) -> datetime:
    return _EPOCH + timedelta(seconds=rng.randrange(-400 * 86400, 400 * 86400))


def _uuid(rng: random.Random) -> str:
    value = uuid.UUID(int=rng.getrandbits(128), version=4)
    return rng.choice([str(value), str(value).upper(), value.hex, f"urn:uuid:{value}"])


def _trace_id(rng: random.Random) -> str:
    trace, span = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(64):016x}"
    return rng.choice([trace, span, f"00-{trace}-{span}-01", f"trace_id={trace} span_id={span}"])


def _timestamp(rng: random.Random) -> str:
    moment = _moment(rng)
    return rng.choice(
        [
            moment.isoformat(),
            moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
            moment.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
            moment.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            moment.strftime("[%d/%b/%Y:%H:%M:%S +0000]"),
            moment.strftime("%H:%M:%S"),
        ]
    )


def _epoch(rng: random.Random) -> str:
    seconds = _moment(rng).timestamp()
    return rng.choice(
        [
            str(int(seconds)),
            str(int(seconds * 1_000)),
            str(int(seconds * 1_000_000)),
            str(int(seconds * 1_000_000_000)),
            f"{seconds:.3f}",
            f'"startTimeUnixNano": "{int(seconds * 1e9)}"',
        ]
    )


def _version(rng: random.Random) -> str:
    a, b, c, d = (rng.randrange(0, 40) for _ in range(4))
    return rng.choice(
        [
            f"{a}.{b}.{c}",
            f"v{a}.{b}.{c}",
            f"version {a}.{b}.{c}.{d}",
            f"numpy=={a}.{b}.{c}.{d}",
            f"pkg@{a}.{b}.{c}.{d}",
            f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{a + 100}.0.0.0 Safari/537.36",
            f"release {a}.{b}.{c}.{d}-rc{d}",
            f"^{a}.{b}.{c}",
            f"opentelemetry-sdk {a}.{b}.{c}",
            f"Python/3.{b}.{c}",
            f"build {rng.randrange(10_000, 30_000)}.{c}",
        ]
    )


def _token_count(rng: random.Random) -> str:
    n = rng.randrange(1, 200_000)
    return rng.choice(
        [
            f"{n} tokens",
            f"{n:,} tokens",
            f"prompt_tokens={n}",
            f'"total_tokens": {n}',
            f"llm.token_count.completion: {n}",
            f"context window {n // 1000}k",
        ]
    )


def _price(rng: random.Random) -> str:
    amount = rng.randrange(1, 10_000_000) / 100
    return rng.choice(
        [
            f"${amount:,.2f}",
            f"€ {amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", "."),
            f"USD {amount:.2f}",
            f"¥{int(amount * 100):,}",
            f"cost=${amount / 1000:.6f}",
            f"£{amount:,.2f} incl. VAT",
        ]
    )


def _order_number(rng: random.Random) -> str:
    length = rng.randrange(12, 20)
    digits = _failing_luhn(rng, length, first=rng.choice("23456"))
    grouped = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return rng.choice(
        [
            digits,
            f"order #{digits}",
            f"ORD-{digits}",
            f"invoice {grouped}",
            f"tracking number {digits}",
        ]
    )


def _digest(rng: random.Random) -> str:
    data = rng.randbytes(32)
    sha256, sha1 = hashlib.sha256(data).hexdigest(), hashlib.sha1(data).hexdigest()
    return rng.choice(
        [sha256, f"sha256:{sha256}", sha1, f"commit {sha1[:7]}", hashlib.md5(data).hexdigest()]
    )


def _base64(rng: random.Random) -> str:
    raw = rng.randbytes(rng.randrange(8, 96))
    cursor = json.dumps({"offset": rng.randrange(10_000), "page": rng.randrange(100)})
    return rng.choice(
        [
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(cursor.encode()).decode(),  # starts with eyJ, one segment
            f"next_page_token={base64.urlsafe_b64encode(cursor.encode()).decode().rstrip('=')}",
            f"data:image/png;base64,{base64.b64encode(raw).decode()}",
        ]
    )


def _path(rng: random.Random) -> str:
    day = _moment(rng).strftime("%Y/%m/%d")
    n = rng.randrange(1, 999)
    return rng.choice(
        [
            f"/var/log/app/{day.replace('/', '-')}.log",
            f"src/otel_flywheel/privacy/_detectors.py:{n}:{n % 80}",
            f"C:\\Users\\svc\\AppData\\Local\\Temp\\tmp{n:04x}.json",
            f"s3://datasets/traces/{day}/part-{n:05d}.parquet",
            f"/home/runner/.cache/pip/wheels/{n:02x}/{rng.getrandbits(32):08x}",
            f"assets/icon@{n % 3 + 1}x.png",
        ]
    )


def _url(rng: random.Random) -> str:
    n = rng.randrange(1, 100_000)
    return rng.choice(
        [
            f"https://api.example.com:8443/v1/chat/completions?page={n % 50}&limit=50",
            f"https://github.com/open-telemetry/opentelemetry-python/pull/{n}",
            f"git@github.com:org/repo-{n}.git",
            f"http://localhost:{n % 60_000 + 1024}/healthz",
            f"https://docs.example.org/guide/v{n % 9}.{n % 7}/index.html#section-{n % 13}",
            f"redis://cache:6379/{n % 16}",
            f"https://storage.googleapis.com/bucket/obj-{n}?generation={n * 1_000_003}",
        ]
    )


def _model_name(rng: random.Random) -> str:
    return rng.choice(
        [
            "gpt-4o-mini-2024-07-18",
            "gpt-4.1-2025-04-14",
            "claude-3-5-sonnet-20241022",
            "claude-sonnet-4-5-20250929",
            "llama-3.1-70b-instruct",
            "text-embedding-3-small",
            "gemini-1.5-pro-002",
            "Qwen2.5-72B-Instruct-GPTQ-Int4",
            "mistral-large-2411",
            "o3-mini-2025-01-31",
        ]
    ) + rng.choice(["", f" (temperature={rng.randrange(0, 20) / 10})", f"@rev{rng.randrange(9)}"])


def _date(rng: random.Random) -> str:
    moment = _moment(rng)
    return moment.strftime(
        rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%b %d, %Y", "%Y%m%d"])
    )


def _http_line(rng: random.Random) -> str:
    status = rng.choice(["200 OK", "201 Created", "404 Not Found", "429 Too Many Requests"])
    return rng.choice(
        [
            f"HTTP/1.1 {status}",
            f"HTTP/2 {status}",
            f"GET /v1/items/{rng.randrange(10**6)}?include=meta HTTP/1.1",
            f"Retry-After: {rng.randrange(1, 120)}",
            f"content-length: {rng.randrange(10**7)}",
        ]
    )


def _pod_name(rng: random.Random) -> str:
    suffix = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    rs = f"{rng.getrandbits(36):09x}"[:9]
    return rng.choice(
        [
            f"checkout-{rs}-{suffix}",
            f"redis-master-{rng.randrange(5)}",
            f"ip-10-{rng.randrange(255)}-{rng.randrange(255)}-{rng.randrange(255)}.ec2.internal",
            f"gke-prod-pool-{rng.getrandbits(32):08x}-{suffix[:4]}",
        ]
    )


def _vendor_id(rng: random.Random) -> str:
    body = "".join(rng.choice(_ALNUM) for _ in range(24))
    return rng.choice(
        [
            f"chatcmpl-{body}",
            f"call_{body}",
            f"msg_{body}",
            f"cus_{body[:14]}",
            f"req_{body[:16]}",
            f"arn:aws:lambda:us-east-1:{rng.randrange(10**11, 10**12)}:function:agent",
            f"run-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        ]
    )


def _code(rng: random.Random) -> str:
    n = rng.randrange(1, 9)
    return rng.choice(
        [
            f"xs[{n}::2]",
            "std::vector<int> v;",
            f"for i in range({n}): print(i)",
            f"if a == {n}: return None",
            "Foo::Bar::baz()",
            f"SELECT * FROM orders WHERE id = {rng.randrange(10**6)} LIMIT {n}0;",
            f"assert result.status_code == {rng.choice([200, 404, 500])}",
            # what credentials look like in code, not in configs
            "def login(username: str, password: str) -> None:",
            "password: Optional[str] = None",
            "url = url.copy_with(username=None, password=None)",
            'print(f"password={password!r}")',
            "username, password = auth",
            "user_password = index_info",
            'if self.password == getattr(other, "password", None):',
            "stream = zf.open(name, pwd=pwd)",
            "password: The password for authenticating over HTTP.",
            "Buffer the body before sending or use bearer authentication.",
            'raise ValueError("response did not include a valid Bearer access_token")',
            f'__version__ = "{n}.5.0.1"',
            f"Per RFC 5891 §4.2.3.{n} a label must not start with a hyphen",
            f"result = 0.5 + 0.143 * x + 14285714.{n}86 * x**2",
        ]
    )


def _measurement(rng: random.Random) -> str:
    return rng.choice(
        [
            f"latency_ms={rng.randrange(1, 10_000) / 10}",
            f"took {rng.randrange(1, 10_000)}ms",
            f"+{rng.randrange(1, 100)}.{rng.randrange(10)}%",
            f"{rng.randrange(1, 500)} files changed, +{rng.randrange(1, 9999)} -{rng.randrange(1, 9999)}",
            f"cpu={rng.randrange(100)}% mem={rng.randrange(1, 64)}Gi",
            f"score: {rng.random():.4f}",
            f"10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}",
        ]
    )


def _log_line(rng: random.Random) -> str:
    moment = _moment(rng).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    worker = rng.randrange(16)
    items = rng.randrange(10_000)
    return rng.choice(
        [
            f"[{moment}] INFO worker-{worker} processed {items} items in {items / 997:.2f}s",
            f"{moment} WARNING retrying request (attempt {worker % 5 + 1}/5) after 429",
            f"PASSED tests/test_orders.py::test_refund_{worker} [{items % 100}%]",
            f"PASS: test_checkout_{worker} ({items}ms)",
            f"Step {worker}/{worker + 3}: tool lookup_order returned {items} rows",
        ]
    )


def _fours(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _long_number(rng: random.Random) -> str:
    """Numbers longer than any card (a 16-digit window of one may well pass Luhn), printed whole or
    in fours, and order numbers with other numbers next to them."""
    usps = rng.choice(["9400", "9205", "9407", "9270", "9303"]) + "".join(
        rng.choice(string.digits) for _ in range(18)
    )
    iccid = "8944" + "".join(rng.choice(string.digits) for _ in range(rng.randrange(15, 17)))
    reference = rng.choice("123456789") + "".join(
        rng.choice(string.digits) for _ in range(rng.randrange(19, 26))
    )
    order = _failing_luhn(rng, 16, first=rng.choice("23456"))
    return rng.choice(
        [
            f"USPS tracking {_fours(usps)}",
            f"tracking_number={usps}",
            f"SIM ICCID {_fours(iccid)}",
            f"payment reference {reference}",
            f"qty {rng.randrange(1, 10)} order {order}",
            f"order {order} placed {rng.randrange(1, 13):02d}/{rng.randrange(25, 32)}",
            f"line {rng.randrange(1, 100)} {_fours(order)}, {rng.randrange(2, 10)} items",
            f"voucher {_fours(order)} valid to {rng.randrange(1, 13):02d}/{rng.randrange(25, 32)}",
        ]
    )


def _luhn_run(groups: list[str]) -> bool:
    """Some groups in a row are all digits, 12-16 of them, and pass Luhn: a card to a regex."""
    for first in range(len(groups)):
        digits = ""
        for group in groups[first:]:
            if not group.isdigit():
                break
            digits += group
            if 12 <= len(digits) <= 16 and _luhn_ok(digits):
                return True
    return False


@cache
def luhn_uuids(count: int = 240, seed: int = 5731) -> tuple[uuid.UUID, ...]:
    """Random version-4 UUIDs whose digit-only groups in a row pass Luhn, like the "5731-4609-9375"
    of 3f2a9c1e-5731-4609-9375-0a1b2c3d4e5f: one UUID in a couple of thousand, so the search is done
    once (about a second) and the family picks from it."""
    rng = random.Random(seed)
    found: list[uuid.UUID] = []
    while len(found) < count:
        value = uuid.UUID(int=rng.getrandbits(128), version=4)
        if _luhn_run(str(value).split("-")):
            found.append(value)
    return tuple(found)


def _luhn_uuid(rng: random.Random) -> str:
    value = rng.choice(luhn_uuids())
    text = str(value)
    return rng.choice(
        [
            text,
            text.upper(),
            f"urn:uuid:{value}",
            f"{{{text.upper()}}}",
            f"request_id={value}",
            f'{{"document_id": "{value}", "score": 0.{rng.randrange(10**4):04d}}}',
            f"s3://datasets/docs/{value}.pdf",
            f"run-{value}",
            text[: rng.randrange(30, 36)],  # cut short by an attribute length limit
        ]
    )


def _user_agent(rng: random.Random) -> str:
    """Browser, bot and SDK user agents. Gecko's "rv:1.9.5.20" and Chrome's "120.0.6099.130" are
    versions in an address's shape."""
    platform = rng.choice(
        [
            "Windows NT 6.1",
            "Windows NT 10.0; Win64; x64",
            f"Windows NT 5.{rng.randrange(3)}; {rng.choice(['sq-AL', 'oc-FR', 'lzh-TW', 'en-US'])}",
            "Windows 98; sc-IT",
            "X11; Linux x86_64",
            "X11; Ubuntu; Linux i686",
            "Macintosh; Intel Mac OS X 10_15_7",
            f"Macintosh; U; PPC Mac OS X 10_{rng.randrange(4, 12)}_{rng.randrange(10)}",
        ]
    )
    date = f"20{rng.randrange(8, 25):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    gecko = (
        f"rv:1.{rng.randrange(8, 10)}.{rng.randrange(7)}.{rng.choice([20, rng.randrange(1, 30)])}"
    )
    major = rng.randrange(90, 131)
    chrome = f"{major}.0.{rng.randrange(4000, 7000)}.{rng.randrange(10, 250)}"
    webkit = "AppleWebKit/537.36 (KHTML, like Gecko)"
    ios = f"{rng.randrange(12, 18)}_{rng.randrange(7)}"
    android = f"Android {rng.randrange(8, 15)}; SM-G973F Build/QP1A.190711.0{rng.randrange(10, 99)}"
    return rng.choice(
        [
            f"Mozilla/5.0 ({platform}; {gecko}) Gecko/{date} Firefox/3.{rng.randrange(9)}",
            f"Mozilla/5.0 ({platform}; {gecko}) Gecko/{date} SeaMonkey/2.0.{rng.randrange(15)}",
            f"Mozilla/5.0 ({platform}; rv:{major}.0) Gecko/20100101 Firefox/{major}.0",
            f"Mozilla/5.0 ({platform}) {webkit} Chrome/{chrome} Safari/537.36",
            f"Mozilla/5.0 ({platform}) {webkit} Chrome/{major}.0.0.0 Safari/537.36 Edg/{chrome}",
            f"Mozilla/5.0 (Linux; {android}) {webkit} Chrome/{chrome} Mobile Safari/537.36",
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15"
            f" (KHTML, like Gecko) Version/{ios.replace('_', '.')} Mobile/15E148 Safari/604.1",
            f"Mozilla/5.0 ({platform}; Trident/7.0; rv:11.0) like Gecko",
            f"Opera/9.80 ({platform}; U) Presto/2.{rng.randrange(13)}.{rng.randrange(100, 400)}"
            f" Version/12.{rng.randrange(20)}",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            f"python-requests/2.{rng.randrange(20, 33)}.{rng.randrange(4)}",
            f"curl/8.{rng.randrange(12)}.{rng.randrange(2)}",
            f"OTel-OTLP-Exporter-Python/1.{rng.randrange(20, 40)}.0",
            f"OpenAI/Python 1.{rng.randrange(60)}.{rng.randrange(10)}",
            f"http.user_agent: {platform}; {gecko}",
        ]
    )


# --- look-alikes of phone numbers and cards: numbers with separators --------------------------------


def _numeric_id(rng: random.Random) -> str:
    """Ids, references and counters, with and without separators and zero padding."""
    n = rng.randrange(10**6, 10**10)
    year = rng.randrange(2015, 2031)
    return rng.choice(
        [
            f"user {n}",
            f"ticket #{n}",
            f"case {n:012d}",
            f"ID {n % 10**4:04d}-{n // 10**4 % 10**4:04d}",
            f"job {year}-{n % 10**6:06d}",
            f"INV-{year}-{n % 10**7:07d}",
            f"ref {year}/{n % 10**5:05d}",
            f"PR #{n % 10**5}",
            f"row {n:,}",
            f"{n:_}",
            f"record {n % 10**8:08d} of {n:,}",
            f"batch {n % 1000:03d}/{n // 1000 % 1000:03d}, step {n // 10**6 % 10**4:04d}",
            f"account 00{n % 10**8:08d}",
            f"shard {n % 100:02d}/{n % 97:02d}, offset {n}",
        ]
    )


def _timestamp_more(rng: random.Random) -> str:
    moment = _moment(rng)
    micros = rng.randrange(10**6)
    return rng.choice(
        [
            moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{micros:06d}",
            moment.strftime("%d/%m/%Y %H:%M"),
            moment.strftime("%Y%m%dT%H%M%SZ"),
            moment.strftime("%Y%m%d%H%M%S"),  # compact, 14 digits
            moment.strftime("%Y%m%d%H%M%S") + f"{micros // 1000:03d}",
            f"{moment.timestamp():.6f}",
            moment.strftime("%a %b %d %H:%M:%S %Y"),
            moment.strftime("%b %d %H:%M:%S"),
            moment.astimezone(timezone(timedelta(hours=-7))).isoformat(timespec="microseconds"),
            moment.strftime("%H:%M:%S.") + f"{micros:06d}{rng.randrange(1000):03d}",
            moment.strftime("%Y-%m-%d %H:%M:%S %z") + " UTC",
            f"ts={int(moment.timestamp() * 1000)} seq={rng.randrange(10**6)}",
        ]
    )


def _date_more(rng: random.Random) -> str:
    moment = _moment(rng)
    return moment.strftime(
        rng.choice(
            [
                "%Y %m %d",
                "%d %m %Y",
                "%Y/%m/%d",
                "%-d.%-m.%Y",
                "%d-%b-%Y",
                "%B %d, %Y",
                "%Y-%m",
                "%d.%m.%y",
                "%m-%d-%Y",
                "week %V of %G",
                "%Y-W%V-%u",
                "%j/%Y",
            ]
        )
    )


def _version_more(rng: random.Random) -> str:
    a, b, c, d = (
        rng.randrange(1, 30),
        rng.randrange(0, 40),
        rng.randrange(0, 300),
        rng.randrange(1000, 99999),
    )
    return rng.choice(
        [
            f"{a}.{b}.{c}.{d}",
            f"10.0.{rng.randrange(19041, 26100)}.{rng.randrange(1, 5000)}",
            f"Linux 6.{b}.0-{c}-generic",
            f"go1.{b}.{c % 10}",
            f"Python {a % 4 + 1}.{b}.{c % 20} (main, Dec 15 2023, 12:09:04)",
            f"build {rng.randrange(10000, 30000)}.{d}",
            f"Ubuntu {rng.choice(['20', '22', '24'])}.04.{c % 7}",
            f"v{rng.randrange(2015, 2031)}.{rng.randrange(1, 13):02d}.{rng.randrange(1, 29):02d}",
            f"{a}.{b}.{c}+{_moment(rng).strftime('%Y%m%d%H%M%S')}",
            f"{a}.{b}.{c}-rc.{c % 5}+build.{d}",
            f"node v{a}.{b}.{c}, npm {a}.{b % 10}.{c % 10}",
            f"Chrome/{a + 100}.0.{rng.randrange(4000, 7000)}.{c}",
            f"sha {rng.getrandbits(28):07x} ({a}.{b}.{c})",
        ]
    )


def _price_more(rng: random.Random) -> str:
    amount = rng.randrange(100, 10**9) / 100
    whole = int(amount)
    cents = round(amount * 100) % 100
    spaced = f"{whole:,}".replace(",", " ")
    dotted = f"{whole:,}".replace(",", ".")
    return rng.choice(
        [
            f"{spaced},{cents:02d} €",
            f"€{dotted},{cents:02d}",
            f"R$ {dotted},{cents:02d}",
            f"CHF {whole:,}".replace(",", "'") + f".{cents:02d}",
            f"₹{whole:,}.{cents:02d}",
            f"{spaced} ₽",
            f"total: {spaced} {rng.choice(['SEK', 'NOK', 'PLN', 'CZK'])}",
            f"USD {whole}.{cents:02d} ({whole * 100 + cents} cents)",
            f'"amount": {whole * 100 + cents}, "currency": "EUR"',
            f"Subtotal {whole:,}.{cents:02d} Tax {whole // 10:,}.{cents:02d}",
        ]
    )


def _order_more(rng: random.Random) -> str:
    a, b = rng.randrange(100, 1000), rng.randrange(10**6, 10**7)
    c = rng.randrange(10**6, 10**7)
    twelve = _failing_luhn(rng, 12, first=rng.choice("23456789"))
    return rng.choice(
        [
            f"order {a}-{b}-{c}",  # Amazon: 3-7-7
            f"ORD-{rng.randrange(2015, 2031)}-{rng.randrange(10**6):06d}",
            f"#{rng.randrange(10**6, 10**8)}",
            f"PO 45000{rng.randrange(10**5):05d}",
            f"SO-{rng.randrange(10**8):08d}",
            f"order {_fours(twelve)}",
            f"shipment {twelve[:3]} {twelve[3:6]} {twelve[6:]}",
            f"tracking 1Z{rng.getrandbits(40):010X}{rng.randrange(10**6):06d}",
            f"confirmation {rng.randrange(10**4, 10**5)}-{rng.randrange(10**4, 10**5)}",
        ]
    )


def _port(rng: random.Random) -> str:
    port = rng.choice(
        [80, 443, 3000, 5432, 5672, 6379, 8080, 8443, 9090, 27017, rng.randrange(1024, 65536)]
    )
    return rng.choice(
        [
            f"localhost:{port}",
            f"0.0.0.0:{port}",
            f"127.0.0.1:{port}",
            f"[::1]:{port}",
            f"port {port}",
            f":{port}",
            f"db:{port}",
            f"EXPOSE {port}/tcp",
            f"-p {port}:{port}",
            f"ports: ['{port}:{port % 1000 + 8000}']",
            f"listen {port} ssl; keepalive 65 {port}",
            f"http://api.internal:{port}/v1/health",
        ]
    )


def _duration(rng: random.Random) -> str:
    ms = rng.randrange(1, 10**7)
    return rng.choice(
        [
            f"took {ms}ms",
            f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}",
            f"{ms // 3600000}h{ms // 60000 % 60}m{ms // 1000 % 60}s",
            f"P{ms % 9}DT{ms % 23}H{ms % 59}M",
            f"elapsed 0:00:{ms // 1000 % 60:02d}.{ms % 10**6:06d}",
            f"{ms / 1000:.3f}s",
            f"latency p50={ms % 5000 / 10} p99={ms / 10:.1f}ms",
            f"{ms % 7}d {ms % 24}h {ms % 60}m",
            f"duration_ns={ms * 1_000_000}",
            f"timeout after {ms // 1000} 000 ms",
        ]
    )


def _coordinates(rng: random.Random) -> str:
    lat, lon = rng.uniform(-89, 89), rng.uniform(-179, 179)
    return rng.choice(
        [
            f"{lat:.4f}, {lon:.4f}",
            f"{lat:+08.4f}{lon:+09.4f}/",  # ISO 6709
            f"{lat:+.6f}{lon:+.6f}/",
            f"lat {lat:.4f} lon {lon:.4f}",
            f"{abs(lat):.0f}°{abs(lat) * 60 % 60:02.0f}′{abs(lat) * 3600 % 60:02.0f}″N",
            f"POINT({lon:.4f} {lat:.4f})",
            f"[{lon:.6f}, {lat:.6f}]",
            f"geo:{lat:.6f},{lon:.6f}",
            f"{lat:+.4f} {lon:+.4f}",
            f"bbox={lon:.3f},{lat:.3f},{lon + 1:.3f},{lat + 1:.3f}",
        ]
    )


def _standard_number(rng: random.Random) -> str:
    """ISBNs, EANs, CVEs, DOIs and other registry numbers with separators."""
    n = rng.randrange(10**5, 10**6)
    return rng.choice(
        [
            f"ISBN 978-{rng.randrange(10)}-{rng.randrange(10, 99)}-{n}-{rng.randrange(10)}",
            f"ISBN 0-{rng.randrange(100, 999)}-{n % 10**5:05d}-{rng.randrange(10)}",
            f"ISSN {rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
            f"EAN {rng.randrange(10**12, 10**13)}",
            f"CVE-{rng.randrange(1999, 2031)}-{rng.randrange(1000, 99999)}",
            f"doi:10.{rng.randrange(1000, 9999)}/{n}",
            f"arXiv:{rng.randrange(1500, 2512)}.{rng.randrange(10**4, 10**5)}",
            f"KB{rng.randrange(10**6, 10**7)}",
            f"uid=1000(app) gid=1000(app) groups=1000(app),{rng.randrange(100, 999)}(docker)",
            f"pid {n} ppid {n // 7}",
            f"ORCID 0000-000{rng.randrange(10)}-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
            f"HS code {rng.randrange(1000, 9999)}.{rng.randrange(10, 99)}.{rng.randrange(10, 99)}",
        ]
    )


def _diff(rng: random.Random) -> str:
    a, b = rng.randrange(1, 10**4), rng.randrange(1, 10**4)
    return rng.choice(
        [
            f"+{a} -{b}",
            f"{rng.randrange(1, 300)} files changed, {a} insertions(+), {b} deletions(-)",
            f"@@ -{a},{b % 20} +{a + 2},{b % 20 + 3} @@",
            f"+{a} −{b}",
            f"+{a:,} / -{b:,} lines",
            f"score +{a}.{b % 100:02d} ({b}%)",
            f"1e+{a % 300} and 2.5E-{b % 300}",
            f"UTC+{rng.randrange(1, 13)} and GMT-0{rng.randrange(1, 9)}:00",
        ]
    )


def _hex_value(rng: random.Random) -> str:
    return rng.choice(
        [
            f"0x{rng.getrandbits(48):012x}",
            f"0X{rng.getrandbits(32):08X}",
            f"#{rng.getrandbits(24):06x}",
            f"addr 0x7f{rng.getrandbits(40):010x}",
            f"errno {rng.randrange(1, 200)} (0x{rng.getrandbits(16):04x})",
            f"\\x{rng.getrandbits(8):02x}\\x{rng.getrandbits(8):02x}",
        ]
    )


FAMILIES: dict[str, Callable[[random.Random], str]] = {
    "uuid": _uuid,
    "trace_id": _trace_id,
    "timestamp": _timestamp,
    "epoch": _epoch,
    "version": _version,
    "token_count": _token_count,
    "price": _price,
    "order_number": _order_number,
    "digest": _digest,
    "base64": _base64,
    "path": _path,
    "url": _url,
    "model_name": _model_name,
    "date": _date,
    "http_line": _http_line,
    "pod_name": _pod_name,
    "vendor_id": _vendor_id,
    "code": _code,
    "measurement": _measurement,
    "log_line": _log_line,
    "long_number": _long_number,
    # Last, so that adding them left the values of the families above unchanged.
    "luhn_uuid": _luhn_uuid,
    "user_agent": _user_agent,
    "numeric_id": _numeric_id,
    "timestamp_more": _timestamp_more,
    "date_more": _date_more,
    "version_more": _version_more,
    "price_more": _price_more,
    "order_more": _order_more,
    "port": _port,
    "duration": _duration,
    "coordinates": _coordinates,
    "standard_number": _standard_number,
    "diff": _diff,
    "hex_value": _hex_value,
}


def benign_values(per_family: int = 120, seed: int = 20261124) -> list[tuple[str, str]]:
    """``(family, value)`` pairs: ``per_family`` values from each family, deterministically."""
    rng = random.Random(seed)
    return [(name, make(rng)) for name, make in FAMILIES.items() for _ in range(per_family)]
