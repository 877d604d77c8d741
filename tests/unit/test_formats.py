"""Cross-format checks on small files made in code: every copy of a bundle member (csv, txt, xlsx) is parsed and must
agree with the published one cell for cell; a difference is refused naming the file, row, column and both values,
unless a `format_differences` rule of the layout describes it (and then it is counted in the release notes)."""

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cmsref import pipeline
from core.errors import CatalogError, ParseError
from extract.catalog import load_dataset
from extract.fetch import SourceFile, _choose, local_source
from tests.builders import LOCCO_HEADER, LOCCO_TXT, write_copies, write_gpci_copies
from transform import formats
from transform.layout import load_layouts

PFS = load_dataset("pfs")
R25 = PFS.release("2025D")
L = load_layouts("pfs")


def sources(paths: dict[str, Path], kind: str) -> list[SourceFile]:
    """The files as fetch would return them: the csv published, the other formats checked against it."""
    return [replace(local_source(kind, "all", p), role="published" if fmt == "csv" else "checked")
            for fmt, p in paths.items()]


def test_three_copies_that_agree_are_noted(tmp_path):
    files = sources(write_gpci_copies(tmp_path), "gpci")
    published, notes = formats.check_release(PFS, R25, files)
    assert [f.member_name for f in published] == ["GPCI2025.csv"]
    assert notes == ["GPCI2025.csv agrees cell for cell with GPCI2025.txt and GPCI2025.xlsx (3 rows)"]


@pytest.mark.parametrize("fmt", ["txt", "xlsx"])
def test_one_cell_changed_in_one_copy_is_refused_with_file_row_column_and_values(tmp_path, fmt):
    files = sources(write_gpci_copies(tmp_path, edit={fmt: {(1, 4): "1.501"}}), "gpci")
    with pytest.raises(ParseError) as exc:
        formats.check_release(PFS, R25, files)
    row = 2 if fmt == "txt" else 5  # the txt has data lines only; csv and xlsx a title, a blank row and the header
    assert str(exc.value) == (
        f"GPCI2025.{fmt} row {row}, column work_gpci: '1.501', but GPCI2025.csv row 5 has '1.500' (mac '02102', "
        f"locality '01'); CMS's copies of one table must agree cell for cell (nothing was published)")
    assert "\n" not in str(exc.value)


def test_the_build_step_refuses_before_the_dataset_transform_runs(tmp_path, monkeypatch):
    files = sources(write_gpci_copies(tmp_path, edit={"txt": {(0, 3): "ALABAMA SOUTH"}}), "gpci")
    ran = []
    monkeypatch.setitem(pipeline.TRANSFORMS, "pfs", lambda *a: ran.append(a))
    with pytest.raises(ParseError, match=r"GPCI2025\.txt row 1, column locality_name: 'ALABAMA SOUTH', but "
                                         r"GPCI2025\.csv row 4 has 'ALABAMA'"):
        pipeline.transform(PFS, R25, files)
    assert ran == []


def test_a_row_missing_from_one_copy_is_refused(tmp_path):
    paths = write_gpci_copies(tmp_path)
    rows = paths["txt"].read_bytes().split(b"\r\n")
    paths["txt"].write_bytes(b"\r\n".join(rows[:1] + rows[2:]))
    with pytest.raises(ParseError, match=r"GPCI2025\.txt has 2 data rows, GPCI2025\.csv 3; GPCI2025\.csv row 5 "
                                         r"\(mac '02102', locality '01'\) is not in GPCI2025\.txt"):
        formats.check_release(PFS, R25, sources(paths, "gpci"))


LOCCO_ROWS = [
    ["1182", "18", "CALIFORNIA", "LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES CNTY)", "LOS ANGELES /ORAGNGE CNTY"],
    ["12202", "1", "DISTRICT OF COLUMBIA", "DC + MD/VA SUBURBS",
     "DISTRICT OF COLUMBIA; ALEXANDRIA CITY, ARLINGTON, FAIRFAX, FAIRFAX CITY, FALLS CHURCH CITY IN VIRGINIA"],
]


def locco(tmp_path, txt_rows):
    paths = write_copies(tmp_path, "25LOCCO", "COUNTIES INCLUDED IN 2025 LOCALITIES.", LOCCO_HEADER, LOCCO_ROWS,
                         LOCCO_TXT, formats=("csv", "xlsx"))
    paths["txt"] = write_copies(tmp_path / "t", "25LOCCO", "", LOCCO_HEADER, txt_rows, LOCCO_TXT,
                                formats=("txt",))["txt"]
    return sources(paths, "locco")


def test_known_locco_txt_differences_are_allowed_and_counted(tmp_path):
    """CMS's LOCCO .txt: other wordings of an area and a county list, a county list cut to 58 characters."""
    txt = [["1182", "18", "CALIFORNIA", "LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES CNTY/ORANG CNTY)",
            "LOS ANGELES/ORANGE"],
           ["12202", "1", "DISTRICT OF COLUMBIA", "DC + MD/VA SUBURBS", LOCCO_ROWS[1][4][:58]]]
    _, notes = formats.check_release(PFS, R25, locco(tmp_path, txt))
    assert notes == [
        "25LOCCO.csv agrees cell for cell with 25LOCCO.xlsx (2 rows)",
        "25LOCCO.csv agrees with 25LOCCO.txt (2 rows) except where CMS's copies are known to differ "
        "(format_differences in transform/layouts/pfs.toml): txt counties: 1 cell cut to 58 characters; txt counties: "
        "1 cell with the other value paired in the layout; txt fee_schedule_area: 1 cell with the other value paired "
        "in the layout"]


