"""OPPS Addendum B (fixtures built in code) and the real ASC 2020 addenda through the pipeline into a warehouse."""

import shutil
from decimal import Decimal

import pytest

from cmsref import pipeline

from core import settings
from core.errors import ParseError, ValidationError
from tests.helpers import home_with_copy, MIRROR, cmsref_home, query as q, snapshot
from tests.builders import write_csv, write_xlsx
from tests.builders import OPPS_HEADER as HEADER, OPPS_ROWS as ROWS, OPPS_TITLE as TITLE

pytestmark = pytest.mark.integration
IVUS = (["37252", "Intrvasc us noncoronary 1st", "N", "", "", "", "", "", "", "", ""],
        ["37252", "Intrvasc us noncoronary 1st", "N"])


ADDENDUM_A = [["Addendum A.-Final OPPS APCs for CY 2025 (generated test file)"], [],
              ["APC", "Group Title", "SI", "Relative Weight", "Payment Rate", "National Unadjusted Copayment",
               "Minimum Unadjusted Copayment"],
              ["0412", "Level 2 Immunizations", "S", "0.6187", "$55.68", ".", "$11.14"],
              ["5194", "Level 4 Endovascular Procedures", "J1", "159.2513", "$14,331.98", ".", "$2,866.40"]]


def opps_mirror(root, period="2025-01", rows=(*ROWS, IVUS), header=HEADER, fmt="csv"):
    folder = root / "opps_addendum_b" / period
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "january_2025_addendum_a.csv", ADDENDUM_A)
    if fmt == "csv":
        write_csv(folder / "january_2025_addendum_b.csv", TITLE + [header] + [r[0] for r in rows])
    else:
        write_xlsx(folder / "january_2025_addendum_b.xlsx", {"Addendum B": TITLE + [header] + [list(r[1]) for r in rows]})
    return root


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    home = tmp_path_factory.mktemp("opps-asc")
    mirror = opps_mirror(home / "mirror")
    for quarter in ("2020-01", "2020-04", "2020-07"):  # the workbook quarters (per-addendum files: test_real_files)
        shutil.copytree(MIRROR / "asc_addenda" / quarter, mirror / "asc_addenda" / quarter)
    with cmsref_home(home / "data"):
        assert pipeline.build(["opps", "asc"], mirror=mirror).data_version == "2025.1"
        yield settings.db_path()


def test_asc_counts_per_quarter(db):
    assert q(db, "SELECT period, count(*) FROM asc_addendum_aa GROUP BY period ORDER BY period") == [
        ("2020-01", 3_965), ("2020-04", 3_965), ("2020-07", 3_977)]
    assert q(db, "SELECT period, count(*) FROM asc_addendum_bb GROUP BY period ORDER BY period") == [
        ("2020-01", 1_748), ("2020-04", 1_771), ("2020-07", 1_823)]
    assert q(db, "SELECT period, count(*) FROM asc_excluded GROUP BY period ORDER BY period") == [
        ("2020-01", 2_064), ("2020-04", 2_064), ("2020-07", 2_064)]


def test_ivus_codes_packaged_in_asc_with_definition(db):
    rows = q(db, "SELECT a.hcpcs, a.payment_indicator, s.definition FROM asc_addendum_aa_on('2020-02-15') a "
                 "JOIN status_indicator s ON s.setting = 'asc_pi' AND s.code = a.payment_indicator "
                 "AND s.release_id = a.release_id WHERE a.hcpcs IN ('37252', '37253') ORDER BY 1")
    assert [(c, pi) for c, pi, _ in rows] == [("37252", "N1"), ("37253", "N1")]
    assert all("no separate payment" in d.lower() and "packaged" in d.lower() for *_, d in rows)


def test_opps_values_and_side_by_side(db):
    assert q(db, "SELECT status_indicator, apc, relative_weight, payment_rate, "
                 "national_unadjusted_copayment FROM opps_addendum_b WHERE hcpcs = '33274'") == [
        ("J1", "5194", Decimal("159.2513"), Decimal("14331.98"), None)]
    rows = {r[0]: r for r in q(db, "SELECT setting, indicator, definition, status FROM code_status('37252', '2025-02-01')")}
    assert rows["opps_si"][1] == "N" and "packaged" in rows["opps_si"][2].lower()
    assert rows["asc_pi"][3].startswith("no data")  # no 2025 ASC release is loaded: never the 2020 values
    rows = {r[0]: r for r in q(db, "SELECT setting, indicator, status FROM code_status('37252', '2020-02-15')")}
    assert rows["asc_pi"][1:] == ("N1", "found") and rows["opps_si"][2].startswith("no data")


def test_addendum_a(db):
    assert q(db, "SELECT apc, group_title, status_indicator, payment_rate::VARCHAR FROM opps_addendum_a ORDER BY apc") == [
        ("0412", "Level 2 Immunizations", "S", "55.68"), ("5194", "Level 4 Endovascular Procedures", "J1", "14331.98")]


def test_csv_and_xlsx_addendum_b_publish_the_same_rows(tmp_path, monkeypatch):
    out = {}
    for fmt in ("csv", "xlsx"):
        monkeypatch.setenv("CMSREF_HOME", str(tmp_path / fmt))
        pipeline.build(["opps"], mirror=opps_mirror(tmp_path / f"m-{fmt}", fmt=fmt))
        out[fmt] = q(settings.db_path(), "SELECT * EXCLUDE (release_id, source_sha256, source_row) FROM opps_addendum_b "
                                       "ORDER BY hcpcs")
    assert out["csv"] == out["xlsx"] and len(out["csv"]) == len(ROWS) + 1


@pytest.mark.parametrize("rows, header, error, text", [
    ((*ROWS, IVUS), [h if h != "SI" else "Status" for h in HEADER], ParseError, "missing column 'status_indicator'"),
    ((*ROWS, (["37253", "Intrvasc us noncoronary addl", "Z9", "", "", "", "", "", "", "", ""], [])), HEADER,
     ValidationError, "Z9"),
    ((*ROWS, IVUS, IVUS), HEADER, ValidationError, "expect_column_values_to_be_unique"),
    ((*ROWS, (["99999", "Made up", "T", "", "1.0", "$1.00", ".", "$0.20", "", "", ""], [])), HEADER,
     ValidationError, "apc"),
])
def test_bad_addendum_b_fails_clearly_and_changes_nothing(db, tmp_path, monkeypatch, rows, header, error, text):
    copy = home_with_copy(db, tmp_path, monkeypatch)
    before = snapshot(copy)
    with pytest.raises(error, match=text):
        pipeline.build(["opps"], ["2025-04"], mirror=opps_mirror(tmp_path / "m", "2025-04", rows, header))
    assert snapshot(copy) == before
