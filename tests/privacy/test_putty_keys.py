"""PuTTY's private key files (.ppk): the private lines and their MAC are masked, as written in a
file, in a JSON-quoted tool output, with Windows line ends, or cut off; the public part stays."""

from __future__ import annotations

import json

import pytest
from redacting import builtin_redactor, redacted

from otel_flywheel.privacy import Redactor

PUBLIC = "AAAAC3NzaC1lZDI1NTE5AAAAIOaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcd"
PRIVATE = ("AAAAIFmNoPqRsTuVwXyZaBcDeFgHiJkL0123456789abcdefghijklmnop", "QrStUvWx0123==")
MAC = "3f1e0c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"


def ppk(version: int = 3, *, newline: str = "\n", mac: bool = True) -> str:
    lines = [
        f"PuTTY-User-Key-File-{version}: ssh-ed25519",
        "Encryption: none",
        "Comment: eddsa-key-20260101",
        "Public-Lines: 1",
        PUBLIC,
        f"Private-Lines: {len(PRIVATE)}",
        *PRIVATE,
    ]
    if mac:
        lines.append(f"{'Private-MAC' if version == 3 else 'Private-Hash'}: {MAC}")
    return newline.join(lines) + newline


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return builtin_redactor(b"k" * 32)


@pytest.mark.parametrize(
    "text",
    [
        ppk(),
        ppk(2),
        ppk(newline="\r\n"),
        ppk(mac=False),  # cut off before its MAC (span attributes are length-limited)
        "$ cat ~/.ssh/deploy.ppk\n" + ppk() + "$ echo done",
        json.dumps({"tool": "read_file", "content": ppk()}),
    ],
    ids=["v3", "v2", "crlf", "no-mac", "in-a-shell-log", "json-quoted"],
)
def test_the_private_lines_and_their_mac_are_masked_and_the_public_part_stays(
    redactor: Redactor, text: str
) -> None:
    out, counts = redacted(redactor, text)
    assert counts == {"PRIVATE_KEY": 1}
    for secret in (*PRIVATE, MAC):
        assert secret not in out
    assert PUBLIC in out
    assert "PuTTY-User-Key-File-" in out


@pytest.mark.parametrize(
    "text",
    [
        "Private-Lines: the number of base64 lines that follow",
        "Public-Lines: 1\n" + PUBLIC,
        "private-lines: 1\nabc",  # not how PuTTY writes it
    ],
)
def test_the_same_words_without_a_key_are_left_alone(redactor: Redactor, text: str) -> None:
    assert redacted(redactor, text) == (text, {})
