"""Every format CMS ships of a real bundle member is parsed and compared with the published one
(../shared/cms-mirror): which copies were compared, and CMS's known differences recognised, counted and never
silently ignored."""

from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ParseError
from extract.catalog import load_dataset
from extract.fetch import fetch_release
from tests.helpers import MIRROR
from transform import formats
from transform.layout import load_layouts, parse_file

pytestmark = pytest.mark.integration
PFS = load_dataset("pfs")


def fetched(spec, period, tmp_path):
    return fetch_release(spec, spec.release(period), cache_dir=tmp_path, mirror=MIRROR)


def test_rvu25d_publishes_the_csv_and_checks_the_txt_and_xlsx(tmp_path):
    files = fetched(PFS, "2025D", tmp_path)
    roles = {(f.kind, f.format): f.role for f in files if f.kind != "status_definitions"}
    assert roles == {(k, fmt): "published" if fmt == "csv" else "checked"
                     for k in ("pprrvu", "gpci", "locco", "anes", "oppscap") for fmt in ("csv", "txt", "xlsx")}
    published, notes = formats.check_release(PFS, PFS.release("2025D"), files)
    assert sorted(f.member_name for f in published) == [
        "25LOCCO.csv", "ANES2025.csv", "GPCI2025.csv", "OPPSCAP_Oct.csv", "PPRRVU2025_Oct.csv", "pfs_status_codes.csv"]
    assert notes == [
        "ANES2025.csv agrees cell for cell with ANES2025.xlsx (109 rows)",
        "ANES2025.csv agrees with ANES2025.txt (109 rows) except where CMS's copies are known to differ "
        "(format_differences in transform/layouts/pfs.toml): txt locality_name: 5 cells cut to 40 characters",
        "GPCI2025.csv agrees cell for cell with GPCI2025.txt and GPCI2025.xlsx (109 rows)",
        "25LOCCO.csv agrees cell for cell with 25LOCCO.xlsx (109 rows)",
        "25LOCCO.csv agrees with 25LOCCO.txt (109 rows) except where CMS's copies are known to differ "
        "(format_differences in transform/layouts/pfs.toml): txt counties: 9 cells cut to 58 characters; txt counties: "
        "1 cell with the other value paired in the layout; txt fee_schedule_area: 2 cells with the other value paired "
        "in the layout; txt state: 29 cells with the other value paired in the layout",
        "OPPSCAP_Oct.csv agrees cell for cell with OPPSCAP_Oct.txt and OPPSCAP_Oct.xlsx (16,100 rows)",
        "PPRRVU2025_Oct.csv agrees cell for cell with PPRRVU2025_Oct.txt and PPRRVU2025_Oct.xlsx (19,090 rows)"]


def test_rvu24b_zip_members_rvu22a_and_mue_copies_agree(tmp_path):
    notes = formats.check_release(PFS, PFS.release("2024B"), fetched(PFS, "2024B", tmp_path))[1]
    assert "ANES2024.csv agrees cell for cell with ANES2024.txt and ANES2024.xlsx (109 rows)" in notes  # names <= 40
    assert "PPRRVU24_APR.csv agrees cell for cell with PPRRVU24_APR.txt and PPRRVU24_APR.xlsx (18,534 rows)" in notes
    assert formats.check_release(PFS, PFS.release("2022A"), fetched(PFS, "2022A", tmp_path))[1] == [
        "GPCI2022.csv agrees cell for cell with GPCI2022.xlsx (112 rows)",  # the csv lost leading zeros: same values
        "PPRRVU22_JAN.csv agrees cell for cell with PPRRVU22_JAN.xlsx (17,600 rows)"]
    mue = load_dataset("mue")
    assert formats.check_release(mue, mue.release("2026Q2"), fetched(mue, "2026Q2", tmp_path))[1] == [
        "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv agrees cell for cell with "
        "MCR_MUE_PractitionerServices_Eff_04-01-2026.xlsx (15,095 rows)"]


@pytest.mark.parametrize("stem, year", [("RVU24B/24LOCCO", 2024), ("RVU25D/25LOCCO", 2025)])
def test_without_its_layout_rules_the_locco_txt_is_refused(stem, year):
    """The LOCCO .txt difference is recognised by the rules, not by skipping the file: without them it is refused
    at its first differing cell (the state CMS left blank on the first California row)."""
    layout = load_layouts("pfs")["locco"]
    csv, txt = (parse_file(MIRROR / "pfs_rvu" / f"{stem}.{ext}", layout, year) for ext in ("csv", "txt"))
    name = Path(stem).name
    formats.compare(layout, f"{name}.csv", csv, f"{name}.txt", txt)  # with the rules: allowed
    with pytest.raises(ParseError, match=rf"^{name}\.txt row 13, column state: 'ARKANSAS', but {name}\.csv row 13 "
                                         rf"has 'CALIFORNIA' \(mac '01182', locality '18'\); 28 more cells of state"):
        formats.compare(replace(layout, format_differences=()), f"{name}.csv", csv, f"{name}.txt", txt)
