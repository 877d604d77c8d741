"""A published version is provably intact and nothing that reads it can change it: read-only query connections,
manifests that cover every row (verify in place, pinned opens), and a stale write-ahead log never replayed."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from cmsref import pipeline

from core import settings
from cmsref.cli import main
from core.errors import AlteredDataError, CmsrefError
from tests.builders import AOC_HEADER, AOC_ROWS
from tests.helpers import home_with_copy, query, snapshot
from warehouse.api import open_version

pytestmark = pytest.mark.integration


@pytest.fixture
def db(mirror_db, tmp_path, monkeypatch):
    return home_with_copy(mirror_db, tmp_path, monkeypatch)


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("sql, why", [
    ("ATTACH '{tmp}/x.duckdb' AS s (READ_WRITE)", "file system operations are disabled"),
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("COPY (SELECT 1) TO '{tmp}/out.csv'", "file system operations are disabled"),
    ("SET enable_external_access = true", "the configuration has been locked"),
    ("INSTALL httpfs", "disabled"),
    ("UPDATE store.pfs_rvu SET work_rvu = 0", "read-only mode"),
    ("DELETE FROM meta.data_versions", "read-only mode"),
    ("CREATE TABLE store.x AS SELECT 1", "read-only mode"),
])
def test_query_cannot_change_attach_read_or_write_files(db, tmp_path, capsys, sql, why):
    before = snapshot(db)
    code, out, err = run(capsys, "query", sql.format(tmp=tmp_path))
    assert code == 1 and err.startswith("cmsref: error: query failed:") and why in err and len(err.splitlines()) == 1
    assert snapshot(db) == before
    assert not (tmp_path / "x.duckdb").exists() and not (tmp_path / "out.csv").exists()


def test_query_writes_a_result_file_only_through_the_cli_option(db, tmp_path, capsys):
    code, _, err = run(capsys, "query", "--format", "csv", "--output", str(tmp_path / "o'brien.csv"),
                       "SELECT hcpcs, work_rvu FROM pfs_rvu WHERE period = '2024B' AND hcpcs = '37252'")
    assert code == 0 and "1 row(s) written" in err
    assert (tmp_path / "o'brien.csv").read_text().splitlines() == ["hcpcs,work_rvu", "37252,1.80"]


def test_verify_in_place_and_a_pinned_open_detect_one_changed_value(db, capsys):
    version, sha = query(db, "SELECT data_version, manifest_sha256 FROM data_versions")[0]
    assert run(capsys, "verify", "--version", version)[0] == 0
    open_version(db, version, expected_manifest_sha256=sha).close()
    # someone with write access to the file changes one RVU of one published release (not through cmsref)
    con = duckdb.connect(str(db))
    con.execute("UPDATE store.pfs_rvu SET work_rvu = 1.81 WHERE release_id = 'pfs/2024B/r1' AND hcpcs = '37252' "
                "AND modifier = ''")
    con.close()
    code, _, err = run(capsys, "verify", "--version", version)
    assert code == 1 and "pfs_rvu (pfs/2024B/r1): rows changed since publish" in err
    with pytest.raises(AlteredDataError, match=r"does not match its published manifest \(pfs_rvu \(pfs/2024B/r1\): "
                                               r"rows changed") as caught:
        open_version(db, version, expected_manifest_sha256=sha)
    assert (caught.value.version, caught.value.table) == (version, "pfs_rvu")


def test_every_table_of_a_version_carries_its_content_hash(db):
    import json

    manifest = json.loads(query(db, "SELECT manifest FROM meta.data_versions")[0][0])
    assert manifest["tables"] and all(len(t["content_sha256"]) == 64 for t in manifest["tables"])


def _aoc_mirror(root, period):
    folder = root / "aoc" / period
    folder.mkdir(parents=True)
    (folder / f"AOC_V{period}-MCR.csv").write_text("\r\n".join(["copyright,,,,,,,", AOC_HEADER, *AOC_ROWS]) + "\r\n",
                                                    encoding="cp1252")
    return root


CRASHING_WRITER = """
import duckdb, os, sys
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE main.scribble AS SELECT 42 AS x")
os._exit(0)  # dies without checkpointing: its write-ahead log stays beside the file
"""


def test_a_stale_write_ahead_log_is_set_aside_never_replayed(home, tmp_path):
    pipeline.build(["aoc"], mirror=_aoc_mirror(tmp_path / "m1", "2026Q2"))
    db = settings.db_path()
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(db)], check=True)
    wal = db.with_name(db.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0
    result = pipeline.build(["aoc"], mirror=_aoc_mirror(tmp_path / "m2", "2026Q3"))
    assert result.data_version == "2026.3"
    assert not wal.exists() and len(list(db.parent.glob(db.name + ".wal.stale-*"))) == 1
    # the published file opens cleanly, with both versions, and without the crashed writer's table
    assert [v for (v,) in query(db, "SELECT data_version FROM data_versions ORDER BY seq")] == ["2026.2", "2026.3"]
    assert query(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scribble'") == [(0,)]


HOLDING_WRITER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
print("open", flush=True)
time.sleep(60)
"""


