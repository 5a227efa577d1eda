"""The detectors: every kind found with its exact span, look-alikes left alone, never a crash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import re
import string
from collections.abc import Callable, Iterator

import phonenumbers
import pytest
from benign_corpus import FAMILIES, benign_values, luhn_uuids
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy._detectors import (
    BUILTIN_KINDS,
    KIND_ANTHROPIC_KEY,
    KIND_API_KEY,
    KIND_AWS_KEY_ID,
    KIND_BEARER_TOKEN,
    KIND_CARD,
    KIND_EMAIL,
    KIND_GITHUB_TOKEN,
    KIND_GITLAB_TOKEN,
    KIND_IBAN,
    KIND_IP,
    KIND_JWT,
    KIND_OPENAI_KEY,
    KIND_PASSWORD,
    KIND_PHONE,
    KIND_PRIVATE_KEY,
    KIND_SLACK_TOKEN,
    KIND_SSN,
    SECRET_KINDS,
    BuiltinDetector,
    Detector,
    Match,
    RegexDetector,
    TermDetector,
    find_all,
)
from otel_flywheel.privacy._network import is_version_context

BUILTIN = BuiltinDetector()
LOCALES = ["en_US", "de_DE", "fr_FR", "en_GB", "ja_JP", "pt_BR", "es_ES", "it_IT"]
REGION_OF = {locale: locale.split("_")[1] for locale in LOCALES}
B64URL = string.ascii_letters + string.digits + "_-"
ALNUM = string.ascii_letters + string.digits


def found(text: str, detector: Detector = BUILTIN) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [detector])]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum(int(c) for c in digits[-1::-2])
        total += sum(sum(divmod(2 * int(c), 10)) for c in digits[-2::-2])
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable: one check digit always completes a Luhn number")


# --- every kind, several formats -----------------------------------------------------------------

POSITIVES = [
    # emails
    ("write to jane.doe@example.com today", "jane.doe@example.com", KIND_EMAIL),
    # an apostrophe between letters is the name's (RFC 5322 atext), a quote around it is not
    ("<o'brien+tag@mail.example.co.uk>", "o'brien+tag@mail.example.co.uk", KIND_EMAIL),
    ("'d'arcy@example.fr' wrote", "d'arcy@example.fr", KIND_EMAIL),
    ("it's jane@example.com", "jane@example.com", KIND_EMAIL),
    ("mailto:Ops_Team-1@sub.example-corp.io.", "Ops_Team-1@sub.example-corp.io", KIND_EMAIL),
    ("連絡先はbob@example.comです", "bob@example.com", KIND_EMAIL),
    # local parts in the Latin alphabets (RFC 6531): the whole name, not what follows its accent
    ("write to josé@example.com today", "josé@example.com", KIND_EMAIL),
    ("cc: andré.müller@example.de,", "andré.müller@example.de", KIND_EMAIL),
    ("«françois.lefèvre@exemple.fr»", "françois.lefèvre@exemple.fr", KIND_EMAIL),
    ("zoë_łukasz-ŝ@example.pl", "zoë_łukasz-ŝ@example.pl", KIND_EMAIL),
    ("ÆSIR.Øst@example.no", "ÆSIR.Øst@example.no", KIND_EMAIL),
    ("メールはjosé@example.comまで", "josé@example.com", KIND_EMAIL),
    # internationalized domain names in the Latin alphabets, as written (not as "xn--")
    ("order from jane@bücher.de today", "jane@bücher.de", KIND_EMAIL),
    ("mail ops@über-shop.de,", "ops@über-shop.de", KIND_EMAIL),
    ("renée.o'neil@exämple.fr", "renée.o'neil@exämple.fr", KIND_EMAIL),
    ("x@ü.de", "x@ü.de", KIND_EMAIL),
    # Greek and Cyrillic addresses (RFC 6531), and domains in Chinese, Japanese and Korean
    ("написать: иван.петров@пример.рф, спасибо", "иван.петров@пример.рф", KIND_EMAIL),
    ("пишите на ivan@почта.рус.", "ivan@почта.рус", KIND_EMAIL),
    ("Контакт: ольга@example.com", "ольга@example.com", KIND_EMAIL),
    ("email δοκιμή@παράδειγμα.ελ today", "δοκιμή@παράδειγμα.ελ", KIND_EMAIL),
    ("info@example.中国的邮箱", "info@example.中国", KIND_EMAIL),
    ("メール: taro@例え.jp まで", "taro@例え.jp", KIND_EMAIL),
    ("연락처 kim@회사.한국", "kim@회사.한국", KIND_EMAIL),
    ("連絡先はbob@例え.jpです", "bob@例え.jp", KIND_EMAIL),
    # a full-width or small "@" (CJK text, or written so on purpose), read as "@"
    ("連絡先: jane＠example.com", "jane＠example.com", KIND_EMAIL),
    ("jane﹫example.com.", "jane﹫example.com", KIND_EMAIL),
    # phones: international formats (national ones: test_phones.py)
    ("call +1 (415) 555-2671 now", "+1 (415) 555-2671", KIND_PHONE),
    ("tel +44 20 7946 0958, ext", "+44 20 7946 0958", KIND_PHONE),
    ("+49 (0) 30 901820 is Berlin", "+49 (0) 30 901820", KIND_PHONE),
    ("fax: +33.1.42.68.53.00", "+33.1.42.68.53.00", KIND_PHONE),
    ("E.164 +14155552671", "+14155552671", KIND_PHONE),
    ("tel:+81-3-1234-5678", "+81-3-1234-5678", KIND_PHONE),
    ("+44 20 7946 0958 12 items", "+44 20 7946 0958", KIND_PHONE),
    # an extension is redacted with its number; its digits do not count towards E.164's 15
    ("call +1 415-555-0132 x204 today", "+1 415-555-0132 x204", KIND_PHONE),
    ("+1 (415) 555-0132 ext. 12, desk", "+1 (415) 555-0132 ext. 12", KIND_PHONE),
    ("tel:+14155550132;ext=12", "+14155550132;ext=12", KIND_PHONE),
    ("phone: +1-801-943-7483x09309", "+1-801-943-7483x09309", KIND_PHONE),
    ("+1 939-446-0742 ext. 99074.", "+1 939-446-0742 ext. 99074", KIND_PHONE),
    ("+44 20 7946 0958 x123456", "+44 20 7946 0958 x123456", KIND_PHONE),
    # the extension's other spellings; a dash may join it (a dash and letters glued to the last
    # digit made the number part of a token, and it was left whole)
    ("+1 415-555-0132 Ext. 12 ok", "+1 415-555-0132 Ext. 12", KIND_PHONE),
    ("+1 415-555-0132 EXT 12", "+1 415-555-0132 EXT 12", KIND_PHONE),
    ("+1 415-555-0132 ext: 12", "+1 415-555-0132 ext: 12", KIND_PHONE),
    ("call +1 415 555 0132 Extension: 99.", "+1 415 555 0132 Extension: 99", KIND_PHONE),
    ("+1-826-710-1479-ext.-3616", "+1-826-710-1479-ext.-3616", KIND_PHONE),
    ("+44 20 7946 0958 X123", "+44 20 7946 0958 X123", KIND_PHONE),
    # cards
    ("card 4111 1111 1111 1111.", "4111 1111 1111 1111", KIND_CARD),
    ("card=4111-1111-1111-1111;", "4111-1111-1111-1111", KIND_CARD),
    ("amex 378282246310005", "378282246310005", KIND_CARD),
    ("mc 5555555555554444 exp 12/29", "5555555555554444", KIND_CARD),
    ("visa, 19 digits: 4222222222222222224", "4222222222222222224", KIND_CARD),
    # IBANs
    ("iban DE89370400440532013000", "DE89370400440532013000", KIND_IBAN),
    ("IBAN: DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX", "DE89 3704 0044 0532 0130 00", KIND_IBAN),
    ("GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", KIND_IBAN),
    ("pay FR1420041010050500013M02606 now", "FR1420041010050500013M02606", KIND_IBAN),
    ("IBAN: DE89-3704-0044-0532-0130-00.", "DE89-3704-0044-0532-0130-00", KIND_IBAN),  # dashed
    ("GB82-WEST-1234-5698-7654-32 (savings)", "GB82-WEST-1234-5698-7654-32", KIND_IBAN),
    # written whole, then a short capitalized token the printed form's groups could take
    ("IBAN GB82WEST12345698765432 X-API-Key: x", "GB82WEST12345698765432", KIND_IBAN),
    ("to DE89370400440532013000 A1 priority", "DE89370400440532013000", KIND_IBAN),
    ("DE89370400440532013000-B ref", "DE89370400440532013000", KIND_IBAN),
    # SSNs
    ("ssn 123-45-6789", "123-45-6789", KIND_SSN),
    ("SSN:078-05-1120.", "078-05-1120", KIND_SSN),
    # IPs
    ("client 203.0.113.7 connected", "203.0.113.7", KIND_IP),
    ("upstream=10.0.0.1:8080", "10.0.0.1", KIND_IP),
    ("server 192.168.1.20 is down", "192.168.1.20", KIND_IP),
    ("srv 192.168.1.20 is down", "192.168.1.20", KIND_IP),  # "rv" of a user agent: a whole word
    # a login's "user@" before an address, which a package's "@" before a version is not
    ("ssh root@10.20.30.40 uptime", "10.20.30.40", KIND_IP),
    ("scp dump.sql ubuntu@203.0.113.7:/tmp/", "203.0.113.7", KIND_IP),
    ("rsync -av ./ deploy@198.51.100.23:/srv/app", "198.51.100.23", KIND_IP),
    ("curl http://admin@192.168.1.1/setup", "192.168.1.1", KIND_IP),
    ("from 2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334", KIND_IP),
    ("[fe80::1ff:fe23:4567:890a]:443", "fe80::1ff:fe23:4567:890a", KIND_IP),
    ("mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128", KIND_IP),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", KIND_IP),
    # secrets
    ("OPENAI_API_KEY=sk-" + "A1b2" * 12, "sk-" + "A1b2" * 12, KIND_OPENAI_KEY),
    ("key sk-proj-" + "x_Y-1" * 20 + " end", "sk-proj-" + "x_Y-1" * 20, KIND_OPENAI_KEY),
    ("sk-ant-api03-" + "q" * 93 + "AA", "sk-ant-api03-" + "q" * 93 + "AA", KIND_ANTHROPIC_KEY),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", KIND_AWS_KEY_ID),
    # other vendors' prefixed keys
    ("GOOGLE_API_KEY=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
     KIND_API_KEY),
    ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
     KIND_API_KEY),
    ("HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
     KIND_API_KEY),
    ("token: npm_" + "a1B2" * 9 + ".", "npm_" + "a1B2" * 9, KIND_API_KEY),
    ("SG." + "x" * 22 + "." + "Y" * 43 + " sent", "SG." + "x" * 22 + "." + "Y" * 43, KIND_API_KEY),
    # more vendors' prefixes (gitleaks' rules)
    ("PPLX pplx-" + "a1B2" * 12, "pplx-" + "a1B2" * 12, KIND_API_KEY),
    ("databricks dapi" + "0123456789abcdef" * 2, "dapi" + "0123456789abcdef" * 2, KIND_API_KEY),
    ("shop shpat_" + "0a1b2c3d" * 4 + ".", "shpat_" + "0a1b2c3d" * 4, KIND_API_KEY),
    ("linear lin_api_" + "a1B2" * 10, "lin_api_" + "a1B2" * 10, KIND_API_KEY),
    ("notion ntn_12345678901" + "a1B2c" * 7, "ntn_12345678901" + "a1B2c" * 7, KIND_API_KEY),
    ("access token ya29.a0AfH6SMB" + "x1Y2" * 8, "ya29.a0AfH6SMB" + "x1Y2" * 8, KIND_API_KEY),
    ("twilio SK" + "0123456789abcdef" * 2, "SK" + "0123456789abcdef" * 2, KIND_API_KEY),
    ("sbp_" + "0123456789" * 4 + " supabase", "sbp_" + "0123456789" * 4, KIND_API_KEY),
    ("echo dckr_pat_a1B2c3D4e5_F6g7H8i9-J0k1L2m | docker login", "dckr_pat_a1B2c3D4e5_F6g7H8i9-J0k1L2m",
     KIND_API_KEY),
    ("square sq0atp-" + "a1B2-c3D4_e5" * 2, "sq0atp-" + "a1B2-c3D4_e5" * 2, KIND_API_KEY),
    ("sq0csp-" + "a1B2c3D4e5F6g" * 4, "sq0csp-" + "a1B2c3D4e5F6g" * 4, KIND_API_KEY),
    ("airtable patAbCdEfGh123456." + "0a1b2c3d" * 8, "patAbCdEfGh123456." + "0a1b2c3d" * 8,
     KIND_API_KEY),
    ("NETLIFY_AUTH_TOKEN nfp_" + "a1B2" * 9, "nfp_" + "a1B2" * 9, KIND_API_KEY),
    ("vault hvs." + "CAESI" + "a1B2_c3D4-" * 10, "hvs." + "CAESI" + "a1B2_c3D4-" * 10, KIND_API_KEY),
    ("doppler dp.st.prd." + "a1B2c3D4e5" * 4, "dp.st.prd." + "a1B2c3D4e5" * 4, KIND_API_KEY),
    ("grafana glc_" + "eyJvIjoiMTIzIiwibiI6InN0YWNrIn0" * 2 + "=", "glc_" + "eyJvIjoiMTIzIiwibiI6InN0YWNrIn0" * 2 + "=",
     KIND_API_KEY),
    ("PlanetScale pscale_pw_" + "a1B2c3D4e5F" * 3 + "a1B2c3D4e5", "pscale_pw_" + "a1B2c3D4e5F" * 3 + "a1B2c3D4e5",
     KIND_API_KEY),
    ("TELEGRAM_BOT_TOKEN=123456789:AA" + "a1B2c3D4e5F" * 3, "123456789:AA" + "a1B2c3D4e5F" * 3,
     KIND_API_KEY),
    ("GET https://api.telegram.org/bot7012345678:AA" + "x_Y-z1" * 5 + "abc/getUpdates",
     "7012345678:AA" + "x_Y-z1" * 5 + "abc", KIND_API_KEY),
    ("refresh 1//0gA1b2C3d4" + "E5f6G7h8I9" * 4, "1//0gA1b2C3d4" + "E5f6G7h8I9" * 4, KIND_API_KEY),
    ("artifactory AKCp" + "a1B2c3D4e5F6g7H8i9J0k1L2m3" * 2 + "N4o5P6q7R8s9T0u1V", "AKCp" + "a1B2c3D4e5F6g7H8i9J0k1L2m3" * 2 + "N4o5P6q7R8s9T0u1V",
     KIND_API_KEY),
    # the keys of an agent's own stack: tracing, vector stores, search, sandboxes, model hosts
    ("LANGSMITH_API_KEY=lsv2_pt_" + "0a1b2c3d" * 4 + "_4e5f6a7b8c", "lsv2_pt_" + "0a1b2c3d" * 4 + "_4e5f6a7b8c",
     KIND_API_KEY),
    ("service key lsv2_sk_" + "9f8e7d6c" * 4 + "_0a1b2c3d4e.", "lsv2_sk_" + "9f8e7d6c" * 4 + "_0a1b2c3d4e",
     KIND_API_KEY),
    ("Pinecone(api_key='pcsk_6Abc2_" + "X1y2Z3w4V5" * 6 + "')", "pcsk_6Abc2_" + "X1y2Z3w4V5" * 6, KIND_API_KEY),
    ("parser llx-" + "a1B2c3D4e5" * 5, "llx-" + "a1B2c3D4e5" * 5, KIND_API_KEY),
    ("Bearer-less jina_" + "0a1b2c3d4e5f" * 4 + "AbCdEfGh-IjKl", "jina_" + "0a1b2c3d4e5f" * 4 + "AbCdEfGh-IjKl",
     KIND_API_KEY),
    ("NVIDIA_API_KEY nvapi-" + "a1B2-c3D4_e5" * 6, "nvapi-" + "a1B2-c3D4_e5" * 6, KIND_API_KEY),
    ("search with tvly-" + "a1B2c3D4" * 4, "tvly-" + "a1B2c3D4" * 4, KIND_API_KEY),
    ("tvly-dev-" + "a1B2c3D4" * 4 + " works", "tvly-dev-" + "a1B2c3D4" * 4, KIND_API_KEY),
    ("FirecrawlApp(api_key=\"fc-" + "0123456789abcdef" * 2 + "\")", "fc-" + "0123456789abcdef" * 2, KIND_API_KEY),
    ("browserbase bb_live_" + "a1B2-c3D4_e5F6g7H8i9J0", "bb_live_" + "a1B2-c3D4_e5F6g7H8i9J0", KIND_API_KEY),
    ("sandbox e2b_" + "0123456789" * 4, "e2b_" + "0123456789" * 4, KIND_API_KEY),
    ("cerebras csk-" + "a1b2c3d4e5" * 5, "csk-" + "a1b2c3d4e5" * 5, KIND_API_KEY),
    ("xi-api-key sk_" + "0123456789abcdef" * 3, "sk_" + "0123456789abcdef" * 3, KIND_API_KEY),
    ("modal token set --token-id ak-a1B2c3D4e5F6g7H8i9J0kL --profile ci",
     "ak-a1B2c3D4e5F6g7H8i9J0kL", KIND_API_KEY),
    ("secret as-Z9y8X7w6V5u4T3s2R1q0pO", "as-Z9y8X7w6V5u4T3s2R1q0pO", KIND_API_KEY),
    ("fireworks fw_3ZaB1c2D3e4F5g6H7i8J9k0L", "fw_3ZaB1c2D3e4F5g6H7i8J9k0L", KIND_API_KEY),
    ("voyageai.Client(api_key='pa-" + "a1B2c3D4e5-F6g7H8i9J0_" * 2 + "')", "pa-" + "a1B2c3D4e5-F6g7H8i9J0_" * 2,
     KIND_API_KEY),
    ("notion secret_" + "a1B2c3D4e5F6g" * 3 + "h7I8", "secret_" + "a1B2c3D4e5F6g" * 3 + "h7I8", KIND_API_KEY),
    ("STRIPE_WEBHOOK_SECRET whsec_" + "a1B2c3D4e5F6g7H8" * 2, "whsec_" + "a1B2c3D4e5F6g7H8" * 2, KIND_API_KEY),
    ("svix whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", KIND_API_KEY),
    ("sentry sntryu_" + "0123456789abcdef" * 4, "sntryu_" + "0123456789abcdef" * 4, KIND_API_KEY),
    ("heroku HRKU-AA" + "a1B2-c3D4_e5F" * 4 + "6g7H8i", "HRKU-AA" + "a1B2-c3D4_e5F" * 4 + "6g7H8i", KIND_API_KEY),
    ("FLY_API_TOKEN=fo1_" + "a1B2-c3D4_e5F6g7H8i9J0k" * 2 + "L", "fo1_" + "a1B2-c3D4_e5F6g7H8i9J0k" * 2 + "L",
     KIND_API_KEY),
    ("Authorization: FlyV1 fm2_" + "lJPECAAAAAAAA" * 9 + "==", "fm2_" + "lJPECAAAAAAAA" * 9 + "==", KIND_API_KEY),
    ("origin ca v1.0-" + "0a1b2c3d" * 3 + "-" + "0123456789abcdef" * 9 + "01",
     "v1.0-" + "0a1b2c3d" * 3 + "-" + "0123456789abcdef" * 9 + "01", KIND_API_KEY),
    ("graph.facebook.com/me?access_token=EAAB" + "a1B2c3D4e5" * 11 + "&fields=id",
     "EAAB" + "a1B2c3D4e5" * 11, KIND_API_KEY),
    ("token qVhMKhbl3uwMko.atlasv1." + "a1B2c3D4e5-" * 6, "qVhMKhbl3uwMko.atlasv1." + "a1B2c3D4e5-" * 6,
     KIND_API_KEY),
    ("mailchimp 0123456789abcdef0123456789abcdef-us12 ok", "0123456789abcdef0123456789abcdef-us12",
     KIND_API_KEY),
    ("doppler dp.pt." + "a1B2c3D4e5" * 4 + "abc", "dp.pt." + "a1B2c3D4e5" * 4 + "abc", KIND_API_KEY),
    ("mailgun key-3ax6xnjp29jd6fds4gc373sgvjxteol0 ok", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
     KIND_API_KEY),
    ("pubkey-5ogiflzbnjrljiky49qxsiozqef5jxp7", "pubkey-5ogiflzbnjrljiky49qxsiozqef5jxp7",
     KIND_API_KEY),
    ("ASIAY34FZKBOKMUTVV7A temp", "ASIAY34FZKBOKMUTVV7A", KIND_AWS_KEY_ID),
    ("token ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9, KIND_GITHUB_TOKEN),
    ("github_pat_" + "A" * 22 + "_" + "b" * 59, "github_pat_" + "A" * 22 + "_" + "b" * 59, KIND_GITHUB_TOKEN),
    ("GITLAB_TOKEN=glpat-abcdEFGH1234ijklMNOP", "glpat-abcdEFGH1234ijklMNOP", KIND_GITLAB_TOKEN),
    ("xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD",
     "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD", KIND_SLACK_TOKEN),
    ("Authorization: Bearer abc123.def-456_ghi", "abc123.def-456_ghi", KIND_BEARER_TOKEN),
    ("curl -H 'authorization: bearer 9f8e7d6c5b4a'", "9f8e7d6c5b4a", KIND_BEARER_TOKEN),
    ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", KIND_PASSWORD),
    ("postgres://app:s3cr3t!@db.internal:5432/orders", "s3cr3t!", KIND_PASSWORD),
    ("redis://:hunter2@cache:6379/0", "hunter2", KIND_PASSWORD),
    # a "%" in a password that escapes no character stays part of it ("%B8" starts none)
    ("postgres://app:*ZiN%B8t@db-4.internal/x", "*ZiN%B8t", KIND_PASSWORD),
    ("mysql://root:a%FFb%C3c@db:3306/app", "a%FFb%C3c", KIND_PASSWORD),
    ("https://u:s3cr%2Ft@host/x", "s3cr%2Ft", KIND_PASSWORD),  # userinfo is read as written
    ("postgres://app:p%40ss%21word@db.internal:5432/x", "p%40ss%21word", KIND_PASSWORD),
    ("https://alice:p4ss@example.com/x", "p4ss", KIND_PASSWORD),
    ("Server=db;User Id=app;Password=Tr0ub4dor&3;", "Tr0ub4dor&3", KIND_PASSWORD),
    ("PGPASSWORD=hunter2 psql -h db", "hunter2", KIND_PASSWORD),
    ("mysql --password='pa ss word'", "pa ss word", KIND_PASSWORD),
    ('{"db_password": "correct horse"}', "correct horse", KIND_PASSWORD),
    ("MYSQL_PWD=letmein", "letmein", KIND_PASSWORD),
    ("password=Passw0rd, user=admin", "Passw0rd", KIND_PASSWORD),  # weak, but a password
    ("db.password: correct.horse.battery", "correct.horse.battery", KIND_PASSWORD),
    # a raw "#" or "@" in a hand-written DSN is still the password's
    ("postgresql://app:HZOqqk8Fk2FJh#@db.internal:5432/orders", "HZOqqk8Fk2FJh#", KIND_PASSWORD),
    ("mysql://root:#s3cret#@db-5.internal/app", "#s3cret#", KIND_PASSWORD),
    ("amqp://svc:a#b@c@mq:5672/", "a#b@c", KIND_PASSWORD),
    # a value shaped like no word is a password, whatever prose follows it
    ("Please use password: tgsIGv8Ls9 for this.", "tgsIGv8Ls9", KIND_PASSWORD),
    ("saw password: hunter2 in the logs", "hunter2", KIND_PASSWORD),
    ("password: HZOqqk8FkFJh is the new one", "HZOqqk8FkFJh", KIND_PASSWORD),
    ("password: Xk9#mQ2v! now", "Xk9#mQ2v!", KIND_PASSWORD),
    ("password: p@ss!word now", "p@ss!word", KIND_PASSWORD),
    ("password: JfshgPzxtx for this", "JfshgPzxtx", KIND_PASSWORD),
]  # fmt: skip
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nq2Yh+/x==\n-----END RSA PRIVATE KEY-----"
POSITIVES += [
    (f"id_token={JWT}&state=1", JWT, KIND_JWT),
    (f"Authorization: Bearer {JWT}", JWT, KIND_JWT),  # a bearer JWT is reported as a JWT
    (f"key:\n{PEM}\nthanks", PEM, KIND_PRIVATE_KEY),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",  # truncated attribute
     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", KIND_PRIVATE_KEY),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value", "kind"), POSITIVES)
def test_each_kind_is_found_with_its_exact_span(text: str, value: str, kind: str) -> None:
    start = text.index(value)
    assert find_all(text, [BUILTIN]) == [Match(start, start + len(value), kind)]


# --- near misses ---------------------------------------------------------------------------------

NEAR_MISSES = [
    "4111 1111 1111 1112",  # bad Luhn
    "4111111111111112",
    "order 79927398713",  # Luhn-valid but 11 digits
    "1234 5678 9012 3456 7890",  # a 20-digit run: no 16-digit window inside it
    "DE89 3704 0044 0532 0130 01",  # bad IBAN checksum
    "GB82WEST12345698765433",
    "XX89370400440532013000",  # no such country
    "DE8937040044053201300",  # one character short for DE
    "000-12-3456",  # SSA never issues area 000, 666, 9xx, group 00, serial 0000
    "666-12-3456",
    "900-12-3456",
    "123-00-4567",
    "123-45-0000",
    "123-45-67890",
    "+44 20 1234",  # too short
    "+999 1234 5678",  # no such country code
    "+1 555 010",  # six digits: shorter than any number written after a country code
    "999.999.999.999",
    "256.1.1.1",
    "10.0.0.1.5",  # five parts: an OID or version, not an address
    "1.2.3",
    "version 1.2.3.4",
    "npm i left-pad@1.2.3.4 && pkg@10.20.30.40 installed",
    "numpy==1.2.3.4",
    "Chrome/120.0.0.0",
    "Mozilla/5.0 (Windows NT 6.1; rv:1.9.5.20) Gecko/20100101 Firefox/3.5",
    "Mozilla/5.0 (X11; Linux i686; RV:1.9.0.20) Gecko/2009",
    "release 4.0.0.1-beta",
    "127.0.0.1 and ::1 and 0.0.0.0",  # loopback/unspecified identify nobody
    "10:15:30",
    "00:1a:2b:3c:4d:5e",  # a MAC address: bytes, not an IPv6
    "xs[1::2] and std::vector and Foo::Bar",
    "user@localhost",
    "bob@example.c",
    "@types/node@20.1.0",
    "icon@2x.png",
    "git@github.com:org/repo.git",
    "sk-short",
    "AKIA1234",
    # vendor prefixes in identifiers and short or wrong bodies
    "hf_hub_download(repo_id=x) and self.hf_config and hf_" + "a" * 29,
    "npm_config_cache=/tmp/npm and npm_package_version=1.2.3",
    "sk_live_short and rk_test_ and pk_live_" + "a" * 30,  # publishable keys are public
    "AIzaTooShort and xAIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    "SG.version.1 and r8_abc and dop_v1_xyz and gsk_abc and xai-grok",
    "ghp_tooShort",
    "DE89-3704 0044-0532-0130-00",  # an IBAN's groups joined two ways: not one printed form
    "ref DE12-3456-7890-1234-5678-90",  # IBAN-shaped, failing mod-97
    "SKU AB12-3456-7890-1234",
    "https://indieweb.org/images/2018-250-xoxo-indieweb-1.jpg",
    "eyJhbGciOiJIUzI1NiJ9",  # one segment: a base64 JSON blob, not a token
    "the bearer of this letter; Bearer authentication is required",
    "basic questions about Basic auth",
    "password=<PASSWORD> pwd=*** password: ${DB_PASSWORD} password=",
    "bypass=true, PASS: test_checkout (12ms)",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----",
    "https://example.com:8443/path?x=1",
    "http://host:8080#/users@1 and http://localhost:3000/#/a@b",  # a port, then a fragment
    "password: required for login; password: The password for the db",
    "password: SHA-hashed and salted; password: e-mail only; password: Passwort für alle",
    "%sudo ALL=(root) NOPASSWD: /bin/systemctl restart apt-cacher-ng.service",  # a path
    "password_regex=r'(?i)(?:password:)|(?:passphrase for key)'",  # code
    "https://username:password@example.com/ and https://REDACTED:REDACTED@example.com/",
    # credentials-shaped code: annotations, variables, comparisons, format strings
    "def login(username: str, password: str) -> None:",
    "password: (bool, optional): Hide typed text. Defaults to False.",
    "url.copy_with(password=None); password = str(password); password=self.password",
    'if self.password == other.password: print(f"password={password!r}")',
    "pwd=$DB_PASSWORD pwd=%PGPASS% password = auth",
    "Buffer the body before sending or use bearer authentication.",
    "Bearer access_token",
    "x + 14285714.286",
    "date 20080830 172159",  # Luhn-valid by chance, but not grouped like a card
    '__version__ = "3.5.0.1" and RFC 5891 §4.2.3.1 and section 2.7.2.2',
    "aBcD:ef01:2345:6789:aBcD:ef01:127.0.0.1.1",
    "@über and @property and ＠mention",  # no name before the "@"
    "привет @иван.петров и @ольга",  # mentions in Cyrillic
    "версия@2.0 и пакет@лучший",  # no top-level domain
    # a bot token's shape without its id, or inside a longer word or time
    "12:AA" + "x" * 33,
    "10:30:AA" + "x" * 33,
    "robot123456789:AA" + "x" * 33,
    "ratio 123456789:AAbc",
    "123456789:AA" + "x" * 34 + "y",
    # vendors' prefixes without their bodies
    "dckr_pat_short",
    "pattern 1//0 is a ZeroDivisionError",
    "hvs.short",
    "nfp_12",
    # the agent stack's prefixes in words, slugs, identifiers and base64
    "https://blog.example.com/pa-state-guide-to-retirement-accounts-and-taxes-2026",
    "as-" + "a" * 22,  # one case: not a generated token
    "fw_handle_request and fc-daygrid-day-frame and tvly-search",
    "secret_key_base and secret_access_key_id_for_the_production_bucket",
    "sk_live_short sk_" + "0123456789abcdef" * 2,  # ElevenLabs' keys are 48 hex
    "data:font/woff2;base64,AAAA/EAA" + "AABsDwAAiA8AAIwPAAAAEAAAKhAA" * 5 + "+AAA",
    "0123456789abcdef0123456789abcdef-us-east-1",
    "release.atlasv1.notes",
    "commit 0123456789abcdef0123456789abcdef01234567-us1x",
    # "key-" starts words and slugs: Mailgun's keys are 32 letters and digits, a digit among them
    "key-value-store-for-the-agent-memory-2024",
    "key-abcdefghijklmnopqrstuvwxyzabcdef",
    "key-3ax6xnjp29jd6fds4gc373sgvjxte",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    assert found(text) == []


def test_issuer_ranges_reject_luhn_valid_numbers_outside_the_card_networks() -> None:
    rng = random.Random(7)
    for first in "1789":  # airlines, petroleum, telecom, national: and every epoch millis
        number = luhn_complete(first + "3", 16, rng)
        assert found(f"id {number}") == [], number


# --- cards next to other numbers -----------------------------------------------------------------

CARD_PASTES = [
    # card, expiry, CVC: how people paste a card
    ("4111111111111111 12/28 123", [(KIND_CARD, "4111111111111111")]),
    ("4111 1111 1111 1111 12/28 123", [(KIND_CARD, "4111 1111 1111 1111")]),
    ("4111-1111-1111-1111 12/28 123", [(KIND_CARD, "4111-1111-1111-1111")]),
    # the code after its label is a code (test_card_codes.py); the expiry stays
    ("card: 4111 1111 1111 1111, exp 12/28, cvc 123",
     [(KIND_CARD, "4111 1111 1111 1111"), (KIND_PASSWORD, "123")]),
    ("5555 5555 5555 4444 1228 123", [(KIND_CARD, "5555 5555 5555 4444")]),  # MMYY
    ("5555555555554444 12 28 123", [(KIND_CARD, "5555555555554444")]),
    ("4111 1111 1111 1111 12 28 123", [(KIND_CARD, "4111 1111 1111 1111")]),
    ("4111 1111 1111 1111 123", [(KIND_CARD, "4111 1111 1111 1111")]),
    ("3782 822463 10005 04/27 1234", [(KIND_CARD, "3782 822463 10005")]),  # Amex: 4-digit CID
    ("378282246310005 0427 1234", [(KIND_CARD, "378282246310005")]),
    ("12/28 4111 1111 1111 1111", [(KIND_CARD, "4111 1111 1111 1111")]),
    ("12/2028 4111 1111 1111 1111", [(KIND_CARD, "4111 1111 1111 1111")]),
    # numbers before it
    ("qty 2 4111111111111111", [(KIND_CARD, "4111111111111111")]),
    ("line 17 4111 1111 1111 1111", [(KIND_CARD, "4111 1111 1111 1111")]),
    ("+44 20 7946 0958 4111 1111 1111 1111",
     [(KIND_PHONE, "+44 20 7946 0958"), (KIND_CARD, "4111 1111 1111 1111")]),
    # "+49 30 901820 4111" is a valid German number too: the phone does not take the card's 4111
    ("+49 30 901820 4111 1111 1111 1111",
     [(KIND_PHONE, "+49 30 901820"), (KIND_CARD, "4111 1111 1111 1111")]),
    ("123-45-6789 4111-1111-1111-1111",
     [(KIND_SSN, "123-45-6789"), (KIND_CARD, "4111-1111-1111-1111")]),
    ("123-45-6789 4111 1111 1111 1111",
     [(KIND_SSN, "123-45-6789"), (KIND_CARD, "4111 1111 1111 1111")]),
    # two cards in a row
    ("4111 1111 1111 1111 5555 5555 5555 4444",
     [(KIND_CARD, "4111 1111 1111 1111"), (KIND_CARD, "5555 5555 5555 4444")]),
    ("4111111111111111 5555555555554444",
     [(KIND_CARD, "4111111111111111"), (KIND_CARD, "5555555555554444")]),
    # printed with dots, as some forms and receipts do
    ("card 4111.1111.1111.1111 exp 12/28", [(KIND_CARD, "4111.1111.1111.1111")]),
    ("cc: 5500.0000.0000.0004.", [(KIND_CARD, "5500.0000.0000.0004")]),
    ("amex 3782.822463.10005", [(KIND_CARD, "3782.822463.10005")]),
    ("4111.1111.1111.1111 123", [(KIND_CARD, "4111.1111.1111.1111")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CARD_PASTES)
def test_a_card_next_to_other_numbers_is_found_and_nothing_else_with_it(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert found(text) == expected


def test_a_national_phone_number_does_not_take_the_first_four_of_a_card_after_it() -> None:
    text = "030 901820 4111 1111 1111 1111"
    assert phonenumbers.is_valid_number(phonenumbers.parse("030 901820 4111", "DE"))

    assert found(text, BuiltinDetector(default_phone_region="DE")) == [
        (KIND_PHONE, "030 901820"),
        (KIND_CARD, "4111 1111 1111 1111"),
    ]


CARD_NEAR_MISSES = [
    "4111 1111 1111 1111.5",  # a decimal
    "4111111111111111-12",  # a dashed id
    "4111 1111 1111 1111-12",
    "4111 1111 1111 1111 12",  # 4-4-4-4-2 is one 18-digit number, and it fails Luhn
    "4111 1111 1111 1112 1234",  # the leading 16 digits fail Luhn
    "4111 1111 1111 12/28",  # 12 digits, and not a Maestro range
    "1234 4111 1111 1111 1111",  # inside a longer number printed in fours
    "ref 12345678901234567890",
    "4111.1111.1111.1112",  # dotted, failing Luhn
    "ver 2024.1001.1234.5678",  # no network's range
    "pi 3.1415.9265.3589",  # after a digit and a dot: part of a longer token
    "4111.1111.1111.1111.5",  # runs on into a fifth group
    "total 4111.1111",
]


@pytest.mark.parametrize("text", CARD_NEAR_MISSES)
def test_card_near_misses_are_left_alone(text: str) -> None:
    assert found(text) == []


def fours(digits: str, separator: str = " ") -> str:
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


# (id, digits in it that are a card on their own): UUIDs and other hex ids whose digit-only groups
# pass Luhn and fall in an issuer range.
HEX_IDS = [
    ("3f2a9c1e-5731-4609-9375-0a1b2c3d4e5f", "5731-4609-9375"),
    ("3F2A9C1E-5731-4609-9375-0A1B2C3D4E5F", "5731-4609-9375"),
    ("urn:uuid:3f2a9c1e-5731-4609-9375-0a1b2c3d4e5f", "5731-4609-9375"),
    ("9aec56a8-5731-4609-9375-ee90d6b36", "5731-4609-9375"),  # cut short
    ("12345678-5731-4609-9375-0a1b2c3d4e5f", "5731-4609-9375"),  # all-digit first group
    ("3f2a9c1e-5731-4609-9375-123456789012", "5731-4609-9375"),  # all-digit last group
    ("eaf7c250-c571-47a1-a73d-675958906264", "675958906264"),
    ("a1b2c3d4-4111-1111-1111-1111-e5f6a7b8", "4111-1111-1111-1111"),
    ("a1b2c3d4-4111111111111111", "4111111111111111"),
    ("4111111111111111-a1b2c3d4", "4111111111111111"),
]


@pytest.mark.parametrize(("text", "digits"), HEX_IDS)
def test_card_digits_dash_joined_to_a_hex_group_are_part_of_an_id(text: str, digits: str) -> None:
    assert found(digits) == [(KIND_CARD, digits)]
    assert found(text) == []
    assert found(f"request {text} failed") == []


def test_uuids_whose_digit_groups_pass_luhn_are_not_cards() -> None:
    uuids = luhn_uuids()
    # The middle groups ("5731-4609-9375") or the last one: some are cards on their own.
    parts = [part for value in uuids for part in (str(value)[9:23], str(value)[24:])]
    cards = [part for part in parts if found(part) == [(KIND_CARD, part)]]
    assert len(uuids) >= 200
    assert len(cards) >= 3, cards
    for value in uuids:
        for text in (str(value), str(value).upper(), f"doc {value}.pdf", str(value)[:33]):
            assert found(text) == [], text


def test_a_card_after_a_word_or_a_short_label_is_still_found() -> None:
    """A hex group has letters and digits and four characters at least: a word made of hex
    letters ("card", "face") or a label ("A1") is not one."""
    assert found("card-4111-1111-1111-1111") == [(KIND_CARD, "4111-1111-1111-1111")]
    assert found("face-4111111111111111") == [(KIND_CARD, "4111111111111111")]
    assert found("A1-4111-1111-1111-1111") == [(KIND_CARD, "4111-1111-1111-1111")]
    assert found("4111-1111-1111-1111-cafe") == [(KIND_CARD, "4111-1111-1111-1111")]


def test_a_number_longer_than_any_card_is_not_cut_into_one() -> None:
    """A 20-digit reference holds a Luhn-valid 16-digit window one time in ten. Redacting that
    window would mangle the number and hide nothing, so a run longer than 19 digits is never a
    card, and a card never starts inside a number printed in fours. The exception is a card's
    leading window (see the next test)."""
    rng = random.Random(11)
    for _ in range(50):
        card = luhn_complete(rng.choice("3456"), 16, rng)
        head = "9" + "".join(rng.choice(string.digits) for _ in range(rng.randrange(3, 8)))
        tail = "".join(rng.choice(string.digits) for _ in range(4))
        texts = [f"ref {card}{tail}", f"ref {head}{card}", f"ref {head[:4]}{card}"]
        texts += [f"ref {fours(head[:4] + card, separator)}" for separator in " -"]
        for text in texts:
            assert found(text) == [], text


def test_a_grouped_card_followed_by_another_group_is_found_by_luhn_and_issuer() -> None:
    """A card followed by a PIN or an expiry written "1228" looks like a 20-digit number printed
    in fours. Which it is cannot be told from the shape; the leading 16 digits are taken when they
    pass Luhn and fall in an issuer range (one number in twenty by chance), so cards do not leak."""
    rng = random.Random(13)
    for _ in range(50):
        card = luhn_complete(rng.choice("3456"), 16, rng)
        group = "".join(rng.choice(string.digits) for _ in range(4))
        for separator in " -":
            text = f"{fours(card, separator)} {group}"
            assert found(text) == [(KIND_CARD, fours(card, separator))], text
            text = fours(card + group, separator)
            assert found(text) == [(KIND_CARD, fours(card, separator))], text


PASTE_TEMPLATES = [
    "{card} {mm}/{yy} {cvc}",
    "{card}, {mm}/{yy}, {cvc}",
    "{mm}/{yy} {card} {cvc}",
    "{card} {mm}{yy} {cvc}",
    "{card} {cvc}",
    "qty {n} {card}",
    "{phone} {card}",
    "{ssn} {card}",
]
PHONES = ["+1 415 555 2671", "+44 20 7946 0958", "+49 30 901820", "+33 1 42 68 53 00"]


def spelled_card(number: str, rng: random.Random) -> str:
    """As printed on the card: 16 digits in fours, Amex 4-6-5, Diners 4-6-4; or unbroken."""
    if rng.random() < 0.5:
        return number
    separator = rng.choice(" -")
    if len(number) == 16:
        return fours(number, separator)
    if len(number) in (14, 15):
        return separator.join((number[:4], number[4:10], number[10:]))
    return number


def test_generated_cards_pasted_with_other_numbers_are_found() -> None:
    Faker.seed(29)
    fake = Faker(LOCALES)
    rng = random.Random(29)
    misses = []
    for locale in LOCALES:
        for template in PASTE_TEMPLATES:
            for _ in range(6):
                card = spelled_card(fake[locale].credit_card_number(), rng)
                values = {
                    "card": card,
                    "mm": f"{rng.randrange(1, 13):02d}",
                    "yy": str(rng.randrange(25, 35)),
                    "cvc": f"{rng.randrange(1000):03d}",
                    "n": str(rng.randrange(1, 10)),
                    "phone": rng.choice(PHONES),
                    "ssn": fake["en_US"].ssn(),
                }
                text = template.format(**values)
                start = text.index(card)
                expected = [KIND_CARD]
                if "{phone}" in template:
                    expected = [KIND_PHONE, KIND_CARD]
                elif "{ssn}" in template:
                    expected = [KIND_SSN, KIND_CARD]
                matches = find_all(text, [BUILTIN])
                ends = [m.end for m in matches if m.kind == KIND_CARD and m.start == start]
                # The card, or the card and the group after it when both pass as one longer card
                # (4-4-4-4 and a CVC are 4-4-4-4-3, a 19-digit card one time in ten).
                if (
                    [m.kind for m in matches] != expected
                    or not ends
                    or (text[start + len(card) : ends[0]] not in ("", f" {values['cvc']}"))
                ):
                    misses.append((text, found(text)))

    assert misses == [], f"{len(misses)} missed, first: {misses[:5]}"


# --- Faker across locales ------------------------------------------------------------------------

TEMPLATES = [
    "{}",
    "Please note {} for the record.",
    "Details ({}) attached",
    '{{"field": "{}"}}',
    "- {}\n",
    "値は{}です",
]


def faker_phones(fake: Faker, region: str, rng: random.Random) -> Iterator[str]:
    """International spellings of valid numbers for ``region``.

    ``fake.phone_number()`` mixes national and international formats and is often not a valid
    number at all (made-up area codes), so each one is parsed for its locale's region and only
    valid ones are kept, re-spelled in international format (and kept as-is when Faker already
    wrote them with "+"). Faker's ``msisdn()`` has no country code, so it is not used. Numbers are
    also built from phonenumbers' example numbers per region and type with random subscriber
    digits, kept when valid, in INTERNATIONAL, E.164, RFC 3966 and dotted spellings.
    """
    for _ in range(20):
        raw = fake.phone_number()
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            yield phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            if raw.startswith("+"):
                yield raw
    fmt = phonenumbers.PhoneNumberFormat
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        assert example is not None
        national = str(example.national_number)
        for _ in range(8):
            digits = national[:-4] + "".join(rng.choice(string.digits) for _ in range(4))
            number = phonenumbers.parse(f"+{example.country_code}{digits}", None)
            if not phonenumbers.is_valid_number(number):
                continue
            international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
            yield rng.choice(
                [
                    international,
                    phonenumbers.format_number(number, fmt.E164),
                    phonenumbers.format_number(number, fmt.RFC3966).removeprefix("tel:"),
                    international.replace(" ", "."),
                ]
            )


def faker_values() -> list[tuple[str, str]]:
    """(kind, value) pairs from Faker in eight locales, seeded."""
    Faker.seed(20261124)
    fake = Faker(LOCALES)
    rng = random.Random(20261124)
    values: list[tuple[str, str]] = []
    for locale in LOCALES:
        local = fake[locale]
        for _ in range(50):
            values.append(
                (KIND_EMAIL, rng.choice([local.email, local.free_email, local.company_email])())
            )
            card = local.credit_card_number()
            if rng.random() < 0.3 and len(card) == 16:
                card = rng.choice(" -").join(card[i : i + 4] for i in range(0, 16, 4))
            values.append((KIND_CARD, card))
            iban = local.iban()
            if rng.random() < 0.3:
                iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
            values.append((KIND_IBAN, iban))
        for _ in range(25):
            values.append((KIND_IP, local.ipv4()))
            values.append((KIND_IP, local.ipv6()))
        values += [(KIND_PHONE, p) for p in faker_phones(local, REGION_OF[locale], rng)]
    values += [(KIND_SSN, fake["en_US"].ssn()) for _ in range(200)]
    # Loopback and unspecified addresses are deliberately not redacted: they identify nobody.
    return [
        (kind, value)
        for kind, value in values
        if kind != KIND_IP
        or not (ipaddress.ip_address(value).is_loopback or ipaddress.ip_address(value).is_unspecified)
    ]  # fmt: skip


def random_token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def generated_secrets(rng: random.Random, per_kind: int = 30) -> list[tuple[str, str, str]]:
    """(text, secret value, kind): each secret in a context it really shows up in."""
    out: list[tuple[str, str, str]] = []

    def add(make: Callable[[], tuple[str, str]], kind: str) -> None:
        for _ in range(per_kind):
            context, value = make()
            out.append((context, value, kind))

    def openai() -> tuple[str, str]:
        value = rng.choice(
            [
                "sk-" + random_token(rng, ALNUM, 48),
                "sk-proj-"
                + random_token(rng, B64URL, 74)
                + "T3BlbkFJ"
                + random_token(rng, B64URL, 74),
                "sk-svcacct-"
                + random_token(rng, B64URL, 74)
                + "T3BlbkFJ"
                + random_token(rng, B64URL, 74),
                "sk-admin-"
                + random_token(rng, B64URL, 58)
                + "T3BlbkFJ"
                + random_token(rng, B64URL, 58),
            ]
        )
        return f"OPENAI_API_KEY={value}", value

    def anthropic() -> tuple[str, str]:
        version = rng.choice(["api03", "admin01"])
        value = f"sk-ant-{version}-" + random_token(rng, B64URL, 93) + "AA"
        return f"x-api-key: {value}", value

    def aws() -> tuple[str, str]:
        prefix = rng.choice(["AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"])
        value = prefix + random_token(rng, string.ascii_uppercase + "234567", 16)
        return f"aws_access_key_id = {value}", value

    def github() -> tuple[str, str]:
        if rng.random() < 0.3:
            value = (
                "github_pat_" + random_token(rng, ALNUM, 22) + "_" + random_token(rng, ALNUM, 59)
            )
        else:
            value = rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + random_token(
                rng, ALNUM, 36
            )
        return f"GH_TOKEN={value}", value

    def gitlab() -> tuple[str, str]:
        value = "glpat-" + random_token(rng, ALNUM, 4) + random_token(rng, B64URL, 16)
        return f"PRIVATE-TOKEN: {value}", value

    def slack() -> tuple[str, str]:
        value = rng.choice(
            [
                f"xoxb-{random_token(rng, string.digits, 12)}-{random_token(rng, string.digits, 13)}-"
                + random_token(rng, ALNUM, 24),
                "xoxp-"
                + "-".join(random_token(rng, string.digits, 12) for _ in range(3))
                + "-"
                + random_token(rng, string.hexdigits.lower()[:16], 32),
                f"xapp-1-A{random_token(rng, string.ascii_uppercase + string.digits, 10)}-"
                f"{random_token(rng, string.digits, 13)}-{random_token(rng, '0123456789abcdef', 64)}",
            ]
        )
        return f"SLACK_TOKEN={value}", value

    def jwt() -> tuple[str, str]:
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps({"sub": str(rng.randrange(10**9)), "iat": 1764000000}).encode())
        signature = b64url(
            hmac.new(rng.randbytes(32), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        value = f"{header}.{payload}.{signature}"
        return f"Cookie: session={value}; Path=/", value

    def bearer() -> tuple[str, str]:
        value = (
            random_token(rng, ALNUM, 30)
            + rng.choice(string.digits)
            + random_token(rng, ALNUM + "._-", 9)
        )
        return f"Authorization: Bearer {value}", value

    def private_key() -> tuple[str, str]:
        label = rng.choice(
            [
                "RSA PRIVATE KEY",
                "EC PRIVATE KEY",
                "PRIVATE KEY",
                "OPENSSH PRIVATE KEY",
                "ENCRYPTED PRIVATE KEY",
            ]
        )
        body = "\n".join(
            base64.b64encode(rng.randbytes(48)).decode() for _ in range(rng.randrange(3, 12))
        )
        value = f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
        return f"key file:\n{value}\n", value

    def url_password() -> tuple[str, str]:
        value = random_token(rng, ALNUM + "!$%^*_-~#", rng.randrange(8, 24))
        scheme = rng.choice(["postgres", "mysql", "mongodb+srv", "redis", "amqp", "https"])
        return f"{scheme}://svc_user:{value}@db-{rng.randrange(9)}.internal:5432/app", value

    def connection_password() -> tuple[str, str]:
        value = random_token(rng, ALNUM + "!$%^*_-~", rng.randrange(8, 24))
        template = rng.choice(
            [
                "Server=db;Database=orders;User Id=app;Password={};",
                "PGPASSWORD={} psql -h db",
                "pwd={}&user=app",
                "db.password: {}",
                "password: {} for the reporting db",
            ]
        )
        return template.format(value), value

    def vendor_key() -> tuple[str, str]:
        hexdigits = "0123456789abcdef"
        value = rng.choice(
            [
                "AIza" + random_token(rng, B64URL, 35),
                rng.choice(["sk_live_", "sk_test_", "rk_live_", "rk_test_"])
                + random_token(rng, ALNUM, rng.choice([24, 99])),
                "hf_" + random_token(rng, string.ascii_letters, 34),
                "gsk_" + random_token(rng, ALNUM, 52),
                "xai-" + random_token(rng, ALNUM, 80),
                "npm_" + random_token(rng, ALNUM, 36),
                "pypi-AgEIcHlwaS5vcmc" + random_token(rng, B64URL, 60),
                "SG." + random_token(rng, B64URL, 22) + "." + random_token(rng, B64URL, 43),
                "dop_v1_" + random_token(rng, hexdigits, 64),
                "r8_" + random_token(rng, ALNUM, 37),
            ]
        )
        return rng.choice([f"export API_TOKEN={value}", f"client = Client('{value}')"]), value

    add(openai, KIND_OPENAI_KEY)
    add(anthropic, KIND_ANTHROPIC_KEY)
    add(vendor_key, KIND_API_KEY)
    add(aws, KIND_AWS_KEY_ID)
    add(github, KIND_GITHUB_TOKEN)
    add(gitlab, KIND_GITLAB_TOKEN)
    add(slack, KIND_SLACK_TOKEN)
    add(jwt, KIND_JWT)
    add(bearer, KIND_BEARER_TOKEN)
    add(private_key, KIND_PRIVATE_KEY)
    add(url_password, KIND_PASSWORD)
    add(connection_password, KIND_PASSWORD)
    return out


def test_generated_pii_and_secrets_in_sentences_are_found_with_kind_and_exact_span() -> None:
    rng = random.Random(3)
    cases = [
        (template.format(value), value, kind)
        for kind, value in faker_values()
        for template in [rng.choice(TEMPLATES)]
    ]
    cases += [
        (f"Debug: {context} (do not share)", value, kind)
        for context, value, kind in generated_secrets(rng)
    ]
    kinds = {kind for _, _, kind in cases}

    misses = []
    for text, value, kind in cases:
        start = text.index(value)
        if find_all(text, [BUILTIN]) != [Match(start, start + len(value), kind)]:
            misses.append((kind, value, found(text)))

    assert len(cases) >= 2000
    assert kinds == BUILTIN_KINDS
    assert misses == [], f"{len(misses)} of {len(cases)} missed, first: {misses[:5]}"


def test_phone_numbers_with_an_extension_are_found_with_it() -> None:
    """Spelled as phonenumbers formats an extension (" ext. 12", RFC 3966's ";ext=12") and as
    people and Faker write it ("x204"): internationally, and nationally with a default region."""
    rng = random.Random(37)
    fmt = phonenumbers.PhoneNumberFormat
    checked = 0
    for region in sorted(set(REGION_OF.values())):
        national_detector = BuiltinDetector(default_phone_region=region)
        example = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.FIXED_LINE
        )
        assert example is not None
        for _ in range(10):
            digits = str(example.national_number)[:-4] + f"{rng.randrange(10**4):04d}"
            number = phonenumbers.parse(f"+{example.country_code}{digits}", None)
            if not phonenumbers.is_valid_number(number):
                continue
            bare = phonenumbers.format_number(number, fmt.INTERNATIONAL)
            extension = str(rng.randrange(1, 10 ** rng.randrange(1, 7)))
            number.extension = extension
            spellings = [
                phonenumbers.format_number(number, fmt.INTERNATIONAL),
                phonenumbers.format_number(number, fmt.RFC3966).removeprefix("tel:"),
                f"{bare} x{extension}",
                f"{phonenumbers.format_number(number, fmt.E164)}x{extension}",
            ]
            for value in spellings:
                assert found(f"call {value} today") == [(KIND_PHONE, value)], value
            national = phonenumbers.format_number(number, fmt.NATIONAL)
            text = f"call {national} today"
            assert found(text, national_detector) == [(KIND_PHONE, national)], (region, national)
            checked += 1
    assert checked >= 40


def test_user_agents_are_left_alone() -> None:
    """Gecko's "rv:1.9.5.20" and Chrome's "120.0.6099.130" are versions shaped like addresses."""
    Faker.seed(31)
    fake = Faker("en_US")
    rng = random.Random(31)
    agents = [fake.user_agent() for _ in range(500)]
    agents += [FAMILIES["user_agent"](rng) for _ in range(500)]
    for detector in (BUILTIN, BuiltinDetector(default_phone_region="US")):
        assert [(agent, found(agent, detector)) for agent in agents if detector.find(agent)] == []


# The version context as it was written before it was matched backwards (``_network``).
_VERSION_CONTEXT_FORWARD = re.compile(
    r"""(?:(?<![A-Za-z])(?i:version|ver|v|release|build|rev|rv)_*[\s:="'(]*|==|@|[A-Za-z]/|§\s?)$"""
)
_CONTEXT_PIECES = [
    *"vVrRbBxXeEsS_=@/§:\"'( \t\n.1Kſ",
    "version",
    "VERSION",
    "ver",
    "rev",
    "rv",
    "release",
    "build",
    "Build",
    "==",
    "Chrome/",
    "rv:",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_CONTEXT_PIECES), max_size=8).map("".join))
