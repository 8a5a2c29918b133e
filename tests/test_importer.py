"""Importing a portfolio from CSV or JSON Lines: good rows land, bad rows are reported and kept.

A lender's file is never perfect. What they rely on: every good row lands,
every bad row is named ``FILE:LINE: field: reason`` with the line they see in
their editor, the rejects file holds the bad rows as they were (plus the
reason) so they can fix it and import it again, and a big file does not need
a big machine.
"""

from __future__ import annotations

import csv
import gc
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dunning.core.domain.model import Case
from dunning.core.errors import InputError
from dunning.core.intake.importer import import_file
from dunning.core.intake.records import CASE_FIELDS, parse_case
from dunning.core.store import Store, open_store
from dunning.core.store.schema import cases

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)

GOOD: dict[str, str] = {
    "case_id": "C-1",
    "debtor_id": "D-1",
    "name": "王芳",
    "phone": "+8613800138000",
    "push_token": "tok-1",
    "locale": "zh-CN",
    "timezone": "Asia/Shanghai",
    "account": "6222020200112233",
    "amount_due": "3200.00",
    "currency": "CNY",
    "due_date": "2026-12-01",
    "payment_url": "https://pay.example.com/r/1",
    "tags": "app",
}


# ---------------------------------------------------------------- helpers


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.dispose()


def row(**fields: str) -> dict[str, str]:
    return {**GOOD, **fields}


def cells(values: dict[str, str], header: tuple[str, ...] | list[str] = CASE_FIELDS) -> list[str]:
    return [values.get(name, "") for name in header]


def write_csv(
    path: Path, records: list[list[str]], header: tuple[str, ...] | list[str] = CASE_FIELDS
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def stored(store: Store, *case_ids: str) -> dict[str, Case]:
    with store.read() as conn:
        return {case_id: case for case_id, (case, _) in store.load_cases(conn, case_ids).items()}


def count_cases(store: Store) -> int:
    with store.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(cases)) or 0)


#: A CSV whose second row spans two lines (a quoted newline in the name), then one bad row per reason.
def _messy_csv(path: Path) -> tuple[Path, list[list[str]]]:
    records = [
        cells(row(case_id="C-1", name="Wang\nFang")),  # lines 2-3
        cells(row(case_id="C-2", phone="12345")),  # line 4
        cells(row(case_id="C-3", currency="RMBX")),  # line 5
        cells(row(case_id="C-4", due_date="2026-13-40")),  # line 6
        cells(row(case_id="C-5", amount_due="-50.00")),  # line 7
        cells(row(case_id="C-6", name="")),  # line 8
        [*cells(row(case_id="C-7")), "EXTRA"],  # line 9
        cells(row(case_id="C-8", debtor_id="D-8")),  # line 10
    ]
    return write_csv(path, records), records


# ---------------------------------------------------------------- CSV


def test_given_a_csv_with_bad_rows_when_imported_then_good_rows_land_and_each_bad_row_is_named_by_line(
    store, tmp_path
):
    path, _ = _messy_csv(tmp_path / "portfolio.csv")
    report = import_file(store, path, now=NOW)
    assert (report.rows, report.inserted, report.updated, report.rejected) == (8, 2, 0, 6)
    assert report.errors[0].startswith(f"{path}:4: phone: ")
    assert report.errors[1:] == [
        f"{path}:5: currency: 'RMBX' is not an ISO 4217 currency",
        f"{path}:6: due_date: '2026-13-40' is not a date (YYYY-MM-DD)",
        f"{path}:7: amount_due: cannot be negative",
        f"{path}:8: name: is required",
        f"{path}:9: row: more cells than columns",
    ]
    landed = stored(store, *(f"C-{i}" for i in range(1, 9)))
    assert sorted(landed) == ["C-1", "C-8"]
    assert landed["C-1"].name == "Wang\nFang"
    assert landed["C-1"].amount_due == Decimal("3200.00")
    assert landed["C-1"].due_date == date(2026, 12, 1)


def test_given_bad_csv_rows_when_imported_then_the_rejects_file_holds_them_as_they_were_with_the_reason(
    store, tmp_path
):
    path, records = _messy_csv(tmp_path / "portfolio.csv")
    rejects = tmp_path / "rejects.csv"
    report = import_file(store, path, now=NOW, rejects=rejects)
    lines = read_csv(rejects)
    # The header is the file's own plus an error column
    assert lines[0] == [*CASE_FIELDS, "error"]
    # Each rejected row is the original cells, then its reason (without the file and line)
    reasons = [message.split(": ", 1)[1] for message in report.errors]
    assert [line[:-1] for line in lines[1:6]] == records[1:6]
    assert [line[-1] for line in lines[1:]] == reasons
    assert len(lines) == 1 + 6


