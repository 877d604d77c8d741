"""Pinned, read-only access for downstream tools.

    from warehouse.api import open_version
    con = open_version("data/cmsref.duckdb", "2025.4")          # or "latest"
    con.execute("SELECT * FROM pfs_payment_on('2024-06-01') WHERE hcpcs = '37252' AND is_national").fetchall()

Every public view (pfs_rvu, pfs_payment, mue, ...) and its `<view>_on(date)` macro answer from that data version
only, byte-for-byte as they did when it was published. Pin the manifest checksum too: `manifest_sha256(con)`.
From SQL, without Python: `SELECT * FROM pfs_rvu_version('2025.4')` and `pfs_rvu_at('2025.4', DATE '2024-06-01')`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb

from core.errors import AlteredDataError, CmsrefError
from warehouse.manifest import verify_version
from warehouse.publish import connect
from core.sql import literal
from warehouse.views import create_pinned_views


class UnknownVersionError(CmsrefError):
    """The asked data version was never published. `published`: the versions that were."""

    def __init__(self, message: str, version: str = "", published: list[str] | None = None):
        super().__init__(message)
        self.version, self.published = version, published or []


def versions(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT data_version FROM meta.data_versions ORDER BY seq").fetchall()]


def open_version(path: str | Path, version: str = "latest", *, expected_manifest_sha256: str | None = None,
                 lock: bool = True, check: bool = True) -> duckdb.DuckDBPyConnection:
    """A read-only connection whose public views show one data version ('latest' = the newest). It can touch no other
    file (see lock_down); only cmsref's own export passes lock=False, to write the snapshot's files.

    The version's content is checked against its manifest before anything is answered from it (ensure_intact):
    altered rows, lineage, views or macros raise AlteredDataError. Only `cmsref verify` passes check=False, to list
    every difference itself."""
    con = connect(Path(path), read_only=True)
    try:
        known = versions(con)
        if version == "latest":
            if not known:
                raise UnknownVersionError(f"{path} has no published data version yet", version)
            version = known[-1]
        elif version not in known:
            raise UnknownVersionError(f"unknown data version {version!r} in {path}; published: "
                                      f"{', '.join(known) or 'none'}", version, known)
        if expected_manifest_sha256:
            actual = con.execute("SELECT manifest_sha256 FROM meta.data_versions WHERE data_version = ?",
                                 [version]).fetchall()[0][0]
            if actual != expected_manifest_sha256:
                raise CmsrefError(f"data version {version} in {path} has manifest {actual}, not the pinned "
                                  f"{expected_manifest_sha256}: this is not the data you tested against")
        if check or expected_manifest_sha256:
            ensure_intact(con, Path(path), version)
        create_pinned_views(con, version)
        con.execute(f"CREATE OR REPLACE TEMP MACRO pinned_version() AS {literal(version)}")
        if lock:
            lock_down(con)
        return con
    except BaseException:
        con.close()
        raise


_VERIFIED: dict[tuple, bool] = {}  # (file identity, data version) -> checked intact in this process
_VERIFYING = threading.Lock()


def file_identity(path: Path) -> tuple | None:
    """What tells one state of a warehouse file from another: device, inode, size, modification and change times
    (the change time cannot be set back by a user), and the same of its write-ahead log. None when it is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    try:
        wal = os.stat(f"{path}.wal")
        wal_id = (wal.st_ino, wal.st_size, wal.st_mtime_ns, wal.st_ctime_ns)
    except FileNotFoundError:
        wal_id = None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, wal_id)