def test_the_version_context_read_backwards_answers_as_the_forward_search(before: str) -> None:
    before = before[-16:]
    expected = _VERSION_CONTEXT_FORWARD.search(before) is not None
    assert is_version_context(before) is expected


def digit_groups(text: str) -> list[int]:
    return [len(run) for run in re.findall(r"[0-9]+", text)]


def test_faker_national_phone_formats_are_found_by_default_and_only_with_phone_regions() -> None:
    Faker.seed(11)
    fake = Faker(LOCALES)
    checked = 0
    for locale in LOCALES:
        region = REGION_OF[locale]
        for _ in range(50):
            raw = fake[locale].phone_number()
            if raw.startswith("+") or (
                not any(c in " .-()" for c in raw) and not raw.startswith("0")
            ):
                continue  # international (covered above), or a bare digit run (an id, not found)
            number = phonenumbers.parse(raw, region)
            if not phonenumbers.is_valid_number(number):
                continue
            # Written nationally means with the trunk prefix or grouped as the country groups it.
            # Faker writes some Japanese mobiles without their trunk 0 ("90-6953-9804"), which
            # nobody in Japan does: like card-shaped digit groups, those are not taken for phones.
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            if not raw.lstrip("(").startswith("0") and digit_groups(raw) != digit_groups(national):
                continue
            checked += 1
            text = f"Call me at {raw} tomorrow"
            assert [kind for kind, _ in found(text)] == [KIND_PHONE], (locale, raw)
            assert found(text, BuiltinDetector(phone_regions=[region])) == found(text), raw
            assert found(text, BuiltinDetector(phone_regions=())) == [], raw
    assert checked > 100


