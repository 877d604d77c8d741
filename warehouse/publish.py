"""Publishing data versions: the rules of PRODUCT.md section 1, in one place.

- A release's rows are stored once (schema `store`) under a release_id `dataset/period/rN`. A release whose
  source files (their SHA-256s) equal an already-stored revision reuses it; changed files become revision N+1.
- A data version is the set of releases it shows plus, per table, each release's effective window. It is
  written in one transaction and never changed afterwards; older versions keep answering as before.
- A publish whose release set equals the latest version's publishes nothing.
- Version names: <year>.<quarter> of the newest effective_from in the version (2025.4 for a CY2025 Q4
  refresh); a later version with the same name gets .1, .2, ... (2025.4.1).
- Effective windows, per dataset and table: a release applies from its effective_from until the next loaded
  release of the dataset that has rows in the table, until the end CMS states (catalog effective_to), and
  never past the end of its period (the calendar year for the PFS), whichever comes first. A date no loaded
  release covers has no rows, never a neighbouring period's values.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from core import __version__
from core.errors import PublishError
from core.fields import decimal_parts
from core.tables import META_ADDED, META_DDL, TABLES, store_ddl
from extract.catalog import ReleaseSpec, load_dataset
from extract.fetch import SourceFile
from warehouse.manifest import build_manifest, definitions, sha256_json
from warehouse.views import create_views

log = logging.getLogger("cmsref.warehouse")


def fingerprint(sources: list[SourceFile]) -> str:
    """Identity of a release's inputs: the SHA-256 of every file parsed (a re-posted zip with the same
    members is the same release; one changed byte in one member is a new revision). The release's catalog entry
    is the other half of "already published" (`catalog_sha256`, see same_catalog_entry)."""
    lines = sorted(f"{s.kind}:{s.variant}:{s.sha256}" for s in sources)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class CatalogEntry:
    """What "already published" compares of a release's catalog entry: the SHA-256 of its canonical JSON
    (ReleaseSpec.catalog_sha256) and, for releases published by a cmsref that did not record it, the parts of the
    entry every release row stores."""

    catalog_sha256: str | None
    effective_from: date
    effective_to: date | None
    cms_release_date: date | None

    @classmethod
    def of(cls, release: ReleaseSpec) -> "CatalogEntry":
        return cls(release.catalog_sha256, release.effective_from, release.effective_to, release.cms_release_date)


def same_catalog_entry(stored: tuple, entry: CatalogEntry | None) -> bool:
    """Whether a stored release (catalog_sha256, effective_from, stated_effective_to, cms_release_date) was built
    from this catalog entry. A release stored before cmsref recorded catalog_sha256 (NULL) is judged by what it did
    store: the same window, and no release date the catalog now gives where it had none (a release date stored from
    the file's own preamble wins over the catalog's, so a different one is not a change). So upgrading cmsref does
    not rebuild every release for nothing, and a corrected window is still rebuilt."""
    if entry is None:
        return True
    sha, eff_from, stated_to, released = stored
    if sha is not None:
        return sha == entry.catalog_sha256
    return (eff_from == entry.effective_from and stated_to == entry.effective_to
            and not (released is None and entry.cms_release_date is not None))


def _has_column(con, schema: str, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                            "AND column_name = ?", [schema, table, column]).fetchone()[0])


def _same_sources(con, dataset: str, period: str, fp: str, latest_only: bool) -> list[tuple]:
    """(release_id, catalog_sha256, effective_from, stated_effective_to, cms_release_date) of the stored revisions of
    a period built from these source files, newest first."""
    sha = "catalog_sha256" if _has_column(con, "meta", "releases", "catalog_sha256") else "NULL"
    latest = "AND release_id IN (SELECT release_id FROM releases WHERE in_latest) " if latest_only else ""
    return con.execute(
        f"SELECT release_id, {sha}, effective_from, stated_effective_to, cms_release_date FROM meta.releases "
        f"WHERE dataset = ? AND period = ? AND fingerprint = ? {latest}ORDER BY revision DESC",
        [dataset, period, fp]).fetchall()


def published_unchanged(db_path: Path, dataset: str, period: str, sources: list[SourceFile],
                        release: ReleaseSpec | None = None) -> str | None:
    """The release_id in the latest data version built from exactly these sources and (when `release` is given)
    this catalog entry, if any."""
    if not Path(db_path).exists():
        return None
    entry = CatalogEntry.of(release) if release is not None else None
    con = connect(db_path, read_only=True)
    try:
        rows = _same_sources(con, dataset, period, fingerprint(sources), latest_only=True)
    except duckdb.CatalogException:  # a file with no catalog views yet (nothing was ever published into it)
        return None
    except duckdb.Error as exc:
        raise PublishError(f"{db_path}: cannot read which releases are published ({exc}); the warehouse was left "
                           f"as it is") from None
    finally:
        con.close()
    same = [r for r in rows if same_catalog_entry(r[1:], entry)]
    if rows and not same:
        log.info("%s:%s: the source files are those of %s, but its catalog entry changed: building it again",
                 dataset, period, rows[0][0])
    return same[0][0] if same else None


@dataclass
class BuiltRelease:
    """A release that was extracted, transformed and validated, ready to publish."""

    dataset: str
    period: str
    effective_from: date
    stated_effective_to: date | None
    cms_release_date: date | None
    sources: list[SourceFile]
    tables: dict[str, pl.DataFrame]
    validation: dict
    notes: list[str] = field(default_factory=list)
    catalog_sha256: str | None = None  # ReleaseSpec.catalog_sha256 of the catalog entry it was built from

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sources)

    @property
    def catalog_entry(self) -> CatalogEntry | None:
        if self.catalog_sha256 is None:
            return None
        return CatalogEntry(self.catalog_sha256, self.effective_from, self.stated_effective_to, self.cms_release_date)

    @property
    def row_counts(self) -> dict[str, int]:
        """Rows per table, and per partition ("mue[practitioner]") where a table is validated per partition."""
        counts = {}
        for name, frame in sorted(self.tables.items()):
            counts[name] = frame.height
            partition = TABLES[name].partition
            if partition:
                for value, n in frame.group_by(partition).len().sort(partition).rows():
                    counts[f"{name}[{value}]"] = n
        return counts


@dataclass
class PublishResult:
    data_version: str | None  # None when nothing new was published
    new_releases: list[str]
    reused_releases: list[str]
    message: str


RECOVER_DAMAGED = "restore it from a copy or an export, or build into a new file with --db"
_HELD: set[str] = set()  # warehouses whose build lock this process holds (a build takes it once, before any work)


@contextmanager
def build_lock(db_path: Path):
    """One writer at a time, decided before any work: a second build is refused at once, naming the process that
    holds the lock and when it started. Re-entrant within the process that holds it (the build, then its publish)."""
    lock_path = Path(str(db_path) + ".lock")
    key = str(lock_path.absolute())
    if key in _HELD:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            for _ in range(40):  # the holder writes its record just after it takes the lock: wait for it briefly
                fh.seek(0)
                holder = fh.read().strip()
                if holder:
                    break
                time.sleep(0.05)
            holder = holder or "another process"
            raise PublishError(f"another cmsref build is running on {db_path} ({holder}); try again when it has "
                               f"finished") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"PID {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        fh.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def connect(db_path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    db_path = Path(db_path)
    if read_only and not db_path.exists():
        raise PublishError(f"no warehouse at {db_path}: run `cmsref build` first")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.Error as exc:
        held = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", str(exc))
        if held:
            raise PublishError(f"{db_path} is open for writing in another process (PID {held.group(2)}, "
                               f"{held.group(1)}); close it and try again") from None
        raise PublishError(f"{db_path} is not a readable cmsref warehouse ({exc}); it was left as it is: "
                           f"{RECOVER_DAMAGED}") from None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(META_DDL)
    for (table, column), typ in META_ADDED.items():  # columns a warehouse of an older cmsref lacks (NULL in old rows)
        con.execute(f"ALTER TABLE meta.{table} ADD COLUMN IF NOT EXISTS {column} {typ}")
    for table in TABLES.values():
        con.execute(store_ddl(table))
    _migrate_store(con)
    create_views(con)


def _migrate_store(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a warehouse written by an older cmsref to the registry: add the columns it lacks (NULL for the rows of
    releases published before them) and widen DECIMAL columns whose scale grew (every stored value is kept exactly:
    1.50 stays 1.50, and a new 115.936 is never rounded into an old DECIMAL(12,2)). A change that could lose a value
    is refused."""
    existing = {(t, c): typ for t, c, typ in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'store'").fetchall()}
    for table in TABLES.values():
        for col in table.columns:
            have = existing.get((table.name, col.name))
            if have is None:
                con.execute(f"ALTER TABLE store.{table.name} ADD COLUMN {col.name} {col.type}")
            elif have != col.type:
                old, new = decimal_parts(have), decimal_parts(col.type)
                fits = old and new and new[1] >= old[1] and con.execute(
                    f"SELECT coalesce(max(abs({col.name})), 0) < 10 ** {new[0] - new[1]} "
                    f"FROM store.{table.name}").fetchone()[0]
                if fits:
                    con.execute(f"ALTER TABLE store.{table.name} ALTER COLUMN {col.name} TYPE {col.type}")
                else:
                    raise PublishError(f"store.{table.name}.{col.name} is {have} in this warehouse but {col.type} in "
                                       f"this cmsref, and converting could change stored values; build into a new "
                                       f"warehouse with --db")


def latest_version(con) -> tuple[str | None, dict[tuple[str, str], str]]:
    row = con.execute("SELECT data_version FROM meta.data_versions ORDER BY seq DESC LIMIT 1").fetchone()
    if not row:
        return None, {}
    members = con.execute(
        "SELECT DISTINCT dataset, period, release_id FROM meta.data_version_tables WHERE data_version = ?", [row[0]]
    ).fetchall()
    return row[0], {(d, p): r for d, p, r in members}


def publish(db_path: Path, built: list[BuiltRelease], *, summary: str | None = None,
            now: datetime | None = None) -> PublishResult:
    """Publish the built releases as one new data version, or nothing if the sources are unchanged.

    DuckDB lets one process write a file or many read it, not both. So the warehouse is never written in place:
    the new version is written into a copy, checkpointed, fsynced and then swapped in with one atomic rename.
    Readers that opened the old file keep reading the previous version, complete; readers that open after the
    rename see the new one; a process killed mid-publish leaves the warehouse as it was (the next run removes
    its unfinished copy).
    """
    now = now or datetime.now(timezone.utc)
    db_path = Path(db_path)
    with build_lock(db_path):
        for stale in db_path.parent.glob(db_path.name + ".publishing-*"):
            stale.unlink()  # a copy left by a publish that was killed (we hold the lock: nobody else writes)
        _refuse_if_written_elsewhere(db_path)
        _set_aside_stale_wal(db_path)
        work = db_path.with_name(f"{db_path.name}.publishing-{os.getpid()}")
        if db_path.exists():
            shutil.copyfile(db_path, work)
        try:
            con = connect(work)
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    ensure_schema(con)
                    result = _publish(con, built, summary, now)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                try:
                    con.execute("COMMIT")
                    con.execute("CHECKPOINT")
                except duckdb.Error as exc:  # e.g. the disk is full or `ulimit -f` is reached writing the copy
                    raise PublishError(f"could not write the new data version ({str(exc).splitlines()[0]}); the "
                                       f"warehouse {db_path} is unchanged") from None
            finally:
                con.close()
            if result.data_version is None:
                return result
            leftover = Path(f"{work}.wal")
            if leftover.exists() and leftover.stat().st_size:
                raise PublishError(f"{work}: its write-ahead log was not checkpointed; nothing was published")
            leftover.unlink(missing_ok=True)
            _fsync(work)
            os.replace(work, db_path)  # the atomic swap
            _fsync(db_path.parent)
            return result
        finally:
            work.unlink(missing_ok=True)


def _refuse_if_written_elsewhere(db_path: Path) -> None:
    """Another process that has the warehouse open for writing (a DuckDB client, not a cmsref build: those take the
    build lock) holds DuckDB's write lock on the file: say which process, and publish nothing."""
    if not db_path.exists():
        return
    with open(db_path, "rb") as fh:
        try:
            fcntl.lockf(fh, fcntl.LOCK_SH | fcntl.LOCK_NB, 0, 0)  # fails only while someone holds a write lock
            fcntl.lockf(fh, fcntl.LOCK_UN, 0, 0)
            return
        except OSError:
            pass
    try:
        duckdb.connect(str(db_path), read_only=True).close()
    except duckdb.Error as exc:  # DuckDB's message names the process: "Conflicting lock is held in ... (PID n)"
        held = re.search(r"\(PID (\d+)\)", str(exc))
        raise PublishError(f"{db_path} is open for writing in another process (PID {held.group(1) if held else '?'}); "
                           f"close it and build again") from None


def _set_aside_stale_wal(db_path: Path) -> None:
    """A write-ahead log beside the warehouse that no process holds was left by a writer that crashed. It is never
    replayed into a published file (publishing swaps in a new main file; the old log would be applied to it and
    corrupt it): it is renamed `<file>.wal.stale-<UTC time>` and kept for inspection."""
    wal = Path(f"{db_path}.wal")
    if wal.exists():
        aside = wal.with_name(f"{wal.name}.stale-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}")
        wal.rename(aside)
        log.warning("%s: a write-ahead log left by a crashed writer was set aside as %s; it was not applied",
                    db_path, aside.name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(con, built, summary, now) -> PublishResult:
    previous, members = latest_version(con)
    new_ids, reused = [], []
    chosen = dict(members)
    for b in built:
        stored = _same_sources(con, b.dataset, b.period, b.fingerprint, latest_only=False)
        existing = [r for r in stored if same_catalog_entry(r[1:], b.catalog_entry)]
        if existing:
            release_id = existing[0][0]
            reused.append(release_id)
        else:
            if stored:
                b.notes.append(f"the same source files as {stored[0][0]}, built again because the release's catalog "
                               f"entry changed (window, release date, files or pins)")
            release_id = _store_release(con, b, now)
            new_ids.append(release_id)
        chosen[(b.dataset, b.period)] = release_id
    if chosen == members:
        return PublishResult(None, [], reused, f"nothing new to publish: the sources are unchanged since data "
                                               f"version {previous}")
    version = _version_name(con, chosen)
    windows = _windows(con, chosen)
    manifest = build_manifest(con, version, chosen, windows, defs=definitions(con))
    manifest_sha = sha256_json(manifest)
    seq = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM meta.data_versions").fetchone()[0]
    con.execute(
        "INSERT INTO meta.data_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq, version, now, __version__, manifest_sha, json.dumps(manifest, sort_keys=True), summary],
    )
    con.executemany("INSERT INTO meta.data_version_tables VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [[version, *w] for w in windows])
    msg = (f"published data version {version} (previous: {previous or 'none'}); new releases: "
           f"{', '.join(new_ids) or 'none'}")
    log.info(msg)
    return PublishResult(version, new_ids, reused, msg)


def _store_release(con, b: BuiltRelease, now) -> str:
    rev = con.execute("SELECT coalesce(max(revision), 0) + 1 FROM meta.releases WHERE dataset = ? AND period = ?",
                      [b.dataset, b.period]).fetchone()[0]
    release_id = f"{b.dataset}/{b.period}/r{rev}"
    period_end = load_dataset(b.dataset).period_end
    con.execute(
        "INSERT INTO meta.releases (release_id, dataset, period, revision, effective_from, stated_effective_to, "
        "period_end, cms_release_date, fingerprint, row_counts, validation_success, validation, notes, "
        "cmsref_version, built_at, catalog_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [release_id, b.dataset, b.period, rev, b.effective_from, b.stated_effective_to, period_end,
         b.cms_release_date, b.fingerprint, json.dumps(b.row_counts), bool(b.validation.get("success", False)),
         json.dumps(b.validation, sort_keys=True, default=str), json.dumps(b.notes), __version__, now,
         b.catalog_sha256],
    )
    for s in b.sources:
        con.execute(
            "INSERT INTO meta.source_files (release_id, kind, variant, url, archive_name, archive_sha256, "
            "member_name, size, sha256, retrieved_at, mirror_path, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [release_id, s.kind, s.variant, s.url, s.archive_name, s.archive_sha256, s.member_name, s.size,
             s.sha256, s.retrieved_at, s.mirror_path, s.role],
        )
    for name, frame in b.tables.items():
        table = TABLES[name]
        lacking = [c.name for c in table.columns if c.name not in frame.columns]
        if lacking:  # a column is never NULL silently: the layout reads it or transform/<dataset>.py fills it
            raise PublishError(f"{release_id}: the rows of {name} lack column(s) {', '.join(lacking)} of core/tables.py; "
                              f"read them in the layout, or fill them in transform/{b.dataset}.py and name them in "
                              f"the layout's `filled_by_transform`")
        cols = [c.name for c in table.columns] + ["source_sha256", "source_row"]
        arrow = frame.select(cols).to_arrow()
        con.register("incoming", arrow)
        try:
            con.execute(f"INSERT INTO store.{name} (release_id, {', '.join(cols)}) "
                        f"SELECT ?, {', '.join(cols)} FROM incoming", [release_id])
        finally:
            con.unregister("incoming")
    return release_id


def version_base(newest: date) -> str:
    """<year>.<quarter> of the newest effective_from in a version: 2025-10-01 -> 2025.4."""
    return f"{newest.year}.{(newest.month - 1) // 3 + 1}"


def _version_name(con, chosen) -> str:
    newest = max(
        con.execute("SELECT effective_from FROM meta.releases WHERE release_id = ?", [rid]).fetchone()[0]
        for rid in chosen.values()
    )
    base = version_base(newest)
    taken = {r[0] for r in con.execute(
        "SELECT data_version FROM meta.data_versions WHERE data_version = ? OR data_version LIKE ?",
        [base, base + ".%"]).fetchall()}
    if base not in taken:
        return base
    n = 1
    while f"{base}.{n}" in taken:
        n += 1
    return f"{base}.{n}"


def _windows(con, chosen) -> list[list]:
    """(table, release_id, dataset, period, effective_from, effective_to, row_count) for every table row set."""
    rows = []
    releases = {}
    for rid in chosen.values():
        releases[rid] = con.execute(
            "SELECT dataset, period, effective_from, stated_effective_to, row_counts FROM meta.releases "
            "WHERE release_id = ?", [rid]).fetchone()
    for table in TABLES:
        by_dataset: dict[str, list] = {}
        for rid, (dataset, period, eff_from, stated_to, counts) in releases.items():
            n = json.loads(counts).get(table, 0)
            if n:
                by_dataset.setdefault(dataset, []).append((eff_from, rid, period, stated_to, n))
        for dataset, items in by_dataset.items():
            spec = load_dataset(dataset)
            items.sort()
            for i, (eff_from, rid, period, stated_to, n) in enumerate(items):
                if spec.period_end == "none":  # releases coexist (vendor guides): open windows
                    rows.append([table, rid, dataset, period, eff_from, None, n])
                    continue
                ends = [spec.period_end_after(eff_from)]
                if stated_to:
                    ends.append(stated_to)
                if i + 1 < len(items):
                    ends.append(items[i + 1][0])
                rows.append([table, rid, dataset, period, eff_from, min(ends), n])
    return rows
