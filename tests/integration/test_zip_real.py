"""CMS's real ZIP code to carrier locality file of October 2025 (../shared/cms-mirror/zip_locality/2025-10), published
by the whole-mirror build next to PFS RVU25D, and pricing by ZIP code through the CLI and pfs_check."""

from __future__ import annotations

import json

import polars as pl
import pytest

from cmsref.cli import main
from extract.catalog import load_dataset
from extract.fetch import local_source
from tests.helpers import MIRROR, query
from transform import zip_locality

pytestmark = pytest.mark.integration

FOLDER = MIRROR / "zip_locality" / "2025-10"
DAY = "2025-11-01"


def test_the_october_2025_file_is_published_for_its_quarter_and_checked_against_gpci2025(mirror_db):
    (release_id, start, end, counts, notes, validation), = query(
        mirror_db, "SELECT r.release_id, v.effective_from, v.effective_to, r.row_counts, m.notes, m.validation "
                   "FROM releases r JOIN meta.releases m USING (release_id) "
                   "JOIN (SELECT release_id, min(effective_from) AS effective_from, max(effective_to) AS effective_to "
                   "      FROM data_version_releases GROUP BY ALL) v USING (release_id) WHERE r.dataset = 'zip'")
    assert (release_id, str(start), str(end)) == ("zip/2025-10/r1", "2025-10-01", "2026-01-01")
    assert json.loads(counts) == {"zip_locality": 42_956}
    assert "ZIP5_OCT2025.txt agrees cell for cell with ZIP5_OCT2025.xlsx (42,956 rows)" in json.loads(notes)
    suites = {s["table"]: (s["success"], s["row_count"]) for s in json.loads(validation)["suites"]}
    assert suites == {"zip_locality": (True, 42_956), "zip localities vs GPCI (2025D)": (True, 1)}
    assert query(mirror_db, "SELECT count(*), count(*) FILTER (needs_plus_four), count(DISTINCT (mac, locality)), "
                            "count(*) FILTER (rural_indicator = 'urban'), count(*) FILTER (rural_indicator = 'rural'), "
                            "count(*) FILTER (rural_indicator = 'super_rural'), count(DISTINCT year_quarter) "
                            "FROM zip_locality") == [(42_956, 580, 109, 23_493, 11_633, 7_830, 1)]
    # every ZIP file locality is a GPCI locality of RVU25D, and every GPCI locality has ZIP codes
    assert query(mirror_db, "SELECT count(*) FROM (SELECT DISTINCT mac, locality "
                            "FROM zip_locality_on(DATE '2025-11-01')) z "
                            "FULL JOIN pfs_gpci_on(DATE '2025-11-01') g USING (mac, locality) "
                            "WHERE z.mac IS NULL OR g.mac IS NULL") == [(0,)]


def test_the_txt_and_the_xlsx_parse_to_identical_tables():
    spec = load_dataset("zip")
    release = spec.release("2025-10")
    txt, xlsx = (zip_locality.transform_release(spec, release, [local_source("zip5", "all", FOLDER / name)])
                 .tables["zip_locality"].drop("source_sha256", "source_row")
                 for name in ("ZIP5_OCT2025.txt", "ZIP5_OCT2025.xlsx"))
    assert txt.height == xlsx.height == 42_956
    assert txt.equals(xlsx)
    assert txt.filter(pl.col("zip5") == "02574").row(0) == ("02574", "MA", "14212", "99", "urban", "Z9", False, "A",
                                                             "20254")


KNOWN = [  # ZIP code, state, MAC, locality, its name in GPCI2025
    ("90210", "CA", "01182", "18", "LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES/ORANGE CNTY)"),
    ("94110", "CA", "01112", "05", "SAN FRANCISCO-OAKLAND-BERKELEY (SAN FRANCISCO/SAN MATEO/ALAMEDA/CONTRA COSTA "
                                   "CNTY)"),
    ("10001", "NY", "13202", "01", "MANHATTAN"),
    ("60601", "IL", "06102", "16", "CHICAGO"),
    ("77030", "TX", "04412", "18", "HOUSTON"),
    ("33101", "FL", "09102", "04", "MIAMI"),
    ("30303", "GA", "10212", "01", "ATLANTA"),
    ("20001", "DC", "12202", "01", "DC + MD/VA SUBURBS"),
    ("98101", "WA", "02402", "02", "SEATTLE (KING CNTY)"),
    ("97201", "OR", "02302", "01", "PORTLAND"),
    ("63101", "EM", "05302", "01", "METROPOLITAN ST. LOUIS"),
    ("85004", "AZ", "03102", "00", "ARIZONA"),
    ("99501", "AK", "02102", "01", "ALASKA"),
    ("96813", "HI", "01212", "01", "HAWAII, GUAM"),
    ("02574", "MA", "14212", "99", "REST OF MASSACHUSETTS"),
]


