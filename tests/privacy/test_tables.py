"""A column whose header names its kind: CSV, TSV, Markdown and psql tables in text.

A SQL tool returns rows as CSV or as psql prints them, an export is a CSV, a model answers with
a Markdown table: the customer's phone number is bare digits under "phone", an SSN bare digits
under "ssn", a password under "password". The cells say nothing of what they are, and before
this reading went out as written. They are read as a JSON field of the header's name is: the
cells of a named column that are written like its kind. Prose split at its commas, code, a
column of counts or ids, and a table's footer are not.
"""

from __future__ import annotations

import json

import pytest
from key_fields import redact, tool_span_both_ways

from otel_flywheel.privacy import BuiltinDetector, find_all
from otel_flywheel.privacy._pii import PII_ALTERNATIVES
from otel_flywheel.privacy._scan import Scanner
from otel_flywheel.privacy._tables import HEADER_STARTS, values_in_tables

PHONE, OTHER_PHONE, SSN = "4155550132", "6125550199", "123456789"


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find_all(text, [BuiltinDetector()])]


# Each writing of a customer table: (text, the phone numbers in it as written).
CUSTOMER_TABLES = {
    "csv": f"id,name,phone,email_verified\n1,Jane Doe,{PHONE},true\n2,Bob Li,{OTHER_PHONE},false\n",
    "csv, spaces after commas": f"id, name, phone\n1, Jane, {PHONE}\n2, Bob, {OTHER_PHONE}",
    "csv, quoted header": f'"id","name","phone_number"\n"1","Jane","{PHONE}"\n"2","Bob","{OTHER_PHONE}"',
    "csv, a quoted comma first": f'name,phone\n"Doe, Jane",{PHONE}\n"Li, Bob",{OTHER_PHONE}',
    "csv, CRLF": f"name,Mobile\r\nJane,{PHONE}\r\nBob,{OTHER_PHONE}\r\n",
    "csv, the last column": f"name,home_phone\nJane,{PHONE}\nBob,{OTHER_PHONE}",
    "csv, pandas index": f",name,Phone Number\n0,Jane,{PHONE}\n1,Bob,{OTHER_PHONE}",
    "tsv": f"id\tname\tTel\n1\tJane\t{PHONE}\n2\tBob\t{OTHER_PHONE}",
    "semicolons": f"Name;Telefon;Ort\nJane;{PHONE};Berlin\nBob;{OTHER_PHONE};Köln",
    "markdown": f"| Name | Phone |\n|---|---|\n| Jane | {PHONE} |\n| Bob | {OTHER_PHONE} |",
    "markdown, aligned": f"| Name | Mobile No. |\n|:-----|-----------:|\n| Jane | {PHONE} |\n| Bob | {OTHER_PHONE} |",
    "markdown, bold header": f"| **Customer** | **Phone** |\n| --- | --- |\n| Jane | `{PHONE}` |\n| Bob | **{OTHER_PHONE}** |",
    "markdown, no outer pipes": f"Name | Phone\n--- | ---\nJane | {PHONE}\nBob | {OTHER_PHONE}",
    "psql": (
        f"  id | name | phone      \n----+------+------------\n"
        f"   1 | Jane | {PHONE}\n   2 | Bob  | {OTHER_PHONE}\n(2 rows)\n"
    ),
    "mysql": (
        "+----+------+------------+\n| id | name | phone      |\n+----+------+------------+\n"
        f"|  1 | Jane | {PHONE} |\n|  2 | Bob  | {OTHER_PHONE} |\n+----+------+------------+\n"
        "2 rows in set (0.00 sec)"
    ),
    "pipes, no rule": f"name|phone\nJane|{PHONE}\nBob|{OTHER_PHONE}",
}


