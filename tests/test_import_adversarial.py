"""Importing files that are wrong in every way a lender's export can be wrong.

What the operator relies on: whatever a bad record holds — bytes that are not
UTF-8, a quote that never closes, a field longer than its column, a number
too big or in exponent form, NUL characters, JSON nested thousands deep — it
is refused with ``FILE:LINE: field: reason`` and the import goes on; every
good row lands on SQLite and on PostgreSQL alike; the rejects file gives back
the record exactly as it was sent; no message repeats a name or a whole phone
or account number; and the exit status tells a script what happened.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from dunning.core.cli import cli
from dunning.core.domain.model import Case
from dunning.core.errors import InputError
from dunning.core.intake.amounts import DecimalMark, parse_amount
from dunning.core.intake.importer import ImportReport, import_file
from dunning.core.intake.reading import MAX_RECORD_CHARS
from dunning.core.intake.records import CASE_FIELDS, parse_case
from dunning.core.store import Store, open_store
from dunning.core.store.schema import cases

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)

NAME, PHONE, ACCOUNT = "王芳", "+8613800138000", "6222020200112233"
#: What must never appear in a message: the debtors' names, whole phone and account numbers.
PERSONAL = (NAME, "Wang", "Fang", "José", "8613800138000", "13800138000", ACCOUNT, "0200112233")

GOOD: dict[str, str] = {
    "case_id": "C-1",
    "debtor_id": "D-1",
    "name": NAME,
    "phone": PHONE,
    "push_token": "tok-1",
    "locale": "zh-CN",
    "timezone": "Asia/Shanghai",
    "account": ACCOUNT,
    "amount_due": "3200.00",
    "currency": "CNY",
    "due_date": "2026-12-01",
    "payment_url": "https://pay.example.com/r/1",
    "tags": "app",
}


# ---------------------------------------------------------------- helpers


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def row(**fields: str) -> dict[str, str]:
    return {**GOOD, **fields}


def csv_line(values: dict[str, str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([values.get(name, "") for name in CASE_FIELDS])
    return out.getvalue().encode("utf-8")


def header() -> bytes:
    return (",".join(CASE_FIELDS) + "\n").encode()


def stored(store: Store, *case_ids: str) -> dict[str, Case]:
    with store.read() as conn:
        return {case_id: case for case_id, (case, _) in store.load_cases(conn, case_ids).items()}


def count_cases(store: Store) -> int:
    with store.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(cases)) or 0)


def refused(report: ImportReport, path: Path) -> list[tuple[int, str]]:
    """(line, field) of each rejection, from its ``FILE:LINE: field: reason`` message."""
    out = []
    for message in report.errors:
        assert message.startswith(f"{path}:"), message
        line, field, _ = message[len(f"{path}:") :].split(": ", 2)
        out.append((int(line), field))
    return out


def run_import(database_url: str, *args: str) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, ["import", *args], env={"DUNNING_DATABASE_URL": database_url})


def assert_nothing_personal(*outputs: str) -> None:
    for output in outputs:
        for value in PERSONAL:
            assert value not in output, f"{value!r} in {output!r}"


# ---------------------------------------------------------------- a CSV with every defect


#: The lines of a hand-made CSV: good rows between one bad record of each kind.
#: Each entry: (bytes, what is expected: a good case id, or the field named by the rejection).
def _defective_csv() -> list[tuple[bytes, str]]:
    unclosed = csv_line(row(case_id="B-9", debtor_id="D-9")).replace(NAME.encode(), b'"Wang', 1)
    return [
        (csv_line(row(case_id="G-1")), "G-1"),  # line 2
        (csv_line(row(case_id="B-3", amount_due="1" + "0" * 39)), "amount_due"),  # 3: 40 digits
        (csv_line(row(case_id="B-4", amount_due="1e309")), "amount_due"),  # 4: exponent
        (csv_line(row(case_id="B-5", amount_due="NaN")), "amount_due"),  # 5
        (csv_line(row(case_id="B-6", amount_due="1,50")), "amount_due"),  # 6: which locale?
        (csv_line(row(case_id="B-7", amount_due="1,23,4")), "amount_due"),  # 7: bad grouping
        (csv_line(row(case_id="B-8", name="José")).replace("é".encode(), b"\xe9"), "row"),  # 8: Latin-1
        (unclosed, "row"),  # 9: a quote that never closes
        (csv_line(row(case_id="G-2", debtor_id="D-G2")), "G-2"),  # 10
        (csv_line(row(case_id="G-3", debtor_id="D-G3")), "G-3"),  # 11
        (csv_line(row(case_id="B-12", name="x" * 257)), "name"),  # 12
        (csv_line(row(case_id="B-13", account="4" * 65)), "account"),  # 13
        (csv_line(row(case_id="B" * 129)), "case_id"),  # 14
        (csv_line(row(case_id="B-15", push_token="t" * 513)), "push_token"),  # 15
        (csv_line(row(case_id="B-16", payment_url="https://p.example.com/" + "u" * 1003)), "payment_url"),
        (csv_line(row(case_id="B-17", name="Wang\x00Fang")), "name"),  # 17: PostgreSQL refuses NUL
        (csv_line(row(case_id="G-4", name="Wang\nFang")), "G-4"),  # 18-19: a quoted line break
        (csv_line(row(case_id="B-20", tags="c" * MAX_RECORD_CHARS)), "row"),  # 20: a whole row too long
        (csv_line(row(case_id="G-1", amount_due="1.00")), "case_id"),  # 21: G-1 again
        (b"B-22,D-22," + NAME.encode() + b"," + PHONE.encode() + b"\n", "row"),  # 22: fewer cells
        (csv_line(row(case_id="B-23")).rstrip(b"\n") + b",extra\n", "row"),  # 23: more cells
        (csv_line(row(case_id="B-24", amount_due="1.23456")), "amount_due"),  # 24: beyond NUMERIC(20, 4)
        (csv_line(row(case_id="B-25", phone="+86 138 0013 80")), "phone"),  # 25
        (csv_line(row(case_id="G-5", debtor_id="D-G5", amount_due="1,234.56")), "G-5"),  # 26
        (b'B-27,D-27,"' + NAME.encode() + b",never closed", "row"),  # 27: open at the end of the file
    ]


def _write_defective_csv(path: Path) -> dict[str, Any]:
    entries = _defective_csv()
    path.write_bytes(header() + b"".join(data for data, _ in entries))
    expected, good, line = [], [], 2
    for data, outcome in entries:
        if outcome.startswith("G-") and outcome not in good:
            good.append(outcome)
        else:
            expected.append((line, outcome))
        line += data.count(b"\n")
    return {"expected": expected, "good": good, "records": len(entries)}


def test_given_a_csv_with_every_kind_of_defect_when_imported_then_good_rows_land_and_each_bad_row_is_named(
    database_url, tmp_path
):
    path = tmp_path / "portfolio.csv"
    plan = _write_defective_csv(path)
    rejects = tmp_path / "rejects.csv"
    # When the operator imports it from the command line
    result = run_import(database_url, str(path), "--rejects", str(rejects))
    # Then the good rows land, the import says some were rejected, and nothing crashed
    assert result.exit_code == 1, result.output
    rejected = len(plan["expected"])
    assert f"{plan['records']} row(s): 5 inserted, 0 updated, {rejected} rejected" in result.stdout
    # And each bad record is named by its first line and its field, in file order
    lines = [line.split(": ", 2) for line in result.stderr.splitlines()]
    assert [(int(where.rsplit(":", 1)[1]), field) for where, field, _ in lines] == plan["expected"]
    # And no message repeats a name, a whole phone number or an account number
    assert_nothing_personal(result.stdout, result.stderr)
    store = open_store(database_url)
    try:
        landed = stored(store, *plan["good"])
        assert sorted(landed) == plan["good"]
        assert count_cases(store) == len(plan["good"])
        assert landed["G-1"].amount_due == Decimal("3200.00")  # the first G-1, not the later one
        assert landed["G-4"].name == "Wang\nFang"
        assert landed["G-5"].amount_due == Decimal("1234.56")
    finally:
        store.dispose()


def test_given_defective_csv_records_when_rejected_then_the_rejects_file_gives_them_back_byte_for_byte(
    store, tmp_path
):
    path = tmp_path / "portfolio.csv"
    _write_defective_csv(path)
    rejects = tmp_path / "rejects.csv"
    report = import_file(store, path, now=NOW, rejects=rejects)
    kept = rejects.read_bytes()
    # The Latin-1 byte is kept as it was, for the operator to fix in their editor
    assert b"Jos\xe9" in kept
    # The line whose quote never closes comes back as it was written, then its reason
    assert b'B-9,D-9,"Wang,' + PHONE.encode() in kept
    assert b'"row: a quote opened on this line' in kept
    # The over-long row comes back whole, not cut
    assert b"c" * MAX_RECORD_CHARS in kept
    # And every rejection is there with its reason
    for message in report.errors:
        assert message.split(": ", 1)[1].encode() in kept


# ---------------------------------------------------------------- JSON Lines with every defect


def _json(**fields: Any) -> str:
    return json.dumps({**GOOD, **fields}, ensure_ascii=False)


def _defective_jsonl() -> list[tuple[str, str]]:
    return [
        (_json(case_id="J-1", amount_due=1234.56), "J-1"),  # line 1
        (_json(case_id="B-2").replace('"3200.00"', "1e309"), "amount_due"),  # 2: a JSON number
        (_json(case_id="B-3").replace('"3200.00"', "1" + "0" * 39), "amount_due"),  # 3
        (_json(case_id="B-4").replace('"3200.00"', "NaN"), "amount_due"),  # 4
        ("[" * 5000 + "]" * 5000, "row"),  # 5: deeper than any parser should go
        (_json(case_id="B-6").replace(f'"{NAME}"', '{"a": ' * 400 + "1" + "}" * 400), "name"),  # 6
        ('["J-7", "D-7"]', "row"),  # 7: JSON, but not an object
        (_json(case_id="B-8", name="José"), "row"),  # 8: written in Latin-1 below
        (_json(case_id="B-9", name="Wang\x00Fang"), "name"),  # 9: \u0000
        (_json(case_id="B-10").replace(f'"{NAME}"', '"\\ud800"'), "name"),  # 10: half a surrogate pair
        (_json(case_id="B-11", contact="c" * MAX_RECORD_CHARS), "row"),  # 11: too long
        (_json(case_id="J-2", debtor_id="D-J2"), "J-2"),  # 12
        (_json(case_id="J-1", amount_due="1.00"), "case_id"),  # 13: J-1 again
        (_json(case_id="B-14", tags=[["nested"]]), "tags"),  # 14
        ("", ""),  # 15: blank lines are no record
        (_json(case_id="J-3", debtor_id="D-J3", amount_due="1.234,56"), "J-3"),  # 16
        ('{"case_id": "B-17", "name": ', "row"),  # 17: cut off
    ]


def test_given_jsonl_with_every_kind_of_defect_when_imported_then_good_lines_land_and_bad_ones_are_named(
    store, tmp_path
):
    entries = _defective_jsonl()
    data = "\n".join(line for line, _ in entries).encode("utf-8").replace("José".encode(), b"Jos\xe9")
    path = tmp_path / "portfolio.jsonl"
    path.write_bytes(data + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    report = import_file(store, path, now=NOW, rejects=rejects)
    expected = [(n, what) for n, (_, what) in enumerate(entries, 1) if what and not what.startswith("J-")]
    assert refused(report, path) == expected
    assert (report.rows, report.inserted, report.rejected) == (16, 3, 13)
    assert_nothing_personal(*report.errors)
    landed = stored(store, "J-1", "J-2", "J-3")
    assert landed["J-1"].amount_due == Decimal("1234.56")
    assert landed["J-3"].amount_due == Decimal("1234.56")
    # And the rejects file keeps each line as sent, an object with its reason as its last key
    kept = rejects.read_bytes().splitlines()
    assert len(kept) == 13
    assert kept[0].startswith(b'{"case_id": "B-2"') and b"1e309" in kept[0]
    assert json.loads(kept[0])["_error"].startswith("amount_due: '1e309' is not a plain amount")
    assert b"Jos\xe9" in kept[6]
    assert json.loads(kept[5].decode())["_raw"] == '["J-7", "D-7"]'


def test_given_a_rejected_jsonl_object_when_fixed_and_rejected_again_then_it_carries_one_error_only(
    store, tmp_path
):
    path = tmp_path / "a.jsonl"
    path.write_text(_json(case_id="B-1", amount_due="1,50") + "\n", encoding="utf-8")
    import_file(store, path, now=NOW, rejects=tmp_path / "r1.jsonl")
    # When the operator fixes the amount but the phone is then found wrong too
    again = json.loads((tmp_path / "r1.jsonl").read_text(encoding="utf-8"))
    assert again["_error"].startswith("amount_due: '1,50' is ambiguous")
    (tmp_path / "b.jsonl").write_text(
        (tmp_path / "r1.jsonl").read_text(encoding="utf-8").replace('"1,50"', '"1.50"').replace(PHONE, "12"),
        encoding="utf-8",
    )
    import_file(store, tmp_path / "b.jsonl", now=NOW, rejects=tmp_path / "r2.jsonl")
    # Then the new rejects line carries the new reason once, not both
    line = (tmp_path / "r2.jsonl").read_text(encoding="utf-8")
    assert line.count('"_error"') == 1
    assert json.loads(line)["_error"].startswith("phone: ")


# ---------------------------------------------------------------- the database says no


def _refuse_account(store: Store, account: str) -> None:
    """The lender's DBA forbids an account number: a real constraint, not a stand-in."""
    with store.write() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER no_test_accounts BEFORE INSERT ON cases "
                    f"WHEN NEW.account = '{account}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            conn.execute(
                text(f"ALTER TABLE cases ADD CONSTRAINT no_test_accounts CHECK (account <> '{account}')")
            )


