"""Tests for transform.vendor_guide.extract_guide: guide PDFs are built in code (reportlab) under tmp_path."""

from __future__ import annotations


import pytest
from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from core.errors import ParseError
from tests.builders import DESC_52, DESC_53, STYLE, grid, row_text, ruled_pdf, text_pdf, two_row_header_table
from transform.vendor_guide import HEADER_FIELDS, _header_field, extract_guide

def figures(extract, code: str | None = None) -> dict[tuple[str, str], str]:
    """(code, field) -> value, one value each; not_reported_with (several per code) is left out."""
    out = {}
    for f in extract.figures:
        if (code is None or f.hcpcs == code) and f.field != "not_reported_with":
            assert (f.hcpcs, f.field) not in out or out[(f.hcpcs, f.field)] == f.value, f
            out[(f.hcpcs, f.field)] = f.value
    return out


# --- ruled tables ----------------------------------------------------------------------------------------

def test_ruled_two_row_header_merged_cells_and_glued_footnote(tmp_path):
    pdf = ruled_pdf(tmp_path / "g.pdf", [
        Paragraph("PHYSICIAN SERVICES & REIMBURSEMENT CY 2024", STYLE), two_row_header_table(),
        Paragraph("1. 2024 Physician Fee Schedule. 2024 Conversion Factor of $33.2875", STYLE)])
    g = extract_guide(pdf)
    assert (g.year, g.conversion_factor) == (2024, "33.2875")
    assert figures(g) == {
        ("37252", "work_rvu"): "1.80", ("37252", "total_rvu_facility"): "2.59",
        ("37252", "payment_facility"): "86", ("37252", "payment_non_facility"): "927",
        ("37253", "work_rvu"): "1.44", ("37253", "total_rvu_facility"): "2.06",
        ("37253", "payment_facility"): "69", ("37253", "payment_non_facility"): "170",
    }
    f = next(f for f in g.figures if (f.hcpcs, f.field) == ("37252", "payment_non_facility"))
    assert (f.page, f.raw, f.add_on) == (1, "$927*", True)


def test_an_altered_amount_is_extracted_as_printed(tmp_path):
    pdf = ruled_pdf(tmp_path / "g.pdf", [two_row_header_table(nonfac_52="$1,234.50")])
    f = next(f for f in extract_guide(pdf).figures if (f.hcpcs, f.field) == ("37252", "payment_non_facility"))
    assert (f.value, f.raw) == ("1234.50", "$1,234.50")


def test_ruled_status_text_spanning_rows_gives_the_indicator(tmp_path):
    status_asc = Paragraph("Status N1: Packaged services. No separate payment is made to facility", STYLE)
    status_opps = Paragraph("Status N: Packaged services. No separate payment is made to facility", STYLE)
    table = grid([
        ["Service Provided", "", "ASC", "Hospital\nOutpatient"],
        ["CPT\u00ae Code", "CPT\u00ae Description", "Payment*\u00b2", "Payment**\u00b3"],
        ["+37252", DESC_52, status_asc, status_opps],
        ["+37253", DESC_53, "", ""],
    ], spans=[((0, 0), (1, 0)), ((2, 2), (2, 3)), ((3, 2), (3, 3))], widths=[50, 220, 100, 100])
    g = extract_guide(ruled_pdf(tmp_path / "g.pdf", [table]), year=2024)
    assert figures(g) == {
        ("37252", "asc_payment_indicator"): "N1", ("37252", "opps_status_indicator"): "N",
        ("37253", "asc_payment_indicator"): "N1", ("37253", "opps_status_indicator"): "N",
    }
    assert g.year == 2024 and g.conversion_factor is None


def test_ruled_office_hospital_headers_swapped_order_and_asc_opps_amounts(tmp_path):
    table = grid([
        ["HCPCS", "Description", "Hospital", "Physician Office", "OPPS", "ASC", "Work RVU"],
        ["C1753", "Catheter, intravascular ultrasound", "$12.00", "$15", "$1,500.25", "$900", "0.00"],
        ["37252*", DESC_52, "$86", "$927", "", "", "1.80"],
    ], widths=[45, 150, 50, 75, 60, 45, 50])
    assert figures(extract_guide(ruled_pdf(tmp_path / "g.pdf", [table]))) == {
        ("C1753", "payment_facility"): "12.00", ("C1753", "payment_non_facility"): "15",
        ("C1753", "opps_payment"): "1500.25", ("C1753", "asc_payment"): "900", ("C1753", "work_rvu"): "0.00",
        ("37252", "payment_facility"): "86", ("37252", "payment_non_facility"): "927", ("37252", "work_rvu"): "1.80",
    }