@pytest.mark.parametrize("text", CUSTOMER_TABLES.values(), ids=CUSTOMER_TABLES.keys())
def test_phone_numbers_in_a_column_named_phone_are_found(text: str) -> None:
    assert found(text) == [("PHONE", PHONE), ("PHONE", OTHER_PHONE)]
    output, counts = redact(text)
    assert PHONE not in output
    assert OTHER_PHONE not in output
    assert counts == {"PHONE": 2}


@pytest.mark.parametrize(
    ("header", "value", "kind"),
    [("ssn", SSN, "SSN"), ("SSN", "123 45 6789", "SSN"), ("Social Security Number", SSN, "SSN"),
     ("password", "hunter2", "PASSWORD"), ("Password", "s3cr3t!", "PASSWORD"),
     ("pwd", "Tr0ub4dor&3", "PASSWORD"), ("db_pass", "S3cretPa55", "PASSWORD"),
     ("Passwort", "geheim123", "PASSWORD"), ("senha", "segredo99", "PASSWORD"),
     ("API Key", "a8f3k2m9q7x1", "API_KEY"), ("access_token", "8f3k2m9q7x1z", "API_KEY"),
     ("client_secret", "x7Kq9mP2", "API_KEY"), ("CVV", "314", "PASSWORD"),
     ("card_cvc", "4921", "PASSWORD"), ("PIN", "4921", "PASSWORD"), ("otp", "482913", "PASSWORD"),
     ("IBAN", "de89370400440532013000", "IBAN"), ("msisdn", "14155550132", "PHONE"),
     ("WhatsApp", "+1 415 555 0132", "PHONE"), ("fax", "(415) 555-0132", "PHONE")],
)  # fmt: skip
@pytest.mark.parametrize("writing", ["csv", "markdown", "psql"])
def test_each_kind_a_header_can_name_is_read_in_its_column(
    header: str, value: str, kind: str, writing: str
) -> None:
    rows = [("jane", value), ("bob", value)]
    if writing == "csv":
        text = f"user,{header}\n" + "\n".join(f"{u},{v}" for u, v in rows)
    elif writing == "markdown":
        text = f"| user | {header} |\n|---|---|\n" + "\n".join(f"| {u} | {v} |" for u, v in rows)
    else:
        text = f" user | {header}\n------+------\n" + "\n".join(f" {u} | {v}" for u, v in rows)
    assert found(text) == [(kind, value), (kind, value)]
    assert value not in redact(text)[0]


def test_several_named_columns_and_several_tables_in_one_text() -> None:
    text = (
        "Customers:\n\nname,phone,ssn\n"
        f"Jane,{PHONE},{SSN}\nBob,{OTHER_PHONE},078051120\n\n"
        "Admins:\n\n| user | password |\n|------|----------|\n| root | hunter2 |\n"
    )
    assert found(text) == [
        ("PHONE", PHONE), ("SSN", SSN), ("PHONE", OTHER_PHONE), ("SSN", "078051120"),
        ("PASSWORD", "hunter2"),
    ]  # fmt: skip


def test_a_named_column_beside_values_found_anyway_keeps_both() -> None:
    text = f"email,phone\njane@example.com,{PHONE}\nbob@example.org,(612) 555-0199"
    assert found(text) == [
        ("EMAIL", "jane@example.com"), ("PHONE", PHONE),
        ("EMAIL", "bob@example.org"), ("PHONE", "(612) 555-0199"),
    ]  # fmt: skip


def test_a_tables_in_a_tools_output_and_in_a_json_string_are_read() -> None:
    csv = f"id,name,phone\n1,Jane,{PHONE}\n2,Bob,{OTHER_PHONE}"
    document = json.dumps({"command": "psql -c 'select ...'", "exit_code": 0, "stdout": csv})
    assert PHONE not in redact(document)[0]
    assert OTHER_PHONE not in redact(document)[0]
    # The same document quoted again inside an LLM request's messages: its escapes are read.
    request = json.dumps({"messages": [{"role": "tool", "content": document}]})
    output, counts = redact(request)
    assert PHONE not in output
    assert OTHER_PHONE not in output
    assert counts == {"PHONE": 2}
    json.loads(output)


