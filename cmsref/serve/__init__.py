"""`cmsref serve`: pinned data versions over HTTP (JSON, read-only) for tools in any language.

    GET  /api/versions                                      every data version, its manifest and releases
    GET  /api/{version}/payment?hcpcs=&date=&locality=&modifier=   PFS facility / non-facility amounts
    GET  /api/{version}/codes/{hcpcs}?date=                 everything about a code on a date of service
    POST /api/{version}/lines                               claim lines checked and priced in one query

`{version}` is a data version name or `latest`. Every answer carries the resolved version and its manifest SHA-256
(headers X-Cmsref-Version, X-Cmsref-Manifest-Sha256, ETag); a pinned version's answers never change, so they are
`Cache-Control: immutable`, and a GET or HEAD whose If-None-Match names the ETag gets a 304. Bad input is a 400 naming
the parameter; an unknown version or code a 404; a warehouse that cannot answer (missing, damaged, not a cmsref
warehouse, an altered data version) a 503 that says what to run. No answer is a 500, and none names a path of the
server's: those go to the server's log, one line per failed request. No SQL is built from request text: values are
bound as parameters.

Connections are read-only and locked down (warehouse.api.open_version). Each worker thread keeps one per (warehouse
file, version); a publish swaps in a new file, so `latest` is re-resolved on the next request without a restart and a
request is answered from one file, one version, start to end.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
from datetime import date
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

import duckdb

from core.errors import AlteredDataError, CmsrefError, NoDataError, PublishError
from warehouse.api import UnknownVersionError, open_version, pinned
from warehouse.lookup import SHOWN, TRACED, PaymentCache, code_record, dict_rows, explain_no_payment, found, on

HCPCS = re.compile(r"[0-9A-Za-z]{5}")
MODIFIER = re.compile(r"([0-9A-Za-z]{2})?")
LOCALITY = re.compile(r"(\d{1,5}):(\d{1,2})")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_LINES = 20_000
LINES_BODY = "a JSON object with a non-empty list `lines` is expected"
LINE_FIELDS = {"claim", "hcpcs", "modifier", "units", "date_of_service", "locality", "setting", "service_type", "qp"}
MAX_UNITS = 2**31 - 1
MAX_CACHED_VERSIONS = 4  # payment caches of this many data versions at most (~100 MB each when full)
MAX_BODY_BYTES = 16 * 1024 * 1024  # 20,000 lines of ~200 bytes, with room; a larger body is refused unread
BODY_KEYS = {"lines"}
RESTORE = "restore it from a copy or an export (`cmsref export`), or build it again with `cmsref build`"
FILE_HEADER_BYTES = 3 * 4096  # a DuckDB file: its main header and two database headers, then the blocks

log = logging.getLogger("cmsref.serve")


class BadInput(Exception):
    def __init__(self, parameter: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.parameter, self.message, self.headers = parameter, message, headers


class Unavailable(Exception):
    """The warehouse cannot answer: it is missing, damaged or not a cmsref warehouse, or a data version was altered.
    Answered 503 with `body` ({"error", ..., "detail"}: what is wrong and what to run), which never names a path: a
    client of the API is not the operator of its server. `logged` is the one line the server's log gets, and may
    name the file (the log is the operator's)."""

    def __init__(self, error: str, detail: str, logged: str, **extra):
        super().__init__(logged)
        self.body = {"error": error, **extra, "detail": detail}
        self.logged = " ".join(logged.split())  # one line, whatever DuckDB's message holds


def missing(db: Path) -> Unavailable:
    return Unavailable("no warehouse", "there is no warehouse file to answer from: run `cmsref build`, or restore the "
                                       "file from a copy or an export", f"no warehouse at {db}")


def foreign(db: Path, what: str, exc: Exception) -> Unavailable:
    return Unavailable("not a cmsref warehouse",
                       f"the warehouse file is {what}: start the server on a cmsref warehouse (`cmsref serve --db`), "
                       f"restore the file from a copy or an export, or build one with `cmsref build`",
                       f"{db} is not a cmsref warehouse ({what}): {exc}")


def damaged(db: Path, why: str, exc: Exception | str) -> Unavailable:
    return Unavailable("damaged warehouse", f"the warehouse file cannot be read ({why}): {RESTORE}",
                       f"{db} is damaged ({why}): {exc}")


def unreadable(db: Path, exc: Exception) -> Unavailable | None:
    """A DuckDB error (or PublishError from opening the file) that says the file itself cannot be read, as the 503
    it is; None for any other error (a fault of the server's, answered by the last resort)."""
    text = " ".join(str(exc).split())
    if "not a valid DuckDB database file" in text:
        return foreign(db, "not a DuckDB database", exc)
    if "Conflicting lock" in text or "open for writing in another process" in text:
        return Unavailable("warehouse busy", "another process holds the warehouse file open for writing: ask again "
                                             "when it has finished", f"{db} is held for writing: {text}")
    if "checksum" in text:
        return damaged(db, "a block's checksum does not match its bytes: they were overwritten", exc)
    if "Could not read enough bytes" in text:
        return damaged(db, "it ends before its last block: the file was cut short", exc)
    if isinstance(exc, (duckdb.IOException, duckdb.InternalException, duckdb.FatalException, PublishError)) or \
            "Corrupt database" in text or "invalidated" in text:
        return damaged(db, "DuckDB cannot read it", exc)
    return None


def altered(exc: AlteredDataError) -> Unavailable:
    """A data version whose rows no longer match its manifest is never answered from: its name and table are said,
    so that the operator knows what to restore."""
    return Unavailable(
        "altered data version",
        f"data version {exc.version}'s table {exc.table} no longer matches the manifest it was published with, so it "
        f"is not answered from: {RESTORE} (`cmsref verify --version {exc.version}` says what differs)",
        f"data version {exc.version} is altered (table {exc.table}): {exc}",
        data_version=exc.version, table=exc.table)


def failed(exc: BaseException) -> Unavailable:
    """The last resort: an error no handler knows (a fault of the server's, not of the request or the file) is a 503
    with a generic message and one line in the log, never a 500 with a traceback."""
    return Unavailable("internal error", "the server could not answer this request; its log says why: ask again, or "
                                         "tell the server's operator if it persists", _one_line(exc))


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:2000]


