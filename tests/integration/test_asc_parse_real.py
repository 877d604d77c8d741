"""The real CMS ASC addenda workbooks of CY2020 (January, April, July) parse with one layout file
(../shared/cms-mirror/asc_addenda), with CMS's row counts and values."""

from decimal import Decimal

import polars as pl
import pytest

from tests.helpers import MIRROR
from transform.asc import parse_workbook

pytestmark = pytest.mark.integration
ASC = MIRROR / "asc_addenda"
QUARTERS = ["2020-01", "2020-04", "2020-07"]
TABLES = ["aa", "bb", "dd1", "dd2", "ee"]


@pytest.fixture(scope="module")
def workbooks():
    return {q: parse_workbook(ASC / q / "asc_addenda.xlsx", 2020) for q in QUARTERS}


@pytest.mark.parametrize("quarter, aa, bb, ee", [
    ("2020-01", 3_965, 1_748, 2_064),
    ("2020-04", 3_965, 1_771, 2_064),  # BB's header moves up a row (no blank row above it)
    ("2020-07", 3_977, 1_823, 2_064),
])
def test_row_counts(workbooks, quarter, aa, bb, ee):
    tables = {t: p.frame for t, p in workbooks[quarter].items()}
    assert list(tables) == TABLES
    assert (tables["aa"].height, tables["bb"].height, tables["ee"].height) == \
        (aa, bb, ee)
    assert tables["dd1"].height == 18
    assert tables["dd2"]["code"].to_list() == ["CH", "NI", "NP", "NC"]
    for name in ("aa", "bb", "ee"):
        codes = tables[name]["hcpcs"]
        assert codes.is_duplicated().sum() == 0
        assert codes.str.contains(r"^[0-9A-Z]{5}$").all()  # NOTE rows under the data are not parsed


def test_columns_are_named_and_typed(workbooks):
    tables = {t: p.frame for t, p in workbooks["2020-01"].items()}
    assert tables["aa"].columns == [
        "hcpcs", "marker", "short_descriptor", "subject_to_multiple_procedure_discounting", "payment_indicator",
        "payment_weight", "payment_rate", "comment_indicator", "source_row"]
    assert tables["bb"].columns == [
        "hcpcs", "marker", "short_descriptor", "pass_through_expiration", "payment_indicator", "payment_weight",
        "payment_rate", "ira_adjusted_copayment", "comment_indicator", "source_row"]
    assert tables["dd1"].columns == ["code", "definition", "source_row"]
    assert tables["dd2"].columns == ["code", "definition", "source_row"]
    assert tables["ee"].columns == ["hcpcs", "short_descriptor", "source_row"]
    aa = tables["aa"]
    assert aa.schema["payment_weight"] == pl.Decimal(18, 4) and aa.schema["payment_rate"] == pl.Decimal(18, 2)
    assert aa.schema["hcpcs"] == pl.String
    assert aa["comment_indicator"].null_count() == aa.height  # no comment indicator column in these quarters
    assert set(aa["subject_to_multiple_procedure_discounting"].unique()) == {"Y", "N"}


def test_january_payment_indicators(workbooks):
    aa = workbooks["2020-01"]["aa"].frame
    counts = dict(aa.group_by("payment_indicator").len().iter_rows())
    assert counts == {"A2": 2_147, "G2": 579, "N1": 436, "P3": 369, "J8": 288, "P2": 101, "R2": 45}


@pytest.mark.parametrize("quarter", QUARTERS)
def test_37252_and_37253_are_packaged(workbooks, quarter):
    tables = {t: p.frame for t, p in workbooks[quarter].items()}
    aa = tables["aa"].filter(pl.col("hcpcs").is_in(["37252", "37253"])).sort("hcpcs")
    assert aa.select("hcpcs", "payment_indicator", "payment_weight", "payment_rate", "source_row").rows() == [
        ("37252", "N1", None, None, 2127), ("37253", "N1", None, None, 2128)]
    assert tables["bb"].filter(pl.col("hcpcs").is_in(["37252", "37253"])).height == 0
    n1 = tables["dd1"].filter(pl.col("code") == "N1")["definition"].item()
    assert "packaged" in n1.lower() and "no separate payment" in n1.lower()


def test_marker_column_and_values(workbooks):
    tables = {t: p.frame for t, p in workbooks["2020-01"].items()}
    aa, bb = tables["aa"], tables["bb"]
    assert dict(aa.group_by("marker").len().drop_nulls().iter_rows()) == {"*": 18, "**": 3}
    assert dict(bb.group_by("marker").len().drop_nulls().iter_rows()) == {"**": 38}
    row = aa.filter(pl.col("hcpcs") == "10005").row(0, named=True)
    assert (row["marker"], row["payment_indicator"], row["payment_weight"], row["payment_rate"], row["source_row"]) \
        == ("*", "P3", None, Decimal("75.07"), 6)
    g0260 = aa.filter(pl.col("hcpcs") == "G0260").row(0, named=True)
    assert (g0260["payment_weight"], g0260["payment_rate"]) == (Decimal("6.6146"), Decimal("315.83"))
    ee = tables["ee"]
    assert ee["hcpcs"][0] == "00176"  # leading zeros kept
    assert not ee["short_descriptor"].str.starts_with("\t").any()  # some descriptors start with a tab in the sheet


def test_full_precision_weights_are_rounded_to_the_shown_4_decimals_and_noted(workbooks):
    aa = workbooks["2020-01"]["aa"]
    row = aa.frame.filter(pl.col("hcpcs") == "0308T").row(0, named=True)
    assert (row["payment_weight"], row["payment_rate"], row["source_row"]) == \
        (Decimal("433.0245"), Decimal("20675.62"), 3843)  # stored as 433.02448321360504, shown as 433.0245
    assert aa.notes == ["asc_addenda.xlsx: column payment_weight rounded to 4 decimals in rows [3843] "
                        "(sheet 'CY 2020 Jan ASC AA')"]
    bb_jul = workbooks["2020-07"]["bb"]
    assert "rows [669, 940, 941]" in bb_jul.notes[0]


def test_parse_workbook_returns_every_sheet():
    frames = {k: p.frame for k, p in parse_workbook(ASC / "2020-04" / "asc_addenda.xlsx", 2020).items()}
    assert list(frames) == TABLES
    assert all("source_row" in f.columns for f in frames.values())
    assert frames["bb"]["source_row"][0] == 4  # header on row 3 in April
