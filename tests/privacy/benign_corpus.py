"""Benign technical values an agent's spans are full of, none of them personal or secret.

The false-positive test redacts each and counts how many came out altered. Deterministic: the same
seed gives the same corpus, so a regression shows up as a changed rate, not as noise. The families
are the look-alikes that trip regex redactors: hex ids with long digit runs, epoch numbers of card
length, dotted versions of IP shape, dates and times, order numbers that fail Luhn, base64 that
starts like a JWT, colon-separated code.
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

__all__ = ["FAMILIES", "benign_values"]

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
}


def benign_values(per_family: int = 120, seed: int = 20261124) -> list[tuple[str, str]]:
    """``(family, value)`` pairs: ``per_family`` values from each family, deterministically."""
    rng = random.Random(seed)
    return [(name, make(rng)) for name, make in FAMILIES.items() for _ in range(per_family)]