def test_ruled_table_continued_without_repeated_header(tmp_path):
    header = ["CPT Code", "Description", "Non-Facility", "Facility"]
    first = grid([header, ["+37252", DESC_52, "$927", "$86"]], widths=[60, 250, 70, 70])
    rest = grid([["+37253", DESC_53, "$170", "$69"]], widths=[60, 250, 70, 70])
    g = extract_guide(ruled_pdf(tmp_path / "g.pdf", [first], [rest]))
    by = {(f.hcpcs, f.field): (f.value, f.page) for f in g.figures}
    assert by == {("37252", "payment_non_facility"): ("927", 1), ("37252", "payment_facility"): ("86", 1),
                  ("37253", "payment_non_facility"): ("170", 2), ("37253", "payment_facility"): ("69", 2)}


def test_table_with_column_rules_but_no_row_rules_is_read_from_its_words(tmp_path):
    table = Table([["CPT Code", "Work RVUs", "Facility", "Non-Facility"],
                   ["+37252\n+37253", "1.80\n1.44", "$86\n$69", "$927\n$170"]], colWidths=[70, 70, 70, 70])
    table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, colors.black),
                               ("LINEAFTER", (0, 0), (-2, -1), 0.5, colors.black),
                               ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black)]))
    assert figures(extract_guide(ruled_pdf(tmp_path / "g.pdf", [table]))) == {
        ("37252", "work_rvu"): "1.80", ("37252", "payment_facility"): "86", ("37252", "payment_non_facility"): "927",
        ("37253", "work_rvu"): "1.44", ("37253", "payment_facility"): "69", ("37253", "payment_non_facility"): "170",
    }


def test_ruled_title_row_spanning_all_columns_is_not_a_header(tmp_path):
    table = grid([["PHYSICIAN PAYMENT CY 2024 (hospital outpatient and ASC on page 2)", "", "", ""],
                  ["CPT", "Description", "Non-Facility", "Facility"],
                  ["37252", "IVUS initial vessel", "$927", "$86"]], spans=[((0, 0), (3, 0))], widths=[60, 150, 80, 80])
    assert figures(extract_guide(ruled_pdf(tmp_path / "g.pdf", [table]))) == {
        ("37252", "payment_non_facility"): "927", ("37252", "payment_facility"): "86"}


# --- unruled tables --------------------------------------------------------------------------------------

def test_unruled_table_with_prose_mue_and_not_reported_with(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        (78, 140, "Per the 2022 National Medicare Physician Fee Schedule:"),
        *row_text(160, (84, "CPT"), (156, "Non-Facility"), (242, "Facility")),
        *row_text(178, (84, "+37252"), (156, "$1,026.07"), (242, "$89.63")),
        *row_text(196, (84, "+37253"), (156, "$175.45"), (242, "$70.94")),
        (78, 225, "+ 37252 Intravascular ultrasound (noncoronary vessel) during diagnostic evaluation and/or"),
        (78, 236, "therapeutic intervention; initial noncoronary vessel"),
        (78, 253, "+ 37253 each additional noncoronary vessel"),
        (78, 290, "\u2022 Medical Unlikely Edits (MUEs) are limited to a quantity of one (1) for 37252 and a"),
        (78, 301, "quantity of five (5) for 37253"),
        (78, 320, "Per CPT instructions, IVUS codes 37252 and 37253 cannot be reported with the following"),
        (78, 331, "procedures:"),
        (84, 345, "37191 Insertion IVC filter"),
        (84, 363, "37197 Intravascular foreign body retrieval"),
        (78, 390, "Notice procedures such as 37241-37244 embolizations are included on this list."),
    ])
    g = extract_guide(pdf)
    assert g.year == 2022
    assert figures(g) == {
        ("37252", "payment_non_facility"): "1026.07", ("37252", "payment_facility"): "89.63",
        ("37253", "payment_non_facility"): "175.45", ("37253", "payment_facility"): "70.94",
        ("37252", "mue"): "1", ("37253", "mue"): "5",
    }
    not_with = sorted((f.hcpcs, f.value) for f in g.figures if f.field == "not_reported_with")
    assert not_with == [("37252", "37191"), ("37252", "37197"), ("37253", "37191"), ("37253", "37197")]
    assert all(f.add_on and f.page == 1 for f in g.figures)
    raw = {f.raw for f in g.figures if f.field == "mue"}
    assert raw == {"one (1) for 37252", "five (5) for 37253"}