def test_given_a_batch_the_database_refuses_when_imported_then_only_the_refused_row_is_lost(store, tmp_path):
    _refuse_account(store, "0000111122223333")
    records = [row(case_id=f"C-{i}", debtor_id=f"D-{i}") for i in range(1, 6)]
    records[2]["account"] = "0000111122223333"  # line 4
    path = tmp_path / "portfolio.csv"
    path.write_bytes(header() + b"".join(csv_line(r) for r in records))
    report = import_file(store, path, now=NOW, rejects=tmp_path / "rejects.csv")
    # Then the other four rows of the batch land, and the refused one is named by its line
    assert (report.rows, report.inserted, report.rejected) == (5, 4, 1)
    assert sorted(stored(store, *(f"C-{i}" for i in range(1, 6)))) == ["C-1", "C-2", "C-4", "C-5"]
    (message,) = report.errors
    assert message.startswith(f"{path}:4: row: the database refused it (")
    assert "0000111122223333" not in message


# ---------------------------------------------------------------- what validation promises


#: Each text field filled to its column's size (fits) and one character more (refused).
FIELD_SIZES = [
    ("case_id", 128, "C"),
    ("debtor_id", 128, "D"),
    ("name", 256, "名"),
    ("account", 64, "4"),
    ("push_token", 512, "t"),
    ("contact", 256, "c"),
    ("payment_url", 1024, "u"),
]


