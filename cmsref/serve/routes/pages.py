"""The pages of `cmsref serve` a person reads (HTML rendered by cmsref/pages.py), all from the latest data version
unless a code page names another: the index, code search and the code page, a source file's row, release notes, a
diff between two versions, and the kept validation reports."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from cmsref import pages
from cmsref.serve.answers import version_headers
from cmsref.serve.connections import Versions
from cmsref.serve.inputs import BadInput, _date, _hcpcs, _locality, _sha256, _zip, check_locality, placed
from cmsref.serve.routes import GET, serving
from core import settings
from core.errors import CmsrefError
from warehouse.lookup import code_record, found

router = APIRouter()


@router.api_route("/", methods=GET, response_class=HTMLResponse)
def index(versions: Versions = Depends(serving)):
    con, _, _ = versions.connection("latest")
    return pages.index_page(con)


@router.api_route("/code", methods=GET)
def code_search(hcpcs: str = Query(...), date_of_service: str = Query(..., alias="date"),
                locality: str | None = Query(None), zip_code: str | None = Query(None, alias="zip"),
                versions: Versions = Depends(serving)):
    code, day, loc, zip_code = _hcpcs(hcpcs), _date(date_of_service), _locality(locality), _zip(zip_code)
    check_locality(versions, versions.connection("latest"), loc, "locality")
    query = f"date={day}" + (f"&locality={loc[0]}:{loc[1]}" if loc else "") + (f"&zip={zip_code}" if zip_code else "")
    return RedirectResponse(f"/code/{code}?{query}", status_code=303)


@router.api_route("/code/{hcpcs}", methods=GET, response_class=HTMLResponse)
def code_page(hcpcs: str, date_of_service: str = Query(..., alias="date"), locality: str | None = Query(None),
              zip_code: str | None = Query(None, alias="zip"), version: str = Query("latest"),
              versions: Versions = Depends(serving)):
    code, day, loc = _hcpcs(hcpcs, "hcpcs (path)"), _date(date_of_service), _locality(locality)
    zip_code = _zip(zip_code)
    served = con, name, sha = versions.connection(version)
    headers = version_headers(served, version)
    check_locality(versions, served, loc, "locality", headers)
    if zip_code:  # the page of the ZIP code's locality; one that spans localities or is not covered: no page, and why
        place = placed(con, zip_code, day, "zip", loc, headers)
        if place.locality is None:
            return HTMLResponse(pages.not_found_page(code, day, place.message), status_code=404, headers=headers)
        loc = place.locality
    record = code_record(con, code, day)
    if not found(record):
        return HTMLResponse(pages.not_found_page(code, day, f"{code} is in no table in effect on {day} in data "
                                                            f"version {name}"), status_code=404, headers=headers)
    cache = versions.payments(name, sha)
    return HTMLResponse(pages.code_page(con, name, sha, code, day, loc, record,
                                        lambda at: cache.windows(con, code, "", at)), headers=headers)


@router.api_route("/source/{sha256}", methods=GET, response_class=HTMLResponse)
def source(sha256: str, row: int | None = Query(None), versions: Versions = Depends(serving)):
    _sha256(sha256)
    con, _, _ = versions.connection("latest")
    return pages.source_page(con, sha256, row)


@router.api_route("/notes/{version}", methods=GET, response_class=HTMLResponse)
def notes(version: str, versions: Versions = Depends(serving)):
    from warehouse.diff import release_notes

    con, latest, _ = versions.connection("latest")
    version = latest if version == "latest" else version
    try:
        return pages.notes_page(release_notes(con, version), version)
    except CmsrefError as exc:
        raise HTTPException(404, str(exc)) from None


@router.api_route("/diff", methods=GET, response_class=HTMLResponse)
def diff_versions(a: str = Query(...), b: str = Query(...), versions: Versions = Depends(serving)):
    from warehouse.diff import UnknownLabel, diff

    con, _, _ = versions.connection("latest")
    try:
        return pages.diff_page(diff(con, a, b), a, b)
    except UnknownLabel as exc:
        raise BadInput("a" if exc.label == a else "b", str(exc)) from None
    except CmsrefError as exc:  # two labels that cannot be compared: the second does not fit the first
        raise BadInput("b", str(exc)) from None


@router.api_route("/reports/{release_id:path}", methods=GET)
def report(release_id: str, versions: Versions = Depends(serving)):
    con, _, _ = versions.connection("latest")
    kept = next(iter(con.execute("SELECT validation FROM meta.releases WHERE release_id = ?",
                                 [release_id]).fetchall()), None)
    path = pages.report_file(kept[0], [versions.db.parent / "reports", settings.reports_dir()]) if kept else None
    if path is None:
        raise HTTPException(404, f"no validation report kept for release {release_id!r}")
    return FileResponse(path, media_type="text/html")