@pytest.mark.parametrize(
    "output",
    [
        f"name,phone,ssn\nJane,{PHONE},{SSN}",
        json.dumps({"columns": ["name", "phone", "ssn"], "rows": [["Jane", PHONE, SSN]]}),
    ],
    ids=["csv", "json"],
)
def test_a_table_in_a_tools_span_reaches_neither_path(output: str) -> None:
    exported, trace = tool_span_both_ways("run_sql", {"output.value": output})
    assert exported.attributes is not None
    for text in (str(exported.attributes["output.value"]), trace.to_json()):
        assert PHONE not in text
        assert SSN not in text


@pytest.mark.parametrize(
    "text",
    [
        # Not a named column: ids, order numbers and counts under their own names.
        f"id,order_id,total\n1,{PHONE},19.99\n2,{OTHER_PHONE},5.00",
        f"| model | prompt_tokens | completion_tokens |\n|---|---|---|\n| gpt-4o | {PHONE} | 12 |",
        f"phone_verified,phone_type,customer_id\ntrue,mobile,{PHONE}",
        # A named column whose cells are not written like its kind.
        "name,phone\nJane,N/A\nBob,unknown\nAl,-",
        "user,ssn\njane,on file\nbob,123-45",
        "item,pin\nGPIO header,17\nLED,4",
        # Prose split at its commas, however the lines line up.
        "Enter your password, then click OK.\nIf you forgot it, use the link below.",
        "Your phone, your rules.\nCall us, 4155550132 anytime.",
        # Code: a header is names, not expressions or calls.
        "key, value = item\nfoo, bar = baz",
        "def login(user, password):\n    return check(user, password)",
        "for name, password in rows:\n    print(name, password)",
        # After the table: a blank line, a footer.
        f"name,phone\nJane,{PHONE}\n\nnote,{OTHER_PHONE}",
        f" name | phone\n------+------\n Jane | {PHONE}\n(1 row)\n\nid | {OTHER_PHONE}",
        # A header alone.
        "name,phone,email",
    ],
)
def test_what_is_not_a_named_column_is_left_alone(text: str) -> None:
    kept = [value for value in (PHONE, OTHER_PHONE, SSN, "hunter2", "17", "4") if value in text]
    findings = found(text)
    for kind, value in findings:
        assert kind != "PASSWORD" or value not in ("OK.", "use the link below.")
    if "note," in text or "(1 row)" in text:
        assert findings == [("PHONE", PHONE)]  # the table's row, not what follows it
    else:
        assert findings == [], findings
        assert all(value in redact(text)[0] for value in kept)


def test_without_hyperscan_the_same_headers_are_read() -> None:
    compiled = Scanner(PII_ALTERNATIVES, reported=HEADER_STARTS)
    plain = Scanner(PII_ALTERNATIVES, reported=HEADER_STARTS, prefilter=False)
    for text in CUSTOMER_TABLES.values():
        prefiltered, ends = compiled.find_reporting(text)
        scanned, plain_ends = plain.find_reporting(text)
        assert scanned == prefiltered
        assert values_in_tables(text, plain_ends) == values_in_tables(text, ends) != []


# --- JSON: a table's columns named beside its rows --------------------------------------------

JSON_TABLES = {
    "columns and rows": {"columns": ["id", "name", "phone"], "rows": [[1, "Jane", PHONE], [2, "Bob", OTHER_PHONE]]},
    "pandas split": {"columns": ["name", "phone"], "index": [0, 1], "data": [["Jane", PHONE], ["Bob", OTHER_PHONE]]},
    "rows first": {"data": [["Jane", PHONE], ["Bob", OTHER_PHONE]], "columns": ["name", "Phone Number"]},
    "described columns": {
        "columns": [{"name": "name", "type": "varchar"}, {"name": "mobile", "type": "varchar"}],
        "data": [["Jane", PHONE], ["Bob", OTHER_PHONE]],
    },
    "nested in a result": {"result": {"fields": ["user", "msisdn"], "values": [["Jane", PHONE], ["Bob", OTHER_PHONE]]}},
    "integers": {"headers": ["name", "phone"], "rows": [["Jane", int(PHONE)], ["Bob", int(OTHER_PHONE)]]},
}  # fmt: skip