def test_known_zip_codes_resolve_to_their_localities(mirror_db):
    rows = query(mirror_db, "SELECT z.zip5, z.state, z.mac, z.locality, g.locality_name "
                            "FROM zip_locality_on(DATE '2025-11-01') z JOIN pfs_gpci_on(DATE '2025-11-01') g "
                            "USING (mac, locality) WHERE z.zip5 IN (SELECT unnest(?)) ORDER BY z.zip5",
                 [[k[0] for k in KNOWN]])
    assert rows == sorted(KNOWN)


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("code, zip_code, locality, amounts", [
    ("37252", "90210", "01182:18", {"facility": "86.08", "non_facility": "1012.62"}),
    ("99214", "10001", "13202:01", {"facility": "105.48", "non_facility": "142.07"}),
    ("76145", "60601", "06102:16", {"facility": "993.91", "non_facility": "993.91"}),
    ("93000", "77030-1234", "04412:18", {"facility": "14.27", "non_facility": "14.27"}),
    ("99214", "99501", "02102:01", {"facility": "125.05", "non_facility": "158.97"}),
])
def test_payment_by_zip_is_payment_by_its_locality(mirror_db, capsys, code, zip_code, locality, amounts):
    by_zip = run(capsys, "payment", code, "--date", DAY, "--zip", zip_code, "--db", str(mirror_db), "--format", "json")
    by_locality = run(capsys, "payment", code, "--date", DAY, "--locality", locality, "--db", str(mirror_db),
                      "--format", "json")
    assert by_zip[0] == by_locality[0] == 0 and by_zip[1] == by_locality[1]
    assert {r["setting"]: r["amount"] for r in json.loads(by_zip[1])} == amounts
    assert f"ZIP code {zip_code[:5]} is in locality {locality}" in by_zip[2] and "of 2025-10, row" in by_zip[2]
    table = run(capsys, "payment", code, "--date", DAY, "--zip", zip_code, "--db", str(mirror_db))
    assert table[1] == run(capsys, "payment", code, "--date", DAY, "--locality", locality, "--db", str(mirror_db))[1]


def test_a_zip_code_that_spans_localities_gets_no_amount(mirror_db, capsys):
    assert query(mirror_db, "SELECT mac, locality, needs_plus_four FROM zip_locality WHERE zip5 = '02324'") == [
        ("14212", "99", True)]
    code, out, err = run(capsys, "payment", "99214", "--date", DAY, "--zip", "02324", "--db", str(mirror_db))
    assert code == 1 and out == ""
    assert err == ("cmsref: error: ZIP code 02324 spans localities (the ZIP code to carrier locality file of 2025-10 "
                   "flags it as needing its +4): its locality depends on the ZIP+4, and the ZIP+4 file (CMS's ZIP9) is "
                   "needed to place it; it is not loaded, so no amount is given\n")


@pytest.mark.parametrize("args, message", [
    (("--zip", "00000"), "cmsref: error: ZIP code 00000 is not in the ZIP code to carrier locality file of 2025-10 "
                         "(in effect on 2025-11-01)\n"),
    (("--zip", "90210", "--date", "2025-06-01"),
     "cmsref: error: ZIP code 90210 cannot be placed on 2025-06-01: no loaded release of the ZIP code to carrier "
     "locality file covers that date of service. Loaded windows (end exclusive): 2025-10 2025-10-01..2026-01-01\n"),
])
def test_a_zip_code_the_file_cannot_place_says_why(mirror_db, capsys, args, message):
    argv = ["payment", "99214", "--db", str(mirror_db), *args]
    if "--date" not in args:
        argv += ["--date", DAY]
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (1, "", message)


@pytest.mark.parametrize("value", ["9021", "902101", "90210-12", "ABCDE"])
def test_a_zip_code_of_the_wrong_shape_is_one_line(capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["payment", "99214", "--date", DAY, "--zip", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"cmsref payment: error: argument --zip: {value!r} is not a ZIP code (5 digits, or 9 "
                              f"with an optional dash")


def test_pfs_check_prices_claim_lines_by_zip_as_by_locality(mirror_db):
    import duckdb

    con = duckdb.connect(str(mirror_db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE claim AS SELECT * FROM (VALUES "
                    "('99214', DATE '2025-11-01', '10001', NULL, NULL), ('99214', DATE '2025-11-01', NULL, '13202', "
                    "'01'), ('99214', DATE '2025-11-01', '02324', NULL, NULL)) t(hcpcs, date_of_service, zip, mac, "
                    "locality)")
        rows = con.execute("SELECT line_no, locality, pfs_amount::VARCHAR, pfs_status "
                           "FROM pfs_check('claim')").fetchall()
    finally:
        con.close()
    assert rows == [(1, "13202:01", "142.07", "priced"), (2, "13202:01", "142.07", "priced"),
                    (3, None, None, "ZIP code spans localities: its +4 and the ZIP+4 file (not loaded) are needed")]


def test_built_without_a_pfs_release_the_gpci_check_is_said_not_made(home):
    from cmsref import pipeline

    result = pipeline.build(["zip"], mirror=MIRROR)
    assert result.data_version and "zip/2025-10/r1" in result.message
    (notes, validation), = query(home / "cmsref.duckdb", "SELECT notes, validation FROM meta.releases")
    assert "no PFS release with a GPCI file covers the quarter's first day: the check of the ZIP codes' localities " \
           "against the GPCI file not made" in json.loads(notes)
    assert [s["table"] for s in json.loads(validation)["suites"]] == ["zip_locality"]
