"""`cmsref lines` on the whole mirror's warehouse: files of claim lines in, one checked and priced row per line out,
with the answers of POST /lines; bad values are line statuses, bad files one line before any work; memory bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cmsref.cli import main
from tests.lines_data import reference_rows, write_lines
from warehouse.claim_rules import LINE_RESULT

pytestmark = pytest.mark.integration

RESULTS = ["claim", "hcpcs", "modifier", "units", "date_of_service", "setting", "locality", "qp", "pfs_amount",
           "pfs_period", "pfs_status_code", "pfs_cf_variant", "pfs_status", "mue_period", "mue_value", "mai",
           "units_compared", "mue_status", "aoc_period", "addon_edit_type", "primaries_on_claim", "addon_status"]


@pytest.fixture(scope="module")
def rows(mirror_db):
    return reference_rows(mirror_db)


@pytest.fixture
def db_env(mirror_db, tmp_path, monkeypatch):
    """The whole-mirror warehouse (read-only here) and a data folder of this test for the work folder."""
    monkeypatch.setenv("CMSREF_DB", str(mirror_db))
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "home"))
    return mirror_db


def read(path: Path, order: str = "line_id") -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM '{path}' ORDER BY {order}").fetchall()


def test_parquet_and_csv_folder_give_one_row_per_line_with_the_same_answers(db_env, rows, tmp_path, capsys):
    write_lines(rows, 20_000, tmp_path / "lines.parquet")
    write_lines(rows, 20_000, tmp_path / "csv", fmt="csv", files=4)  # each claim's lines spread over the 4 files
    assert main(["lines", str(tmp_path / "lines.parquet"), "--output", str(tmp_path / "a.parquet")]) == 0
    out = capsys.readouterr().out
    assert "20,000 line(s) of 1 file(s) checked against data version 2026.2" in out
    assert "priced" in out and "pfs_status:" in out and "addon_status:" in out
    assert main(["lines", str(tmp_path / "csv"), "--output", str(tmp_path / "b.csv"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "20,000 line(s) of 4 file(s)" in captured.out and "lines/s" not in captured.err
    cols = ", ".join(["line_id", "npi", *RESULTS])
    listed = cols.replace("primaries_on_claim", "CAST(primaries_on_claim AS VARCHAR)")  # as CSV writes a list
    a = duckdb.sql(f"SELECT {listed} FROM '{tmp_path / 'a.parquet'}' ORDER BY line_id").fetchall()
    b = duckdb.sql(f"SELECT {cols} FROM "
                   f"read_csv('{tmp_path / 'b.csv'}', types = {{'line_id': 'BIGINT', 'npi': 'BIGINT', "
                   f"'units': 'INTEGER', 'mue_value': 'INTEGER', 'mai': 'INTEGER', 'addon_edit_type': 'INTEGER', "
                   f"'units_compared': 'BIGINT', 'pfs_amount': 'DECIMAL(12,2)', 'claim': 'VARCHAR', "
                   f"'modifier': 'VARCHAR', 'primaries_on_claim': 'VARCHAR'}}) ORDER BY line_id").fetchall()
    assert len(a) == len(b) == 20_000 and [r[0] for r in a] == list(range(1, 20_001))
    # the result columns have the types claim_rules.LINE_RESULT declares
    described = {r[0]: r[1] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{tmp_path / 'a.parquet'}'").fetchall()}
    assert {c: described[c] for c in LINE_RESULT} == LINE_RESULT
    # CSV writes an empty modifier and list as text: compare the rest, and the lists as text
    norm = [tuple("" if v is None else str(v) for v in r) for r in a]
    assert norm == [tuple("" if v is None else str(v) for v in r) for r in b]
    statuses = {r[RESULTS.index("pfs_status") + 2] for r in a}
    assert "priced" in statuses and any(s.startswith("status ") for s in statuses)
    assert {r[RESULTS.index("mue_status") + 2] for r in a} >= {"within", "exceeds"}
    # real values: the line's amount is the pfs_payment view's
    line = next(r for r in a if r[RESULTS.index("pfs_status") + 2] == "priced")
    con = duckdb.connect(str(db_env), read_only=True)
    want = con.execute("SELECT amount FROM pfs_payment_on(?) WHERE hcpcs = ? AND modifier = ? AND setting = ? AND "
                       "coalesce(mac || ':' || locality, 'national') = ? AND cf_variant IN ('all', 'non_qp')",
                       [line[RESULTS.index("date_of_service") + 2], line[RESULTS.index("hcpcs") + 2],
                        line[RESULTS.index("modifier") + 2], line[RESULTS.index("setting") + 2],
                        line[RESULTS.index("locality") + 2]]).fetchall()
    con.close()
    assert want == [(line[RESULTS.index("pfs_amount") + 2],)]


def test_a_bad_value_is_its_lines_status_and_no_line_is_dropped(db_env, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("claim,hcpcs,units,date_of_service,locality,note\n"
                   "A,99213,1,2024-06-01,01182:18,ok\n"
                   "A,9921,1,2024-06-01,,short code\n"
                   "B,99213,-1,2024-06-01,,negative units\n"
                   "B,99213,1,2024-02-30,,no such day\n"
                   "C,99213,1,2024-06-01,99999:99,no such locality\n"
                   "C,99213,1.5,2024-06-01,,half a unit\n"
                   "D,99213,1,2024-06-01,01182:18,ok\n")
    assert main(["lines", str(bad), "--output", str(tmp_path / "o.parquet"), "--quiet"]) == 0
    out = capsys.readouterr().out
    got = duckdb.sql(f"SELECT input_line, note, pfs_status, mue_status, addon_status, pfs_amount FROM "
                     f"'{tmp_path / 'o.parquet'}' ORDER BY input_line").fetchall()
    assert [r[0] for r in got] == [1, 2, 3, 4, 5, 6, 7]
    status = {r[1]: r[2] for r in got}
    assert status["ok"] == "priced"
    assert status["short code"] == ("invalid: hcpcs '9921' is not a HCPCS / CPT code (5 letters or digits, "
                                    "e.g. 37252)")
    assert status["negative units"] == "invalid: units '-1' is not a whole number of units from 1 to 2,147,483,647"
    assert status["half a unit"].startswith("invalid: units '1.5'")
    assert status["no such day"] == ("invalid: date_of_service '2024-02-30' is not a date of the form YYYY-MM-DD, "
                                     "e.g. 2024-06-01")
    assert status["no such locality"] == ("invalid: locality '99999:99' is not a MAC:locality of any GPCI file in "
                                          "data version 2026.2")
    assert all(r[2] == r[3] == r[4] and r[5] is None for r in got if r[2].startswith("invalid"))
    assert "invalid: units" in out and "invalid: locality" in out and "invalid: hcpcs" in out


def test_a_missing_or_mistyped_column_is_one_line_before_any_work(db_env, tmp_path, capsys):
    f = tmp_path / "no_dos.csv"
    f.write_text("hcpcs,units\n99213,1\n")
    assert main(["lines", str(f), "--output", str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"cmsref: error: {f}: has no column 'date_of_service' (a line needs hcpcs and date_of_service; "
                   f"--map date_of_service=COLUMN names another)")
    p = tmp_path / "numeric.parquet"
    duckdb.sql(f"COPY (SELECT 100 AS hcpcs, DATE '2024-06-01' AS date_of_service) TO '{p}'")
    assert main(["lines", str(p), "--output", str(tmp_path / "o.parquet")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"cmsref: error: {p}: column 'hcpcs' (hcpcs) is INTEGER, not text (a code read as a number has lost its "
        f"leading zeros)")
    assert main(["lines", str(p), "--map", "hcpcs=HCPCS_CD", "--output", str(tmp_path / "o.parquet")]) == 1
    assert "has no column 'HCPCS_CD' (--map hcpcs=HCPCS_CD)" in capsys.readouterr().err
    assert main(["lines", str(p), "--map", "cpt=X", "--output", str(tmp_path / "o.parquet")]) == 1
    assert "'cpt' is not a field of a line" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


def test_map_names_other_columns_and_every_other_column_passes_through(db_env, tmp_path, capsys):
    f = tmp_path / "extract.jsonl"
    f.write_text('{"CLM_ID": "X1", "HCPCS_CD": "99213", "LINE_SRVC_CNT": 2, "DOS": "2024-06-01", "NPI": "123"}\n'
                 '{"CLM_ID": "X1", "HCPCS_CD": "99214", "LINE_SRVC_CNT": 1, "DOS": "2024-06-01", "NPI": "456"}\n')
    assert main(["lines", str(f), "--map", "claim=CLM_ID,hcpcs=HCPCS_CD,units=LINE_SRVC_CNT,date_of_service=DOS",
                 "--output", str(tmp_path / "o.csv"), "--quiet"]) == 0
    got = duckdb.sql(f"SELECT * FROM read_csv('{tmp_path / 'o.csv'}', all_varchar = true)")
    assert got.columns[:4] == ["NPI", "input_file", "input_line", "claim"]
    assert "HCPCS_CD" not in got.columns
    assert got.fetchall()[0][:8] == ("123", str(f), "1", "X1", "99213", None, "2", "2024-06-01")


def test_outputs_cmsref_owns_are_refused(db_env, tmp_path, capsys):
    f = tmp_path / "l.csv"
    f.write_text("hcpcs,date_of_service\n99213,2024-06-01\n")
    assert main(["lines", str(f), "--output", str(db_env)]) == 2  # UnsafeOutputError
    assert "is the warehouse" in capsys.readouterr().err
    assert main(["lines", str(f), "--output", str(f)]) == 1
    assert "is one of the input files" in capsys.readouterr().err


def test_a_small_memory_limit_spills_and_gives_the_same_answers(db_env, rows, tmp_path):
    from warehouse.claim_files import Reference, run

    write_lines(rows, 60_000, tmp_path / "l.parquet")
    ref = Reference.from_version(db_env)
    try:
        free = run([str(tmp_path / "l.parquet")], tmp_path / "free.parquet", ref, tmp_path / "w")
        tight = run([str(tmp_path / "l.parquet")], tmp_path / "tight.parquet", ref, tmp_path / "w",
                    memory_limit="100MB", threads=1)
    finally:
        ref.close()
    assert tight.spilled_bytes > 0
    assert read(tmp_path / "free.parquet") == read(tmp_path / "tight.parquet")
    assert list((tmp_path / "w").iterdir()) == []  # the work folder is gone


def test_a_killed_run_leaves_no_output_and_the_next_run_removes_its_work_folder(db_env, rows, tmp_path):
    write_lines(rows, 200_000, tmp_path / "l.parquet")
    out = tmp_path / "o.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "cmsref.cli", "lines", str(tmp_path / "l.parquet"), "--output",
                             str(out)], env=os.environ.copy(), stderr=subprocess.DEVNULL)
    work = tmp_path / "home" / "tmp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(work.glob("lines-*/parts")):
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert list(work.glob("lines-*"))  # left behind by the killed process ...
    f = tmp_path / "l.csv"
    f.write_text("hcpcs,date_of_service\n99213,2024-06-01\n")
    assert main(["lines", str(f), "--output", str(tmp_path / "again.parquet"), "--quiet"]) == 0
    assert list(work.glob("lines-*")) == []  # ... and removed by the next run
