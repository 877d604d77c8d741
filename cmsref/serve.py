"""`cmsref serve`: pinned data versions over HTTP (JSON, read-only) for tools in any language.

    GET  /api/versions                                      every data version, its manifest and releases
    GET  /api/{version}/payment?hcpcs=&date=&locality=&modifier=   PFS facility / non-facility amounts
    GET  /api/{version}/codes/{hcpcs}?date=                 everything about a code on a date of service
    POST /api/{version}/lines                               claim lines checked and priced in one query

`{version}` is a data version name or `latest`. Every answer carries the resolved version and its manifest SHA-256
(headers X-Cmsref-Version, X-Cmsref-Manifest-Sha256, ETag); a pinned version's answers never change, so they are
`Cache-Control: immutable`. Bad input is a 400 naming the parameter; an unknown version or code a 404. No SQL is built
from request text: values are bound as parameters.

Connections are read-only and locked down (warehouse.api.open_version). Each worker thread keeps one per (warehouse
file, version); a publish swaps in a new file, so `latest` is re-resolved on the next request without a restart and a
request is answered from one file, one version, start to end.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import date
from pathlib import Path

from fastapi import Body, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from cmsref.errors import CmsrefError
from warehouse.api import UnknownVersionError, open_version
from warehouse.lookup import SHOWN, TRACED, PaymentCache, explain_no_payment, on

HCPCS = re.compile(r"^[0-9A-Za-z]{5}$")
MODIFIER = re.compile(r"^([0-9A-Za-z]{2})?$")
LOCALITY = re.compile(r"^(\d{1,5}):(\d{1,2})$")
MAX_LINES = 20_000


class BadInput(Exception):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter, self.message = parameter, message


def _hcpcs(value: str, parameter: str = "hcpcs") -> str:
    if not HCPCS.match(value or ""):
        raise BadInput(parameter, f"{value!r} is not a HCPCS / CPT code: 5 letters or digits, e.g. 37252")
    return value.upper()


def _date(value: str | None, parameter: str = "date") -> str:
    try:
        return date.fromisoformat(value or "").isoformat()
    except ValueError:
        raise BadInput(parameter, f"{value!r} is not a date of the form YYYY-MM-DD, e.g. 2024-06-01") from None


def _modifier(value: str | None, parameter: str = "modifier") -> str:
    if not MODIFIER.match(value or ""):
        raise BadInput(parameter, f"{value!r} is not a modifier: 2 letters or digits, e.g. 26 or TC")
    return (value or "").upper()


def _locality(value: str | None, parameter: str = "locality") -> tuple[str, str] | None:
    if not value:
        return None
    m = LOCALITY.match(value)
    if not m:
        raise BadInput(parameter, f"{value!r} is not MAC:LOCALITY, e.g. 01182:18")
    return m.group(1).zfill(5), m.group(2).zfill(2)


def _rows(con, sql: str, params: list) -> list[dict]:
    rel = con.execute(sql, params)
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r)) for r in rel.fetchall()]


class Versions:
    """Read-only connections per worker thread, keyed by the warehouse file's identity and the data version.

    A publish renames a new file over the warehouse while threads still read the old one. DuckDB keeps one database
    per resolved path, so a thread connecting by the warehouse's name could be handed the replaced file. Each file the
    server reads is therefore opened through a hard link of its own (`<file>.serving-<pid>-<inode>`, removed when
    the next file appears): a new file is a new path. Where no link can be made (a read-only folder), the warehouse's
    own name is used."""

    def __init__(self, db: Path):
        self.db = Path(db)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.current: tuple | None = None  # (identity, path) of the file now at self.db
        self.caches: dict[tuple[str, str], PaymentCache] = {}  # per (data version, manifest): never stale
        for old in self.db.parent.glob(f"{self.db.name}.serving-{os.getpid()}-*"):
            old.unlink(missing_ok=True)

    def _path(self, identity) -> Path:
        with self.lock:
            if self.current is None or self.current[0] != identity:
                link = self.db.with_name(f"{self.db.name}.serving-{os.getpid()}-{identity[0]}")
                try:
                    link.unlink(missing_ok=True)
                    os.link(self.db, link)
                    if link.stat().st_ino != identity[0]:  # swapped again meanwhile: read it on the next request
                        link.unlink()
                        return self.db
                except OSError:
                    link = self.db
                old, self.current = self.current, (identity, link)
                if old and old[1] not in (self.db, link):
                    old[1].unlink(missing_ok=True)  # open connections keep reading the file they opened
            return self.current[1]

    def payments(self, name: str, sha: str) -> PaymentCache:
        """The payment cache of a published data version (its name and manifest): shared by every thread and kept
        across publishes, since a published version never changes."""
        with self.lock:
            return self.caches.setdefault((name, sha), PaymentCache())

    def close(self) -> None:
        with self.lock:
            if self.current and self.current[1] != self.db:
                self.current[1].unlink(missing_ok=True)
            self.current = None

    def connection(self, version: str):
        try:
            stat = os.stat(self.db)
        except FileNotFoundError:
            raise HTTPException(503, f"no warehouse at {self.db}: run `cmsref build` first") from None
        identity = (stat.st_ino, stat.st_mtime_ns)
        cache = getattr(self.local, "cache", None)
        if cache is None or cache[0] != identity:  # a publish swapped in a new file
            for con, _, _ in (cache[1].values() if cache else ()):
                con.close()
            cache = self.local.cache = (identity, {})
        if version not in cache[1]:
            try:
                con = open_version(self._path(identity), version)
            except UnknownVersionError as exc:
                raise HTTPException(404, str(exc)) from None
            name = con.execute("SELECT pinned_version()").fetchall()[0][0]
            sha = con.execute("SELECT manifest_sha256 FROM meta.data_versions WHERE data_version = ?",
                              [name]).fetchall()[0][0]
            cache[1][version] = (con, name, sha)
        return cache[1][version]


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

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput):
        return JSONResponse({"error": "bad input", "parameter": exc.parameter, "detail": exc.message}, status_code=400)

    @app.exception_handler(CmsrefError)
    async def cmsref_error(request: Request, exc: CmsrefError):
        return JSONResponse({"error": str(exc)}, status_code=500)

    def answer(served: tuple, version: str, body, status: int = 200):
        """The JSON answer with the headers of the version it was read from (`served`: the request's connection, its
        version and manifest; never looked up again, so a publish meanwhile cannot mix two versions)."""
        _, name, sha = served
        headers = {"X-Cmsref-Version": name, "X-Cmsref-Manifest-Sha256": sha, "ETag": f'"{sha}"',
                   "Cache-Control": "public, max-age=31536000, immutable" if version != "latest" else "no-cache"}
        return JSONResponse(_jsonable({"data_version": name, "manifest_sha256": sha, **body}), status_code=status,
                            headers=headers)

    @app.get("/api/versions")
    def list_versions():
        con, _, _ = versions.connection("latest")
        out = _rows(con, "SELECT data_version, published_at, manifest_sha256, summary FROM meta.data_versions "
                         "ORDER BY seq", [])
        for v in out:
            v["releases"] = [r["release_id"] for r in _rows(
                con, "SELECT DISTINCT release_id FROM meta.data_version_tables WHERE data_version = ? ORDER BY 1",
                [v["data_version"]])]
        return JSONResponse(_jsonable({"versions": out}), headers={"Cache-Control": "no-cache"})

    @app.get("/api/{version}/payment")
    def payment(version: str, hcpcs: str = Query(..., description="HCPCS / CPT code"),
                date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD"),
                locality: str | None = Query(None, description="MAC:LOCALITY, e.g. 01182:18 (default: national)"),
                modifier: str | None = Query(None, description="e.g. 26, TC (default: none)")):
        code, day, mod, loc = _hcpcs(hcpcs), _date(date_of_service), _modifier(modifier), _locality(locality)
        served = con, name, sha = versions.connection(version)
        amounts = on(versions.payments(name, sha).windows(con, code, mod, loc), day)
        if not amounts:
            parameter, reason = explain_no_payment(con, code, day, mod, loc)
            if parameter:  # a MAC or locality that does not exist is bad input, not missing data
                raise BadInput(parameter, reason)
            raise HTTPException(404, reason)
        return answer(served, version, {"hcpcs": code, "date": day, "modifier": mod,
                                        "locality": f"{loc[0]}:{loc[1]}" if loc else "national",
                                        "amounts": [{c: a[c] for c in (*SHOWN, *TRACED)} for a in amounts]})

    @app.get("/api/{version}/codes/{hcpcs}")
    def code(version: str, hcpcs: str, date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD")):
        code, day = _hcpcs(hcpcs), _date(date_of_service)
        served = versions.connection(version)
        con = served[0]
        p = [day, code]
        pfs = _rows(con, "SELECT * FROM pfs_rvu_on(CAST(? AS DATE)) WHERE hcpcs = ? ORDER BY modifier", p)
        opps = _rows(con, "SELECT * FROM opps_addendum_b_on(CAST(? AS DATE)) WHERE hcpcs = ?", p)
        asc = _rows(con, "SELECT 'AA' AS addendum, * FROM asc_addendum_aa_on(CAST(? AS DATE)) WHERE hcpcs = ? "
                         "UNION ALL BY NAME SELECT 'BB' AS addendum, * FROM asc_addendum_bb_on(CAST(? AS DATE)) "
                         "WHERE hcpcs = ?", p + p)
        mue = _rows(con, "SELECT * FROM mue_on(CAST(? AS DATE)) WHERE hcpcs = ? ORDER BY service_type", p)
        addon = _rows(con, "SELECT * FROM addon_edits_on(CAST(? AS DATE)) WHERE addon_code = ? ORDER BY primary_code",
                      p)
        primary_of = [r["addon_code"] for r in _rows(
            con, "SELECT DISTINCT addon_code FROM addon_edits_on(CAST(? AS DATE)) WHERE primary_code = ? ORDER BY 1", p)]
        status = _rows(con, "SELECT * FROM code_status(?, CAST(? AS DATE))", [code, day])
        national = on(versions.payments(*served[1:]).windows(con, code), day) if pfs else []
        if not (pfs or opps or asc or mue or addon or primary_of):
            raise HTTPException(404, f"{code} is in no table in effect on {day} in this data version")
        return answer(served, version, {"hcpcs": code, "date": day, "settings": status, "pfs": pfs,
                                "pfs_national_payment": national, "opps": opps, "asc": asc, "mue": mue,
                                "addon_primaries": addon, "primary_of_addon_codes": primary_of})

    @app.post("/api/{version}/lines")
    def lines(version: str, body: dict = Body(..., examples=[{"lines": [
            {"hcpcs": "37252", "units": 1, "date_of_service": "2024-06-01", "locality": "01182:18",
             "setting": "facility", "service_type": "practitioner"}]}])):
        items = body.get("lines") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise BadInput("lines", "a JSON object with a non-empty list `lines` is expected")
        if len(items) > MAX_LINES:
            raise BadInput("lines", f"at most {MAX_LINES} lines per request")
        rows = []
        for i, line in enumerate(items):
            where = f"lines[{i}]"
            if not isinstance(line, dict):
                raise BadInput(where, "each line is an object")
            units = line.get("units", 1)
            if not isinstance(units, int) or units < 1:
                raise BadInput(f"{where}.units", f"{units!r} is not a positive whole number")
            setting = line.get("setting", "non_facility")
            if setting not in ("facility", "non_facility"):
                raise BadInput(f"{where}.setting", f"{setting!r} is not facility or non_facility")
            service = line.get("service_type", "practitioner")
            if service not in ("practitioner", "outpatient_hospital", "dme"):
                raise BadInput(f"{where}.service_type", f"{service!r} is not practitioner, outpatient_hospital or dme")
            loc = _locality(line.get("locality"), f"{where}.locality")
            rows.append((i + 1, _hcpcs(line.get("hcpcs", ""), f"{where}.hcpcs"),
                         _modifier(line.get("modifier"), f"{where}.modifier"), units,
                         _date(line.get("date_of_service"), f"{where}.date_of_service"),
                         loc[0] if loc else None, loc[1] if loc else None, setting, service))
        served = con, name, sha = versions.connection(version)
        known = versions.payments(name, sha).localities(con)
        for line_no, *_, mac, loc, _, _ in rows:
            if mac is not None and (mac, loc) not in known:
                raise BadInput(f"lines[{line_no - 1}].locality", f"'{mac}:{loc}' is not a MAC:locality of any GPCI "
                               f"file in data version {name}")
        import polars as pl

        frame = pl.DataFrame(rows, orient="row", schema={
            "line_no": pl.Int32, "hcpcs": pl.String, "modifier": pl.String, "units": pl.Int32,
            "date_of_service": pl.String, "mac": pl.String, "locality": pl.String, "setting": pl.String,
            "service_type": pl.String}).with_columns(pl.col("date_of_service").str.to_date())
        con.register("incoming_lines", frame.to_arrow())  # values as data, never as SQL text
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE claim_lines AS SELECT * FROM incoming_lines")
        finally:
            con.unregister("incoming_lines")
        try:
            result = _rows(con, """