def _filled(name: str, size: int, fill: str) -> str:
    start = "https://pay.example.com/" if name == "payment_url" else ""
    return start + fill * (size - len(start))


@pytest.mark.parametrize(("name", "size", "fill"), FIELD_SIZES)
def test_given_a_field_at_its_column_size_when_imported_then_postgresql_keeps_it_and_one_more_is_refused(
    postgres_url, tmp_path, name, size, fill
):
    store = open_store(postgres_url)
    try:
        fits = _json(**{"case_id": "C-fits", name: _filled(name, size, fill)})
        over = _json(**{"case_id": "C-over", name: _filled(name, size + 1, fill)})
        path = tmp_path / "portfolio.jsonl"
        path.write_text(fits + "\n" + over + "\n", encoding="utf-8")
        report = import_file(store, path, now=NOW)
        # Then PostgreSQL keeps the longest value the column holds, and a longer one is refused by name
        assert report.inserted == 1
        assert refused(report, path) == [(2, name)]
        assert report.errors[0].endswith(f"is longer than {size} characters")
    finally:
        store.dispose()


def test_given_the_largest_amount_and_counts_the_store_holds_when_imported_then_postgresql_keeps_them(
    postgres_url, tmp_path
):
    store = open_store(postgres_url)
    try:
        path = tmp_path / "big.jsonl"
        biggest = {**GOOD, "amount_due": "9999999999999999.9999", "previous_cures": 2**31 - 1}
        path.write_text(json.dumps(biggest, ensure_ascii=False) + "\n", encoding="utf-8")
        report = import_file(store, path, now=NOW)
        assert report.errors == []
        case = stored(store, "C-1")["C-1"]
        assert case.amount_due == Decimal("9999999999999999.9999")
        assert case.profile["previous_cures"] == 2**31 - 1
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"previous_cures": "2147483648"}, "previous_cures"),
        ({"due_date": "9999-12-31"}, "due_date"),
        ({"tags": ",".join(f"t{i}" for i in range(51))}, "tags"),
        ({"tags": "x" * 65}, "tags"),
        ({"email": "e" * 251 + "@x.com", "phone": ""}, "email"),
        ({"timezone": "Asia/Shanghai\x00"}, "timezone"),
    ],
)
def test_given_a_value_beyond_what_the_store_keeps_when_validated_then_the_field_is_named(fields, field):
    with pytest.raises(InputError) as caught:
        parse_case(row(**fields))
    assert caught.value.field == field