PATH = re.compile(r"(?<![\w:/.])/[^\s'\"(),;]+")


def without_paths(text: str, db: Path) -> str:
    """A message of cmsref's as a client may read it: every absolute path and the warehouse's own name taken out
    (messages name files for the person at the terminal; a client of the server is not that person)."""
    return " ".join(PATH.sub("<file>", text).replace(db.name, "<file>").split())


def _shown(value) -> str:
    """A value as a message quotes it: its repr, cut short (a 50 MB value is not sent back)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value, parameter: str, pattern: re.Pattern, expected: str) -> re.Match:
    """The whole value must match (a trailing newline does not); anything but a string is refused."""
    if value is None:
        raise BadInput(parameter, f"missing: {expected} is expected")
    m = pattern.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise BadInput(parameter, f"{_shown(value)} is not {expected}")
    return m


def _hcpcs(value, parameter: str = "hcpcs") -> str:
    return _text(value, parameter, HCPCS, "a HCPCS / CPT code: 5 letters or digits, e.g. 37252").group(0).upper()


def _date(value, parameter: str = "date") -> str:
    expected = "a date of the form YYYY-MM-DD, e.g. 2024-06-01"
    try:
        return date.fromisoformat(_text(value, parameter, ISO_DATE, expected).group(0)).isoformat()
    except ValueError:
        raise BadInput(parameter, f"{_shown(value)} is not {expected}") from None


def _modifier(value, parameter: str = "modifier") -> str:
    """None (absent) is no modifier."""
    if value is None:
        return ""
    return _text(value, parameter, MODIFIER, "a modifier: 2 letters or digits, e.g. 26 or TC").group(0).upper()


def _locality(value, parameter: str = "locality") -> tuple[str, str] | None:
    """None (absent) or an empty query parameter is national."""
    if value is None or value == "":
        return None
    m = _text(value, parameter, LOCALITY, "MAC:LOCALITY, e.g. 01182:18")
    return m.group(1).zfill(5), m.group(2).zfill(2)


def _units(value, parameter: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_UNITS:
        raise BadInput(parameter, f"{_shown(value)} is not a whole number of units from 1 to {MAX_UNITS:,}")
    return value


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


def create_app(db: Path) -> FastAPI:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield
        versions.close()  # the hard link of the file being read goes with the server

    # FastAPIOffline: FastAPI whose /docs (Swagger UI) and /redoc load their files from this server, not a CDN
    app = FastAPIOffline(lifespan=lifespan, title="cmsref", version="1",
                         description="US Medicare (CMS) reference data by pinned data version: PFS payments, OPPS "
                                     "and ASC indicators, MUEs and add-on code edits, with the source of every number.")
    versions = Versions(db)

    app.add_middleware(BodyLimit)
    app.add_middleware(NotModified)
    app.add_middleware(LastResort)  # outermost: whatever the others let through is still one line and a 503

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput):
        return JSONResponse({"error": "bad input", "parameter": exc.parameter, "detail": exc.message}, status_code=400,
                            headers=exc.headers)

    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """Our 404s as FastAPI sends them ({"detail": ...}); the framework's own 400 (a body that is not JSON) names
        the body like every other bad input."""
        if exc.status_code == 400:
            return JSONResponse({"error": "bad input", "parameter": "body", "detail": f"{exc.detail}: {LINES_BODY}"},
                                status_code=400, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def not_valid(request: Request, exc: RequestValidationError):
        """FastAPI's own checks (a required parameter missing, a body that is not a JSON object) answer like ours:
        400 naming the parameter, not 422."""
        first = (exc.errors() or [{}])[0]
        where = [str(p) for p in first.get("loc", ()) if p not in ("query", "path")]
        parameter = ".".join(where) or "request"
        detail = first.get("msg", "not valid")
        if first.get("type") == "missing":
            detail = "missing"
        elif where[:1] == ["body"]:
            detail = f"{detail}: {LINES_BODY}"
        return JSONResponse({"error": "bad input", "parameter": parameter, "detail": detail}, status_code=400)

    def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        """Every 503: its one line in the log, its JSON to the client; never kept by a cache."""
        log.warning("%s %s: %s", request.method, request.url.path, exc.logged)
        return JSONResponse(exc.body, status_code=503, headers={"Cache-Control": "no-store"})

    @app.exception_handler(Unavailable)
    async def unavailable_error(request: Request, exc: Unavailable):
        return unavailable(request, exc)

    @app.exception_handler(AlteredDataError)
    async def altered_error(request: Request, exc: AlteredDataError):
        return unavailable(request, altered(exc))

    @app.exception_handler(duckdb.Error)
    async def duckdb_error(request: Request, exc: duckdb.Error):
        """A query that met a damaged part of the file (DuckDB reads blocks as queries need them) is a 503 saying
        so; any other DuckDB error is the server's own fault, answered as the last resort does."""
        return unavailable(request, unreadable(versions.db, exc) or failed(exc))

    @app.exception_handler(CmsrefError)
    async def cmsref_error(request: Request, exc: CmsrefError):
        """cmsref's own errors by what they mean to a client; their messages name files, so they are said again
        without any path of the server's."""
        if isinstance(exc, UnknownVersionError):
            return JSONResponse({"detail": f"unknown data version {exc.version!r}; published: "
                                           f"{', '.join(exc.published) or 'none'}"}, status_code=404)
        if isinstance(exc, NoDataError):
            return JSONResponse({"detail": without_paths(str(exc), versions.db)}, status_code=404)
        if isinstance(exc, PublishError):
            return unavailable(request, unreadable(versions.db, exc) or damaged(versions.db, "see the log", exc))
        return unavailable(request, Unavailable("cannot answer", without_paths(str(exc), versions.db),
                                                _one_line(exc)))

    def answer(served: tuple, version: str, body, status: int = 200, cite: bool = True):
        """The JSON answer with the headers of the version it was read from (`served`: the request's connection, its
        version and manifest; never looked up again, so a publish meanwhile cannot mix two versions), and
        `source_files`: the file name, archive, URL and release of every source SHA-256 the answer cites."""
        con, name, sha = served
        if cite:
            files = versions.payments(name, sha).source_files(con)
            body = {**body, "source_files": {c: files[c] for c in sorted(_cited(body)) if c in files}}
        return JSONResponse(_jsonable({"data_version": name, "manifest_sha256": sha, **body}), status_code=status,
                            headers=version_headers(served, version))

    def get(path: str, **kwargs):
        """A GET route that answers HEAD too (headers only), as HTTP clients and caches expect."""
        return app.api_route(path, methods=["GET", "HEAD"], **kwargs)

    @get("/api/versions")
    def list_versions():
        served = con, _, _ = versions.connection("latest")
        out = dict_rows(con, "SELECT data_version, published_at, manifest_sha256, summary FROM meta.data_versions "
                         "ORDER BY seq", [])
        for v in out:
            v["releases"] = [r["release_id"] for r in dict_rows(
                con, "SELECT DISTINCT release_id FROM meta.data_version_tables WHERE data_version = ? ORDER BY 1",
                [v["data_version"]])]
        return JSONResponse(_jsonable({"versions": out}), headers=version_headers(served, "latest"))

    def check_locality(served: tuple, loc: tuple[str, str] | None, parameter: str, headers: dict | None = None):
        """A MAC:locality must be in a GPCI file of the served version: anything else is bad input (a 400)."""
        con, name, sha = served
        known = versions.payments(name, sha).localities(con)
        if loc is not None and loc not in known:
            same_mac = sorted(lo for mac, lo in known if mac == loc[0])
            hint = (f"MAC {loc[0]} has localities {', '.join(same_mac)}" if same_mac else
                    f"no GPCI file has MAC {loc[0]} (MACs: {', '.join(sorted({mac for mac, _ in known}))})")
            raise BadInput(parameter, f"'{loc[0]}:{loc[1]}' is not a MAC:locality of any GPCI file in data version "
                                      f"{name}: {hint}", headers)

    @get("/api/{version}/payment")
    def payment(version: str, hcpcs: str = Query(..., description="HCPCS / CPT code"),
                date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD"),
                locality: str | None = Query(None, description="MAC:LOCALITY, e.g. 01182:18 (default: national)"),
                modifier: str | None = Query(None, description="e.g. 26, TC (default: none)")):
        code, day, mod, loc = _hcpcs(hcpcs), _date(date_of_service), _modifier(modifier), _locality(locality)
        served = con, name, sha = versions.connection(version)
        headers = version_headers(served, version)
        check_locality(served, loc, "locality", headers)
        amounts = on(versions.payments(name, sha).windows(con, code, mod, loc), day)
        if not amounts:
            parameter, reason = explain_no_payment(con, code, day, mod, loc)
            if parameter:  # a MAC or locality that does not exist on that date is bad input, not missing data
                raise BadInput(parameter, reason, headers)
            raise HTTPException(404, reason, headers=headers)
        return answer(served, version, {"hcpcs": code, "date": day, "modifier": mod,
                                        "locality": f"{loc[0]}:{loc[1]}" if loc else "national",
                                        "amounts": [{c: a[c] for c in (*SHOWN, *TRACED)} for a in amounts]})

    @get("/api/{version}/codes/{hcpcs}")
    def code(version: str, hcpcs: str, date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD")):
        code, day = _hcpcs(hcpcs, "hcpcs (path)"), _date(date_of_service)
        served = con, name, sha = versions.connection(version)
        record = code_record(con, code, day)
        if not found(record):
            raise HTTPException(404, f"{code} is in no table in effect on {day} in data version {name}",
                                headers=version_headers(served, version))
        national = on(versions.payments(name, sha).windows(con, code), day) if record["pfs"] else []
        return answer(served, version, {"hcpcs": code, "date": day, **record, "pfs_national_payment": national})

    async def lines_body(request: Request) -> dict:
        """The /lines body parsed here rather than by FastAPI, which keeps the last of two equal keys without a word
        (`{"units": 1, "units": 9}` would be priced as 9 units): a duplicate key anywhere and a top-level key other
        than `lines` are bad input."""
        body = parse_json(await request.body())
        if not isinstance(body, dict):
            raise BadInput("body", LINES_BODY)
        unknown = sorted(set(body) - BODY_KEYS)
        if unknown:  # a misspelt `lines` or an option this server does not have would otherwise pass unnoticed
            named = ", ".join(_shown(k) for k in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise BadInput(unknown[0][:40], f"unknown key{'s' if len(unknown) > 1 else ''} {named}: the body has "
                                            f"only `lines`, a list of line objects")
        return body

    @app.post("/api/{version}/lines", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "required": ["lines"], "additionalProperties": False,
                                        "properties": {"lines": {"type": "array", "maxItems": MAX_LINES,
                                                                 "items": {"type": "object"}}}},
                             "example": {"lines": [
                                 {"hcpcs": "37252", "units": 1, "date_of_service": "2024-06-01",
                                  "locality": "01182:18", "setting": "facility", "service_type": "practitioner"}]}}}}})
    def lines(version: str, body: dict = Depends(lines_body)):
        items = body.get("lines")
        if not isinstance(items, list) or not items:
            raise BadInput("lines", LINES_BODY)
        if len(items) > MAX_LINES:
            raise BadInput("lines", f"at most {MAX_LINES} lines per request")
        rows = []
        for i, line in enumerate(items):
            where = f"lines[{i}]"
            if not isinstance(line, dict):
                raise BadInput(where, "each line is an object")
            unknown = sorted(set(line) - LINE_FIELDS)
            if unknown:  # a misspelt field would otherwise be a default taken silently (e.g. 1 unit)
                raise BadInput(f"{where}.{unknown[0][:40]}",
                               f"unknown field; a line has {', '.join(sorted(LINE_FIELDS))}")
            units = _units(line.get("units", 1), f"{where}.units")
            setting = line.get("setting", "non_facility")
            if setting not in ("facility", "non_facility"):
                raise BadInput(f"{where}.setting", f"{_shown(setting)} is not facility or non_facility")
            service = line.get("service_type", "practitioner")
            if service not in ("practitioner", "outpatient_hospital", "dme"):
                raise BadInput(f"{where}.service_type",
                               f"{_shown(service)} is not practitioner, outpatient_hospital or dme")
            loc = _locality(line.get("locality"), f"{where}.locality")
            claim, qp = line.get("claim"), line.get("qp", False)
            if claim is not None and not (isinstance(claim, str) and 0 < len(claim) <= 64):
                raise BadInput(f"{where}.claim", f"{_shown(claim)} is not a claim identifier: text of 1 to 64 "
                                                 f"characters (lines with the same claim are judged together)")
            if not isinstance(qp, bool):
                raise BadInput(f"{where}.qp", f"{_shown(qp)} is not true or false (true: the qualifying APM "
                                              f"participant conversion factor where a year has two)")
            rows.append((i + 1, claim, _hcpcs(line.get("hcpcs"), f"{where}.hcpcs"),
                         _modifier(line.get("modifier"), f"{where}.modifier"), units,
                         _date(line.get("date_of_service"), f"{where}.date_of_service"),
                         loc[0] if loc else None, loc[1] if loc else None, setting, service, qp))
        served = con, name, sha = versions.connection(version)
        first_line = {}  # each locality once, at its first line (in line order, so the first bad line is named)
        for line_no, *_, mac, loc, _, _, _ in rows:
            if mac:
                first_line.setdefault((mac, loc), line_no)
        headers = version_headers(served, version)
        for loc, line_no in first_line.items():
            check_locality(served, loc, f"lines[{line_no - 1}].locality", headers)
        import polars as pl

        frame = pl.DataFrame(rows, orient="row", schema={
            "line_no": pl.Int32, "claim_id": pl.String, "hcpcs": pl.String, "modifier": pl.String,
            "units": pl.Int32, "date_of_service": pl.String, "mac": pl.String, "locality": pl.String,
            "setting": pl.String, "service_type": pl.String, "qp": pl.Boolean,
        }).with_columns(pl.col("date_of_service").str.to_date())
        con.register("incoming_lines", frame.to_arrow())  # values as data, never as SQL text
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE claim_lines AS SELECT * FROM incoming_lines")
        finally:
            con.unregister("incoming_lines")
        try:
            result = dict_rows(con, """
SELECT l.line_no, l.claim_id AS claim, l.hcpcs, l.modifier, l.units, l.date_of_service, l.setting, p.locality,
       l.qp, p.pfs_amount, p.pfs_period, p.pfs_status_code, p.pfs_cf_variant, p.pfs_status,
       m.mue_period, m.mue_value, m.mai, m.units_compared, m.status AS mue_status,
       a.aoc_period, a.edit_type AS addon_edit_type, a.primaries_on_claim, a.status AS addon_status
FROM claim_lines l JOIN pfs_check('claim_lines') p USING (line_no)
JOIN mue_check('claim_lines') m USING (line_no)
JOIN addon_check('claim_lines') a USING (line_no)
ORDER BY l.line_no""", [])
        finally:
            con.execute("DROP TABLE IF EXISTS claim_lines")
        return answer(served, version, {"lines": result}, cite=False)  # lines cite no rows

    # ------------------------------------------------------------------------------ pages for people
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

    from cmsref import pages

    @get("/", response_class=HTMLResponse)
    def index():
        con, _, _ = versions.connection("latest")
        return pages.index_page(con)

    @get("/code")
    def code_search(hcpcs: str = Query(...), date_of_service: str = Query(..., alias="date"),
                    locality: str | None = Query(None)):
        code, day, loc = _hcpcs(hcpcs), _date(date_of_service), _locality(locality)
        check_locality(versions.connection("latest"), loc, "locality")
        query = f"date={day}" + (f"&locality={loc[0]}:{loc[1]}" if loc else "")
        return RedirectResponse(f"/code/{code}?{query}", status_code=303)

    @get("/code/{hcpcs}", response_class=HTMLResponse)
    def code_page(hcpcs: str, date_of_service: str = Query(..., alias="date"), locality: str | None = Query(None),
                  version: str = Query("latest")):
        code, day, loc = _hcpcs(hcpcs, "hcpcs (path)"), _date(date_of_service), _locality(locality)
        served = con, name, sha = versions.connection(version)
        headers = version_headers(served, version)
        check_locality(served, loc, "locality", headers)
        record = code_record(con, code, day)
        if not found(record):
            return HTMLResponse(pages.not_found_page(code, day, f"{code} is in no table in effect on {day} in data "
                                                                f"version {name}"), status_code=404, headers=headers)
        cache = versions.payments(name, sha)
        return HTMLResponse(pages.code_page(con, name, sha, code, day, loc, record,
                                            lambda at: cache.windows(con, code, "", at)), headers=headers)

    @get("/source/{sha256}", response_class=HTMLResponse)
    def source(sha256: str, row: int | None = Query(None)):
        _text(sha256, "sha256", SHA256, "a SHA-256 (64 hexadecimal digits)")
        con, _, _ = versions.connection("latest")
        return pages.source_page(con, sha256, row)

    @get("/notes/{version}", response_class=HTMLResponse)
    def notes(version: str):
        from warehouse.diff import release_notes

        con, latest, _ = versions.connection("latest")
        version = latest if version == "latest" else version
        try:
            return pages.notes_page(release_notes(con, version), version)
        except CmsrefError as exc:
            raise HTTPException(404, str(exc)) from None

    @get("/diff", response_class=HTMLResponse)
    def diff_versions(a: str = Query(...), b: str = Query(...)):
        from warehouse.diff import UnknownLabel, diff

        con, _, _ = versions.connection("latest")
        try:
            return pages.diff_page(diff(con, a, b), a, b)
        except UnknownLabel as exc:
            raise BadInput("a" if exc.label == a else "b", str(exc)) from None
        except CmsrefError as exc:  # two labels that cannot be compared: the second does not fit the first
            raise BadInput("b", str(exc)) from None

    @get("/reports/{release_id:path}")
    def report(release_id: str):
        con, _, _ = versions.connection("latest")
        found = next(iter(con.execute("SELECT validation FROM meta.releases WHERE release_id = ?",
                                      [release_id]).fetchall()), None)
        path = pages.report_file(found[0]) if found else None
        if path is None:
            raise HTTPException(404, f"no validation report kept for release {release_id!r}")
        return FileResponse(path, media_type="text/html")

    return app