# --- false positives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regions", [None, (), ("US",), ("DE",), ("GB",), ("FR",), ("JP",), ("BR",)]
)
def test_benign_technical_values_are_left_alone(regions: tuple[str, ...] | None) -> None:
    corpus = benign_values()
    detector = BuiltinDetector(phone_regions=regions)
    altered = [
        (family, value, found(value, detector)) for family, value in corpus if detector.find(value)
    ]

    assert len(corpus) >= 4000
    assert {family for family, _ in corpus} == set(FAMILIES)
    assert altered == [], (
        f"{len(altered)} of {len(corpus)} benign values altered, e.g. {altered[:5]}"
    )


# --- merging -------------------------------------------------------------------------------------


class Fixed:
    """A detector that reports the matches it was given (a third-party detector stand-in)."""

    def __init__(self, *matches: Match) -> None:
        self.kinds = frozenset(m.kind for m in matches)
        self._matches = list(matches)

    def find(self, text: str) -> list[Match]:
        return list(self._matches)


def test_find_all_secret_beats_the_pii_it_overlaps() -> None:
    text = "https://alice:p4ss@example.com/"
    email_like = RegexDetector("EMAILISH", r"[\w.]+@[\w.]+")

    assert found(text, email_like) == [("EMAILISH", "p4ss@example.com")]
    # The secret's kind wins; the span is the union, so nothing either detector flagged survives.
    assert [(m.kind, text[m.start : m.end]) for m in find_all(text, [email_like, BUILTIN])] == [
        (KIND_PASSWORD, "p4ss@example.com")
    ]