WITH payment AS (  -- only the codes on the lines: the view computes nothing else
  SELECT * FROM pfs_payment WHERE hcpcs IN (SELECT hcpcs FROM claim_lines) AND cf_variant IN ('all', 'non_qp')),
priced AS (  -- national rows have no MAC or locality, like a line without a locality
  SELECT l.line_no, min(p.amount) AS pfs_amount, min(p.period) AS pfs_period, count(p.amount) AS priced_rows
  FROM claim_lines l LEFT JOIN payment p ON p.hcpcs = l.hcpcs AND p.modifier = l.modifier
   AND p.setting = l.setting AND in_effect(l.date_of_service, p.effective_from, p.effective_to)
   AND coalesce(p.mac, '') = coalesce(l.mac, '') AND coalesce(p.locality, '') = coalesce(l.locality, '')
  GROUP BY l.line_no),
rvu AS (SELECT hcpcs, modifier, effective_from, effective_to FROM pfs_rvu
        WHERE hcpcs IN (SELECT hcpcs FROM claim_lines)),
windows AS (SELECT DISTINCT effective_from, effective_to FROM pfs_rvu)
SELECT l.line_no, l.hcpcs, l.modifier, l.units, l.date_of_service, l.setting,
       coalesce(l.mac || ':' || l.locality, 'national') AS locality, pr.pfs_amount, pr.pfs_period,
       CASE WHEN pr.pfs_amount IS NOT NULL THEN 'priced'
            WHEN NOT EXISTS (SELECT 1 FROM windows w WHERE in_effect(l.date_of_service, w.effective_from,
                                                                    w.effective_to))
              THEN 'no data: no PFS release covers the date of service'
            WHEN NOT EXISTS (SELECT 1 FROM rvu r WHERE r.hcpcs = l.hcpcs AND r.modifier = l.modifier
                             AND in_effect(l.date_of_service, r.effective_from, r.effective_to))
              THEN 'code and modifier not in the PFS release in effect'
            ELSE 'no GPCI of the locality in effect on the date of service' END AS pfs_status,
       m.mue_period, m.mue_value, m.mai, m.units_compared, m.status AS mue_status,
       a.aoc_period, a.edit_type AS addon_edit_type, a.primaries_on_claim, a.status AS addon_status
