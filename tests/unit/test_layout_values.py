"""The layout engine's value rules where the mutation run of docs/quality.md found them untested: whole-number
columns refuse a decimal, a refusal names the first bad row and counts them all, rounding is half-up, and the PPRRVU
suite allows a stated total a cent off its parts (CMS rounds each part)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from core.errors import ParseError
from expectations.pfs_rvu import with_derived
from transform.layout import _round_half_up, load_layouts, parse_file

MUE = load_layouts("mue")["mue"]
HEADER = "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale"


def mue_file(tmp_path, *values: str):
    rows = [f"3725{i},{v},2 Date of Service Edit: Policy,Anatomic Consideration" for i, v in enumerate(values)]
    path = tmp_path / "MCR_MUE_PractitionerServices.csv"
    path.write_bytes(("\r\n".join(['"CPT codes ... copyright American Medical Association."', HEADER, *rows])
                      + "\r\n").encode("cp1252"))
    return path


def test_whole_numbers_are_read(tmp_path):
    assert parse_file(mue_file(tmp_path, "12", "0"), MUE, 2026).frame["mue_value"].to_list() == [12, 0]


@pytest.mark.parametrize("values, message", [
    (("1", "1.5"), r"row 4, column mue_value: '1.5' is not a number \(1 such row\)"),
    (("1", "2.0", "x"), r"row 4, column mue_value: '2.0' is not a number \(2 such rows\)"),
])
def test_a_decimal_in_a_whole_number_column_is_refused_naming_the_first_row_and_the_count(tmp_path, values, message):
    with pytest.raises(ParseError, match=message):
        parse_file(mue_file(tmp_path, *values), MUE, 2026)


def test_too_many_decimals_in_several_rows_names_the_first(tmp_path):
    from tests.unit.test_layout_engine import HEADER as RVU_HEADER, PREAMBLE, ROW

    rows = [ROW.format(code=c, mod="").replace(",1.80,", f",{w},") for c, w in (("37252", "1.80"),
                                                                                 ("37253", "1.805"), ("37254", "1.555"))]
    path = tmp_path / "PPRRVU.csv"
    path.write_bytes(("\r\n".join(PREAMBLE + RVU_HEADER + rows) + "\r\n").encode("cp1252"))
    with pytest.raises(ParseError, match=r"row 12, column work_rvu: '1.805' has more than 2 decimals"):
        parse_file(path, load_layouts("pfs")["pprrvu"], 2025)


@pytest.mark.parametrize("value, scale, rounded", [("0.12345", 4, "0.1235"), ("0.12344", 4, "0.1234"),
                                                   ("2.5", 0, "3"), ("-1.005", 2, "-1.01"), ("7", 2, "7.00")])
def test_rounding_is_half_up_to_the_scale(value, scale, rounded):
    assert _round_half_up(value, scale) == rounded


@pytest.mark.parametrize("total, problem", [("2.59", False), ("2.60", False), ("2.58", False), ("2.61", True)])
def test_a_stated_total_may_be_a_cent_off_its_parts_not_two(total, problem):
    d = Decimal
    frame = pl.DataFrame({"hcpcs": ["37252"], "modifier": [""], "work_rvu": [d("1.80")],
                          "facility_pe_rvu": [d("0.44")], "non_facility_pe_rvu": [d("25.70")], "mp_rvu": [d("0.35")],
                          "facility_total_rvu": [d(total)], "non_facility_total_rvu": [d("27.85")],
                          "pre_op_share": [d("0")], "intra_op_share": [d("0")], "post_op_share": [d("0")]})
    assert (with_derived(frame)["total_rvu_problem"][0] is not None) is problem


def test_a_rounding_column_rounds_half_up_and_notes_it_instead_of_refusing(tmp_path):
    """ASC weights are stated with more decimals than published (`round = true` in transform/layouts/asc.toml): the
    PPRRVU layout with its work RVU column made such a column."""
    from dataclasses import replace

    from tests.unit.test_layout_engine import HEADER as RVU_HEADER, PREAMBLE, ROW

    pprrvu = load_layouts("pfs")["pprrvu"]
    rounding = replace(pprrvu, columns=tuple(replace(c, round=True) if c.name == "work_rvu" else c
                                             for c in pprrvu.columns))
    rows = [ROW.format(code=c, mod="").replace(",1.80,", f",{w},") for c, w in (("37252", "1.805"),
                                                                                 ("37253", "1.8049"), ("37254", "1.8"))]
    path = tmp_path / "PPRRVU.csv"
    path.write_bytes(("\r\n".join(PREAMBLE + RVU_HEADER + rows) + "\r\n").encode("cp1252"))
    parsed = parse_file(path, rounding, 2025)
    assert parsed.frame["work_rvu"].to_list() == [Decimal("1.81"), Decimal("1.80"), Decimal("1.80")]
    assert parsed.notes == ["PPRRVU.csv: column work_rvu rounded to 2 decimals in rows [11, 12]"]
