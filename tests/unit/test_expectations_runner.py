"""Tests for expectations.runner: small polars frames built in code, run through GX 1.x."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import great_expectations as gx
import polars as pl
import pytest

from core.errors import ValidationError
from expectations.report import write_reports
from expectations.runner import SuiteResult, run_suite

E = gx.expectations


@pytest.fixture
def fees() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "hcpcs": ["00100", "00102", "99213", "99214", "G0008"],
            "modifier": ["", "", "26", "", "TC"],
            "rvu": pl.Series(
                [Decimal("1.50"), Decimal("2.25"), None, Decimal("0.97"), Decimal("3.10")],
                dtype=pl.Decimal(9, 2),
            ),
            "units": [1, 2, None, 4, 5],
            "effective": [dt.date(2024, 1, 1)] * 5,
        }
    )


def test_passing_suite(fees: pl.DataFrame) -> None:
    exps = [
        E.ExpectColumnValuesToNotBeNull(column="hcpcs"),
        E.ExpectColumnValuesToBeBetween(column="units", min_value=0, max_value=10),
        E.ExpectCompoundColumnsToBeUnique(column_list=["hcpcs", "modifier"]),
        E.ExpectColumnValuesToBeBetween(
            column="effective", min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 12, 31)
        ),
    ]
    result = run_suite(fees, "fees", exps, release="pfs:2024B")

    assert isinstance(result, SuiteResult)
    assert result.success
    assert (result.table, result.release, result.row_count) == ("fees", "pfs:2024B", 5)
    assert [o.expectation for o in result.outcomes] == [
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_between",
    ]  # the order given, not GX's
    assert all(o.success and o.severity == "error" and o.error is None for o in result.outcomes)
    assert result.failures() == [] and result.warnings() == []
    assert result.summary() == ""
    result.raise_for_failures()
    json.dumps(result.to_dict(), allow_nan=False)


def test_failing_between_reports_count_column_and_examples(fees: pl.DataFrame) -> None:
    exps = [
        E.ExpectColumnValuesToNotBeNull(column="hcpcs"),
        E.ExpectColumnValuesToBeBetween(column="units", min_value=1, max_value=3),
    ]
    result = run_suite(fees, "fees", exps, release="pfs:2024B")

    assert not result.success
    [failure] = result.failures()
    assert failure.expectation == "expect_column_values_to_be_between"
    assert failure.column == "units"
    assert failure.unexpected_count == 2
    assert failure.unexpected_percent == pytest.approx(50.0)  # of the 4 non-null values
    # units has a null, so pandas holds it as float64; examples come back as ints
    assert failure.examples == [4, 5]
    assert all(type(v) is int for v in failure.examples)
    assert failure.kwargs == {"column": "units", "max_value": 3, "min_value": 1}

    with pytest.raises(ValidationError) as excinfo:
        result.raise_for_failures()
    message = str(excinfo.value)
    assert message.startswith("validation failed for table fees (pfs:2024B)")
    assert "expect_column_values_to_be_between on units failed: 2 unexpected (50%)" in message
    assert "e.g. [4, 5]" in message


def test_compound_uniqueness_detects_duplicate_key() -> None:
    df = pl.DataFrame(
        {
            "hcpcs": ["99213", "99213", "99213", "99214"],
            "modifier": ["26", "TC", "26", "26"],
            "locality": ["01", "01", "01", "01"],
        }
    )
    result = run_suite(
        df, "gpci", [E.ExpectCompoundColumnsToBeUnique(column_list=["hcpcs", "modifier"])]
    )
    [failure] = result.failures()
    assert failure.column == "hcpcs,modifier"
    assert failure.unexpected_count == 2  # both rows of the duplicated key
    assert failure.examples == [{"hcpcs": "99213", "modifier": "26"}]  # de-duplicated
    assert "expect_compound_columns_to_be_unique on hcpcs,modifier failed" in result.summary()


def test_regex_on_text_codes_keeps_leading_zeros() -> None:
    df = pl.DataFrame({"code": ["00100", "00102", "0010", "A0010", None]})
    result = run_suite(df, "codes", [E.ExpectColumnValuesToMatchRegex(column="code", regex=r"^\d{5}$")])
    [failure] = result.failures()
    # "00100" matched as text; only the genuinely malformed codes are unexpected
    assert failure.unexpected_count == 2
    assert failure.examples == ["0010", "A0010"]

    ok = run_suite(
        df.drop_nulls().filter(pl.col("code").str.len_chars() == 5, ~pl.col("code").str.starts_with("A")),
        "codes",
        [
            E.ExpectColumnValuesToMatchRegex(column="code", regex=r"^\d{5}$"),
            E.ExpectColumnValueLengthsToEqual(column="code", value=5),
            E.ExpectColumnValuesToBeInSet(column="code", value_set=["00100", "00102"]),
        ],
    )
    assert ok.success, ok.summary()


def test_warning_severity_is_listed_but_does_not_fail(fees: pl.DataFrame) -> None:
    result = run_suite(
        fees,
        "fees",
        [E.ExpectColumnValuesToNotBeNull(column="hcpcs")],
        release="pfs:2024B",
        warnings=[E.ExpectColumnValuesToNotBeNull(column="rvu")],
    )
    assert result.success
    assert result.failures() == []
    [warning] = result.warnings()
    assert (warning.severity, warning.column, warning.unexpected_count) == ("warning", "rvu", 1)
    assert [o.severity for o in result.outcomes] == ["error", "warning"]
    result.raise_for_failures()  # does not raise
    assert result.summary() == ""
    assert result.summary(include_warnings=True).startswith(
        "[warning] fees: expect_column_values_to_not_be_null on rvu failed: 1 unexpected"
    )


def test_row_count_observed_value(fees: pl.DataFrame) -> None:
    result = run_suite(
        fees,
        "fees",
        [
            E.ExpectTableRowCountToBeBetween(min_value=1, max_value=100),
            E.ExpectTableRowCountToEqual(value=1000),
        ],
    )
    passed, failed = result.outcomes
    assert passed.success and passed.observed == 5 and passed.column is None
    assert not failed.success and failed.observed == 5 and failed.unexpected_count is None
    assert result.summary() == (
        'fees: expect_table_row_count_to_equal failed: observed 5, expected {"value": 1000}'
    )


def test_decimal_columns(fees: pl.DataFrame) -> None:
    result = run_suite(
        fees,
        "fees",
        [
            E.ExpectColumnValuesToBeBetween(column="rvu", min_value=Decimal("0"), max_value=3),
            E.ExpectColumnMeanToBeBetween(column="rvu", min_value=1, max_value=3),
            E.ExpectColumnMaxToBeBetween(column="rvu", min_value=3, max_value=4),
            E.ExpectColumnValuesToNotBeNull(column="rvu", mostly=0.75),
        ],
    )
    between, mean, maximum, not_null = result.outcomes
    assert not between.success and between.unexpected_count == 1 and between.examples == [3.1]
    assert mean.success and mean.observed == pytest.approx((1.50 + 2.25 + 0.97 + 3.10) / 4)
    assert maximum.success and maximum.observed == pytest.approx(3.1)
    assert not_null.success
    assert all(o.error is None for o in result.outcomes)
    json.dumps(result.to_dict(), allow_nan=False)


def test_missing_column_is_a_failure_with_the_error(fees: pl.DataFrame) -> None:
    result = run_suite(fees, "fees", [E.ExpectColumnValuesToNotBeNull(column="no_such_column")])
    [failure] = result.failures()
    assert failure.error and "no_such_column" in failure.error
    assert "no_such_column failed: error:" in result.summary()


def test_callers_expectations_are_reusable(fees: pl.DataFrame) -> None:
    exp = E.ExpectColumnValuesToNotBeNull(column="hcpcs", meta={"why": "primary key"})
    first = run_suite(fees, "fees", [exp])
    second = run_suite(fees, "fees", [exp], warnings=[exp])
    assert first.success and second.success and len(second.outcomes) == 2
    assert exp.id is None and exp.meta == {"why": "primary key"}


def test_no_expectations() -> None:
    result = run_suite(pl.DataFrame({"a": [1]}), "t", [])
    assert result.success and result.outcomes == [] and result.row_count == 1


def test_reports_are_written(tmp_path, fees: pl.DataFrame) -> None:
    bad = run_suite(
        fees,
        "fees<script>",
        [
            E.ExpectColumnValuesToNotBeNull(column="hcpcs"),
            E.ExpectColumnValuesToBeInSet(column="modifier", value_set=["", "26"]),
        ],
        release="pfs:2024B",
        warnings=[E.ExpectColumnValuesToNotBeNull(column="units")],
    )
    good = run_suite(fees, "locality", [E.ExpectTableRowCountToEqual(value=5)], release="gpci:2024")

    json_path, html_path = write_reports(
        [bad, good], tmp_path / "out", "PFS <2024B>", created_at="2024-07-01T00:00:00Z"
    )
    assert json_path == tmp_path / "out" / "validation.json"
    assert html_path == tmp_path / "out" / "validation.html"

    doc = json.loads(json_path.read_text())
    assert doc["created_at"] == "2024-07-01T00:00:00Z"
    assert doc["success"] is False
    assert [t["table"] for t in doc["tables"]] == ["fees<script>", "locality"]
    assert doc["tables"][0]["outcomes"][1]["examples"] == ["TC"]

    page = html_path.read_text()
    assert "expect_column_values_to_be_in_set" in page
    assert "<script>" not in page and "fees&lt;script&gt;" in page
    assert "PFS &lt;2024B&gt;" in page
    assert "pfs:2024B" in page and "FAIL" in page and "PASS" in page
    section = page[page.index('id="table-0"') : page.index('id="table-1"')]
    # failures first, then warnings, then passes
    assert (
        section.index("expect_column_values_to_be_in_set")
        < section.index("&quot;units&quot;")
        < section.index("&quot;hcpcs&quot;")
    )

    # deterministic: the same results give byte-identical files
    before = json_path.read_bytes(), html_path.read_bytes()
    write_reports([bad, good], tmp_path / "out", "PFS <2024B>", created_at="2024-07-01T00:00:00Z")
    assert (json_path.read_bytes(), html_path.read_bytes()) == before