def test_unruled_two_row_header_swapped_columns_and_wrapped_cells(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        *row_text(100, (60, "CPT"), (110, "Description"), (300, "In-Facility"), (380, "Work"), (450, "Non")),
        *row_text(111, (60, "Code"), (300, "Payment"), (380, "RVUs"), (450, "Facility")),
        *row_text(130, (60, "37252"), (110, "Intravascular ultrasound, initial"), (300, "$86"), (380, "1.80"),
                  (450, "$927\u00b2")),
        *row_text(141, (110, "noncoronary vessel")),
        *row_text(160, (60, "+37253"), (110, "each additional vessel"), (300, "$69"), (380, "1.44"), (450, "$170")),
        (60, 200, "CY 2024 figures. The conversion factor (CF) is $33.2875."),
    ])
    g = extract_guide(pdf)
    assert (g.year, g.conversion_factor) == (2024, "33.2875")
    assert figures(g) == {
        ("37252", "payment_facility"): "86", ("37252", "work_rvu"): "1.80", ("37252", "payment_non_facility"): "927",
        ("37253", "payment_facility"): "69", ("37253", "work_rvu"): "1.44", ("37253", "payment_non_facility"): "170",
    }
    assert {f.hcpcs: f.add_on for f in g.figures} == {"37252": False, "37253": True}
    assert next(f.raw for f in g.figures if (f.hcpcs, f.field) == ("37252", "payment_non_facility")) == "$927\u00b2"


def test_unruled_right_aligned_amounts_under_centred_headers(tmp_path):
    path = tmp_path / "g.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    top = letter[1]
    c.setFont("Helvetica-Bold", 9)
    c.drawString(72, top - 100, "CPT Code")
    c.drawCentredString(330, top - 100, "Physician Office")
    c.drawCentredString(430, top - 100, "Facility")
    c.setFont("Helvetica", 9)
    for n, (code, office, facility) in enumerate([("+37252", "$1,026.07", "$89.63"), ("+37253", "$175.45", "$70.94")]):
        c.drawString(72, top - 120 - 18 * n, code)
        c.drawRightString(360, top - 120 - 18 * n, office)
        c.drawRightString(455, top - 120 - 18 * n, facility)
    c.showPage()
    c.save()
    assert figures(extract_guide(path)) == {
        ("37252", "payment_non_facility"): "1026.07", ("37252", "payment_facility"): "89.63",
        ("37253", "payment_non_facility"): "175.45", ("37253", "payment_facility"): "70.94"}


def test_unruled_rows_with_descriptions_wrapped_around_the_code_line(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        *row_text(100, (60, "CPT"), (110, "Description"), (330, "Work RVU"), (420, "Facility")),
        *row_text(120, (110, "Intravascular ultrasound, during")),
        *row_text(131, (60, "37252"), (110, "diagnostic evaluation and/or"), (330, "1.80"), (420, "$86")),
        *row_text(142, (110, "therapeutic intervention")),
        *row_text(162, (110, "Intravascular ultrasound, each")),
        *row_text(173, (60, "37253"), (110, "additional noncoronary vessel"), (330, "1.44"), (420, "$69")),
        *row_text(184, (110, "(list separately)")),
        (60, 230, "Notes: a Medically Unlikely Edit (MUE) of 1 applies to 37252."),
    ])
    assert figures(extract_guide(pdf)) == {
        ("37252", "work_rvu"): "1.80", ("37252", "payment_facility"): "86", ("37252", "mue"): "1",
        ("37253", "work_rvu"): "1.44", ("37253", "payment_facility"): "69"}