def version_headers(served: tuple, version: str) -> dict:
    """The headers naming what answered: the resolved data version and its manifest; a pinned version's answers
    never change (cacheable forever), `latest` must be asked again."""
    _, name, sha = served
    return {"X-Cmsref-Version": name, "X-Cmsref-Manifest-Sha256": sha, "ETag": f'"{sha}"',
            "Cache-Control": "public, max-age=31536000, immutable" if version != "latest" else "no-cache"}


class BodyLimit:
    """Refuse a request body over MAX_BODY_BYTES with a 413, by its Content-Length before reading it, or while
    reading a body sent without one: the server never holds more than that of one request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            if length.isdigit() and int(length) <= 16 * MAX_BODY_BYTES:
                await _drain(receive)  # read and dropped, so that the client, still sending, hears the 413
            return await _too_large(send)
        seen, too_large = 0, False

        async def counted():
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:  # the app sees the client gone; its answer is replaced by the 413
                too_large = True
                return {"type": "http.disconnect"}
            return message

        async def unless_too_large(message):
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counted, unless_too_large)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await _drain(receive)
            await _too_large(send)


class NotModified:
    """A GET or HEAD whose If-None-Match names the ETag of its answer (one of a list, weak or strong, or `*`) gets a
    304 with the version headers and no body: a client holding that data version's answer is not sent it again.
    Judged on the answer itself, a 200 with an ETag, so every versioned endpoint has it and nothing else does (an
    error is never a 304)."""

    KEPT = {b"etag", b"x-cmsref-version", b"x-cmsref-manifest-sha256", b"cache-control", b"vary", b"expires",
            b"content-location", b"date"}

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        asked = [v for k, v in scope.get("headers") or () if k == b"if-none-match"] if scope["type"] == "http" \
            and scope["method"] in ("GET", "HEAD") else []
        if not asked:
            return await self.app(scope, receive, send)
        tags = {t.strip().removeprefix(b"W/") for value in asked for t in value.split(b",")}
        matched = False

        async def unless_matched(message):
            nonlocal matched
            if message["type"] == "http.response.start" and message["status"] == 200:
                etag = dict(message.get("headers") or ()).get(b"etag")
                if etag and (b"*" in tags or etag.removeprefix(b"W/") in tags):
                    matched = True
                    await send({"type": "http.response.start", "status": 304,
                                "headers": [(k, v) for k, v in message["headers"] if k in self.KEPT]})
                    await send({"type": "http.response.body", "body": b""})
                    return
            if not matched:  # the answer's body is dropped: the client has it
                await send(message)

        await self.app(scope, receive, unless_matched)


class LastResort:
    """Whatever escapes every handler is answered 503 with a generic JSON message and logged as one line, without a
    traceback: no request is ever answered 500 (Starlette's own last handler answers 500 and lets the server log
    the traceback). A client gone before sending its body is not an error: there is no one to answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import ClientDisconnect

        started = False

        async def noted(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noted)
        except ClientDisconnect:
            return
        except Exception as exc:  # noqa: BLE001 - the point of a last resort
            error = failed(exc)
            log.warning("%s %s: %s", scope.get("method"), scope.get("path"), error.logged)
            if started:  # the answer was under way: it cannot be replaced, only cut short
                return
            body = json.dumps(error.body).encode()
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})