def test_given_a_row_with_more_cells_than_columns_when_rejected_then_the_rejects_file_keeps_every_cell(
    store, tmp_path
):
    # Given a row with an unquoted comma in the name: every cell after it shifts right
    shifted = cells(row(case_id="C-9", name="Lee"))
    shifted.insert(3, " Jordan")
    path = write_csv(tmp_path / "portfolio.csv", [shifted])
    rejects = tmp_path / "rejects.csv"
    report = import_file(store, path, now=NOW, rejects=rejects)
    assert report.errors == [f"{path}:2: row: more cells than columns"]
    # Then the rejects file shows the row as the lender wrote it, so they can see what to fix
    (rejected,) = read_csv(rejects)[1:]
    assert rejected[-1] == "row: more cells than columns"
    assert [c for c in rejected[:-1] if c] == [c for c in shifted if c]


def test_given_a_rejects_file_when_fixed_in_place_and_imported_then_every_row_lands(store, tmp_path):
    path, _ = _messy_csv(tmp_path / "portfolio.csv")
    rejects = tmp_path / "rejects.csv"
    import_file(store, path, now=NOW, rejects=rejects)
    # When the lender fixes the cells in the rejects file (leaving its error column) and imports it
    header, *bad = read_csv(rejects)
    fixes = {"phone": "+8613900139002", "currency": "CNY", "due_date": "2026-11-30", "amount_due": "50.00"}
    fixed = []
    for line in bad:
        values = dict(zip(header, line[: len(header)], strict=True))  # a stray cell is deleted
        values["name"] = values["name"] or "李娜"
        for name, value in fixes.items():
            if values["error"].startswith(name + ":"):
                values[name] = value
        fixed.append([values[name] for name in header])
    write_csv(rejects, fixed, header)
    again = import_file(store, rejects, now=NOW + timedelta(hours=1), rejects=tmp_path / "rejects-2.csv")
    # Then every fixed row lands, and nothing is rejected
    assert again.errors == []
    assert again.inserted == 6
    landed = stored(store, *(f"C-{i}" for i in range(1, 9)))
    assert len(landed) == 8
    assert landed["C-2"].phone == "+8613900139002"
    assert landed["C-5"].amount_due == Decimal("50.00")
    assert landed["C-6"].name == "李娜"


def test_given_a_csv_without_a_required_column_when_imported_then_the_whole_file_fails_clearly(
    store, tmp_path
):
    header = [name for name in CASE_FIELDS if name != "currency"]
    path = write_csv(tmp_path / "portfolio.csv", [cells(row(), header)], header)
    with pytest.raises(InputError) as caught:
        import_file(store, path, now=NOW)
    assert f"{path}:1:" in str(caught.value)
    assert "missing column(s): currency" in str(caught.value)
    assert count_cases(store) == 0


def test_given_a_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_when_imported_then_it_lands(
    store, tmp_path
):
    path = tmp_path / "excel.csv"
    write_csv(path, [cells(row())])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    report = import_file(store, path, now=NOW)
    assert (report.inserted, report.rejected) == (1, 0)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+1 (415) 555-2671", None, "+14155552671"),
        ("+86 138-0013-8000", "US", "+8613800138000"),
        ("(415) 555-2671", "US", "+14155552671"),
    ],
)
def test_given_phones_written_as_people_write_them_when_imported_then_they_are_stored_in_e164(
    store, tmp_path, raw, region, e164
):
    path = write_csv(tmp_path / "portfolio.csv", [cells(row(phone=raw))])
    report = import_file(store, path, now=NOW, default_region=region)
    assert report.errors == []
    assert stored(store, "C-1")["C-1"].phone == e164


def test_given_a_national_number_and_no_region_when_imported_then_it_is_rejected_not_guessed(store, tmp_path):
    path = write_csv(tmp_path / "portfolio.csv", [cells(row(phone="138 0013 8000"))])
    report = import_file(store, path, now=NOW)
    assert report.rejected == 1
    assert report.errors[0].startswith(f"{path}:2: phone: ")
    # And the log line does not carry the full number
    assert "138 0013 8000" not in report.errors[0]


def test_given_an_imported_file_when_imported_again_with_changes_then_counts_say_what_changed(
    store, tmp_path
):
    first = [cells(row(case_id=f"C-{i}", debtor_id=f"D-{i}")) for i in range(1, 4)]
    path = write_csv(tmp_path / "day1.csv", first)
    report = import_file(store, path, now=NOW)
    assert (report.inserted, report.updated) == (3, 0)
    # When the next day's file changes one amount and adds one case
    second = [
        cells(row(case_id="C-1", debtor_id="D-1", amount_due="1600.00")),
        *first[1:],
        cells(row(case_id="C-4", debtor_id="D-4")),
    ]
    later = NOW + timedelta(days=1)
    report = import_file(store, write_csv(tmp_path / "day2.csv", second), now=later)
    assert (report.rows, report.inserted, report.updated, report.rejected) == (4, 1, 3, 0)
    assert str(report) == "4 row(s): 1 inserted, 3 updated, 0 rejected"
    landed = stored(store, "C-1", "C-2", "C-4")
    assert landed["C-1"].amount_due == Decimal("1600.00")
    assert landed["C-1"].amount_as_of == later
    assert landed["C-2"].amount_as_of == NOW
    assert count_cases(store) == 4


