"""NCCI MUE: the real 2026 Q2 practitioner table, the claim-lines check, and bad inputs."""


import duckdb
import pytest

from cmsref import pipeline

from core import settings
from cmsref.cli import main
from tests.helpers import home_with_copy, MIRROR, cmsref_home, query as q, snapshot
from transform.layout import load_layouts, parse_file

pytestmark = pytest.mark.integration
REAL = MIRROR / "mue/2026Q2/MCR_MUE_PractitionerServices_Eff_04-01-2026"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with cmsref_home(tmp_path_factory.mktemp("mue")):
        assert pipeline.build(["mue"], mirror=MIRROR).data_version == "2026.2"
        yield settings.db_path()


def test_rows_unique_codes_and_mai_counts(db):
    assert q(db, "SELECT count(*), count(DISTINCT hcpcs) FROM mue WHERE service_type = 'practitioner'") == [(15_095, 15_095)]
    assert q(db, "SELECT mai, count(*) FROM mue GROUP BY mai ORDER BY mai") == [(1, 41), (2, 5_417), (3, 9_637)]


def test_real_values(db):
    rows = q(db, "SELECT hcpcs, mue_value, mai, mai_label FROM mue WHERE hcpcs IN ('37252','37253','99213','J0585') "
                 "ORDER BY hcpcs")
    assert rows == [("37252", 1, 2, "Date of Service Edit: Policy"), ("37253", 5, 3, "Date of Service Edit: Clinical"),
                    ("99213", 2, 3, "Date of Service Edit: Clinical"), ("J0585", 800, 3, "Date of Service Edit: Clinical")]


def test_csv_and_xlsx_parse_to_identical_tables():
    layout = load_layouts("mue")["mue"]
    csv_f = parse_file(REAL.with_suffix(".csv"), layout, 2026).frame
    xlsx_f = parse_file(REAL.with_suffix(".xlsx"), layout, 2026).frame
    assert csv_f.equals(xlsx_f) and csv_f.height == 15_095


def test_claim_lines_check(db):
    con = duckdb.connect(str(db), read_only=True)
    con.execute("CREATE TEMP TABLE claim AS SELECT * FROM (VALUES ('37253', 6, DATE '2026-05-01', 'practitioner'), "
                "('37253', 5, DATE '2026-05-02', 'practitioner'), ('37253', 5, DATE '2026-08-01', 'practitioner')) "
                "t(hcpcs, units, date_of_service, service_type)")
    rows = con.execute("SELECT units, mue_value, mai, exceeds, status FROM mue_check('claim')").fetchall()
    con.close()
    assert rows[0] == (6, 5, 3, True, "exceeds")
    assert rows[1] == (5, 5, 3, False, "within")
    assert rows[2][1] is None and rows[2][3] is None and rows[2][4].startswith("no data")  # Q3 2026 not loaded


@pytest.fixture
def world(db, tmp_path, monkeypatch):
    return home_with_copy(db, tmp_path, monkeypatch), tmp_path / "mirror" / "mue"


def write_variant(folder, period, name, edit):
    target = folder / period
    target.mkdir(parents=True)
    text = REAL.with_suffix(".csv").read_bytes().decode("cp1252")
    (target / name).write_bytes(edit(text).encode("cp1252"))


@pytest.mark.parametrize("period, name, edit, expect", [
    ("2026Q3", "MCR_MUE_PractitionerServices_Eff_07-01-2026.csv",
     lambda t: t.replace("\n37253,5,", "\n37253,five,"), "'five' is not a number"),
    ("2026Q3", "MCR_MUE_PractitionerServices_Eff_07-01-2026.csv",
     lambda t: t.replace("\n37253,5,3 Date", "\n37253,5,4 Date"), "adjudication indicator '4 Date"),
    ("2026Q3", "MCR_MUE_PractitionerServices_Eff_07-01-2026.csv",
     lambda t: t.replace("\n37253,", "\n37252,"), "expect_compound_columns_to_be_unique"),
    ("2026Q3", "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv",
     lambda t: t, "its name says effective 2026-04-01, but the catalog's release mue:2026Q3 is effective 2026-07-01"),
])
def test_bad_inputs_fail_clearly_and_change_nothing(world, capsys, period, name, edit, expect):
    db, folder = world
    write_variant(folder, period, name, edit)
    before = snapshot(db)
    code = main(["build", "--no-prefect", "--dataset", "mue", "--mirror", str(folder.parent), "--period", period])
    err = capsys.readouterr().err
    assert code == 1
    assert expect in err
    assert name in err or "validation failed for table mue[practitioner] (mue:2026Q3)" in err
    assert snapshot(db) == before
