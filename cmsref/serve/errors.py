"""The errors of `cmsref serve` and how each is answered. Bad input is a 400 naming the parameter; an unknown
version or code a 404 ({"detail": ...}, as FastAPI sends them); a warehouse that cannot answer (Unavailable: missing,
damaged, not a cmsref warehouse, an altered data version) a 503 whose JSON says what to run, and one line in the
server's log. No answer names a path of the server's: a client of the API is not the operator of its server.
`install` registers the handlers on an app."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import duckdb

from cmsref.serve.inputs import LINES_BODY, BadInput
from core.errors import AlteredDataError, CmsrefError, NoDataError, PublishError
from warehouse.api import UnknownVersionError

RESTORE = "restore it from a copy or an export (`cmsref export`), or build it again with `cmsref build`"

log = logging.getLogger("cmsref.serve")


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


# ------------------------------------------------------------------------------ the handlers


async def bad_input(request: Request, exc: BadInput):
    return JSONResponse({"error": "bad input", "parameter": exc.parameter, "detail": exc.message}, status_code=400,
                        headers=exc.headers)


async def http_error(request: Request, exc: StarletteHTTPException):
    """Our 404s as FastAPI sends them ({"detail": ...}); the framework's own 400 (a body that is not JSON) names
    the body like every other bad input."""
    if exc.status_code == 400:
        return JSONResponse({"error": "bad input", "parameter": "body", "detail": f"{exc.detail}: {LINES_BODY}"},
                            status_code=400, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


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


async def unavailable_error(request: Request, exc: Unavailable):
    return unavailable(request, exc)


async def altered_error(request: Request, exc: AlteredDataError):
    return unavailable(request, altered(exc))


async def duckdb_error(request: Request, exc: duckdb.Error):
    """A query that met a damaged part of the file (DuckDB reads blocks as queries need them) is a 503 saying
    so; any other DuckDB error is the server's own fault, answered as the last resort does."""
    return unavailable(request, unreadable(request.app.state.versions.db, exc) or failed(exc))


async def cmsref_error(request: Request, exc: CmsrefError):
    """cmsref's own errors by what they mean to a client; their messages name files, so they are said again
    without any path of the server's."""
    db = request.app.state.versions.db
    if isinstance(exc, UnknownVersionError):
        return JSONResponse({"detail": f"unknown data version {exc.version!r}; published: "
                                       f"{', '.join(exc.published) or 'none'}"}, status_code=404)
    if isinstance(exc, NoDataError):
        return JSONResponse({"detail": without_paths(str(exc), db)}, status_code=404)
    if isinstance(exc, PublishError):
        return unavailable(request, unreadable(db, exc) or damaged(db, "see the log", exc))
    return unavailable(request, Unavailable("cannot answer", without_paths(str(exc), db), _one_line(exc)))


def install(app: FastAPI) -> None:
    """The handlers above on `app` (whose `state.versions` is the server's Versions)."""
    app.add_exception_handler(BadInput, bad_input)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, not_valid)
    app.add_exception_handler(Unavailable, unavailable_error)
    app.add_exception_handler(AlteredDataError, altered_error)
    app.add_exception_handler(duckdb.Error, duckdb_error)
    app.add_exception_handler(CmsrefError, cmsref_error)