def test_find_all_merges_overlaps_under_the_earlier_then_longer_match() -> None:
    text = "abc def ghi jkl"
    result = find_all(
        text,
        [
            Fixed(Match(12, 15, "D"), Match(4, 11, "B")),  # "def ghi"
            Fixed(Match(0, 7, "A")),  # "abc def" starts earlier than "def ghi": its kind wins
            Fixed(Match(12, 13, "E")),  # same start as "jkl", shorter: folded into it
        ],
    )
    # Overlaps are merged into their union, so " ghi" (flagged by B) is not left behind.
    assert result == [Match(0, 11, "A"), Match(12, 15, "D")]


def test_find_all_ignores_empty_and_out_of_bounds_matches() -> None:
    text = "hello"
    bad = Fixed(Match(3, 3, "X"), Match(4, 99, "X"), Match(-1, 2, "X"), Match(1, 2, "OK"))
    assert find_all(text, [bad]) == [Match(1, 2, "OK")]


def test_secret_kinds_are_builtin_kinds() -> None:
    assert SECRET_KINDS < BUILTIN_KINDS
    assert len(BUILTIN_KINDS) == 17


def test_kinds_selects_what_the_builtin_detector_looks_for() -> None:
    text = "mail jane@example.com card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE"
    only_cards = BuiltinDetector(kinds=[KIND_CARD])
    assert found(text, only_cards) == [(KIND_CARD, "4111 1111 1111 1111")]
    assert found(text, BuiltinDetector(kinds=[])) == []
    with pytest.raises(ConfigError, match="NOPE"):
        BuiltinDetector(kinds=["NOPE"])
    with pytest.raises(ConfigError, match="ISO 3166"):
        BuiltinDetector(default_phone_region="Atlantis")


