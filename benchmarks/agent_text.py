"""Realistic agent text for the benchmarks: what an agent's tools return and its LLM reads.

Every item is a JSON document, as it sits in a span's ``output.value`` or ``input.value``:

- ``search``: web-search results (titles, URLs, snippets, dates, scores);
- ``records``: rows from an orders database (ids, amounts, timestamps, statuses, SKUs);
- ``web_page``: a fetched HTML page (head, scripts, JSON-LD, navigation, article, a price table,
  a footer), 10-40 KB, inside ``{"url", "status", "content"}``;
- ``source_file``: a file the agent read, real Python source from the standard library;
- ``shell``: a command's output: test runs, package installs, server logs;
- ``messages``: an OpenAI-style message list (system prompt, turns, tool calls and results).

About one item in four carries a planted value (an email, a phone number, a card, an IBAN, an IP
address, a secret) where it would really be: a snippet, a customer row, a page's footer, a log
line, a user's message. Deterministic for a seed and a Python version (the source files are the
running interpreter's standard library).
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from faker import Faker

__all__ = ["KINDS", "AgentText", "agent_texts"]

KINDS = ("search", "records", "web_page", "source_file", "shell", "messages")
_NOW = datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
_SOURCE_MODULES = (
    "json.decoder",
    "http.client",
    "email.message",
    "argparse",
    "logging.handlers",
    "asyncio.base_events",
    "csv",
    "urllib.parse",
    "dataclasses",
    "textwrap",
    "difflib",
    "statistics",
    "string",
    "shlex",
    "gzip",
    "ipaddress",
)
_SYSTEM_PROMPT = (
    "You are the support agent of an online electronics shop. Use the tools to look up orders,"
    " refunds and shipping; quote order numbers exactly; never reveal internal notes. Answer in"
    " the customer's language, briefly, and ask before any refund above 200 EUR."
)


@dataclass(frozen=True)
class AgentText:
    """One JSON document, and the values planted in it: ``(label, value)``."""

    kind: str
    text: str
    planted: tuple[tuple[str, str], ...]


class _Builder:
    def __init__(self, seed: int, plant_rate: float) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
        self.fake.seed_instance(seed)
        self.plant_rate = plant_rate
        self.planted: list[tuple[str, str]] = []
        self._sources = [inspect.getsource(importlib.import_module(m)) for m in _SOURCE_MODULES]

    # --- values ---------------------------------------------------------------------------------

    def maybe(self) -> str | None:
        """A planted value, one time in ``1 / plant_rate``, recorded."""
        if self.rng.random() >= self.plant_rate:
            return None
        label, value = self.rng.choice(self._makers())()
        self.planted.append((label, value))
        return value

    def _makers(self) -> list[Callable[[], tuple[str, str]]]:
        fake, rng = self.fake, self.rng
        chars = string.ascii_letters + string.digits
        return [
            lambda: ("email", fake.email()),
            lambda: ("phone", self._phone()),
            lambda: ("card", fake.credit_card_number()),
            lambda: ("iban", fake.iban()),
            lambda: ("ip", fake.ipv4_public()),
            lambda: ("secret", "sk-proj-" + "".join(rng.choice(chars) for _ in range(48))),
            lambda: ("secret", "ghp_" + "".join(rng.choice(chars) for _ in range(36))),
        ]

    def _phone(self) -> str:
        return self.rng.choice(
            [
                f"+44 20 7946 {self.rng.randrange(10**4):04d}",
                f"({self.rng.randrange(201, 990)}) 555-{self.rng.randrange(10**4):04d}",
                f"+49 30 {self.rng.randrange(10**6, 10**7)}",
                f"06 {self.rng.randrange(10, 99)} {self.rng.randrange(10, 99)} "
                f"{self.rng.randrange(10, 99)} {self.rng.randrange(10, 99)}",
            ]
        )

    def moment(self) -> datetime:
        return _NOW - timedelta(seconds=self.rng.randrange(400 * 86400))

    def sentence(self) -> str:
        return str(self.fake.sentence(nb_words=self.rng.randrange(8, 20)))

    def paragraph(self) -> str:
        text = str(self.fake.paragraph(nb_sentences=self.rng.randrange(3, 8)))
        value = self.maybe()
        return f"{text} Contact: {value}." if value else text

    # --- documents ------------------------------------------------------------------------------

    def search(self) -> str:
        results = []
        for rank in range(self.rng.randrange(5, 12)):
            snippet = self.sentence() + " " + self.sentence()
            if value := self.maybe():
                snippet += f" Reach us at {value}."
            results.append(
                {
                    "rank": rank + 1,
                    "title": self.fake.catch_phrase(),
                    "url": self.fake.url() + self.fake.uri_path(),
                    "snippet": snippet,
                    "published_at": self.moment().isoformat(),
                    "score": round(self.rng.random(), 4),
                }
            )
        return json.dumps({"query": self.fake.bs(), "results": results, "took_ms": 231})

    def records(self) -> str:
        rows = []
        for _ in range(self.rng.randrange(10, 60)):
            row = {
                "order_id": f"A-{self.rng.randrange(10**9, 10**10)}",
                "customer_id": str(self.fake.uuid4()),
                "status": self.rng.choice(["paid", "shipped", "delivered", "refunded"]),
                "created_at": self.moment().isoformat(timespec="milliseconds"),
                "total": f"{self.rng.uniform(5, 2000):.2f}",
                "currency": "EUR",
                "items": [
                    {
                        "sku": f"SKU-{self.rng.randrange(10**4, 10**5)}",
                        "qty": self.rng.randrange(1, 4),
                        "unit_price": f"{self.rng.uniform(2, 900):.2f}",
                    }
                    for _ in range(self.rng.randrange(1, 4))
                ],
                "tracking": f"1Z{self.rng.getrandbits(60):015X}",
            }
            if value := self.maybe():
                row["contact"] = value
            rows.append(row)
        return json.dumps({"rows": rows, "count": len(rows), "next_cursor": None})

    def web_page(self) -> str:
        fake, rng = self.fake, self.rng
        title = fake.catch_phrase()
        nav = "".join(
            f'<li class="nav-item"><a class="nav-link" href="/{fake.slug()}">{fake.word().title()}</a></li>'
            for _ in range(rng.randrange(6, 14))
        )
        article = "".join(f"<p>{self.paragraph()}</p>\n" for _ in range(rng.randrange(6, 24)))
        table = "".join(
            f'<tr><td>{fake.word().title()} {rng.randrange(100, 999)}</td><td class="num">'
            f"{rng.uniform(10, 3000):,.2f} €</td><td>{rng.randrange(1, 64)} GB</td>"
            f"<td>{rng.randrange(1, 48)} months</td></tr>\n"
            for _ in range(rng.randrange(5, 20))
        )
        contact = self.maybe() or fake.company_email()
        json_ld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "Article",
                "headline": title,
                "datePublished": self.moment().isoformat(),
                "author": {"@type": "Person", "name": fake.name()},
            }
        )
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/main.{rng.getrandbits(32):08x}.css">
<script src="/static/js/vendor.{rng.getrandbits(32):08x}.js?v=4.{rng.randrange(20)}.{rng.randrange(9)}" defer></script>
<script type="application/ld+json">{json_ld}</script>
<style>.num{{text-align:right;font-variant-numeric:tabular-nums}} .nav-link{{padding:0.5rem 1rem}}</style>
</head><body><header><nav><ul class="nav">{nav}</ul></nav></header>
<main><article><h1>{title}</h1><p class="meta">Updated {self.moment():%B %d, %Y} · {rng.randrange(2, 15)} min read</p>
{article}<table class="specs"><thead><tr><th>Model</th><th>Price</th><th>Storage</th><th>Warranty</th></tr></thead>
<tbody>{table}</tbody></table></article></main>
<footer><p>{fake.company()} · {fake.address().replace(chr(10), ", ")} · <a href="mailto:{contact}">{contact}</a></p>
<p>&copy; 2008-2026 · <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></p></footer>
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}gtag('js',new Date());gtag('config','G-{rng.getrandbits(40):010X}');</script>
</body></html>"""
        return json.dumps(
            {"url": fake.url(), "status": 200, "content_type": "text/html", "content": page}
        )

    def source_file(self) -> str:
        source = self.rng.choice(self._sources)
        if value := self.maybe():
            source = f"# Maintainer: {value}\n" + source
        return json.dumps({"path": f"src/{self.fake.slug()}.py", "content": source})

    def shell(self) -> str:
        rng, fake = self.rng, self.fake
        lines = []
        for _ in range(rng.randrange(40, 200)):
            moment = self.moment()
            lines.append(
                rng.choice(
                    [
                        f"{moment:%Y-%m-%d %H:%M:%S},{rng.randrange(1000):03d} INFO [worker-{rng.randrange(8)}] "
                        f"processed batch {rng.randrange(10**5)} ({rng.randrange(10**4)} items) in "
                        f"{rng.uniform(0, 5):.3f}s",
                        f"tests/test_{fake.word()}.py::test_{fake.word()}_{fake.word()} PASSED"
                        f" [{rng.randrange(100):3d}%]",
                        f"Collecting {fake.word()}>={rng.randrange(1, 9)}.{rng.randrange(30)}"
                        f" (from -r requirements.txt (line {rng.randrange(1, 80)}))",
                        f'{fake.ipv4_private()} - - [{moment:%d/%b/%Y:%H:%M:%S} +0000] "GET /api/v1/'
                        f'{fake.uri_path()} HTTP/1.1" {rng.choice([200, 200, 304, 404])} {rng.randrange(10**5)}',
                        f"commit {rng.getrandbits(160):040x}",
                    ]
                )
            )
            if value := self.maybe():
                lines.append(f"DEBUG request from {value}")
        return json.dumps({"command": "make test", "exit_code": 0, "stdout": "\n".join(lines)})

    def messages(self) -> str:
        messages: list[dict[str, object]] = [{"role": "system", "content": _SYSTEM_PROMPT}]
        for turn in range(self.rng.randrange(2, 6)):
            question = self.paragraph()
            messages.append({"role": "user", "content": question})
            call_id = f"call_{self.rng.getrandbits(96):024x}"
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": "lookup_order",
                                "arguments": json.dumps(
                                    {"order_id": f"A-{self.rng.randrange(10**10)}"}
                                ),
                            },
                        }
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": call_id, "content": self.records()})
            messages.append({"role": "assistant", "content": self.paragraph() + f" (turn {turn})"})
        return json.dumps({"model": "gpt-4o-mini", "messages": messages, "temperature": 0.2})


def agent_texts(count: int, *, seed: int = 7, plant_rate: float = 0.04) -> list[AgentText]:
    """``count`` documents, the kinds in turn."""
    builder = _Builder(seed, plant_rate)
    texts = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        builder.planted = []
        text = getattr(builder, kind)()
        texts.append(AgentText(kind, text, tuple(builder.planted)))
    return texts