def test_a_warehouse_open_for_writing_elsewhere_is_not_published_into(home, tmp_path):
    pipeline.build(["aoc"], mirror=_aoc_mirror(tmp_path / "m1", "2026Q2"))
    db = settings.db_path()
    holder = subprocess.Popen([sys.executable, "-c", HOLDING_WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        before = snapshot_bytes = db.read_bytes()
        with pytest.raises(CmsrefError, match=rf"is open for writing in another process .*PID {holder.pid}"):
            pipeline.build(["aoc"], mirror=_aoc_mirror(tmp_path / "m2", "2026Q3"))
        assert db.read_bytes() == before == snapshot_bytes
    finally:
        holder.kill()
        holder.wait()


def test_an_edited_file_in_the_extraction_cache_is_never_parsed(tmp_path):
    from extract.catalog import load_dataset
    from extract.fetch import fetch_release
    from tests.helpers import MIRROR

    spec = load_dataset("pfs")
    release = spec.release("2024B")
    first = {f.member_name: f for f in fetch_release(spec, release, cache_dir=tmp_path, mirror=MIRROR)}
    cached = first["PPRRVU24_APR.csv"].path
    original = cached.read_bytes()
    cached.write_bytes(original.replace(b"37252,,", b"37252,,EDITED ", 1))  # someone edits the cached copy
    again = {f.member_name: f for f in fetch_release(spec, release, cache_dir=tmp_path, mirror=MIRROR)}
    assert again["PPRRVU24_APR.csv"].sha256 == first["PPRRVU24_APR.csv"].sha256
    assert again["PPRRVU24_APR.csv"].path.read_bytes() == original  # extracted again from the zip


PEAK = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "")
"""


def build_2024c_measuring_peak(mirror) -> tuple[int, int, str]:
    """`cmsref build` of PFS 2024C from `mirror` in a child process: its exit code, peak RSS (KB) and last line."""
    out = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "cmsref.cli", "build", "--no-prefect",
                          "--dataset", "pfs", "--period", "2024C", "--mirror", str(mirror)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    code, peak_kb = (int(v) for v in out[0].split())
    return code, peak_kb, out[1]


@pytest.mark.parametrize("grow, message", [
    (lambda f: f.write(b"\r\n" * (50 << 20)), r"PPRRVU24_JUL.csv: 52,\d+,\d+ lines, more than the 1,000,000"),
    (lambda f: f.write(b"x" * (300 << 20)), r"PPRRVU24_JUL.csv: 3\d\d,\d+,\d+ bytes, more than the 268,435,456"),
])
def test_hostile_sizes_end_in_a_clear_error_with_bounded_memory(home, tmp_path, grow, message):
    import re
    import shutil

    from tests.helpers import MIRROR

    folder = tmp_path / "mirror" / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    shutil.copy(MIRROR / "pfs_rvu/RVU24C/PPRRVU24_JUL.csv", folder)
    with open(folder / "PPRRVU24_JUL.csv", "ab") as f:
        grow(f)
    code, peak_kb, last = build_2024c_measuring_peak(tmp_path / "mirror")
    assert code == 1 and re.search(message, last) and last.startswith("cmsref: error: ")
    assert peak_kb < 1_500_000, f"peak {peak_kb / 1024:.0f} MB"
    assert not settings.db_path().exists()  # nothing was published


def test_an_800_mib_member_stored_uncompressed_in_a_zip_ends_in_a_clear_error_with_bounded_memory(home, tmp_path):
    """Within the zip-bomb limits (stored, ratio 1) but far beyond what a CMS file is: extracted by streaming, then
    refused by the parse cap, and the process never holds it in memory."""
    import re
    import shutil
    import zipfile

    from tests.helpers import MIRROR

    folder = tmp_path / "mirror" / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    real = (MIRROR / "pfs_rvu/RVU24C/PPRRVU24_JUL.csv").read_bytes()
    with zipfile.ZipFile(folder / "RVU24C.zip", "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        with z.open("PPRRVU24_JUL.csv", "w", force_zip64=True) as member:
            member.write(real)
            block = b"x" * (8 << 20)
            for _ in range(100):  # 800 MiB
                member.write(block)
    try:
        code, peak_kb, last = build_2024c_measuring_peak(tmp_path / "mirror")
    finally:  # 1.6 GB of zip and extracted member: not left behind in pytest's kept temporary folders
        (folder / "RVU24C.zip").unlink()
        shutil.rmtree(settings.cache_dir(), ignore_errors=True)
    assert code == 1 and last.startswith("cmsref: error: "), last
    assert re.search(r"PPRRVU24_JUL.csv: 84\d,\d+,\d+ bytes, more than the 268,435,456", last), last
    assert peak_kb < 1_500_000, f"peak {peak_kb / 1024:.0f} MB"
    assert not settings.db_path().exists()  # nothing was published
