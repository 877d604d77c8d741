"""Payment rules on the real files where a plausible slip changes a published amount: half-up rounding, the
2024-03-09 conversion factor boundary, two GPCI releases in one year."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import pytest

from cmsref import pipeline

from core import settings
from expectations.conversion_factor import curated
from extract.catalog import load_dataset
from tests.helpers import PFS, query
from core.effective import in_effect_expr

pytestmark = pytest.mark.integration
BUNDLE_24B = ["PPRRVU24_APR.csv", "GPCI2024.csv", "24LOCCO.csv", "ANES2024.csv", "OPPSCAP_APR.csv"]


def test_a_half_cent_is_rounded_up(mirror_db):
    # 25215's national facility amount in 2023D is exactly 635.385: half-up gives 635.39, half-even 635.38
    rows = query(mirror_db, "SELECT ((work_rvu * work_gpci + pe_rvu * pe_gpci + mp_rvu * mp_gpci) * conversion_factor)"
                            "::DECIMAL(38,10), amount FROM pfs_payment_on('2023-11-01') WHERE hcpcs = '25215' "
                            "AND modifier = '' AND is_national AND setting = 'facility'")
    assert rows == [(Decimal("635.3850000000"), Decimal("635.39"))]


def test_the_2024_conversion_factor_changes_on_2024_03_09():
    pfs = load_dataset("pfs")
    assert pfs.release("2024A").effective_to == date(2024, 3, 9)
    assert pfs.release("2024AR").effective_from == date(2024, 3, 9)
    cf = curated().filter(pl_kind("physician", "all"))
    assert cf.filter(in_effect_expr(date(2024, 3, 8)))["conversion_factor"].to_list() == [Decimal("32.7442")]
    assert cf.filter(in_effect_expr(date(2024, 3, 9)))["conversion_factor"].to_list() == [Decimal("33.2875")]


def pl_kind(kind, variant):
    import polars as pl

    return (pl.col("kind") == kind) & (pl.col("variant") == variant)


def _folder(root, period, files, edit=None):
    folder = root / "pfs_rvu" / period
    folder.mkdir(parents=True)
    for name, source in files.items():
        shutil.copy(PFS / source, folder / name)
    for name, old, new in ([edit] if edit and isinstance(edit[0], str) else edit or []):
        text = (folder / name).read_bytes()
        assert old in text
        (folder / name).write_bytes(text.replace(old, new, 1))
    return root


def test_the_january_release_ends_on_the_day_cms_stated(home, tmp_path):
    # RVU24A applied to dates of service up to 2024-03-08 (catalog effective_to 2024-03-09, exclusive)
    files = {n.replace("_APR", "_JAN"): f"RVU24B/{n}" for n in BUNDLE_24B}
    mirror = _folder(tmp_path / "m", "RVU24A", files)
    pprrvu = mirror / "pfs_rvu/RVU24A/PPRRVU24_JAN.csv"
    pprrvu.write_bytes(pprrvu.read_bytes().replace(b",33.2875,", b",32.7442,"))  # every row: the January CF
    pipeline.build(["pfs"], ["2024A"], mirror=mirror)
    db = settings.db_path()
    assert query(db, "SELECT conversion_factor FROM conversion_factor_on('2024-03-08') WHERE kind = 'physician'") == \
        [(Decimal("32.7442"),)]
    assert query(db, "SELECT count(*) FROM pfs_payment_on('2024-03-09')") == [(0,)]  # 24AR is not loaded
    assert query(db, "SELECT max(effective_to)::VARCHAR FROM pfs_rvu") == [("2024-03-09",)]


def test_two_gpci_releases_in_one_year_each_price_their_own_dates(home, tmp_path):
    pipeline.build(["pfs"], ["2024B"], mirror=_folder(tmp_path / "b", "RVU24B", {n: f"RVU24B/{n}" for n in BUNDLE_24B}))
    files = {n: f"RVU24B/{n}" for n in BUNDLE_24B if not n.startswith("PPRRVU")} | {
        "PPRRVU24_JUL.csv": "RVU24C/PPRRVU24_JUL.csv"}
    # a July GPCI file in which locality 01182:18 (Los Angeles) has another work GPCI, and the July ANES file the
    # anesthesia CF that follows from it (the release-level check ties the two: expectations/cross_file.py)
    line = next(l for l in (PFS / "RVU24B/GPCI2024.csv").read_bytes().split(b"\n") if b",18," in l and b"01182" in l)
    anes = b"01182,18,LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGE,"
    pipeline.build(["pfs"], ["2024C"], mirror=_folder(tmp_path / "c", "RVU24C", files, edit=[
        ("GPCI2024.csv", line, line.replace(b"1.042", b"1.500")), ("ANES2024.csv", anes + b"21.69", anes + b"29.06")]))
    sql = ("SELECT setting, work_gpci, amount FROM pfs_payment_on(?) WHERE hcpcs = '37252' AND modifier = '' "
           "AND mac = '01182' AND locality = '18' ORDER BY setting")
    db = settings.db_path()
    may, august = query(db, sql, ["2024-05-01"]), query(db, sql, ["2024-08-01"])
    assert [(s, g) for s, g, _ in may] == [("facility", Decimal("1.042")), ("non_facility", Decimal("1.042"))]
    assert [(s, g) for s, g, _ in august] == [("facility", Decimal("1.500")), ("non_facility", Decimal("1.500"))]
    assert may[0][2] == Decimal("87.96")
    # every RVU row is paired only with GPCI rows whose window overlaps its own: no inverted windows, one row each
    assert query(db, "SELECT count(*) FROM pfs_payment WHERE effective_from >= effective_to") == [(0,)]
    assert query(db, "SELECT count(*) FROM (SELECT release_id, hcpcs, modifier, mac, locality, setting, cf_variant, "
                     "effective_from FROM pfs_payment GROUP BY ALL HAVING count(*) > 1)") == [(0,)]