FROM claim_lines l JOIN priced pr USING (line_no)
JOIN mue_check('claim_lines') m USING (line_no)
JOIN addon_check('claim_lines') a USING (line_no)
ORDER BY l.line_no""", [])
        finally:
            con.execute("DROP TABLE IF EXISTS claim_lines")
        return answer(served, version, {"lines": result})

    # ------------------------------------------------------------------------------ pages for people
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

    from cmsref import pages

    @app.get("/", response_class=HTMLResponse)
    def index():
        con, _, _ = versions.connection("latest")
        return pages.index_page(con, _rows)

    @app.get("/code")
    def code_search(hcpcs: str = Query(...), date_of_service: str = Query(..., alias="date"),
                    locality: str | None = Query(None)):
        code, day, loc = _hcpcs(hcpcs), _date(date_of_service), _locality(locality)
        query = f"date={day}" + (f"&locality={loc[0]}:{loc[1]}" if loc else "")
        return RedirectResponse(f"/code/{code}?{query}", status_code=303)

    @app.get("/code/{hcpcs}", response_class=HTMLResponse)
    def code_page(hcpcs: str, date_of_service: str = Query(..., alias="date"), locality: str | None = Query(None),
                  version: str = Query("latest")):
        code, day, loc = _hcpcs(hcpcs), _date(date_of_service), _locality(locality)
        con, name, sha = versions.connection(version)
        return pages.code_page(con, name, sha, code, day, loc, _rows)

    @app.get("/source/{sha256}", response_class=HTMLResponse)
    def source(sha256: str, row: int | None = Query(None)):
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise BadInput("sha256", f"{sha256!r} is not a SHA-256 (64 hexadecimal digits)")
        con, _, _ = versions.connection("latest")
        return pages.source_page(con, sha256, row, _rows)

    @app.get("/notes/{version}", response_class=HTMLResponse)
    def notes(version: str):
        from warehouse.diff import release_notes

        con, _, _ = versions.connection("latest")
        try:
            return pages.notes_page(release_notes(con, version), version)
        except CmsrefError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/diff", response_class=HTMLResponse)
    def diff_versions(a: str = Query(...), b: str = Query(...)):
        from warehouse.diff import diff

        con, _, _ = versions.connection("latest")
        try:
            return pages.diff_page(diff(con, a, b), a, b)
        except CmsrefError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/reports/{release_id:path}")
    def report(release_id: str):
        con, _, _ = versions.connection("latest")
        found = next(iter(con.execute("SELECT validation FROM meta.releases WHERE release_id = ?",
                                      [release_id]).fetchall()), None)
        path = pages.report_file(found[0]) if found else None
        if path is None:
            raise HTTPException(404, f"no validation report kept for release {release_id!r}")
        return FileResponse(path, media_type="text/html")

    return app


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
