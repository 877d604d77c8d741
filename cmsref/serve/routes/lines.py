"""POST /api/{version}/lines: claim lines checked and priced in one query (the claim-line rules pfs_check, mue_check
and addon_check of warehouse/claim_rules.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cmsref.serve.answers import answer, version_headers
from cmsref.serve.connections import Versions
from cmsref.serve.inputs import MAX_LINES, check_locality, line_rows, lines_body, placed
from cmsref.serve.routes import serving
from warehouse.claim_rules import line_results_sql
from warehouse.lookup import dict_rows

router = APIRouter()

LINES_QUERY = f"""
SELECT l.line_no, l.claim_id AS claim, l.hcpcs, l.modifier, l.units, l.date_of_service, l.setting, l.zip,
       r.locality,
       l.qp, r.pfs_amount, r.pfs_period, r.pfs_status_code, r.pfs_cf_variant, r.pfs_status,
       r.mue_period, r.mue_value, r.mai, r.units_compared, r.mue_status,
       r.aoc_period, r.addon_edit_type, r.primaries_on_claim, r.addon_status
FROM claim_lines l JOIN ({line_results_sql()}) r USING (line_no)
ORDER BY l.line_no"""

OPENAPI_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["lines"], "additionalProperties": False,
                                    "properties": {"lines": {"type": "array", "maxItems": MAX_LINES,
                                                             "items": {"type": "object"}}}},
                         "example": {"lines": [
                             {"hcpcs": "37252", "units": 1, "date_of_service": "2024-06-01",
                              "locality": "01182:18", "setting": "facility", "service_type": "practitioner"}]}}}}}


@router.post("/api/{version}/lines", openapi_extra=OPENAPI_BODY)
def lines(version: str, body: dict = Depends(lines_body), versions: Versions = Depends(serving)):
    rows = line_rows(body.get("lines"))
    served = con, _, _ = versions.connection(version)
    first_line, first_zip = {}, {}  # each locality, and each ZIP code on a date, once, at its first line (in line
    for line_no, _, _, _, _, day, mac, loc, _, _, _, zip_code in rows:  # order, so the first bad line is named)
        if mac:
            first_line.setdefault((mac, loc), line_no)
        if zip_code:
            first_zip.setdefault((zip_code[:5], day), line_no)
    headers = version_headers(served, version)
    for loc, line_no in first_line.items():
        check_locality(versions, served, loc, f"lines[{line_no - 1}].locality", headers)
    for (zip_code, day), line_no in first_zip.items():  # a ZIP code not in the ZIP code file in effect: a 400
        placed(con, zip_code, day, f"lines[{line_no - 1}].zip", None, headers)
    import polars as pl

    frame = pl.DataFrame(rows, orient="row", schema={
        "line_no": pl.Int32, "claim_id": pl.String, "hcpcs": pl.String, "modifier": pl.String,
        "units": pl.Int32, "date_of_service": pl.String, "mac": pl.String, "locality": pl.String,
        "setting": pl.String, "service_type": pl.String, "qp": pl.Boolean, "zip": pl.String,
    }).with_columns(pl.col("date_of_service").str.to_date())
    con.register("incoming_lines", frame.to_arrow())  # values as data, never as SQL text
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE claim_lines AS SELECT * FROM incoming_lines")
    finally:
        con.unregister("incoming_lines")
    try:
        result = dict_rows(con, LINES_QUERY, [])
    finally:
        con.execute("DROP TABLE IF EXISTS claim_lines")
    return answer(versions, served, version, {"lines": result}, cite=False)  # lines cite no rows