@pytest.mark.parametrize("column, value, shown", [
    (4, "DISTRICT OF COLUMBIA; ALEXANDRIA CITY, ARLINGTON", "'DISTRICT OF COLUMBIA; ALEXANDRIA CITY, ARLINGTON'"),
    (4, "DISTRICT OF COLUMBIA; ALEXANDRIA CITY, ARLINGTON, FAIRFAX, FAIRFAX CITY", None),  # not cut at 58
    (2, "", "'CALIFORNIA'"),  # a blank state is filled down; only CALIFORNIA read as ARKANSAS is allowed
    (3, "DC SUBURBS", "'DC SUBURBS'"),
])
def test_other_locco_txt_differences_are_refused(tmp_path, column, value, shown):
    txt = [list(r) for r in LOCCO_ROWS]
    txt[1][column] = value
    with pytest.raises(ParseError, match=r"^25LOCCO\.txt row 2, column \w+: .*, but 25LOCCO\.csv row 5 has ") as exc:
        formats.check_release(PFS, R25, locco(tmp_path, txt))
    if shown:
        assert f": {shown}, but" in str(exc.value)


def test_a_header_value_both_copies_state_must_agree(tmp_path):
    head = ["Contractor", "Locality", "Locality Name", "National Anes CF of {cf}"]
    rows = [["10112", "00", "ALABAMA", "19.31"]]
    paths = write_copies(tmp_path, "ANES2025", "", [h.format(cf="20.3178") for h in head], rows, [],
                         formats=("csv",))
    paths |= write_copies(tmp_path, "ANES2025", "", [h.format(cf="20.3179") for h in head], rows, [],
                          formats=("xlsx",))
    with pytest.raises(ParseError, match=r"^ANES2025\.xlsx header: anesthesia_cf_header_value is '20\.3179', but "
                                         r"ANES2025\.csv has '20\.3178'"):
        formats.check_release(PFS, R25, sources(paths, "anes"))


def test_choose_publishes_the_preferred_format_and_checks_the_others(tmp_path):
    now = datetime.now(timezone.utc)

    def cand(name, kind="gpci"):
        return SourceFile(kind, "all", tmp_path / name, "", None, name, 1, name, None, now)

    got = _choose(PFS, R25, [cand("GPCI2025.txt"), cand("GPCI2025.xlsx"), cand("GPCI2025.csv"), cand("PPRRVU.xlsx",
                  "pprrvu"), cand("PPRRVU.txt", "pprrvu"), cand("ANES.csv", "anes"), cand("25LOCCO.csv", "locco"),
                  cand("OPPSCAP.csv", "oppscap")])
    assert [(f.member_name, f.role) for f in got] == [
        ("ANES.csv", "published"), ("GPCI2025.csv", "published"), ("GPCI2025.txt", "checked"),
        ("GPCI2025.xlsx", "checked"), ("25LOCCO.csv", "published"), ("OPPSCAP.csv", "published"),
        ("PPRRVU.xlsx", "published"), ("PPRRVU.txt", "checked")]


def test_an_older_posting_is_superseded_not_checked(tmp_path):
    spec = load_dataset("opps")
    now = datetime.now(timezone.utc)
    old, new = (SourceFile("addendum_b", "all", tmp_path / n, "", None, n, 1, n, None, now)
                for n in ("2020_january_web_addendum_b.12312019.xlsx", "January 2020 Addendum B CORRECTION.02042020.csv"))
    got = _choose(spec, spec.release("2020-01"), [old, new])
    assert [(f.member_name, f.role) for f in got] == [(new.member_name, "published")]


@pytest.mark.parametrize("entry, problem", [
    ({"format": "pdf", "column": "counties", "cut": 58}, "`format` must be one of"),
    ({"format": "txt", "column": "nope", "cut": 58}, "`column` a column of the layout"),
    ({"format": "txt", "column": "counties", "cut": 58, "pairs": [["a", "b"]]}, "exactly one rule"),
    ({"format": "txt", "column": "counties"}, "exactly one rule"),
    ({"format": "txt", "column": "counties", "pairs": [["a"]]}, "exactly one rule"),
    ({"format": "txt", "column": "counties", "cut": 58, "why": ""}, "say `why`"),
    ({"format": "txt", "column": "counties", "cut": 58, "when": 2025}, "unknown keys ['when']"),
])
def test_layout_refuses_a_format_difference_it_cannot_apply(tmp_path, monkeypatch, entry, problem):
    import json

    import transform.layout as layout_module

    entry = {"why": "CMS cuts it", "seen_in": ["25LOCCO.txt"], **entry}
    (tmp_path / "fmtcase.toml").write_text(
        "[locco]\ntable = \"pfs_locality\"\ndata_key = \"mac\"\n"
        "[[locco.columns]]\nname = \"mac\"\nheader = 'MAC'\ntype = \"code\"\n"
        "[[locco.columns]]\nname = \"counties\"\nheader = 'COUNTIES'\ntype = \"text\"\n"
        "[[locco.format_differences]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items()))
    monkeypatch.setattr(layout_module, "LAYOUT_DIR", tmp_path)
    layout_module.load_layouts.cache_clear()
    try:
        with pytest.raises(CatalogError, match=re.escape(problem)):
            layout_module.load_layouts("fmtcase")
    finally:
        layout_module.load_layouts.cache_clear()


def test_real_layout_rules_cite_files_and_say_why():
    rules = [(k, d) for k, layout in L.items() for d in layout.format_differences]
    assert {(k, d.format, d.column) for k, d in rules} == {
        ("locco", "txt", "state"), ("locco", "txt", "fee_schedule_area"), ("locco", "txt", "counties"),
        ("anes", "txt", "locality_name")}
    assert all(d.why and d.seen_in for _, d in rules)