async def _drain(receive) -> None:
    message = {"more_body": True}
    while message.get("more_body") and message.get("type", "http.request") == "http.request":
        message = await receive()


async def _too_large(send) -> None:
    body = json.dumps({"error": "bad input", "parameter": "body",
                       "detail": f"the request body is over {MAX_BODY_BYTES // 2**20} MiB (at most {MAX_LINES:,} "
                                 f"lines per request)"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def parse_json(raw: bytes):
    """A JSON body, refusing what json.loads lets through silently: a key given twice in one object (the first is
    dropped) is a 400 naming the key and where it is (`lines[2].units`; `body` at the top)."""
    doubled: dict[int, tuple[dict, str]] = {}  # id -> (the object, kept alive so that its id is not reused; key)

    def pairs(items: list) -> dict:
        obj = dict(items)
        if len(obj) < len(items):
            seen: set = set()
            doubled[id(obj)] = (obj, next(k for k, _ in items if k in seen or seen.add(k)))
        return obj

    try:
        value = json.loads(raw, object_pairs_hook=pairs)
    except RecursionError:
        raise BadInput("body", f"the body is nested too deeply: {LINES_BODY}") from None
    except json.JSONDecodeError as exc:
        raise BadInput("body", f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                               f"{LINES_BODY}") from None
    except ValueError:  # not UTF-8 / 16 / 32 text
        raise BadInput("body", f"the body is not JSON text: {LINES_BODY}") from None
    if doubled:
        where, key = _first_doubled(value, doubled)
        raise BadInput(f"{where}.{key[:40]}" if where else "body",
                       f"key {_shown(key)} appears more than once in {where or 'the body'}: a JSON object names each "
                       f"key once (which one was meant?)")
    return value


def _first_doubled(value, doubled: dict) -> tuple[str, str]:
    """The place ('' for the top, 'lines[2]') and key of the first object, in the body's order, that names a key
    twice. An object dropped as a doubled key's earlier value is not reachable, but its parent is then doubled too."""
    stack = [("", value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            if id(node) in doubled:
                return where, doubled[id(node)][1]
            stack.extend(reversed([(f"{where}.{k[:40]}" if where else k[:40], v) for k, v in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{where or 'body'}[{i}]", v) for i, v in enumerate(node)]))
    raise AssertionError("a doubled key was recorded but not found")  # the root is always reachable


def _cited(value) -> set[str]:
    """The SHA-256s an answer cites: the values of its keys that end in source_sha256."""
    if isinstance(value, dict):
        return {v for k, v in value.items() if k.endswith("source_sha256") and isinstance(v, str)} | {
            c for v in value.values() for c in _cited(v)}
    if isinstance(value, (list, tuple)):
        return {c for v in value for c in _cited(v)}
    return set()


def _jsonable(value):
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)  # money and RVUs as the exact decimal text, never a float
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def run(db: Path, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(db), host=host, port=port, log_level="warning")
