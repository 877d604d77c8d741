"""The edges of the claim-line rules where a real CMS file shows them (issue 21), on the whole-mirror build: a status T
code of the real RVU25D is priced; an add-on code edit of the real AOC_V2026Q2 applies on its own effective date (its
first day) and on its deletion date (its last day), not a day outside; a MAC typed without its leading zero answers
over HTTP as the padded one. Each test fails when its rule is bent (tests/mutation/sql_bends.toml)."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from tests.helpers import addon_statuses

pytestmark = pytest.mark.integration


def test_a_real_status_t_code_is_priced(mirror_db):
    """RVU25D (in effect from 2025-10-01) lists 36598 with status T: work 0.74, PE 2.68 / 0.24, MP 0.06, CF 32.3465."""
    con = duckdb.connect(str(mirror_db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE claim AS SELECT * FROM (VALUES ('36598', DATE '2025-11-03', 'non_facility'), "
                    "('36598', DATE '2025-11-03', 'facility')) t(hcpcs, date_of_service, setting)")
        assert con.execute("SELECT pfs_period, pfs_status_code, pfs_amount, pfs_status FROM pfs_check('claim') "
                           "ORDER BY line_no").fetchall() == [
            ("2025D", "T", Decimal("112.57"), "priced"),  # 3.48 x 32.3465 = 112.5658
            ("2025D", "T", Decimal("33.64"), "priced")]   # 1.04 x 32.3465 = 33.6404
    finally:
        con.close()


@pytest.mark.parametrize("lines, statuses", [
    # 0443T's edit with primary 55707 is effective 2026001 (2026-01-01): it applies on that first day, not before
    ([("0443T", "2026-01-01"), ("55707", "2026-01-01")], ["allowed primary on claim", "not an add-on code"]),
    ([("0443T", "2025-12-31"), ("55707", "2025-12-31")], ["no allowed primary on claim", "not an add-on code"]),
    # its earlier edit with primary 55700 (2016183 to 2025365) applies on its last day, 2025-12-31, not after
    ([("0443T", "2025-12-31"), ("55700", "2025-12-31")], ["allowed primary on claim", "not an add-on code"]),
    ([("0443T", "2026-01-01"), ("55700", "2026-01-01")], ["no allowed primary on claim", "not an add-on code"]),
    # 0131U was deleted as an add-on code on 2025365: an add-on code until that day, and no longer the day after
    ([("0131U", "2025-12-31"), ("0102U", "2025-12-31")], ["allowed primary on claim", "not an add-on code"]),
    ([("0131U", "2026-01-01"), ("0102U", "2026-01-01")], ["not an add-on code", "not an add-on code"]),
])
def test_a_real_add_on_edit_applies_from_its_first_day_to_its_last(mirror_db, lines, statuses):
    assert addon_statuses(mirror_db, lines) == statuses


def test_a_mac_without_its_leading_zero_is_answered_over_http_as_the_padded_one(mirror_db):
    from fastapi.testclient import TestClient

    from cmsref.serve import create_app

    with TestClient(create_app(mirror_db)) as client:
        url = "/api/latest/payment?hcpcs=37252&date=2024-06-01&locality="
        padded, short = client.get(url + "01182:18"), client.get(url + "1182:18")
        assert padded.status_code == short.status_code == 200, short.text
        assert short.json() == padded.json()
        assert [(a["setting"], a["amount"]) for a in short.json()["amounts"]] == [
            ("facility", "87.96"), ("non_facility", "1091.93")]  # the README's figures for 01182:18
