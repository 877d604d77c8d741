"""GET /api/{version}/codes/{hcpcs}?date=: everything about a code on a date of service (every table it is in, its
national PFS payment)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from cmsref.serve.answers import answer, version_headers
from cmsref.serve.connections import Versions
from cmsref.serve.inputs import _date, _hcpcs
from cmsref.serve.routes import GET, serving
from warehouse.lookup import code_record, found, on

router = APIRouter()


@router.api_route("/api/{version}/codes/{hcpcs}", methods=GET)
def code(version: str, hcpcs: str, date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD"),
         versions: Versions = Depends(serving)):
    code, day = _hcpcs(hcpcs, "hcpcs (path)"), _date(date_of_service)
    served = con, name, sha = versions.connection(version)
    record = code_record(con, code, day)
    if not found(record):
        raise HTTPException(404, f"{code} is in no table in effect on {day} in data version {name}",
                            headers=version_headers(served, version))
    national = on(versions.payments(name, sha).windows(con, code), day) if record["pfs"] else []
    return answer(versions, served, version, {"hcpcs": code, "date": day, **record, "pfs_national_payment": national})