# ---------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("written", "mark", "amount"),
    [
        ("1234.56", None, "1234.56"),
        ("1234", None, "1234"),
        ("1.234", None, "1.234"),  # one point alone is always a decimal point
        ("1,234.56", None, "1234.56"),
        ("1.234,56", None, "1234.56"),
        ("12,345,678.9", None, "12345678.9"),
        ("1.234.567,89", None, "1234567.89"),
        (" 845.20 ", None, "845.20"),
        ("1.234,56", DecimalMark.COMMA, "1234.56"),
        ("1,50", DecimalMark.COMMA, "1.50"),
        ("1.234", DecimalMark.COMMA, "1234"),
        ("1.234.567", DecimalMark.COMMA, "1234567"),
        ("1,234", DecimalMark.POINT, "1234"),
        ("12,345,678", DecimalMark.POINT, "12345678"),
        ("1234.56", DecimalMark.POINT, "1234.56"),
        ("9999999999999999.9999", None, "9999999999999999.9999"),
    ],
)
def test_given_an_amount_written_unambiguously_when_parsed_then_it_is_the_amount_meant(written, mark, amount):
    assert parse_amount(written, decimal=mark) == Decimal(amount)


@pytest.mark.parametrize(
    ("written", "mark", "reason"),
    [
        ("1,50", None, "is ambiguous"),
        ("1,234", None, "is ambiguous"),
        ("12,345,678", None, "is ambiguous"),
        ("1.234.567", None, "is ambiguous"),
        ("1,23,4", None, "bad digit grouping"),
        ("1,23,4", DecimalMark.POINT, "does not read as an amount with a decimal point"),
        ("1.234,56", DecimalMark.POINT, "does not read as an amount with a decimal point"),
        ("1,234.56", DecimalMark.COMMA, "does not read as an amount with a decimal comma"),
        ("1e309", None, "is not a plain amount"),
        ("1E3", DecimalMark.POINT, "is not a plain amount"),
        ("NaN", None, "is not an amount"),
        ("Infinity", None, "is not an amount"),
        ("$12", None, "is not an amount"),
        ("1" + "0" * 16, None, "is too large"),
        ("0.00001", None, "has more than 4 decimal places"),
        ("-5", None, "cannot be negative"),
    ],
)
def test_given_an_amount_that_could_be_misread_when_parsed_then_it_is_refused_naming_the_field(
    written, mark, reason
):
    with pytest.raises(InputError) as caught:
        parse_amount(written, decimal=mark)
    assert caught.value.field == "amount_due"
    assert reason in str(caught.value)


