"""Export/verify of a data version, and diff/notes between two versions, on the real RVU24B and RVU25D."""

import csv
import hashlib
import io
import json

import pytest

from cmsref import pipeline

from core import settings
from cmsref.cli import main
from tests.helpers import MIRROR, PFS, home_with_copy
from warehouse.api import open_version
from warehouse.diff import diff

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(pfs_2024b_2025d):
    """2024B, then 2025D published (2024.2, 2025.4): the session's shared build, read-only here."""
    return pfs_2024b_2025d.db


def pprrvu_keys(path):
    rows = csv.reader(io.StringIO(path.read_bytes().decode("cp1252")))
    return {(r[0], r[1]) for r in rows if r and len(r[0]) == 5 and r[0] != "HCPCS" and "\x1a" not in r[0]}


def test_diff_counts_match_a_direct_comparison_of_the_files_and_show_real_changes(db):
    a, b = pprrvu_keys(PFS / "RVU24B/PPRRVU24_APR.csv"), pprrvu_keys(PFS / "RVU25D/PPRRVU2025_Oct.csv")
    con = open_version(db)
    result = {d.table: d for d in diff(con, "2024B", "2025D", details=True)}
    versions = {d.table: d for d in diff(con, "2024.2", "2025.4")}
    con.close()
    # two versions: 2025.4 adds release 2025D and keeps 2024B exactly as it was
    assert (versions["pfs_rvu"].added, versions["pfs_rvu"].removed, versions["pfs_rvu"].changed) == (19_090, 0, 0)
    rvu = result["pfs_rvu"]
    assert (rvu.added, rvu.removed) == (len(b - a), len(a - b)) == (700, 144)
    assert set(rvu.added_keys) == b - a
    assert ("37252", "", "non_facility_pe_rvu", "25.70", "24.44") in rvu.changes
    assert ("physician", "all", "conversion_factor", "33.2875", "32.3465") in result["conversion_factor"].changes


def test_diff_by_periods_and_cli_formats(db, capsys):
    assert main(["diff", "--db", str(db), "--format", "json", "2024B", "2025D"]) == 0
    rows = json.loads(capsys.readouterr().out)  # one object per table
    assert rows["pfs_rvu"]["added"] == 700 and rows["conversion_factor"]["changed"] == 1
    assert main(["diff", "--db", str(db), "--format", "json", "--details", "2024B", "2025D"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"hcpcs": "37252", "modifier": "", "column": "non_facility_pe_rvu", "old": "25.70", "new": "24.44"} in \
        rows["pfs_rvu"]["changed"] and len(rows["pfs_rvu"]["added"]) == 700
    assert main(["diff", "--db", str(db), "1999.1", "2025D"]) == 1
    assert "neither a data version" in capsys.readouterr().err


def test_release_notes(db, capsys):
    assert main(["notes", "--db", str(db), "2025.4"]) == 0
    notes = capsys.readouterr().out
    assert "# cmsref data version 2025.4" in notes and "Previous data version: 2024.2" in notes
    assert "| pfs_rvu | 2024.2 | 2025.4 | 19090 | 0 | 0 |" in notes  # 2025.4 adds 2025D, 2024B unchanged


def files_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_export_twice_is_byte_identical_and_verify_catches_one_changed_byte(db, tmp_path, capsys):
    for n in (1, 2):
        assert main(["export", "--db", str(db), "--version", "2024.2", "--to", str(tmp_path / f"e{n}")]) == 0
    assert files_digest(tmp_path / "e1") == files_digest(tmp_path / "e2")
    manifest = json.loads((tmp_path / "e1" / "manifest.json").read_text())
    assert {t["table"]: t["rows"] for t in manifest["tables"]}["pfs_rvu"] == 18_534
    assert main(["verify", str(tmp_path / "e1")]) == 0
    target = tmp_path / "e1" / "pfs_rvu.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "e1")]) == 1
    assert "pfs_rvu.parquet: SHA-256" in capsys.readouterr().err


def test_export_without_cpt_descriptors_and_duckdb_format(db, tmp_path):
    import duckdb

    assert main(["export", "--db", str(db), "--version", "latest", "--to", str(tmp_path / "p"),
                 "--without-cpt-descriptors"]) == 0
    con = duckdb.connect()
    rows = dict(con.execute(f"SELECT hcpcs, description FROM read_parquet('{tmp_path}/p/pfs_rvu.parquet') "
                            "WHERE hcpcs IN ('37252', 'A0021', 'D0120')").fetchall())
    assert rows["37252"] is None and rows["D0120"] is None and rows["A0021"] == "Outside state ambulance serv"
    assert main(["export", "--db", str(db), "--version", "2025.4", "--to", str(tmp_path / "d"), "--format", "duckdb"]) == 0
    assert main(["verify", str(tmp_path / "d")]) == 0
    snap = duckdb.connect(str(tmp_path / "d" / "cmsref-2025.4.duckdb"), read_only=True)
    assert snap.execute("SELECT count(*) FROM pfs_rvu").fetchone()[0] == 18_534 + 19_090
    snap.close()


def test_diff_of_two_periods_compares_what_is_in_effect(pfs_2024b, tmp_path, monkeypatch):
    """2024C ships only PPRRVU in the mirror: 2024B's GPCI, LOCCO, ANES and OPPSCAP stay in effect for 2024C's
    dates, so they are not 'removed'."""
    home_with_copy(pfs_2024b.db, tmp_path, monkeypatch)  # the session's 2024B, copied: this test publishes 2024C
    pipeline.build(["pfs"], ["2024C"], mirror=MIRROR)
    con = open_version(settings.db_path())
    result = {d.table: d for d in diff(con, "2024B", "2024C")}
    con.close()
    for table in ("pfs_gpci", "pfs_locality", "pfs_anesthesia_cf", "pfs_opps_cap"):
        assert (result[table].added, result[table].removed, result[table].changed) == (0, 0, 0), table
        assert result[table].a_release == result[table].b_release == "pfs/2024B/r1"
    assert result["pfs_rvu"].b_release == "pfs/2024C/r1" and result["pfs_rvu"].added > 0
