"""GET /api/{version}/payment?hcpcs=&date=&locality=&zip=&modifier=: PFS facility / non-facility amounts of a code on
a date of service, national, in one MAC:locality, or in the locality of a ZIP code of service (CMS's ZIP code file in
effect places it; the answer says where, from which row)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from cmsref.serve.answers import answer, version_headers
from cmsref.serve.connections import Versions
from cmsref.serve.inputs import (BadInput, _date, _hcpcs, _locality, _modifier, _zip, check_locality, placed,
                                 zip_answer)
from cmsref.serve.routes import GET, serving
from warehouse.lookup import SHOWN, TRACED, explain_no_payment, on

router = APIRouter()


@router.api_route("/api/{version}/payment", methods=GET)
def payment(version: str, hcpcs: str = Query(..., description="HCPCS / CPT code"),
            date_of_service: str = Query(..., alias="date", description="YYYY-MM-DD"),
            locality: str | None = Query(None, description="MAC:LOCALITY, e.g. 01182:18 (default: national)"),
            modifier: str | None = Query(None, description="e.g. 26, TC (default: none)"),
            zip_code: str | None = Query(None, alias="zip", description="ZIP code of service, 90210 or ZIP+4: priced "
                                                                        "in the locality CMS's ZIP code file gives it"),
            versions: Versions = Depends(serving)):
    code, day, mod, loc = _hcpcs(hcpcs), _date(date_of_service), _modifier(modifier), _locality(locality)
    zip_code = _zip(zip_code)
    served = con, name, sha = versions.connection(version)
    headers = version_headers(served, version)
    check_locality(versions, served, loc, "locality", headers)
    place = placed(con, zip_code, day, "zip", loc, headers) if zip_code else None
    if place is not None:
        if place.locality is None:  # it spans localities, or no ZIP code file covers the date: no amount, never a guess
            raise HTTPException(404, place.message, headers=headers)
        loc = place.locality
    amounts = on(versions.payments(name, sha).windows(con, code, mod, loc), day)
    if not amounts:
        parameter, reason = explain_no_payment(con, code, day, mod, loc)
        if parameter:  # a MAC or locality that does not exist on that date is bad input, not missing data
            raise BadInput(parameter, reason, headers)
        raise HTTPException(404, reason, headers=headers)
    return answer(versions, served, version, {"hcpcs": code, "date": day, "modifier": mod,
                                              "locality": f"{loc[0]}:{loc[1]}" if loc else "national",
                                              **({"zip": zip_answer(place)} if place else {}),
                                              "amounts": [{c: a[c] for c in (*SHOWN, *TRACED)} for a in amounts]})