# --- user-configured detectors -------------------------------------------------------------------


def test_regex_detector_without_a_value_group_replaces_the_whole_match() -> None:
    detector = RegexDetector("TICKET", r"TCK-\d{6}")
    assert found("see TCK-123456 and TCK-12", detector) == [("TICKET", "TCK-123456")]
    assert detector.kinds == frozenset({"TICKET"})


def test_regex_detector_with_a_value_group_replaces_only_the_value() -> None:
    detector = RegexDetector("ACCOUNT", r"ACC-(?:(?P<value>\d{8})|X+)")
    assert found("ACC-12345678 and ACC-XXXX", detector) == [("ACCOUNT", "12345678")]


def test_regex_detector_honours_flags() -> None:
    detector = RegexDetector("PROJECT", r"project (?P<value>\w+)", flags=re.IGNORECASE)
    assert found("PROJECT Falcon", detector) == [("PROJECT", "Falcon")]


def test_regex_detector_skips_empty_matches() -> None:
    assert RegexDetector("MAYBE", r"x*").find("abc") == []


def test_a_bad_pattern_is_a_config_error_naming_the_pattern_and_the_regex_error() -> None:
    with pytest.raises(ConfigError) as error:
        RegexDetector("ACCOUNT", r"ACC-(\d{8}")
    message = str(error.value)
    assert "ACC-(\\\\d{8}" in message or r"ACC-(\d{8}" in message
    assert "missing )" in message
    assert "ACCOUNT" in message