@pytest.mark.parametrize("document", JSON_TABLES.values(), ids=JSON_TABLES.keys())
def test_phone_numbers_in_a_json_tables_named_column_are_found(document: dict[str, object]) -> None:
    output, counts = redact(json.dumps(document))
    assert PHONE not in output
    assert OTHER_PHONE not in output
    assert counts == {"PHONE": 2}
    assert "Jane" in output  # the other columns as they were
    json.loads(output)


def test_each_named_column_of_a_json_table_is_read_by_its_name() -> None:
    document = {
        "columns": ["user", "ssn", "password", "api_key", "pin", "order_id"],
        "rows": [["jane", SSN, "hunter2", "a8f3k2m9q7x1", "4921", PHONE]],
    }
    output, counts = redact(json.dumps(document))
    assert counts == {"SSN": 1, "PASSWORD": 2, "API_KEY": 1}
    rows = json.loads(output)["rows"]
    assert rows[0][0] == "jane"
    assert rows[0][5] == PHONE  # an order id, under its own name


@pytest.mark.parametrize(
    "document",
    [
        {"columns": ["id", "order_id"], "rows": [[1, PHONE], [2, OTHER_PHONE]]},
        # Rows that are not as wide as the columns are not the columns' rows.
        {"columns": ["name", "phone", "email"], "rows": [["Jane", PHONE], ["Bob", OTHER_PHONE]]},
        {"columns": ["name", "phone"], "rows": [["Jane", PHONE], ["Bob"]]},
        # A list of names with no rows beside it, and rows beside names that name nothing.
        {"fields": ["phone", "email"], "count": 2, "ids": [PHONE, OTHER_PHONE]},
        {"headers": ["Accept", "User-Agent"], "rows": [[PHONE, OTHER_PHONE]]},
        # A named column whose cells are not written like its kind.
        {"columns": ["name", "phone"], "rows": [["Jane", "N/A"], ["Bob", "unknown"]]},
    ],
)
def test_what_is_not_a_json_tables_named_column_is_left_alone(document: dict[str, object]) -> None:
    text = json.dumps(document)
    output, counts = redact(text)
    assert counts == {}
    assert output == text


@pytest.mark.parametrize(
    "document",
    [table for name, table in JSON_TABLES.items() if name != "rows first"],
    ids=[name for name in JSON_TABLES if name != "rows first"],
)
@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_table_inside_a_requests_message_is_read_where_it_is_written(
    document: dict[str, object], indent: int | None
) -> None:
    # The tool's result is a string inside the LLM request: scanned as text, read as JSON.
    request = {"messages": [{"role": "tool", "content": json.dumps(document, indent=indent)}]}
    output, counts = redact(json.dumps(request))
    assert PHONE not in output
    assert OTHER_PHONE not in output
    assert counts == {"PHONE": 2}
    assert "Jane" in json.loads(output)["messages"][0]["content"]


def test_a_json_table_quoted_twice_is_read_too() -> None:
    table = json.dumps({"columns": ["user", "password", "ssn"], "rows": [["jane", "hunter2", SSN]]})
    log_line = json.dumps({"event": "tool_result", "body": table})  # JSON in JSON in JSON
    output, counts = redact(json.dumps({"messages": [{"role": "tool", "content": log_line}]}))
    assert "hunter2" not in output
    assert SSN not in output
    assert counts == {"PASSWORD": 1, "SSN": 1}


