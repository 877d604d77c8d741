"""pfs_check prices a line from the RVU, GPCI and conversion factor rows in effect on its date of service, by the
formula of the pfs_payment view (the pfs_amount and setting_pe_rvu macros): every line of every combination of code,
modifier, setting, locality, date and QP flag gets the amount of the pfs_payment row in effect that day, or none
and a status saying why. Reference rows that would give a line two amounts stop the query; none is picked."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import product

import duckdb
import pytest

from tests.unit.test_rule_edges import snapshot_con

D = Decimal
Q1, Q2, H2 = date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)


def rows_of(release_id, start, end, **values):
    return {"release_id": release_id, "period": release_id.split("/")[1], "effective_from": start,
            "effective_to": end, **values}


def rvu(release_id, start, end, code, modifier, status, work, facility_pe, non_facility_pe, mp):
    return rows_of(release_id, start, end, hcpcs=code, modifier=modifier, status_code=status, work_rvu=D(work),
                   facility_pe_rvu=D(facility_pe), non_facility_pe_rvu=D(non_facility_pe), mp_rvu=D(mp))


def gpci(release_id, start, end, locality, work, pe, mp):
    return rows_of(release_id, start, end, mac="01182", locality=locality, locality_name=locality,
                   work_gpci=D(work), pe_gpci=D(pe), mp_gpci=D(mp))


def two_releases():
    """PFS 2026A (Q1, one CF for all) and 2026B (from Q2, open; QP and non-QP CFs) of different RVUs; GPCIs of
    2026A until H2, then of 2026C (open) without locality 26."""
    a, b, c = "pfs/2026A/r1", "pfs/2026B/r1", "pfs/2026C/r1"
    return {
        "pfs_rvu": [rvu(a, Q1, Q2, "37252", "", "A", "1.80", "0.44", "25.70", "0.35"),
                    rvu(a, Q1, Q2, "37252", "26", "A", "1.80", "0.40", "0.40", "0.10"),
                    rvu(a, Q1, Q2, "37253", "", "B", "0.50", "0.20", "0.30", "0.05"),
                    rvu(b, Q2, None, "37252", "", "A", "1.90", "0.45", "26.10", "0.36"),
                    rvu(b, Q2, None, "37253", "", "T", "0.55", "0.21", "0.31", "0.06")],
        "conversion_factor": [rows_of(a, Q1, Q2, kind="physician", variant="all", conversion_factor=D("33.2875")),
                              rows_of(b, Q2, None, kind="physician", variant="qp", conversion_factor=D("33.5675")),
                              rows_of(b, Q2, None, kind="physician", variant="non_qp",
                                      conversion_factor=D("33.4009"))],
        "pfs_gpci": [gpci(a, Q1, H2, "18", "1.000", "1.100", "0.900"),
                     gpci(a, Q1, H2, "26", "1.500", "1.200", "1.000"),
                     gpci(c, H2, None, "18", "1.010", "1.050", "0.950")],
    }


DAYS = [Q1 - timedelta(days=1), Q1, Q2 - timedelta(days=1), Q2, H2 - timedelta(days=1), H2, date(2031, 6, 1)]
PLACES = [(None, None), ("01182", "18"), ("01182", "26"), (None, "18"), ("01182", None)]  # the last two: half a place


def test_every_line_is_priced_by_the_pfs_payment_row_in_effect_on_its_date():
    con = snapshot_con(two_releases())
    lines = list(product(["37252", "37253", "99999"], ["", "26"], ["facility", "non_facility"], PLACES, DAYS,
                         [False, True]))
    con.execute("CREATE TABLE lines (hcpcs VARCHAR, modifier VARCHAR, setting VARCHAR, mac VARCHAR, "
                "locality VARCHAR, date_of_service DATE, qp BOOLEAN)")
    con.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(c, m, s, mac, loc, d, qp) for c, m, s, (mac, loc), d, qp in lines])
    got = con.execute("SELECT pfs_amount, pfs_period, pfs_cf_variant, pfs_status FROM pfs_check('lines') "
                      "ORDER BY line_no").fetchall()
    # each line's rows of the pfs_payment view in effect on its date (one query; a line numbered by its position)
    payment_rows: dict[int, list] = {}
    for n, *row in con.execute(
            "SELECT l.n, p.amount, p.period, p.cf_variant, p.status_code FROM "
            "(SELECT row_number() OVER () AS n, * FROM lines) l JOIN pfs_payment p ON p.hcpcs = l.hcpcs "
            "AND p.modifier = l.modifier AND p.setting = l.setting AND p.mac IS NOT DISTINCT FROM l.mac "
            "AND p.locality IS NOT DISTINCT FROM l.locality "
            "AND p.cf_variant IN ('all', CASE WHEN l.qp THEN 'qp' ELSE 'non_qp' END) "
            "AND in_effect(l.date_of_service, p.effective_from, p.effective_to)").fetchall():
        payment_rows.setdefault(n, []).append(tuple(row))
    priced = 0
    for n, ((code, modifier, setting, (mac, loc), day, qp), (amount, period, variant, status)) in enumerate(
            zip(lines, got), start=1):
        want = payment_rows.get(n, [])
        assert len(want) <= 1
        case = (code, modifier, setting, mac, loc, day, qp)
        if (mac is None) != (loc is None):  # never priced, neither nationally nor in a locality of the MAC
            assert (amount, period, status) == (None, None, "mac and locality are given together, or neither"), case
        elif want:
            assert (amount, period, variant) == want[0][:3], case
            assert status == ("priced" if want[0][3] in "ART" else f"status {want[0][3]}: not paid from the fee "
                                                                    f"schedule amount"), case
            priced += 1
        elif day < Q1:
            assert (amount, status) == (None, "no data: no PFS release covers the date of service"), case
        elif code == "99999" or (modifier == "26" and (code == "37253" or day >= Q2)):
            assert (amount, status) == (None, "code and modifier not in the PFS release in effect"), case
        else:  # locality 26 from H2: no GPCI row
            assert (loc, day >= H2) == ("26", True), case
            assert (amount, status) == (None, "no GPCI of the locality in effect on the date of service"), case
    # 2026A days: 3 code-modifiers x 3 places x 2 settings x 2 QP flags, twice (72); 2026B until H2: 2 x 3 x 2 x 2,
    # twice (48); from H2 locality 26 has no GPCI: 2 x 2 x 2 x 2, twice (32)
    assert priced == 152


@pytest.mark.parametrize("change, message", [
    # two GPCI rows of one locality in effect on one day (an overlapping GPCI release)
    (lambda r: r["pfs_gpci"].append(gpci("pfs/2026D/r1", Q2, None, "18", "1.020", "1.000", "1.000")),
     "2 GPCI rows of 01182:18 are in effect on 2026-05-01"),
    # two RVU releases in effect on one day
    (lambda r: r["pfs_rvu"].append(rvu("pfs/2026D/r1", Q2, None, "37252", "", "A", "1", "1", "1", "1")),
     "2 PFS RVU releases are in effect on 2026-05-01"),
    # a code twice in one release
    (lambda r: r["pfs_rvu"].append(rvu("pfs/2026B/r1", Q2, None, "37252", "", "A", "1", "1", "1", "1")),
     "37252 is in pfs/2026B/r1 twice"),
    # a release with a CF for all and one for non-QP lines
    (lambda r: r["conversion_factor"].append(rows_of("pfs/2026B/r1", Q2, None, kind="physician", variant="all",
                                                     conversion_factor=D("33"))),
     "2 conversion factors of pfs/2026B/r1 apply to a line of qp"),
])
def test_rows_that_would_give_a_line_two_amounts_stop_the_query(change, message):
    rows = two_releases()
    change(rows)
    con = snapshot_con(rows)
    con.execute("CREATE TABLE lines AS SELECT '37252' AS hcpcs, DATE '2026-05-01' AS date_of_service, "
                "'01182' AS mac, '18' AS locality")
    with pytest.raises(duckdb.Error, match=message):
        con.execute("SELECT pfs_amount FROM pfs_check('lines')").fetchall()
    # the same release of only the other rows prices the line
    con = snapshot_con(two_releases())
    con.execute("CREATE TABLE lines AS SELECT '37252' AS hcpcs, DATE '2026-05-01' AS date_of_service, "
                "'01182' AS mac, '18' AS locality")
    assert con.execute("SELECT pfs_status FROM pfs_check('lines')").fetchall() == [("priced",)]