def test_given_a_file_naming_a_case_twice_across_batches_when_imported_then_the_first_lands_and_the_later_is_named(
    store, tmp_path
):
    records = [
        cells(row(case_id="C-1", amount_due="100.00")),  # line 2
        cells(row(case_id="C-2")),  # line 3
        cells(row(case_id="C-1", amount_due="300.00")),  # line 4
    ]
    path = write_csv(tmp_path / "portfolio.csv", records)
    rejects = tmp_path / "rejects.csv"
    report = import_file(store, path, now=NOW, batch=2, rejects=rejects)
    # Then the first row of C-1 is the one imported, and the later one is refused naming the first
    assert stored(store, "C-1")["C-1"].amount_due == Decimal("100.00")
    assert count_cases(store) == 2
    assert (report.rows, report.inserted, report.rejected) == (3, 2, 1)
    assert report.errors == [f"{path}:4: case_id: already on line 2; that row is the one imported"]
    assert [line[:-1] for line in read_csv(rejects)[1:]] == [records[2]]


def test_given_profile_columns_when_imported_then_the_debtor_history_comes_back_with_the_case(
    store, tmp_path
):
    header = [*CASE_FIELDS, "previous_cures", "broken_promises", "kept_promises", "days_to_pay_last"]
    path = write_csv(tmp_path / "portfolio.csv", [[*cells(row()), "2", "1", "0", "5"]], header)
    import_file(store, path, now=NOW)
    assert dict(stored(store, "C-1")["C-1"].profile) == {
        "previous_cures": 2,
        "broken_promises": 1,
        "kept_promises": 0,
        "days_to_pay_last": 5,
    }


# ---------------------------------------------------------------- JSON Lines