def test_given_an_ambiguous_amount_when_refused_then_the_message_says_how_to_declare_the_decimal_mark():
    with pytest.raises(InputError) as caught:
        parse_amount("1,50")
    assert "--decimal comma|point" in str(caught.value)


@pytest.mark.parametrize(
    ("mark", "landed", "rejected"),
    [
        (None, {"C-1": "1234.56", "C-2": "1234.56", "C-5": "99.50"}, ["C-3", "C-4"]),
        ("comma", {"C-2": "1234.56", "C-3": "1.50", "C-4": "1234.00"}, ["C-1", "C-5"]),
        ("point", {"C-1": "1234.56", "C-4": "1234.00", "C-5": "99.50"}, ["C-2", "C-3"]),
    ],
)
def test_given_a_file_with_locale_amounts_when_imported_with_or_without_decimal_then_each_reads_one_way(
    tmp_path, mark, landed, rejected
):
    amounts = {"C-1": "1,234.56", "C-2": "1.234,56", "C-3": "1,50", "C-4": "1,234", "C-5": "99.5"}
    if mark == "comma":
        amounts["C-4"] = "1.234"  # thousands grouped by points
    path = tmp_path / "portfolio.csv"
    path.write_bytes(
        header()
        + b"".join(csv_line(row(case_id=i, debtor_id=f"D-{i}", amount_due=a)) for i, a in amounts.items())
    )
    url = f"sqlite:///{tmp_path / 'd.db'}"
    # When the file is imported with --decimal as given (or without it)
    result = run_import(url, str(path), *(["--decimal", mark] if mark else []))
    # Then each amount is read the one way the declaration allows, or refused naming its line
    assert result.exit_code == 1, result.output
    store = open_store(url)
    try:
        found = stored(store, *amounts)
    finally:
        store.dispose()
    assert {k: str(v.amount_due) for k, v in found.items()} == landed
    refusals = [line.split(": ", 2) for line in result.stderr.splitlines()]
    assert [(int(where.rsplit(":", 1)[1]), field) for where, field, _ in refusals] == [
        (2 + list(amounts).index(r), "amount_due") for r in rejected
    ]


