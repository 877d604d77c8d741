"""Faults that every table alone lets through and only an identity of CMS's files catches (expectations/rates.py,
expectations/cross_file.py): real files served by the cms.gov stand-in with one edit made in code, refused with the
warehouse exactly as before (the style of test_data_faults.py).

pfs 2025B  the real RVU25D bundle (tests/fault/sources.py); its GPCI2025.csv edited
asc 2020-04 the real April 2020 ASC workbook; a rate in its AA sheet edited
"""

from __future__ import annotations

import pytest

from tests.fault import sources as S
from tests.fault.test_data_faults import refused, run

pytestmark = pytest.mark.integration


def gpci_with(edit) -> bytes:
    rows = S.csv_rows((S.MIRROR / "pfs_rvu/RVU25D/GPCI2025.csv").read_bytes())
    return S.csv_bytes(edit(rows))


def pfs_members(gpci: bytes) -> dict[str, bytes]:
    src = S.SOURCES["pfs"]
    return {**S.companions("pfs"), src.member: src.good(), "GPCI2025.csv": gpci}


def row_named(rows, mac: str, name: str) -> int:
    return next(i for i, r in enumerate(rows) if len(r) > 3 and r[0] == mac and r[3] == name)


def test_two_localities_numbers_swapped_in_gpci_are_refused(world, cli):
    """BAKERSFIELD (01112:54) and CHICO (01112:55) trade numbers in GPCI only: LOCCO and ANES still say 54 is
    BAKERSFIELD, so each would be paid with the other's GPCIs."""
    def swap(rows):
        a, b = row_named(rows, "01112", "BAKERSFIELD"), row_named(rows, "01112", "CHICO")
        rows[a][2], rows[b][2] = rows[b][2], rows[a][2]
        return rows
    r = run(world, cli, S.SOURCES["pfs"], members=pfs_members(gpci_with(swap)))
    refused(world, r, "validation failed", "pfs locality names (GPCI vs LOCCO)",
            "01112:54 is named CHICO in GPCI (row 9) but BAKERSFIELD in LOCCO",
            "01112:55 is named BAKERSFIELD in GPCI (row 8) but CHICO in LOCCO")


def test_two_localities_gpci_values_swapped_with_names_intact_are_refused(world, cli):
    """ALABAMA and MANHATTAN keep their names and numbers but trade GPCI values: the ANES CFs, computed by CMS from
    the right GPCIs, no longer follow them."""
    def swap(rows):
        a, b = row_named(rows, "10112", "ALABAMA"), row_named(rows, "13202", "MANHATTAN")
        rows[a][4:7], rows[b][4:7] = rows[b][4:7], rows[a][4:7]
        return rows
    r = run(world, cli, S.SOURCES["pfs"], members=pfs_members(gpci_with(swap)))
    refused(world, r, "validation failed", "pfs anesthesia CF vs GPCI (ANES, GPCI)",
            "2 unexpected",  # the two localities swapped, no other
            "10112:00 ALABAMA: ANES CF 19.31 (ANES row 2) but its GPCIs (GPCI row 4: work 1.065, PE 1.166, MP 1.656) "
            "give 22.76", "13202:01 MANHATTAN: ANES CF 22.76 (ANES row 76) but its GPCIs (GPCI row 78: work 1.000, "
            "PE 0.869, MP 0.575) give 19.31")


def test_an_asc_rate_with_two_digits_transposed_is_refused(world, cli):
    """10030 (G2, weight 6.4555): $308.23 = 6.4555 x 47.747 published as $308.32."""
    src = S.SOURCES["asc"]
    rows = src.grid()
    i, j = src.row_of(rows, "10030"), src.column(rows, "Payment Rate")
    assert rows[i][j] == "308.23"
    rows[i][j] = "308.32"
    r = run(world, cli, src, src.serialize(rows))
    refused(world, r, "validation failed", "asc_addendum_aa", "expect_column_values_to_be_null on rate_problem",
            "10030: payment_rate 308.32 != payment_weight 6.4555 x CF 47.747 = 308.23")