def _messy_jsonl(path: Path) -> Path:
    lines = [
        json.dumps({**GOOD, "case_id": "J-1", "amount_due": "1234.56"}, ensure_ascii=False),  # line 1
        json.dumps({**GOOD, "case_id": "J-2", "phone": "12345"}, ensure_ascii=False),  # line 2
        "",  # line 3: blank lines are skipped
        '{"case_id": "J-3", "name": ',  # line 4: cut off
        "[1, 2]",  # line 5: JSON, but not an object
        json.dumps({**GOOD, "case_id": "J-6", "tags": ["web", "app"]}, ensure_ascii=False),  # line 6
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_given_a_jsonl_file_with_bad_lines_when_imported_then_good_lines_land_and_bad_ones_are_named(
    store, tmp_path
):
    path = _messy_jsonl(tmp_path / "portfolio.jsonl")
    report = import_file(store, path, now=NOW)
    assert (report.rows, report.inserted, report.rejected) == (5, 2, 3)
    assert report.errors[0].startswith(f"{path}:2: phone: ")
    assert report.errors[1].startswith(f"{path}:4: row: not JSON")
    assert report.errors[2] == f"{path}:5: row: not a JSON object"
    landed = stored(store, "J-1", "J-6")
    assert landed["J-1"].amount_due == Decimal("1234.56")
    assert landed["J-6"].tags == ("app", "web")


@pytest.mark.parametrize("amount", [1234.56, 3200, 0.1])
def test_given_a_jsonl_amount_written_as_a_json_number_when_imported_then_it_lands_as_the_decimal_it_spells(
    store, tmp_path, amount
):
    # Given a JSON export whose amounts are numbers, not strings
    path = tmp_path / "portfolio.jsonl"
    path.write_text(json.dumps({**GOOD, "amount_due": amount}, ensure_ascii=False) + "\n", encoding="utf-8")
    report = import_file(store, path, now=NOW)
    # Then the case lands with the amount as written, never a binary-float approximation
    assert report.errors == []
    assert stored(store, "C-1")["C-1"].amount_due == Decimal(repr(amount))


def test_given_bad_jsonl_lines_when_rejected_then_the_rejects_file_keeps_them_and_fixed_objects_reimport(
    store, tmp_path
):
    path = _messy_jsonl(tmp_path / "portfolio.jsonl")
    rejects = tmp_path / "rejects.jsonl"
    import_file(store, path, now=NOW, rejects=rejects)
    kept = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert len(kept) == 3
    bad_phone, cut_off, array = kept
    # Objects come back whole with an _error key; lines that were no object keep their text
    assert bad_phone == {**GOOD, "case_id": "J-2", "phone": "12345", "_error": bad_phone["_error"]}
    assert bad_phone["_error"].startswith("phone: ")
    assert cut_off["_raw"] == '{"case_id": "J-3", "name": '
    assert cut_off["_error"].startswith("row: not JSON")
    assert array == {"_raw": "[1, 2]", "_error": "row: not a JSON object"}
    # When the lender fixes the phone and imports the object back (its _error key still there)
    bad_phone["phone"] = "+8613900139002"
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text(json.dumps(bad_phone, ensure_ascii=False) + "\n", encoding="utf-8")
    report = import_file(store, fixed, now=NOW)
    assert (report.inserted, report.rejected) == (1, 0)
    assert stored(store, "J-2")["J-2"].phone == "+8613900139002"


# ---------------------------------------------------------------- the shipped example


#: The rejects of examples/portfolio.csv: line, field, reason.
EXAMPLE_REJECTS = [
    (12, "phone", "cannot parse '***': Missing or invalid default region."),
    (13, "currency", "'RMBX' is not an ISO 4217 currency"),
    (24, "due_date", "'2026-13-40' is not a date (YYYY-MM-DD)"),
    (25, "amount_due", "cannot be negative"),
    (26, "name", "is required"),
]


@pytest.fixture
def example_portfolio() -> Iterator[Path]:
    with as_file(files("dunning.examples") / "portfolio.csv") as path:
        yield Path(path)


def _expect_example(report: Any, path: Path) -> None:
    assert (report.rows, report.inserted, report.rejected) == (32, 27, 5)
    assert report.errors == [f"{path}:{line}: {name}: {reason}" for line, name, reason in EXAMPLE_REJECTS]


def test_given_the_shipped_example_portfolio_when_imported_then_exactly_its_five_bad_rows_are_rejected(
    store, example_portfolio
):
    report = import_file(store, example_portfolio, now=NOW)
    _expect_example(report, example_portfolio)
    landed = stored(store, "EN-2001", "CN-1013", "CN-1002", "CN-1002-B")
    assert landed["EN-2001"].amount_due == Decimal("845.20")
    assert landed["CN-1013"].currency == "HKD"
    # One debtor, two loans
    assert landed["CN-1002"].debtor_id == landed["CN-1002-B"].debtor_id


def test_given_the_example_portfolio_on_postgresql_when_imported_twice_then_the_second_import_updates(
    postgres_url, example_portfolio
):
    store = open_store(postgres_url)
    try:
        _expect_example(import_file(store, example_portfolio, now=NOW), example_portfolio)
        again = import_file(store, example_portfolio, now=NOW + timedelta(days=1))
        assert (again.inserted, again.updated, again.rejected) == (0, 27, 5)
        landed = stored(store, "EN-2001", "EN-2003")
        assert landed["EN-2001"].amount_due == Decimal("845.20")
        assert landed["EN-2003"].amount_due == Decimal("320.75")
        assert landed["EN-2001"].amount_as_of == NOW  # unchanged amounts keep their moment
        assert count_cases(store) == 27
    finally:
        store.dispose()


# ---------------------------------------------------------------- a big file


def _big_csv(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CASE_FIELDS)
        for i in range(count):
            writer.writerow(_big_row(i))
    return path


def _big_row(i: int) -> list[str]:
    return [
        f"BIG-{i:06d}",
        f"D-{i:06d}",
        f"Debtor number {i}",
        f"+1415555{i % 10000:04d}",
        f"fcm-token-{i:06d}",
        "en",
        "America/Los_Angeles",
        f"4111{i:012d}",
        f"{100 + i % 900}.{i % 100:02d}",
        "USD",
        "2026-11-25",
        f"https://pay.example.com/r/{i}",
        "bnpl,web",
    ]


def _cost_of_holding(count: int, sample: int = 2000) -> int:
    """Traced bytes to hold ``count`` parsed rows at once, extrapolated from a sample."""
    tracemalloc.start()
    try:
        held = [parse_case(dict(zip(CASE_FIELDS, _big_row(i), strict=True))) for i in range(sample)]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    return size * count // sample


@pytest.mark.slow
def test_given_fifty_thousand_rows_when_imported_then_memory_stays_bounded(store, tmp_path):
    count = 50_000
    path = _big_csv(tmp_path / "big.csv", count)
    import_file(store, write_csv(tmp_path / "warm.csv", [cells(row())]), now=NOW)  # imports, caches
    holding_all = _cost_of_holding(count)
    gc.collect()
    tracemalloc.start()
    try:
        report = import_file(store, path, now=NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.inserted, report.rejected) == (count, 0)
    assert count_cases(store) == count + 1
    # The import costs what a batch costs, not what the file does
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert peak < holding_all / 4, (
        f"peak {peak / 2**20:.1f} MiB vs {holding_all / 2**20:.1f} MiB for all rows"
    )