# ---------------------------------------------------------------- exit statuses


def test_given_a_clean_file_when_imported_then_the_exit_status_is_0(tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_bytes(header() + csv_line(row()))
    result = run_import(f"sqlite:///{tmp_path / 'd.db'}", str(path))
    assert (result.exit_code, result.stdout.strip()) == (0, "1 row(s): 1 inserted, 0 updated, 0 rejected")


def test_given_some_bad_rows_when_imported_then_the_exit_status_is_1_and_the_good_rows_landed(tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_bytes(header() + csv_line(row()) + csv_line(row(case_id="C-2", currency="XYZ")))
    result = run_import(f"sqlite:///{tmp_path / 'd.db'}", str(path))
    assert result.exit_code == 1
    assert "2 row(s): 1 inserted, 0 updated, 1 rejected" in result.stdout


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        (
            "no-currency.csv",
            b"case_id,debtor_id,name,account,amount_due,due_date\n",
            "missing column(s): currency",
        ),
        ("empty.csv", b"", "the file is empty"),
        ("latin1.csv", b"case_id,d\xe9btor_id\n", "not UTF-8 text"),
        ("quoted.csv", b'case_id,"debtor_id\n', "never closed"),
        ("book.xlsx", b"PK\x03\x04", "unknown file type"),
    ],
)
def test_given_a_file_that_cannot_be_read_when_imported_then_the_exit_status_is_2_with_one_line(
    tmp_path, name, content, says
):
    path = tmp_path / name
    path.write_bytes(content)
    result = run_import(f"sqlite:///{tmp_path / 'd.db'}", str(path))
    assert result.exit_code == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_given_the_database_failing_mid_import_then_one_line_without_row_data_and_exit_status_2(tmp_path):
    # Given a store whose inserts fail for a reason that has nothing to do with the rows
    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = open_store(url)
    with store.write() as conn:
        conn.execute(
            text("CREATE TRIGGER audit_copy AFTER INSERT ON cases BEGIN INSERT INTO gone VALUES (1); END")
        )
    store.dispose()
    path = tmp_path / "portfolio.csv"
    path.write_bytes(header() + csv_line(row()))
    # When the import runs as an operator would run it
    exe = str(Path(sys.executable).with_name("dunning"))
    env = {**os.environ, "DUNNING_DATABASE_URL": url}
    result = subprocess.run([exe, "import", str(path)], env=env, capture_output=True, text=True, timeout=120)
    # Then it stops with one line naming the error's kind, no traceback and no row data
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the import stopped: OperationalError (sqlite3.OperationalError)")
    assert_nothing_personal(result.stdout, result.stderr)


