"""GET /api/versions: every data version, its manifest and releases."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from cmsref.serve.answers import _jsonable, version_headers
from cmsref.serve.connections import Versions
from cmsref.serve.routes import GET, serving
from warehouse.lookup import dict_rows

router = APIRouter()


@router.api_route("/api/versions", methods=GET)
def list_versions(versions: Versions = Depends(serving)):
    served = con, _, _ = versions.connection("latest")
    out = dict_rows(con, "SELECT data_version, published_at, manifest_sha256, summary FROM meta.data_versions "
                         "ORDER BY seq", [])
    for v in out:
        v["releases"] = [r["release_id"] for r in dict_rows(
            con, "SELECT DISTINCT release_id FROM meta.data_version_tables WHERE data_version = ? ORDER BY 1",
            [v["data_version"]])]
    return JSONResponse(_jsonable({"versions": out}), headers=version_headers(served, "latest"))