def test_unruled_status_text_spanning_two_rows(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        *row_text(100, (60, "Service Provided"), (330, "ASC"), (430, "Hospital")),
        *row_text(111, (430, "Outpatient")),
        *row_text(122, (60, "CPT Code"), (110, "Description"), (330, "Payment*\u00b2"), (430, "Payment**\u00b3")),
        *row_text(140, (60, "+37252"), (110, "IVUS initial vessel"), (330, "Status N1:"), (430, "Status N: Packaged")),
        *row_text(151, (330, "Packaged services."), (430, "services. No separate")),
        *row_text(162, (330, "No separate"), (430, "payment")),
        *row_text(180, (60, "+37253"), (110, "IVUS each additional"), (330, "payment is made to"), (430, "is made to")),
        *row_text(191, (330, "facility"), (430, "facility")),
    ])
    g = extract_guide(pdf)
    assert figures(g) == {
        ("37252", "asc_payment_indicator"): "N1", ("37252", "opps_status_indicator"): "N",
        ("37253", "asc_payment_indicator"): "N1", ("37253", "opps_status_indicator"): "N"}
    assert {f.raw for f in g.figures if f.field == "asc_payment_indicator"} == {
        "Status N1: Packaged services. No separate payment is made to facility"}


def test_unruled_table_continued_on_next_page_without_header(tmp_path):
    header = row_text(100, (72, "HCPCS"), (300, "Office"), (400, "Hospital"))
    pdf = text_pdf(tmp_path / "g.pdf",
                   [(72, 80, "2023 Medicare Physician Fee Schedule"), *header,
                    *row_text(120, (72, "37252"), (300, "$1,026.07"), (400, "$89.63"))],
                   [*row_text(72, (72, "37253"), (300, "$175.45"), (400, "$70.94")),
                    (72, 120, "Coding is per vessel evaluated.")])
    g = extract_guide(pdf, year=2022)  # the argument wins over the text
    assert g.year == 2022
    by = {(f.hcpcs, f.field): (f.value, f.page) for f in g.figures}
    assert by == {("37252", "payment_non_facility"): ("1026.07", 1), ("37252", "payment_facility"): ("89.63", 1),
                  ("37253", "payment_non_facility"): ("175.45", 2), ("37253", "payment_facility"): ("70.94", 2)}


def test_prose_mue_variants_and_inline_not_reported_with(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        *row_text(100, (72, "CPT Code"), (300, "Total RVUs Non-Facility"), (450, "MUE")),
        *row_text(120, (72, "+37252"), (300, "27.85"), (450, "1")),
        *row_text(138, (72, "+37253"), (300, "5.11"), (450, "")),
        (72, 170, "Code 37253 has an MUE of 5 per day."),
        (72, 185, "Code G0278 is limited to a maximum of 1 units. 37252 cannot be reported with 37191 or 37197."),
        (72, 200, "Other MUE limits (2 for 76937, 3 for 93571)."),
    ])
    g = extract_guide(pdf)
    assert figures(g, "37252") == {("37252", "total_rvu_non_facility"): "27.85", ("37252", "mue"): "1"}
    assert figures(g, "37253") == {("37253", "total_rvu_non_facility"): "5.11", ("37253", "mue"): "5"}
    not_with = [(f.hcpcs, f.value, f.raw) for f in g.figures if f.field == "not_reported_with"]
    assert not_with == [("37252", "37191", "37191"), ("37252", "37197", "37197")]
    assert figures(g, "G0278")[("G0278", "mue")] == "1"
    assert (figures(g, "76937")[("76937", "mue")], figures(g, "93571")[("93571", "mue")]) == ("2", "3")
    assert g.year is None


def test_unruled_group_header_over_payment_columns_and_status_text(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        *row_text(100, (60, "Service Provided"), (300, "Hospital Outpatient"), (420, "ASC")),
        *row_text(111, (60, "CPT"), (110, "Description"), (300, "Payment"), (420, "Payment")),
        *row_text(130, (60, "+37252"), (110, "IVUS, initial vessel"), (300, "Status N: Packaged"), (420, "Status N1:")),
        *row_text(141, (300, "services."), (420, "Packaged services.")),
        *row_text(160, (60, "+37253"), (110, "IVUS, each additional"), (300, "N"), (420, "N1")),
    ])
    assert figures(extract_guide(pdf)) == {
        ("37252", "opps_status_indicator"): "N", ("37252", "asc_payment_indicator"): "N1",
        ("37253", "opps_status_indicator"): "N", ("37253", "asc_payment_indicator"): "N1",
    }


