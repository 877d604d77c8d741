"""`cmsref vendor reconcile` and `vendor import` against a warehouse built from the real mirror."""

import json

import pytest
from reportlab.platypus import Paragraph

from core import settings
from cmsref.cli import main
from tests.helpers import SHARED, snapshot
from tests.builders import STYLE, grid, row_text, ruled_pdf, text_pdf, two_row_header_table

pytestmark = pytest.mark.integration
GUIDES = SHARED / "vendor-guides"


@pytest.fixture(scope="module")
def db(mirror_home):
    return settings.db_path()


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def guide_2024(path, nonfac_52="$927*"):
    return ruled_pdf(path, [Paragraph("PHYSICIAN SERVICES & REIMBURSEMENT CY 2024", STYLE),
                            two_row_header_table(nonfac_52),
                            Paragraph("2024 Conversion Factor of $33.2875", STYLE)])


def test_real_guides_reconcile_with_exit_0(db, capsys, tmp_path):
    for pdf in ("ivus-2024-coding-reimbursement-guide.pdf", "ivus-documenting-coding-billing-2022.pdf"):
        code, out, _ = run(capsys, "vendor", "reconcile", str(GUIDES / pdf), "--db", str(db), "--format", "json",
                           "--report", str(tmp_path / f"{pdf}.html"))
        assert code == 0
        statuses = {r["status"] for r in json.loads(out)}
        assert "mismatch" not in statuses and "match" in statuses
        assert "<html" in (tmp_path / f"{pdf}.html").read_text().lower()


@pytest.mark.parametrize("layout", ["ruled", "unruled", "multi-page", "office-hospital"])
def test_one_wrong_amount_is_exactly_one_mismatch_and_exit_1(db, capsys, tmp_path, layout):
    pdf = tmp_path / f"{layout}.pdf"
    if layout == "ruled":
        guide_2024(pdf, nonfac_52="$972")
    elif layout == "multi-page":
        ruled_pdf(pdf, [Paragraph("CY 2024 coding guide. Conversion Factor of $33.2875", STYLE),
                        grid([["CPT Code", "Work RVUs", "Facility", "Non-Facility"],
                              ["+37252", "1.80", "$86", "$927"]])],
                  [grid([["CPT Code", "Work RVUs", "Facility", "Non-Facility"], ["+37253", "1.44", "$69", "$171"]])])
    elif layout == "office-hospital":
        ruled_pdf(pdf, [Paragraph("CY 2024 Medicare rates. Conversion Factor of $33.2875", STYLE),
                        grid([["CPT Code", "Hospital", "Physician Office", "Work RVU"],
                              ["+37252", "$86", "$926", "1.80"], ["+37253", "$69", "$170", "1.44"]])])
    else:
        text_pdf(pdf, [(72, 60, "2024 National Medicare Physician Fee Schedule, conversion factor $33.2875"),
                       *row_text(100, (72, "CPT Code"), (200, "Facility"), (300, "Non-Facility")),
                       *row_text(120, (72, "+37252"), (200, "$86.21"), (300, "$927.06")),
                       *row_text(140, (72, "+37253"), (200, "$68.57"), (300, "$170.34"))])
    code, out, err = run(capsys, "vendor", "reconcile", str(pdf), "--db", str(db), "--format", "json")
    rows = json.loads(out)
    assert code == 1 and "1 figure(s)" in err
    assert [r["status"] for r in rows].count("mismatch") == 1
    assert sum(r["status"] == "match" for r in rows) >= 3


@pytest.mark.parametrize("make, text", [
    (lambda p: ruled_pdf(p, [Paragraph("CY 2024 guide with no table of codes at all.", STYLE)]),
     "no table of HCPCS/CPT codes found"),
    (lambda p: guide_2024(p) and p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated"),
    (lambda p: p.write_text("this is not a PDF"), "not a PDF"),
    (lambda p: ruled_pdf(p, [two_row_header_table()], encrypt="secret"), "encrypted"),
])
def test_unreadable_guides_are_clear_errors(db, capsys, tmp_path, make, text):
    pdf = tmp_path / "g.pdf"
    make(pdf)
    code, _, err = run(capsys, "vendor", "reconcile", str(pdf), "--db", str(db))
    assert code == 1 and text in err and "g.pdf" in err


def test_import_publishes_rows_and_checks_and_a_bad_guide_changes_nothing(db, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CMSREF_HOME", str(db.parent))
    code, out, _ = run(capsys, "vendor", "import", str(GUIDES / "ivus-documenting-coding-billing-2022.pdf"))
    assert code == 0 and "vendor/ivus-documenting-coding-billing-2022/r1" in out
    code, out, _ = run(capsys, "query", "--format", "json",
                       "SELECT hcpcs, field, guide_value, status, cms_release FROM vendor_guide_check "
                       "WHERE field = 'payment_non_facility' ORDER BY hcpcs")
    assert [(r["hcpcs"], r["guide_value"], r["status"], r["cms_release"]) for r in json.loads(out)] == [
        ("37252", "1026.07", "match", "pfs/2022A/r1"), ("37253", "175.45", "match", "pfs/2022A/r1")]
    before = snapshot(db)
    (tmp_path / "empty.pdf").write_text("not a pdf")
    code, _, err = run(capsys, "vendor", "import", str(tmp_path / "empty.pdf"), "--year", "2024")
    assert code == 1 and "empty.pdf" in err
    assert snapshot(db) == before
