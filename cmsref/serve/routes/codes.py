"""GET /api/{version}/codes/{hcpcs}?date=&zip=: everything about a code on a date of service (every table it is in, its
national PFS payment, and with a ZIP code of service its payment in the ZIP code's locality)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from cmsref.serve.answers import answer, version_headers
from cmsref.serve.connections import Versions
from cmsref.serve.inputs import _date, _hcpcs, _zip, placed, zip_answer
from cmsref.serve.routes import GET, serving
from warehouse.lookup import code_record, found, on

router = APIRouter()


@router.api_route("/api/{version}/codes/{hcpcs}", methods=GET)
def code(version: str, hcpcs: str, date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD"),
         zip_code: str | None = Query(None, alias="zip", description="ZIP code of service: adds the PFS payment in "
                                                                     "its locality"),
         versions: Versions = Depends(serving)):
    code, day, zip_code = _hcpcs(hcpcs, "hcpcs (path)"), _date(date_of_service), _zip(zip_code)
    served = con, name, sha = versions.connection(version)
    place = placed(con, zip_code, day, "zip", None, version_headers(served, version)) if zip_code else None
    record = code_record(con, code, day)
    if not found(record):
        raise HTTPException(404, f"{code} is in no table in effect on {day} in data version {name}",
                            headers=version_headers(served, version))
    national = on(versions.payments(name, sha).windows(con, code), day) if record["pfs"] else []
    by_zip = {}
    if place is not None:  # a ZIP code that spans localities, or on a date no ZIP file covers: no amount, and why
        local = (on(versions.payments(name, sha).windows(con, code, "", place.locality), day)
                 if record["pfs"] and place.locality else [])
        by_zip = {"zip": zip_answer(place), "pfs_zip_payment": local}
    return answer(versions, served, version, {"hcpcs": code, "date": day, **record, "pfs_national_payment": national,
                                              **by_zip})
