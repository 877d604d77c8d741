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

The package, module by module:
    inputs.py       query parameters and bodies parsed and checked (BadInput: a 400 naming the parameter)
    connections.py  Versions: per-thread read-only connections by warehouse file and data version, payment caches
    answers.py      the JSON answer and the headers naming the data version it was read from
    errors.py       Unavailable (the 503s) and the exception handlers: every failure one JSON answer, one log line
    middleware.py   BodyLimit (413), NotModified (304), LastResort (503, never a 500)
    routes/         one APIRouter per resource: versions, payment, codes, lines, pages (HTML, cmsref/pages.py)
create_app puts the Versions of its warehouse on `app.state.versions`; routes reach it as a dependency.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cmsref.serve import errors
from cmsref.serve.connections import Versions
from cmsref.serve.middleware import BodyLimit, LastResort, NotModified

__all__ = ["create_app", "run"]


def create_app(db: Path) -> FastAPI:
    from contextlib import asynccontextmanager

    from cmsref.serve.routes import codes, lines, pages, payment, versions

    @asynccontextmanager
    async def lifespan(app):
        yield
        app.state.versions.close()  # the hard link of the file being read goes with the server

    # FastAPIOffline: FastAPI whose /docs (Swagger UI) and /redoc load their files from this server, not a CDN
    app = FastAPIOffline(lifespan=lifespan, title="cmsref", version="1",
                         description="US Medicare (CMS) reference data by pinned data version: PFS payments, OPPS "
                                     "and ASC indicators, MUEs and add-on code edits, with the source of every number.")
    app.state.versions = Versions(db)

    app.add_middleware(BodyLimit)
    app.add_middleware(NotModified)
    app.add_middleware(LastResort)  # outermost: whatever the others let through is still one line and a 503
    errors.install(app)
    for resource in (versions, payment, codes, lines, pages):  # in this order in /docs
        app.include_router(resource.router)
    return app


def run(db: Path, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(db), host=host, port=port, log_level="warning")
