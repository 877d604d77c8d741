"""The claim-line rules (warehouse/claim_rules.py) on small tables made in code: MUE adjudication indicators and
the MUE table's effective window."""

import duckdb
import pytest

from core import effective
from warehouse.claim_rules import create_helper_macros


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"CREATE MACRO {effective.SQL_MACRO}")
    con.execute("""CREATE TABLE mue AS SELECT * FROM (VALUES
        ('practitioner', '2026Q2', 'mue/2026Q2/r1', DATE '2026-04-01', DATE '2026-07-01', '37252', 1, 2, 'x'),
        ('practitioner', '2026Q2', 'mue/2026Q2/r1', DATE '2026-04-01', DATE '2026-07-01', '37253', 5, 3, 'x'),
        ('practitioner', '2026Q2', 'mue/2026Q2/r1', DATE '2026-04-01', DATE '2026-07-01', '64483', 1, 1, 'x'))
        t(service_type, period, release_id, effective_from, effective_to, hcpcs, mue_value, mai, mai_label)""")
    create_helper_macros(con, temp=True, names=["mue_check"])
    yield con
    con.close()


def statuses(con, lines):
    con.execute("CREATE OR REPLACE TEMP TABLE claim AS SELECT * FROM (VALUES " +
                ", ".join(f"('{c}', {u}, DATE '{d}', 'practitioner')" for c, u, d in lines) +
                ") t(hcpcs, units, date_of_service, service_type)")
    return [(r[0], r[1]) for r in con.execute(
        "SELECT units_compared, status FROM mue_check('claim') ORDER BY line_no").fetchall()]


def test_mai_3_sums_the_units_of_a_code_on_one_day(con):
    day = "2026-05-01"
    assert statuses(con, [("37253", 3, day), ("37253", 2, day)]) == [(5, "within"), (5, "within")]
    assert statuses(con, [("37253", 3, day), ("37253", 3, day)]) == [(6, "exceeds"), (6, "exceeds")]
    # another day is another count
    assert statuses(con, [("37253", 3, day), ("37253", 3, "2026-05-02")]) == [(3, "within"), (3, "within")]


def test_mai_2_sums_per_day_and_mai_1_compares_each_line(con):
    day = "2026-05-01"
    assert statuses(con, [("37252", 1, day), ("37252", 1, day)]) == [(2, "exceeds"), (2, "exceeds")]
    assert statuses(con, [("64483", 1, day), ("64483", 1, day)]) == [(1, "within"), (1, "within")]
    assert statuses(con, [("64483", 2, day)]) == [(2, "exceeds")]


def test_the_table_applies_only_inside_its_window(con):
    assert statuses(con, [("37253", 9, "2026-06-30")]) == [(9, "exceeds")]
    assert statuses(con, [("37253", 9, "2026-07-01")])[0][1].startswith("no data")  # effective_to is exclusive
    assert statuses(con, [("37253", 9, "2026-03-31")])[0][1].startswith("no data")
    assert statuses(con, [("99999", 9, "2026-05-01")]) == [(9, "no MUE for this code")]


def test_units_are_summed_per_claim_when_lines_name_their_claim(con):
    day = "2026-05-01"
    con.execute("CREATE OR REPLACE TEMP TABLE claims AS SELECT * FROM (VALUES "
                f"('a', '37253', 3, DATE '{day}', 'practitioner'), ('b', '37253', 3, DATE '{day}', 'practitioner'), "
                f"('b', '37253', 3, DATE '{day}', 'practitioner')) t(claim_id, hcpcs, units, date_of_service, "
                "service_type)")
    assert con.execute("SELECT claim_id, units_compared, status FROM mue_check('claims') ORDER BY line_no"
                       ).fetchall() == [("a", 3, "within"), ("b", 6, "exceeds"), ("b", 6, "exceeds")]


def test_lines_are_numbered_by_position_even_when_the_table_numbers_them_per_claim(con):
    day = "2026-05-01"
    con.execute("CREATE OR REPLACE TEMP TABLE claims AS SELECT * FROM (VALUES "
                f"('a', 1, '37253', 3, DATE '{day}', 'practitioner'), ('b', 1, '64483', 2, DATE '{day}', "
                "'practitioner')) t(claim_id, line_no, hcpcs, units, date_of_service, service_type)")
    assert con.execute("SELECT line_no, hcpcs, status FROM mue_check('claims') ORDER BY line_no").fetchall() == [
        (1, "37253", "within"), (2, "64483", "exceeds")]


def test_the_rules_own_columns_win_over_columns_of_the_same_name_and_days_are_days(con):
    # a table with its own status, mai, mue_value, covered and units_that_day, and times of day on one day
    con.execute("CREATE OR REPLACE TEMP TABLE odd AS SELECT * FROM (VALUES "
                "('37253', 3, TIMESTAMP '2026-05-01 08:00', 'practitioner', 'paid', 1, 100, false, 1), "
                "('37253', 4, TIMESTAMP '2026-05-01 14:00', 'practitioner', 'denied', 1, 100, false, 1)) "
                "t(hcpcs, units, date_of_service, service_type, status, mai, mue_value, covered, units_that_day)")
    assert con.execute("SELECT mai, mue_value, units_compared, status FROM mue_check('odd') ORDER BY line_no"
                       ).fetchall() == [(3, 5, 7, "exceeds")] * 2


def test_a_rule_row_that_names_another_line_is_an_error_never_that_lines_answer(monkeypatch):
    """line_results_sql joins the three rules by line number; a rule whose rows came back numbered for other lines
    (here a pfs_check that swaps them) must stop the query, and the check must run although no caller selects it."""
    import duckdb
    import pytest

    from warehouse import claim_rules
    from warehouse.claim_rules import line_results_sql

    con = duckdb.connect()
    con.execute("CREATE TABLE claim_lines AS SELECT * FROM (VALUES (1, '37252'), (2, '99214')) t(line_no, hcpcs)")
    rows = ("SELECT line_no, hcpcs, NULL AS locality, NULL AS pfs_amount, NULL AS pfs_period, NULL AS pfs_status_code,"
            " NULL AS pfs_cf_variant, 'priced' AS pfs_status, NULL AS mue_period, NULL AS mue_value, NULL AS mai, "
            "NULL AS units_compared, 'ok' AS status, NULL AS aoc_period, NULL AS edit_type, "
            "NULL AS primaries_on_claim FROM query_table(lines)")
    for rule in claim_rules.LINE_RULES:  # the rules, as line_results_sql reads them
        monkeypatch.setitem(claim_rules.HELPER_MACROS, rule, ("lines", rows))
    assert [r[0] for r in con.execute(f"SELECT line_no FROM ({line_results_sql()}) ORDER BY 1").fetchall()] == [1, 2]
    monkeypatch.setitem(claim_rules.HELPER_MACROS, "pfs_check", (
        "lines", f"SELECT 3 - line_no AS line_no, * EXCLUDE (line_no) FROM ({rows})"))
    with pytest.raises(duckdb.Error, match="claim lines out of step"):
        con.execute(f"SELECT pfs_status FROM ({line_results_sql()})").fetchall()