@pytest.mark.parametrize("name", ["", "has space", "a<b>"])
def test_a_bad_detector_name_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="detector name"):
        TermDetector(name, ["x"])


def test_term_detector_is_case_insensitive_whole_word_and_longest_first() -> None:
    detector = TermDetector("CUSTOMER", ["Acme", "Acme Corp", "A.B. (Holdings)", "  Globex   Inc "])
    text = "acme corp, ACME, Acmes, xAcme, a.b. (holdings) and Globex\n inc"
    assert found(text, detector) == [
        ("CUSTOMER", "acme corp"),
        ("CUSTOMER", "ACME"),
        ("CUSTOMER", "a.b. (holdings)"),
        ("CUSTOMER", "Globex\n inc"),
    ]
    assert TermDetector("EMPTY", ["", "  "]).find("anything") == []


def test_term_detector_finds_each_of_5000_terms() -> None:
    Faker.seed(5)
    fake = Faker("en_US")
    terms = sorted({fake.company() for _ in range(3000)} | {f"ACCT-{n:07d}" for n in range(2500)})
    terms = terms[:5000]
    detector = TermDetector("CUSTOMER", terms)
    rng = random.Random(5)
    sample = rng.sample(terms, 300)
    text = " ; ".join(
        f"note about {term.upper() if i % 2 else term.lower()} today"
        for i, term in enumerate(sample)
    )

    matches = detector.find(text)

    assert len(terms) == 5000
    assert detector.term_count == 5000
    assert [text[m.start : m.end].lower() for m in matches] == [t.lower() for t in sample]
    assert detector.find("ACCT-00000001") == []  # not a whole-word term (one digit too many)


