"""The real CMS PFS files parse, with real values and row counts (../shared/cms-mirror)."""

from decimal import Decimal

import polars as pl
import pytest

from tests.helpers import PFS
from transform.layout import load_layouts, parse_file

pytestmark = pytest.mark.integration
L = load_layouts("pfs")


@pytest.mark.parametrize("path, year, rows", [
    ("RVU22A/PPRRVU22_JAN.csv", 2022, 17_600),
    ("RVU22A/PPRRVU22_JAN.xlsx", 2022, 17_600),
    ("RVU23D/PPRRVU23_OCT.csv", 2023, 18_168),
    ("RVU24B/PPRRVU24_APR.csv", 2024, 18_534),
    ("RVU24C/PPRRVU24_JUL.csv", 2024, 18_664),
    ("RVU25D/PPRRVU2025_Oct.csv", 2025, 19_090),
])
def test_pprrvu_row_counts(path, year, rows):
    frame = parse_file(PFS / path, L["pprrvu"], year).frame
    assert frame.height == rows
    assert frame.select("hcpcs", "modifier").is_duplicated().sum() == 0


@pytest.mark.parametrize("path, year, rows", [
    ("RVU22A/GPCI2022.csv", 2022, 112), ("RVU22A/GPCI2022.xlsx", 2022, 112),
    ("RVU24B/GPCI2024.csv", 2024, 109), ("RVU25D/GPCI2025.csv", 2025, 109),
])
def test_gpci_localities(path, year, rows):
    assert parse_file(PFS / path, L["gpci"], year).frame.height == rows


def test_37252_in_2024b():
    f = parse_file(PFS / "RVU24B/PPRRVU24_APR.csv", L["pprrvu"], 2024).frame
    row = f.filter((pl.col("hcpcs") == "37252") & (pl.col("modifier") == "")).row(0, named=True)
    assert row["status_code"] == "A"
    assert row["work_rvu"] == Decimal("1.80")
    assert row["facility_total_rvu"] == Decimal("2.59")
    assert row["non_facility_total_rvu"] == Decimal("27.85")
    assert row["conversion_factor"] == Decimal("33.2875")
    assert row["global_days"] == "ZZZ"
    assert row["co_surgeons_indicator"] == "1"
    assert row["source_row"] == 10141  # the line of 37252 in PPRRVU24_APR.csv


def test_codes_stay_text_and_zero_padding_restored():
    rvu = parse_file(PFS / "RVU25D/PPRRVU2025_Oct.csv", L["pprrvu"], 2025).frame
    assert rvu["hcpcs"][0] == "0001F"
    assert rvu.filter(pl.col("hcpcs") == "00100").height == 1  # anesthesia code keeps its zeros
    gpci22 = parse_file(PFS / "RVU22A/GPCI2022.csv", L["gpci"], 2022).frame  # CSV lost the zeros
    wi = gpci22.filter(pl.col("state") == "WI").row(0, named=True)
    assert (wi["mac"], wi["locality"], wi["work_gpci"]) == ("06302", "00", Decimal("1.000"))


def test_release_date_and_national_anesthesia_cf_are_read():
    assert parse_file(PFS / "RVU24B/PPRRVU24_APR.csv", L["pprrvu"], 2024).values["cms_release_date"] == "03/15/2024"
    anes = parse_file(PFS / "RVU25D/ANES2025.csv", L["anes"], 2025)
    assert anes.values["anesthesia_cf_header_value"] == "20.3178"
    al = anes.frame.filter(pl.col("mac") == "10112").row(0, named=True)
    assert al["anesthesia_cf"] == Decimal("19.31")


def test_locco_state_filled_down_and_duplicate_row_kept_once():
    parsed = parse_file(PFS / "RVU24B/24LOCCO.csv", L["locco"], 2024)
    f = parsed.frame
    assert f.height == 109
    sf = f.filter((pl.col("mac") == "01112") & (pl.col("locality") == "05")).row(0, named=True)
    assert sf["state"] == "CALIFORNIA"
    assert parsed.notes and "kept once" in parsed.notes[0]


FORMAT_KINDS = [
    ("pprrvu", "RVU24B/PPRRVU24_APR", 2024), ("pprrvu", "RVU25D/PPRRVU2025_Oct", 2025),
    ("gpci", "RVU24B/GPCI2024", 2024), ("gpci", "RVU25D/GPCI2025", 2025),
    ("anes", "RVU24B/ANES2024", 2024), ("anes", "RVU25D/ANES2025", 2025),
    ("oppscap", "RVU24B/OPPSCAP_APR", 2024), ("oppscap", "RVU25D/OPPSCAP_Oct", 2025),
    ("locco", "RVU24B/24LOCCO", 2024), ("locco", "RVU25D/25LOCCO", 2025),
]


@pytest.mark.parametrize("kind, stem, year", FORMAT_KINDS)
def test_csv_txt_xlsx_parse_to_identical_tables(kind, stem, year):
    # the ANES locality name is read only to compare the copies (tests/integration/test_formats_real.py)
    frames = {ext: parse_file(PFS / f"{stem}.{ext}", L[kind], year).frame.drop("source_row", "locality_name",
                                                                               strict=False)
              for ext in ("csv", "txt", "xlsx")}
    assert frames["csv"].equals(frames["xlsx"])
    if kind != "locco":
        assert frames["csv"].equals(frames["txt"])
    else:
        # CMS's LOCCO .txt is not the same data as its .csv/.xlsx: it omits "CALIFORNIA" on the first CA row
        # and truncates long names and county lists. Same localities, same keys; the builder prefers CSV.
        assert frames["csv"].select("mac", "locality").equals(frames["txt"].select("mac", "locality"))
        differing = frames["csv"].with_columns(txt=frames["txt"]["counties"]).filter(
            pl.col("counties") != pl.col("txt"))
        assert differing.height == 10
        pairs = differing.select("counties", "txt").rows()
        # nine are the csv's list cut to 57-58 characters in the txt; one is another wording of the same area
        truncated = [(c, t) for c, t in pairs if c.startswith(t) and len(t) in (57, 58)]
        assert len(truncated) == 9
        assert [p for p in pairs if p not in truncated] == [("LOS ANGELES /ORAGNGE CNTY", "LOS ANGELES/ORANGE")]
