"""Failures a person meets end in one clear line and a non-zero exit, with tracebacks only under -v."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import MIRROR

pytestmark = pytest.mark.integration


def cmsref(*args, env=None, preexec=None):
    return subprocess.run([sys.executable, "-m", "cmsref.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, preexec_fn=preexec)


def one_line(r, *expect):
    """The error is one line, the last one (progress lines of a build may come before it), without a traceback."""
    assert r.returncode != 0, r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("cmsref: error: ") and "Traceback" not in r.stderr, r.stderr
    assert not [line for line in r.stderr.splitlines() if line.startswith(("  File ", "    "))], r.stderr
    for text in expect:
        assert text in last, r.stderr


def test_a_home_that_cannot_be_written(tmp_path):
    # (permission bits do not stop root, who runs CI: a home below a plain file cannot be created by anyone)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    one_line(cmsref("build", "--no-prefect", "--dataset", "mue", "--mirror", str(MIRROR),
                    env={"CMSREF_HOME": str(blocker / "data")}), str(blocker), "set CMSREF_HOME")


def test_a_file_size_limit_reached_while_publishing(tmp_path):
    import resource

    def limit():  # 2 MB: the download cache and reports fit, the warehouse does not
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))
    r = cmsref("build", "--no-prefect", "--dataset", "mue", "--mirror", str(MIRROR),
               env={"CMSREF_HOME": str(tmp_path / "data")}, preexec=limit)
    one_line(r, "could not write the new data version", "File too large")
    assert not (tmp_path / "data" / "cmsref.duckdb").exists()


def test_a_damaged_warehouse_file(tmp_path):
    db = tmp_path / "data" / "cmsref.duckdb"
    db.parent.mkdir()
    db.write_bytes(b"not a database" * 1000)
    one_line(cmsref("query", "SELECT 1", env={"CMSREF_HOME": str(tmp_path / "data")}), str(db),
             "restore it from a copy")
    assert db.read_bytes() == b"not a database" * 1000


def test_a_damaged_block_inside_a_valid_warehouse_is_named_when_a_read_meets_it(mirror_db, tmp_path):
    """The file opens (its header and catalog are intact) but data blocks are overwritten: DuckDB's block checksum
    fails only when a query reads them. `verify` reads every row, so it meets the damage: one line naming the
    file and the way out, and the file is left as it was."""
    db = tmp_path / "data" / "cmsref.duckdb"
    db.parent.mkdir()
    db.write_bytes(mirror_db.read_bytes())
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        for offset in range(size // 4, size * 3 // 4, size // 16):
            fh.seek(offset - offset % 262_144 + 1_000)  # inside a 256 KiB block, past its checksum
            fh.write(b"\xaa" * 4_096)
    damaged = db.read_bytes()
    r = cmsref("verify", "--version", "latest", env={"CMSREF_HOME": str(tmp_path / "data")})
    one_line(r, f"{db} is damaged", "Corrupt database file", "restore it from a copy")
    assert db.read_bytes() == damaged


def test_a_truncated_export_manifest(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.json").write_text('{"data_version": "2026.2", "tables": [')
    one_line(cmsref("verify", str(tmp_path / "out")), "manifest.json")


def test_unexpected_errors_are_one_line_and_show_a_traceback_with_v(tmp_path):
    r = cmsref("verify", str(tmp_path / "no such export"))
    one_line(r)
    r = cmsref("-v", "verify", str(tmp_path / "no such export"))
    assert r.returncode != 0


def test_paths_with_quotes_spaces_and_non_ascii_everywhere(mirror_db, tmp_path):
    import shutil

    home = tmp_path / "O'Brien's café data"
    home.mkdir()
    shutil.copyfile(mirror_db, home / "cmsref.duckdb")
    out = tmp_path / "exports for O'Brien" / "snapshot ünïcode"
    env = {"CMSREF_HOME": str(home)}
    r = cmsref("export", "--version", "latest", "--to", str(out), env=env)
    assert r.returncode == 0, r.stderr
    r = cmsref("verify", str(out), env=env)
    assert r.returncode == 0 and "every file matches manifest.json" in r.stdout, r.stderr
    r = cmsref("query", "--output", str(out / "it's.csv"), "--format", "csv", "SELECT 1 AS one", env=env)
    assert r.returncode == 0 and (out / "it's.csv").read_text().splitlines() == ["one", "1"]