# --- robustness ----------------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "@", "@example.com", "a.b@c.de", "+", "+44 ", "+1 (415) 555-2671", "4111", " 1111", "-",
        "DE89", " 3704", "123-45-6789", "10.0.0.1", ".", ":", "::", "fe80", "sk-", "sk-ant-api03-",
        "AKIA", "ghp_", "github_pat_", "glpat-", "xoxb-", "eyJ", ".eyJ", "Bearer ", "Basic ",
        "password=", "pwd=", "://u:", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
        "\n", "\\n", "０", "٣", "é", "\ud800", "\udfff", "连", "(", ")", "=", ";", "'", '"', "x",
    ]
)  # fmt: skip
TEXTS = st.one_of(
    st.text(),
    st.text(st.characters(categories=["Cs", "Nd", "Po", "Ll"])),  # lone surrogates included
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), max_size=60).map("".join),
    st.builds(
        lambda piece, repeat: piece * repeat,
        st.one_of(FRAGMENTS, st.lists(FRAGMENTS, min_size=1, max_size=6).map("".join)),
        st.integers(200, 4000),
    ),
)
DETECTORS: list[Detector] = [
    BUILTIN,
    BuiltinDetector(default_phone_region="DE"),
    RegexDetector("ACCOUNT", r"ACC-(?P<value>\d*)"),
    TermDetector("CUSTOMER", ["Acme", "é", "Bearer"]),
]


