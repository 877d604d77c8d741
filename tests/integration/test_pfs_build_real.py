"""Build the real mirror into a warehouse and ask it the questions users ask (no Prefect server)."""

from decimal import Decimal

import pytest

from cmsref import pipeline

from core import settings
from tests.helpers import MIRROR, cmsref_home, query as q, snapshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    with cmsref_home(tmp_path_factory.mktemp("whole-mirror")):
        result = pipeline.build(["pfs"], mirror=MIRROR)
        yield settings.db_path(), result


def test_first_build_publishes_one_version_with_every_mirrored_release(warehouse):
    db, result = warehouse
    assert result.data_version == "2025.4"
    assert sorted(result.new_releases) == ["pfs/2022A/r1", "pfs/2023D/r1", "pfs/2024B/r1", "pfs/2024C/r1",
                                           "pfs/2025D/r1"]
    counts = dict(q(db, "SELECT period, count(*) FROM pfs_rvu GROUP BY period"))
    assert counts == {"2022A": 17_600, "2023D": 18_168, "2024B": 18_534, "2024C": 18_664, "2025D": 19_090}
    assert dict(q(db, "SELECT period, count(*) FROM pfs_gpci GROUP BY period")) == {"2022A": 112, "2024B": 109,
                                                                                     "2025D": 109}


def test_37252_payments(warehouse):
    db, _ = warehouse
    sql = ("SELECT setting, amount FROM pfs_payment_on(?) WHERE hcpcs = '37252' AND modifier = '' AND is_national "
           "ORDER BY setting")
    assert q(db, sql, ["2022-06-01"]) == [("facility", Decimal("89.63")), ("non_facility", Decimal("1026.07"))]
    # 2.59 RVUs x 33.2875 = 86.214625 -> 86.21 (the formula rounds once, at the end; see docs/payments.md)
    assert q(db, sql, ["2024-06-01"]) == [("facility", Decimal("86.21")), ("non_facility", Decimal("927.06"))]


def test_date_no_release_covers_returns_no_rows(warehouse):
    db, _ = warehouse
    for dos in ("2023-06-01", "2024-02-01", "2021-12-31", "2026-01-01"):
        assert q(db, "SELECT count(*) FROM pfs_payment_on(?) WHERE hcpcs = '37252'", [dos]) == [(0,)], dos


def test_pfs_payment_reproduces_cms_pfrev25c_for_every_locality(warehouse):
    """CMS's own payment file for 76145 (PFREV25C) against our formula with RVU25D + GPCI2025."""
    db, _ = warehouse
    cms = {}
    for line in (MIRROR / "pfs_payment/PFREV25C/PFREV25C.txt").read_text(encoding="cp1252").splitlines():
        f = [x.strip('"') for x in line.split('","')]
        if not f[0].startswith("TRL"):
            cms[(f[1], f[2])] = (Decimal(f[6]), Decimal(f[5]))  # facility, non-facility
    ours = {(m, l): (fac, nf) for m, l, fac, nf in q(db, """
        SELECT mac, locality, max(amount) FILTER (setting = 'facility'), max(amount) FILTER (setting = 'non_facility')
        FROM pfs_payment_on('2025-11-01') WHERE hcpcs = '76145' AND modifier = '' AND NOT is_national
        GROUP BY ALL""")}
    assert len(cms) == 109 and ours == cms


def test_conversion_factors_have_windows_and_sources(warehouse):
    db, _ = warehouse
    rows = q(db, "SELECT kind, period, conversion_factor, effective_from, effective_to, source_row "
                 "FROM conversion_factor ORDER BY kind, effective_from")
    cf = {(k, p): v for k, p, v, *_ in rows}
    assert cf[("physician", "2022A")] == Decimal("34.6062")
    assert cf[("physician", "2024B")] == Decimal("33.2875")
    assert cf[("physician", "2025D")] == Decimal("32.3465")
    assert cf[("anesthesia", "2025D")] == Decimal("20.3178")
    assert all(r[5] >= 1 for r in rows)


def test_every_row_traces_to_a_source_file(warehouse):
    db, _ = warehouse
    orphans = q(db, "SELECT count(*) FROM pfs_rvu r LEFT JOIN source_files s ON s.sha256 = r.source_sha256 "
                    "AND s.release_id = r.release_id WHERE s.sha256 IS NULL")
    assert orphans == [(0,)]
    src = q(db, "SELECT s.member_name, s.archive_name, r.source_row FROM pfs_rvu r JOIN source_files s "
                "ON s.sha256 = r.source_sha256 WHERE r.period = '2024B' AND r.hcpcs = '37252' AND r.modifier = ''")
    assert src == [("PPRRVU24_APR.csv", "rvu24b-updated-03-18-2024.zip", 10141)]


def test_every_view_and_column_is_documented(warehouse):
    db, _ = warehouse
    missing = q(db, "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                    "AND (comment IS NULL OR comment = '') AND table_name LIKE 'pfs%'")
    assert missing == []


def test_rebuild_with_same_sources_publishes_nothing(warehouse):
    db, _ = warehouse
    before = snapshot(db)
    again = pipeline.build(["pfs"], mirror=MIRROR)
    assert again.data_version is None and "nothing new" in again.message
    assert snapshot(db) == before