def ensure_intact(con: duckdb.DuckDBPyConnection, path: Path, version: str) -> None:
    """Refuse a data version whose rows, lineage, views or macros no longer match its manifest (AlteredDataError,
    naming the version and the table; no path). The manifest is recomputed once per state of the file and version
    in this process (about a second for the whole mirror, see docs/benchmark.md); every later open of the same
    file is a dictionary read."""
    key = (file_identity(path), version)
    if key[0] is not None and _VERIFIED.get(key):
        return
    with _VERIFYING:  # threads of a server opening the same new file verify it once
        if key[0] is not None and _VERIFIED.get(key):
            return
        problems = verify_version(con, version)
        if problems:
            first = problems[0]
            raise AlteredDataError(
                f"data version {version} does not match its published manifest ({first.detail}"
                f"{f'; {len(problems) - 1} more' if len(problems) > 1 else ''}); it is not answered from: "
                f"`cmsref verify --version {version}` lists what differs; restore the warehouse from a copy or an "
                f"export, or build into a new file with --db", version, first.table)
        if key[0] is not None and key[0] == file_identity(path):  # unchanged while it was checked
            _VERIFIED[key] = True


_LOCKING = threading.Lock()


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """A reading connection may not touch anything but its warehouse: no ATTACH, no COPY, no reading or writing other
    files, no extensions; and the settings cannot be changed back (DuckDB's enable_external_access and
    lock_configuration). The warehouse itself is open read-only.

    The settings belong to the database instance, which every connection of this process to the same file shares:
    the first one locks it, and the check and the locking run under one lock so that two threads opening the same
    file at once do not both try (the second would meet a locked configuration)."""
    with _LOCKING:
        if con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]:
            return
        for setting in ("autoinstall_known_extensions", "autoload_known_extensions", "allow_community_extensions",
                        "enable_external_access"):
            con.execute(f"SET {setting} = false")
        con.execute("SET lock_configuration = true")


def pinned(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The data version a connection of open_version shows, and its manifest SHA-256."""
    return tuple(con.execute("SELECT data_version, manifest_sha256 FROM meta.data_versions "
                             "WHERE data_version = pinned_version()").fetchall()[0])


def manifest_sha256(con: duckdb.DuckDBPyConnection) -> str:
    return pinned(con)[1]


class Lookup:
    """Single-code lookups of one pinned data version from a cache in memory: the first lookup of a table loads its
    rows of that version (with their effective windows) once; every later one is a dictionary read, well under a
    millisecond. The connection's version never changes, so the cache never goes stale.

        lookup = Lookup(open_version("data/cmsref.duckdb", "2026.2"))
        lookup.row("pfs_rvu", "37252", date(2024, 6, 1))          # {'work_rvu': Decimal('1.80'), ...}
        lookup.payment("37252", date(2024, 6, 1), locality=("01182", "18"))   # [{'setting': 'facility', ...}, ...]
    """

    def __init__(self, con: duckdb.DuckDBPyConnection):
        from warehouse.lookup import PaymentCache

        self.con = con
        self.tables: dict[str, dict] = {}
        self.payments = PaymentCache()

    def payment(self, hcpcs: str, day, modifier: str = "", locality: tuple[str, str] | None = None) -> list[dict]:
        """The PFS payment rows (facility and non-facility, each with its release, CF, RVUs, GPCIs and source rows)
        of a code on `day`, national or in one (MAC, locality): the pfs_payment view's rows, kept per code."""
        from warehouse.lookup import on

        return on(self.payments.windows(self.con, hcpcs, modifier, locality), day)

    def _load(self, table: str) -> dict:
        from core.tables import TABLES

        key = [k for k in TABLES[table].key if k != "hcpcs"]
        rel = self.con.execute(f"SELECT * FROM {table}")
        cols = [d[0] for d in rel.description]
        index: dict = {}
        for values in rel.fetchall():
            row = dict(zip(cols, values))
            index.setdefault((row["hcpcs"], *[row[k] for k in key]), []).append(row)
        return index

    def row(self, table: str, hcpcs: str, day, *key) -> dict | None:
        """The row of `table` for a code (and the rest of its key: modifier '' by default for pfs_rvu) in effect on
        `day`, or None. `day` is a datetime.date."""
        from core.effective import in_effect

        if table not in self.tables:
            self.tables[table] = self._load(table)
        if table == "pfs_rvu" and not key:
            key = ("",)
        for row in self.tables[table].get((hcpcs, *key), ()):
            if in_effect(day, row["effective_from"], row["effective_to"]):
                return row
        return None
