"""`cmsref lines` answers as POST /api/{version}/lines does: 12,000 lines of real codes, localities and dates across
the loaded years sent to both, every result column equal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from tests.integration.test_lines_files import RESULTS
from tests.lines_data import reference_rows, write_lines

pytestmark = pytest.mark.integration


def _plain(value):
    if isinstance(value, bool) or value is None or isinstance(value, (str, list)):
        return value
    if isinstance(value, Decimal):  # the API writes money as text, to the cent
        return str(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def test_cmsref_lines_answers_as_post_lines(mirror_db, tmp_path):
    from fastapi.testclient import TestClient

    from cmsref.serve import create_app
    from warehouse.claim_files import Reference, run

    write_lines(reference_rows(mirror_db), 12_000, tmp_path / "lines.parquet")
    ref = Reference.from_version(mirror_db, "2026.2")
    try:
        run([str(tmp_path / "lines.parquet")], tmp_path / "out.parquet", ref, tmp_path / "work")
    finally:
        ref.close()
    fields = ["claim", "hcpcs", "modifier", "units", "date_of_service", "locality", "setting", "service_type", "qp"]
    sent = duckdb.sql(f"SELECT {', '.join(fields)} FROM '{tmp_path / 'lines.parquet'}' ORDER BY line_id").fetchall()
    body = {"lines": [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in zip(fields, row)
                       if v is not None} for row in sent]}
    years = {row[4].year for row in sent}
    assert len(body["lines"]) == 12_000 and len(years) >= 4  # across the loaded years
    with TestClient(create_app(mirror_db)) as client:
        answer = client.post("/api/2026.2/lines", json=body)
    assert answer.status_code == 200, answer.text
    api = [tuple(_plain(line[c]) for c in RESULTS) for line in answer.json()["lines"]]
    ours = [tuple(_plain(v) for v in row) for row in duckdb.sql(
        f"SELECT {', '.join(RESULTS)} FROM '{tmp_path / 'out.parquet'}' ORDER BY line_id").fetchall()]
    assert len(api) == len(ours) == 12_000
    for i, (a, b) in enumerate(zip(api, ours)):
        assert a == b, f"line {i + 1}: {dict(zip(RESULTS, a))} != {dict(zip(RESULTS, b))}"
    assert sum(a[RESULTS.index("pfs_status")] == "priced" for a in api) > 6_000
