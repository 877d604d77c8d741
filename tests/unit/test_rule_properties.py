"""Properties where examples run out (issue 21), with hypothesis on small random inputs: the in-effect rule and window
overlap against a brute-force walk over the days (open ends included); the three claim-line macros (pfs_check,
mue_check, addon_check) against oracles written here, the one place a rule is restated: to check it; the csv, txt and
xlsx copies of a GPCI file, written by the test's own writers, parsing to identical tables. Example counts are kept
small so the module runs in seconds; the rules are in core/effective.py and warehouse/claim_rules.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import effective
from tests.builders import write_gpci_copies
from tests.unit.test_rule_edges import pfs_rows, snapshot_con, window
from transform.layout import load_layouts, parse_file
from warehouse.claim_rules import create_helper_macros, create_scalar_macros

FEW = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DAY0 = date(2026, 4, 1)
HORIZON = 12  # every date of these tests is within DAY0 .. DAY0 + 12 days


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


days = st.integers(0, HORIZON).map(day)


@st.composite
def windows(draw):
    start = draw(st.integers(0, HORIZON - 1))
    end = draw(st.one_of(st.none(), st.integers(start + 1, HORIZON)))
    return day(start), (day(end) if end is not None else None)


def days_of(w) -> set[date]:
    """Brute force: the days of a window, an open one running past every date of the test."""
    start, end = w
    last = end or day(HORIZON + 2)
    return {start + timedelta(days=k) for k in range((last - start).days)}


def macros():
    con = duckdb.connect()
    create_scalar_macros(con)  # in_effect, windows_overlap and the one-row rules that use them
    return con


# ------------------------------------------------------------------------------------- in effect and overlap
@FEW
@given(st.lists(st.tuples(windows(), days), min_size=1, max_size=30))
def test_in_effect_in_sql_python_and_polars_is_the_days_of_the_window(cases):
    import polars as pl

    con = macros()
    values = ", ".join(f"(DATE '{d}', DATE '{f}', {f'DATE {chr(39)}{t}{chr(39)}' if t else 'NULL::DATE'})"
                       for (f, t), d in cases)
    sql = [r[0] for r in con.execute(f"SELECT in_effect(d, f, t) FROM (VALUES {values}) v(d, f, t)").fetchall()]
    truth = [d in days_of(w) for w, d in cases]
    assert sql == truth
    assert [effective.in_effect(d, *w) for w, d in cases] == truth
    frame = pl.DataFrame({"effective_from": [w[0] for w, _ in cases], "effective_to": [w[1] for w, _ in cases]},
                         schema={"effective_from": pl.Date, "effective_to": pl.Date})
    for i, (_, d) in enumerate(cases):
        assert frame.select(effective.in_effect_expr(d))[i, 0] is truth[i]


@FEW
@given(st.lists(st.tuples(windows(), windows()), min_size=1, max_size=30))
def test_windows_overlap_when_they_share_a_day(pairs):
    con = macros()

    def lit(d):
        return f"DATE '{d}'" if d else "NULL::DATE"
    values = ", ".join(f"({lit(a[0])}, {lit(a[1])}, {lit(b[0])}, {lit(b[1])})" for a, b in pairs)
    sql = [r[0] for r in con.execute(f"SELECT windows_overlap(f1, t1, f2, t2) FROM (VALUES {values}) "
                                     f"v(f1, t1, f2, t2)").fetchall()]
    truth = [bool(days_of(a) & days_of(b)) for a, b in pairs]
    assert sql == truth
    assert [effective.windows_overlap(*a, *b) for a, b in pairs] == truth


# ---------------------------------------------------------------------------------------------- mue_check
MUES = {"37252": (2, 1), "37253": (3, 2), "64483": (1, 3)}  # code: (MUE, MAI)
mue_lines = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([*MUES, "99999"]), st.integers(1, 4),
                               st.integers(0, 2)), min_size=1, max_size=8)


def mue_oracle(lines):
    day_units = defaultdict(int)
    for claim, code, units, d in lines:
        day_units[claim, code, d] += units
    out = []
    for claim, code, units, d in lines:
        if code not in MUES:  # no MAI: the day's units are shown
            out.append((day_units[claim, code, d], "no MUE for this code"))
            continue
        mue, mai = MUES[code]
        compared = units if mai == 1 else day_units[claim, code, d]
        out.append((compared, "exceeds" if compared > mue else "within"))
    return out


@FEW
@given(mue_lines)
def test_mue_check_sums_units_per_claim_code_and_day_as_its_mai_says(lines):
    con = macros()
    con.execute("CREATE TABLE mue AS SELECT * FROM (VALUES " + ", ".join(
        f"('practitioner', '2026Q2', 'mue/2026Q2/r1', DATE '2026-04-01', DATE '2026-07-01', '{c}', {m}, {a}, 'x')"
        for c, (m, a) in MUES.items()) + ") t(service_type, period, release_id, effective_from, effective_to, hcpcs, "
        "mue_value, mai, mai_label)")
    create_helper_macros(con, temp=True, names=["mue_check"])
    con.execute("CREATE TABLE claim AS SELECT * FROM (VALUES " + ", ".join(
        f"('{c}', '{h}', {u}, DATE '{day(d)}', 'practitioner')" for c, h, u, d in lines) +
        ") t(claim_id, hcpcs, units, date_of_service, service_type)")
    got = con.execute("SELECT units_compared, status FROM mue_check('claim') ORDER BY line_no").fetchall()
    assert got == mue_oracle(lines)


# -------------------------------------------------------------------------------------------- addon_check
ADDONS, PRIMARIES = ["A0001", "A0002"], ["P0001", "P0002", "P0003"]


@st.composite
def edits(draw):
    """Edits of one release in effect from DAY0: random edit, add-on and primary dates (deleted primaries included)."""
    out = {}
    for addon in ADDONS:
        edit_type = draw(st.sampled_from([1, 1, 2, 3]))
        addon_deleted = draw(st.one_of(st.none(), st.integers(0, HORIZON)))
        for primary in draw(st.lists(st.sampled_from(PRIMARIES), min_size=1, max_size=3, unique=True)):
            start = draw(st.integers(0, HORIZON))
            out[addon, primary] = (edit_type, start, draw(st.one_of(st.none(), st.integers(start, HORIZON))),
                                   addon_deleted, draw(st.one_of(st.none(), st.integers(0, HORIZON))))
    return out


def addon_oracle(table, lines):
    present = {(claim, code, d) for claim, code, d in lines}
    out = []
    for claim, code, d in lines:
        applying = [(primary, t) for (addon, primary), (t, start, deleted, addon_deleted, primary_deleted)
                    in table.items() if addon == code and start <= d
                    and all(x is None or d <= x for x in (deleted, addon_deleted, primary_deleted))]
        if not applying:
            out.append("not an add-on code")
        elif any((claim, p, d) in present for p, _ in applying):
            out.append("allowed primary on claim")
        elif min(t for _, t in applying) == 2:
            out.append("type 2: the contractor defines the primary codes")
        elif min(t for _, t in applying) == 3:
            out.append("type 3: no listed primary on claim; the contractor may allow others")
        else:
            out.append("no allowed primary on claim")
    return out


@FEW
@given(edits(), st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(ADDONS + PRIMARIES),
                                   st.integers(0, HORIZON)), min_size=1, max_size=8))
def test_addon_check_finds_a_primary_on_the_same_claim_and_day_while_every_date_allows(table, lines):
    def d(n):
        return f"DATE '{day(n)}'" if n is not None else "NULL::DATE"
    con = macros()
    con.execute("CREATE TABLE addon_code_edit AS SELECT * FROM (VALUES " + ", ".join(
        f"('2026Q2', 'aoc/2026Q2/r1', DATE '2026-04-01', DATE '2026-07-01', '{a}', '{p}', {t}, {d(s)}, {d(e)}, "
        f"{d(ad)}, {d(pd)})" for (a, p), (t, s, e, ad, pd) in table.items()) +
        ") v(period, release_id, effective_from, effective_to, addon_code, primary_code, edit_type, "
        "edit_effective_date, edit_deletion_date, addon_deletion_date, primary_deletion_date)")
    create_helper_macros(con, temp=True, names=["addon_release_on", "addon_edits_on", "addon_check"])
    con.execute("CREATE TABLE claim AS SELECT * FROM (VALUES " + ", ".join(
        f"('{c}', '{h}', DATE '{day(n)}')" for c, h, n in lines) + ") t(claim_id, hcpcs, date_of_service)")
    got = [r[0] for r in con.execute("SELECT status FROM addon_check('claim') ORDER BY line_no").fetchall()]
    assert got == addon_oracle(table, lines)


# ---------------------------------------------------------------------------------------------- pfs_check
STATUSES = ("A", "R", "T", "B", "C", "I")
CF = {"qp": Decimal("33.5675"), "non_qp": Decimal("33.4009")}
PFS_CON = snapshot_con({**pfs_rows(STATUSES, {k: str(v) for k, v in CF.items()}, effective_to=date(2026, 4, 8))})
CODES = ["37252", "37253", "37254", "37255", "37256", "37257"]  # pfs_rows' codes, one per status above


def pfs_oracle(code, setting, qp, n):
    """RVUs 1.80 + PE (0.44 facility / 25.70 non-facility) + 0.35, x the CF the line asks for, rounded once."""
    if not DAY0 - timedelta(days=DAY0.timetuple().tm_yday - 1) <= day(n) < date(2026, 4, 8):
        return None, "no data: no PFS release covers the date of service"
    status = STATUSES[CODES.index(code)]
    total = Decimal("1.80") + Decimal("0.44" if setting == "facility" else "25.70") + Decimal("0.35")
    amount = (total * CF["qp" if qp else "non_qp"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return amount, ("priced" if status in "ART" else f"status {status}: not paid from the fee schedule amount")


@FEW
@given(st.lists(st.tuples(st.sampled_from(CODES), st.sampled_from([None, "facility", "non_facility"]),
                          st.sampled_from([None, False, True]), st.integers(0, HORIZON)), min_size=1, max_size=8))
def test_pfs_check_prices_status_a_r_t_with_the_factor_the_line_asks_for(lines):
    con = PFS_CON.cursor()
    values = ", ".join(f"('{c}', {repr(s) if s else 'NULL'}, {'NULL' if q is None else str(q).lower()}, "
                       f"DATE '{day(n)}')" for c, s, q, n in lines)
    con.execute(f"CREATE OR REPLACE TEMP TABLE claim AS SELECT * FROM (VALUES {values}) "
                f"t(hcpcs, setting, qp, date_of_service)")
    got = con.execute("SELECT pfs_amount, pfs_status FROM pfs_check('claim') ORDER BY line_no").fetchall()
    assert got == [pfs_oracle(c, s, q, n) for c, s, q, n in lines]


# ------------------------------------------------------------------------------- csv, txt and xlsx agree
GPCI = load_layouts("pfs")["gpci"]
gpci_rows = st.lists(st.tuples(
    st.from_regex(r"[0-9]{5}", fullmatch=True), st.from_regex(r"[A-Z]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{2}", fullmatch=True), st.from_regex(r"[A-Z][A-Z ()\-]{0,40}[A-Z]", fullmatch=True),
    *[st.decimals(Decimal("0.100"), Decimal("4.999"), places=3).map(str)] * 3),
    min_size=1, max_size=6, unique_by=lambda r: (r[0], r[2]))  # MAC, state, locality, name, GPCIs


@settings(max_examples=10, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gpci_rows)
def test_the_csv_txt_and_xlsx_of_a_gpci_file_parse_to_the_same_table(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("gpci")
    paths = write_gpci_copies(folder, rows=[list(r) for r in rows])
    frames = {fmt: parse_file(p, GPCI, 2025).frame.drop("source_row") for fmt, p in paths.items()}
    assert frames["csv"].to_dicts() == frames["txt"].to_dicts() == frames["xlsx"].to_dicts()
    assert frames["csv"].select("mac", "locality").rows() == [(r[0], r[2]) for r in rows]
    assert [str(v) for v in frames["csv"]["work_gpci"]] == [r[4] for r in rows]
