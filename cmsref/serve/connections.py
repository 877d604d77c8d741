"""The warehouse file as `cmsref serve` reads it: Versions keeps read-only, locked-down connections
(warehouse.api.open_version) per worker thread, keyed by the file's identity and the data version, opens each file
under a path of its own (a hard link beside it or a private copy), keeps the payment caches of the data versions
asked for, and removes the links a killed server left. A publish swaps in a new file, so `latest` is re-resolved on
the next request without a restart and a request is answered from one file, one version, start to end."""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from fastapi import HTTPException

import duckdb

from cmsref.serve.errors import RESTORE, Unavailable, damaged, foreign, missing, unreadable
from core.errors import PublishError
from warehouse.api import UnknownVersionError, open_version, pinned
from warehouse.lookup import PaymentCache

MAX_CACHED_VERSIONS = 4  # payment caches of this many data versions at most (~100 MB each when full)
FILE_HEADER_BYTES = 3 * 4096  # a DuckDB file: its main header and two database headers, then the blocks


class Versions:
    """Read-only connections per worker thread, keyed by the warehouse file's identity and the data version.

    A publish renames a new file over the warehouse while threads still read the old one. DuckDB keeps one database
    per resolved path (symbolic links resolved), so a thread connecting by the warehouse's name would be handed the
    replaced file as long as any connection to it is open. Each file the server reads is therefore opened under a
    path of its own: a hard link `<file>.serving-<pid>-<token>-<inode>` beside it, or where no link can be made (a
    read-only folder, another user's file under protected_hardlinks) a private copy in a temporary folder. The path
    is removed when the next file appears and at shutdown; links left by a server that was killed are removed when
    the next one starts (each holds a whole old warehouse on disk)."""

    def __init__(self, db: Path):
        self.db = Path(db)
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"  # two servers of one process never share a path
        self.local = threading.local()
        self.lock = threading.Lock()
        self.current: tuple | None = None  # (identity, path) of the file now at self.db
        self.copies: Path | None = None  # the temporary folder of private copies, made when first needed
        self.caches: dict[tuple[str, str], PaymentCache] = {}  # per (data version, manifest): never stale
        self.opened: list = []  # every connection of every thread, to close at shutdown
        remove_orphan_links(self.db)

    def _path(self, identity) -> Path | None:
        """The path this server reads the file of `identity` through, made on first use; None when the file at the
        warehouse's name is no longer that one (swapped again meanwhile: the caller looks again)."""
        with self.lock:
            if self.current is not None and self.current[0] == identity:
                return self.current[1]
            link = self.db.with_name(f"{self.db.name}.serving-{self.token}-{identity[0]}")
            try:
                link.unlink(missing_ok=True)
                os.link(self.db, link)
            except OSError:
                link = self._copy(identity)
            else:
                if link.stat().st_ino != identity[0]:
                    link.unlink()
                    link = None
            if link is None:
                return None
            old, self.current = self.current, (identity, link)
            if old:
                old[1].unlink(missing_ok=True)  # open connections keep reading the file they opened
            return link

    def _copy(self, identity) -> Path | None:
        import shutil
        import tempfile

        if self.copies is None:
            self.copies = Path(tempfile.mkdtemp(prefix="cmsref-serve-"))
        target = self.copies / f"{identity[0]}.duckdb"
        with open(self.db, "rb") as src:
            if os.fstat(src.fileno()).st_ino != identity[0]:
                return None
            with open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        return target

    def payments(self, name: str, sha: str) -> PaymentCache:
        """The payment cache of a published data version (its name and manifest): shared by every thread and kept
        across publishes, since a published version never changes."""
        with self.lock:
            cache = self.caches.pop((name, sha), None) or PaymentCache()
            self.caches[(name, sha)] = cache  # the most recently asked last; at most MAX_CACHED_VERSIONS kept
            while len(self.caches) > MAX_CACHED_VERSIONS:
                del self.caches[next(iter(self.caches))]
            return cache

    def close(self) -> None:
        """At shutdown (no request running): every connection closed, the link or copy removed."""
        import shutil

        with self.lock:
            for con in self.opened:
                con.close()
            self.opened.clear()
            if self.current:
                self.current[1].unlink(missing_ok=True)
            self.current = None
            if self.copies is not None:
                shutil.rmtree(self.copies, ignore_errors=True)

    def connection(self, version: str):
        cache = getattr(self.local, "cache", None)
        for _ in range(5):
            try:
                stat = os.stat(self.db)
                identity = (stat.st_ino, stat.st_mtime_ns)
                if cache is not None and cache[0] == identity and version in cache[1]:
                    return cache[1][version]
                path = self._path(identity)
            except FileNotFoundError:  # none there, or removed between the look and the link
                raise missing(self.db) from None
            except OSError as exc:  # a folder, a file the server may not read
                raise Unavailable("unreadable warehouse", f"the warehouse file cannot be read "
                                  f"({os.strerror(exc.errno) if exc.errno else 'not a file'}): check what is at "
                                  f"its place and its permissions, or {RESTORE}", f"{self.db}: {exc}") from None
            if path is not None:
                break
        else:
            raise Unavailable("warehouse being replaced", "the warehouse file was replaced five times while opening "
                              "it: ask again", f"{self.db} was replaced five times while opening it")
        if cache is None or cache[0] != identity:  # a publish swapped in a new file
            for con, _, _ in (cache[1].values() if cache else ()):
                con.close()
                with self.lock:
                    self.opened.remove(con)
            cache = self.local.cache = (identity, {})
        cache[1][version] = served = self._open(path, version)
        with self.lock:
            self.opened.append(served[0])
        return served

    def _open(self, path: Path, version: str) -> tuple:
        """A connection of one data version with its name and manifest; a file that is not a whole cmsref warehouse
        is a 503 here, before any endpoint reads it: a foreign DuckDB file fails on meta.data_versions, and a cut
        short one is found by its size (DuckDB reads a block only when a query needs it)."""
        try:
            con = open_version(path, version)
        except UnknownVersionError as exc:  # said without the server's file path
            raise HTTPException(404, "no data version is published yet: run `cmsref build`" if version == "latest"
                                else f"unknown data version {exc.version!r}; published: "
                                     f"{', '.join(exc.published) or 'none'}") from None
        except duckdb.CatalogException as exc:
            raise foreign(self.db, "a DuckDB database without cmsref's data versions (meta.data_versions)",
                          exc) from None
        except (duckdb.Error, PublishError) as exc:
            if not path.exists():  # the link went with a publish that came meanwhile: not a fault of the file
                raise Unavailable("warehouse being replaced", "the warehouse file was replaced while opening it: "
                                  "ask again", f"{path} was removed while opening it") from None
            raise unreadable(self.db, exc) or exc from None
        try:
            _, _, block_size, blocks, *_ = con.execute("PRAGMA database_size").fetchall()[0]
            size = os.stat(path).st_size
            if size < FILE_HEADER_BYTES + blocks * block_size:
                raise damaged(self.db, "it ends before its last block: the file was cut short",
                              f"{size:,} bytes, {blocks} blocks of {block_size:,} bytes")
            return (con, *pinned(con))
        except BaseException:
            con.close()
            raise


def remove_orphan_links(db: Path) -> None:
    """Remove `<db>.serving-<pid>-...` links whose server process is gone (killed, crashed)."""
    for link in db.parent.glob(f"{db.name}.serving-*"):
        pid = link.name.rsplit(".serving-", 1)[1].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            link.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