@pytest.mark.parametrize(
    "document",
    [
        {"columns": ["id", "order_id"], "rows": [[1, PHONE], [2, OTHER_PHONE]]},
        {"columns": ["name", "phone", "email"], "rows": [["Jane", PHONE], ["Bob", OTHER_PHONE]]},
        {"columns": ["name", "phone"], "rows": [["Jane", "N/A"]], "note": PHONE},
    ],
)
def test_what_is_not_a_named_column_stays_inside_a_requests_message(
    document: dict[str, object],
) -> None:
    request = json.dumps({"messages": [{"role": "tool", "content": json.dumps(document)}]})
    output, counts = redact(request)
    assert counts == {}
    assert output == request


# --- HTML: a header row's cells naming the columns below them ----------------------------------

HTML_TABLES = {
    "th cells": (
        f"<table><tr><th>Name</th><th>Phone</th></tr><tr><td>Jane</td><td>{PHONE}</td></tr>"
        f"<tr><td>Bob</td><td>{OTHER_PHONE}</td></tr></table>"
    ),
    "thead and tbody, indented": (
        "<table>\n  <thead>\n    <tr>\n      <th scope=col>Customer</th>\n"
        '      <th class="num">Mobile Number</th>\n    </tr>\n  </thead>\n  <tbody>\n'
        f"    <tr>\n      <td>Jane</td>\n      <td> {PHONE} </td>\n    </tr>\n"
        f"    <tr>\n      <td>Bob</td>\n      <td>{OTHER_PHONE}</td>\n    </tr>\n  </tbody>\n</table>"
    ),
    "td header, links and a spanning row": (
        "<TABLE><TR><TD><b>Name</b></TD><TD><b>Tel</b></TD></TR>"
        f'<TR><TD>Jane</TD><TD><a href="tel:+1{PHONE}">{PHONE}</a></TD></TR>'
        '<TR><TD colspan="2">Sales</TD></TR>'
        f"<TR><TD>Bob</TD><TD><span>{OTHER_PHONE}</span></TD></TR></TABLE>"
    ),
}


@pytest.mark.parametrize("page", HTML_TABLES.values(), ids=HTML_TABLES.keys())
def test_phone_numbers_in_an_html_tables_named_column_are_found(page: str) -> None:
    output, counts = redact(page)
    assert PHONE not in output
    assert OTHER_PHONE not in output
    assert "Jane" in output
    assert set(counts) == {"PHONE"}


def test_each_kind_an_html_header_names_is_read_in_its_column() -> None:
    page = (
        "<table><tr><th>User</th><th>Password</th><th>SSN</th><th>Order</th></tr>"
        f"<tr><td>root</td><td>hunter2!</td><td>{SSN}</td><td>{PHONE}</td></tr></table>"
    )
    output, counts = redact(page)
    assert counts == {"PASSWORD": 1, "SSN": 1}
    assert "hunter2!" not in output
    assert f"<td>{PHONE}</td>" in output  # an order number, under its own name


@pytest.mark.parametrize(
    "page",
    [
        # Not a table's header: a form's label, a definition list, a row after the table.
        f'<label>Phone</label><input name="q" value="x"><p>{PHONE}</p>',
        f"<table><tr><th>Name</th><th>Phone</th></tr></table><table><tr><td>a</td><td>{PHONE}</td></tr></table>",
        # Cells that are not written like the column's kind, or hold more than one tag.
        "<table><tr><th>Name</th><th>Phone</th></tr><tr><td>Jane</td><td>ask her</td></tr></table>",
        f"<table><tr><th>Name</th><th>Phone</th></tr><tr><td>J</td><td><i>a</i><b>{PHONE}</b></td></tr></table>",
        # A column of counts under a "token" of its own.
        f"<table><tr><th>Model</th><th>Tokens</th></tr><tr><td>gpt-4o</td><td>{PHONE}</td></tr></table>",
    ],
)
def test_what_is_not_an_html_tables_named_column_is_left_alone(page: str) -> None:
    assert redact(page) == (page, {})