# ---------------------------------------------------------------- any garbage at all


#: Bad values for a field of an otherwise good row.
BAD_VALUES = st.sampled_from(
    [
        ("amount_due", "1e309"),
        ("amount_due", "1" * 40),
        ("amount_due", "1,5"),
        ("name", "x" * 300),
        ("name", "a\x00b"),
        ("due_date", "2026-02-30"),
        ("phone", "+1"),
        ("account", ""),
    ]
)

#: Lines no one meant to write: random bytes, quotes and separators, rows cut short, rows too long.
GARBAGE = st.one_of(
    st.binary(max_size=60),
    st.text(alphabet=st.sampled_from(list(',"\r\n\x00 ab;é中\ufeff\\')), max_size=40).map(str.encode),
    st.tuples(st.integers(0, 200), st.sampled_from([b"", b'"', b'"x'])).map(
        lambda cut: csv_line(row(case_id="T-cut"))[: cut[0]] + cut[1]
    ),
    BAD_VALUES.map(lambda bad: csv_line(row(case_id="T-bad", **{bad[0]: bad[1]}))),
    st.just(b"," * (MAX_RECORD_CHARS + 10)),
)

_EXAMPLE = count()


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.one_of(st.none(), GARBAGE), max_size=12))
def test_given_good_rows_among_any_garbage_when_imported_then_it_never_raises_and_every_good_row_lands(
    store, tmp_path, items
):
    prefix = f"H{next(_EXAMPLE)}-"
    body, good = [], []
    for item in items:
        if item is None:
            good.append(f"{prefix}{len(good)}")
            body.append(csv_line(row(case_id=good[-1], debtor_id=f"D-{good[-1]}")))
        else:
            body.append(item + b"\n")
    path = tmp_path / f"{prefix}.csv"
    path.write_bytes(header() + b"".join(body))
    rejects = tmp_path / f"{prefix}rejects.csv"
    report = import_file(store, path, now=NOW, rejects=rejects)
    # Then every good row landed, and rows, landings and rejections add up
    assert sorted(stored(store, *good)) == sorted(good)
    assert report.rows == report.inserted + report.updated + report.rejected
    assert len(report.errors) == report.rejected
    kept = rejects.read_bytes()
    for message in report.errors:
        assert message.split(": ", 1)[1].encode() in kept


JSON_GARBAGE = st.one_of(
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ")),
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(CASE_FIELDS), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    BAD_VALUES.map(lambda bad: json.dumps(row(case_id="T-bad", **{bad[0]: bad[1]})).encode()),
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.one_of(st.none(), JSON_GARBAGE), max_size=12))
def test_given_good_objects_among_any_json_garbage_when_imported_then_every_good_object_lands(
    store, tmp_path, items
):
    prefix = f"J{next(_EXAMPLE)}-"
    lines, good = [], []
    for item in items:
        if item is None:
            good.append(f"{prefix}{len(good)}")
            lines.append(json.dumps(row(case_id=good[-1], debtor_id=f"D-{good[-1]}")).encode())
        else:
            lines.append(item)
    path = tmp_path / f"{prefix}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = import_file(store, path, now=NOW, rejects=tmp_path / f"{prefix}rejects.jsonl")
    assert sorted(stored(store, *good)) == sorted(good)
    assert report.rows == report.inserted + report.updated + report.rejected
    assert report.rows == sum(1 for line in lines if line.decode("utf-8", "surrogateescape").strip())