def assert_well_formed(matches: list[Match], text: str) -> None:
    previous_end = 0
    for m in matches:
        assert 0 <= m.start < m.end <= len(text)
        assert m.start >= previous_end  # sorted, no overlaps
        previous_end = m.end


@given(TEXTS)
@settings(max_examples=250, deadline=None)
def test_find_never_raises_and_matches_are_in_bounds(text: str) -> None:
    for detector in DETECTORS:
        assert_well_formed(detector.find(text), text)
    merged = find_all(text, DETECTORS)
    assert_well_formed(merged, text)
    assert all(m.kind in BUILTIN_KINDS | {"ACCOUNT", "CUSTOMER"} for m in merged)


def test_find_all_leaves_nothing_of_a_card_a_partial_custom_match_overlaps() -> None:
    text = "card 4111 1111 1111 1111 ok"
    half = Fixed(Match(5, 14, "CUSTOM"))  # "4111 1111": a user pattern that stops halfway

    [match] = find_all(text, [half, BUILTIN])

    assert text[match.start : match.end] == "4111 1111 1111 1111"
    assert match.kind == KIND_CARD  # same start, longer match ranks first


def test_find_all_merges_a_match_that_bridges_two_kept_ones() -> None:
    result = find_all(
        "aaaa bbbb cccc",
        [Fixed(Match(0, 4, "A"), Match(10, 14, "C")), Fixed(Match(2, 12, "BRIDGE"))],
    )
    assert result == [Match(0, 14, "A")]