def test_mue_sentence_wrapped_before_a_code(tmp_path):
    pdf = text_pdf(tmp_path / "g.pdf", [
        *row_text(100, (72, "CPT"), (300, "Facility")),
        *row_text(120, (72, "37252"), (300, "$86.21")),
        (72, 160, "Medically unlikely edit: the MUE limits are 1 for"),
        (72, 171, "37252 and 5 for"),
        (72, 182, "37253. Fees are $927 for 37252."),
    ])
    g = extract_guide(pdf)
    assert [(f.hcpcs, f.value) for f in g.figures if f.field == "mue"] == [("37252", "1"), ("37253", "5")]


# --- header mapping --------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, field", [
    ("Work RVUs", "work_rvu"), ("Total RVUs", "total_rvu_facility"), ("Facility Total RVUs", "total_rvu_facility"),
    ("Total RVUs Non-Facility", "total_rvu_non_facility"), ("Office Total RVUs", "total_rvu_non_facility"),
    ("Facility", "payment_facility"), ("In-Facility", "payment_facility"), ("Hospital", "payment_facility"),
    ("Non-Facility", "payment_non_facility"), ("Non Facility", "payment_non_facility"),
    ("NonFacility", "payment_non_facility"), ("Physician Office", "payment_non_facility"),
    ("Physician Fee Schedule\u00b9 Non\nFacility", "payment_non_facility"),
    ("ASC Payment*\u00b2", "asc_payment"), ("ASC Payment Indicator", "asc_payment_indicator"),
    ("Hospital Outpatient Payment**\u00b3", "opps_payment"), ("OPPS", "opps_payment"),
    ("Hospital Outpatient Status Indicator", "opps_status_indicator"), ("SI", "opps_status_indicator"),
    ("APC", None), ("Hospital Inpatient MS-DRG", None), ("CPT\u00ae Description", None), ("MUE", "mue"),
    ("2023 Facility", None),  # a prior-year column of a 2024 guide
])
def test_header_wording_variants(header, field):
    assert _header_field(header, 2024) == field
    assert all(f is None or isinstance(f, str) for _, f in HEADER_FIELDS)


# --- errors ----------------------------------------------------------------------------------------------

def test_no_code_table_is_an_error(tmp_path):
    pdf = ruled_pdf(tmp_path / "prose.pdf", [Paragraph("Coding is per vessel evaluated (37252, 37253).", STYLE),
                                             grid([["Contact", "Phone"], ["Reimbursement hotline", "800-555-0100"]])])
    with pytest.raises(ParseError, match=r"no table of HCPCS/CPT codes found in .*prose\.pdf"):
        extract_guide(pdf)


def test_a_code_list_without_figures_is_not_a_table(tmp_path):
    pdf = text_pdf(tmp_path / "list.pdf", [*row_text(100, (72, "CPT"), (150, "Description")),
                                           *row_text(115, (72, "37191"), (150, "Insertion IVC filter")),
                                           *row_text(130, (72, "37197"), (150, "Foreign body retrieval"))])
    with pytest.raises(ParseError, match="no table of HCPCS/CPT codes found"):
        extract_guide(pdf)


def test_encrypted_pdf_is_an_error(tmp_path):
    pdf = ruled_pdf(tmp_path / "locked.pdf", [two_row_header_table()], encrypt="secret")
    with pytest.raises(ParseError, match=r"locked\.pdf is encrypted"):
        extract_guide(pdf)


def test_truncated_pdf_is_an_error(tmp_path):
    whole = ruled_pdf(tmp_path / "whole.pdf", [two_row_header_table()]).read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ParseError, match=r"cut\.pdf is not a readable PDF"):
        extract_guide(cut)


def test_corrupt_pdf_is_an_error(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ngarbage\n%%EOF\n")
    with pytest.raises(ParseError, match=r"bad\.pdf"):
        extract_guide(bad)


def test_text_file_is_an_error(tmp_path):
    txt = tmp_path / "guide.pdf"
    txt.write_text("CPT 37252 Non-Facility $927\n")
    with pytest.raises(ParseError, match=r"guide\.pdf is not a PDF"):
        extract_guide(txt)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ParseError, match=r"cannot read .*absent\.pdf"):
        extract_guide(tmp_path / "absent.pdf")
