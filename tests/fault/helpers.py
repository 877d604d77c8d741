"""Assertions every fault case makes: what the user saw, what was requested, what the warehouse holds."""

from __future__ import annotations

import filecmp
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tests.helpers import query


def versions(db: Path) -> list[str]:
    return [r[0] for r in query(db, "SELECT data_version FROM meta.data_versions ORDER BY seq")]


@dataclass
class Run:
    code: int
    out: str  # stdout
    err: str  # stderr: the `cmsref: error: ...` line
    log: str  # the log lines (on stderr in a terminal; captured by pytest's log handler in-process)

    @property
    def text(self) -> str:
        return "\n".join((self.out, self.err, self.log))


def build(capsys, caplog, *args: str) -> Run:
    """`cmsref build --no-prefect ARGS` in this process."""
    from cmsref.cli import main

    capsys.readouterr()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        code = main(["build", "--no-prefect", *args])
    out, err = capsys.readouterr()
    return Run(code, out, err, caplog.text)


def leftovers(world) -> list[Path]:
    """Files a failed run must not leave behind: unfinished publishes, partial downloads, partial extractions."""
    home = Path(world.home)
    found = list(home.glob("*.publishing-*"))
    found += list((home / "cache").rglob(".download-*")) if (home / "cache").exists() else []
    found += list((home / "cache").rglob("*.partial")) if (home / "cache").exists() else []
    return found


def table_diff(before: Path, after: Path) -> dict[str, tuple[int, int]]:
    """Per table of schemas meta and store: (rows only in `before`, rows only in `after`), as multisets of whole
    rows (EXCEPT ALL, computed inside DuckDB). The same comparison as tests.helpers.snapshot, without
    materialising some 60,000 rows in Python for every case; tables only in one file count all their rows."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{before}' AS b (READ_ONLY)")
        con.execute(f"ATTACH '{after}' AS a (READ_ONLY)")
        tables = {db: {f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name IN ('meta', 'store')", [db]).fetchall()} for db in ("b", "a")}
        out = {}
        for t in sorted(tables["b"] | tables["a"]):
            if t not in tables["a"] or t not in tables["b"]:
                side = "b" if t in tables["b"] else "a"
                n = con.execute(f"SELECT count(*) FROM {side}.{t}").fetchone()[0]
                out[t] = (n, 0) if side == "b" else (0, n)
                continue
            gone = con.execute(f"SELECT count(*) FROM (SELECT * FROM b.{t} EXCEPT ALL SELECT * FROM a.{t})").fetchone()[0]
            new = con.execute(f"SELECT count(*) FROM (SELECT * FROM a.{t} EXCEPT ALL SELECT * FROM b.{t})").fetchone()[0]
            out[t] = (gone, new)
        return out
    finally:
        con.close()


def assert_unchanged(world) -> None:
    """Data versions and every stored row exactly as in the baseline, and nothing half-written left behind.

    A warehouse file byte-for-byte identical to the baseline's has the baseline's snapshot (a failed build must
    not even open it for writing); only if the bytes differ are the rows compared table by table."""
    assert versions(world.db) == world.baseline.versions
    assert leftovers(world) == []
    if filecmp.cmp(world.baseline.db, world.db, shallow=False):
        return
    diff = {t: d for t, d in table_diff(world.baseline.db, world.db).items() if d != (0, 0)}
    assert diff == {}, f"the warehouse changed: (rows gone, rows added) per table: {diff}"
    assert leftovers(world) == []


def assert_one_new_version(world, new_release: str) -> dict[str, int]:
    """Exactly one new data version, holding `new_release`; every row stored before is still there, unchanged
    (so earlier versions answer as before). Returns the number of new rows per table."""
    now = versions(world.db)
    assert now[:-1] == world.baseline.versions and len(now) == len(world.baseline.versions) + 1, now
    diff = table_diff(world.baseline.db, world.db)
    gone = {t: d[0] for t, d in diff.items() if d[0]}
    assert gone == {}, f"rows changed or disappeared: {gone}"
    new_ids = [r[0] for r in query(world.db, "SELECT release_id FROM meta.releases ORDER BY built_at")]
    members = {r[0] for r in query(world.db, "SELECT release_id FROM meta.data_version_tables WHERE data_version = ?",
                                   [now[-1]])}
    assert diff["meta.releases"] == (0, 1) and new_ids[-1] == new_release, new_ids
    assert new_release in members
    assert leftovers(world) == []
    return {t: d[1] for t, d in diff.items()}


def extract_once(args: tuple[str, str]) -> str:
    """In a worker process: extract a PFS zip into a cache folder as a build does; "ok" or the error."""
    from datetime import datetime, timezone

    from extract.catalog import load_dataset
    from extract.download import sha256_file
    from extract.fetch import _members_of

    zip_path, cache = Path(args[0]), Path(args[1])
    try:
        _members_of(load_dataset("pfs"), zip_path, "https://www.cms.gov/files/zip/rvu.zip", sha256_file(zip_path),
                    datetime.now(timezone.utc), cache)
        return "ok"
    except Exception as exc:  # noqa: BLE001 -- the point is to see what escapes
        return f"{type(exc).__name__}: {exc}"
