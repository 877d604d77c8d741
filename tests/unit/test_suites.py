"""The per-table suites fail on what they are meant to catch (small frames built in code)."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from core.errors import ValidationError
from expectations.suites import validate_tables
from core.tables import TABLES


def cf_frame(value: str, kind="physician", variant="all"):
    return pl.DataFrame({"kind": [kind], "variant": [variant], "conversion_factor": [Decimal(value)],
                         "source_field": ["CONV FACTOR column"], "source_sha256": ["x"], "source_row": [11]})


def gpci_frame(n=109, mp="0.575"):
    return pl.DataFrame({
        "mac": [f"{10000 + i:05d}" for i in range(n)], "state": ["AL"] * n, "locality": ["00"] * n,
        "locality_name": ["ALABAMA"] * n, "work_gpci": [Decimal("1.000")] * n, "pe_gpci": [Decimal("0.869")] * n,
        "mp_gpci": [Decimal(mp)] * n, "source_sha256": ["x"] * n, "source_row": list(range(4, 4 + n)),
    }).select(*[c.name for c in TABLES["pfs_gpci"].columns], "source_sha256", "source_row")


def check(tables, eff=date(2024, 4, 1), previous=None):
    return {r.table: r for r in validate_tables(tables, dataset="pfs", period="2024B", effective_from=eff,
                                                previous_rows=previous, previous_period="2024A")}


def test_conversion_factor_matches_the_curated_table():
    assert check({"conversion_factor": cf_frame("33.2875")})["conversion_factor"].success
    # 32.7442 applied until 2024-03-08 only: for an April release it is a mismatch
    bad = check({"conversion_factor": cf_frame("32.7442")})["conversion_factor"]
    assert not bad.success
    with pytest.raises(ValidationError, match="expect_column_pair_values_to_be_equal"):
        bad.raise_for_failures()


def test_a_cf_with_no_curated_entry_is_a_warning_not_a_failure():
    r = check({"conversion_factor": cf_frame("40.0000")}, eff=date(2019, 1, 1))["conversion_factor"]
    assert r.success and r.warnings()


def test_gpci_out_of_range_and_row_count_drift():
    assert check({"pfs_gpci": gpci_frame()})["pfs_gpci"].success
    r = check({"pfs_gpci": gpci_frame(mp="7.000")})["pfs_gpci"]
    assert [o.column for o in r.failures()] == ["mp_gpci"]
    r = check({"pfs_gpci": gpci_frame(n=109)}, previous={"pfs_gpci": 80})["pfs_gpci"]  # 36% more than last time
    assert [o.expectation for o in r.failures()] == ["expect_table_row_count_to_be_between"]


def test_every_published_table_has_a_suite():
    from expectations.suites import SUITES

    assert set(SUITES) == set(TABLES)


def test_every_column_whose_field_has_a_pattern_or_values_is_checked_by_it():
    """A suite's value checks come from the fields (core/fields.py) of its table's columns, all of them, not from a
    list in the suite: a field given a pattern is checked in every table that has it."""
    from expectations.common import key_checks
    from expectations.pfs_rvu import WARNED

    for name, table in TABLES.items():
        warned = WARNED if name == "pfs_rvu" else ()
        checked = {(type(c).__name__, c.column) for c in key_checks(name, warned=warned)
                   if type(c).__name__ in ("ExpectColumnValuesToMatchRegex", "ExpectColumnValuesToBeInSet")}
        assert checked, name
        wanted = {("ExpectColumnValuesToMatchRegex", c.name) for c in table.columns
                  if c.spec.pattern is not None and c.name not in warned}
        wanted |= {("ExpectColumnValuesToBeInSet", c.name) for c in table.columns
                   if c.spec.values is not None and c.name not in warned}
        assert checked == wanted, name
    assert ("ExpectColumnValuesToMatchRegex", "payment_indicator") in {
        (type(c).__name__, getattr(c, "column", None)) for c in key_checks("asc_addendum_aa")}


# --------------------------------------------------------------------------- consistency within and across tables
def rvu_frame(n=16_000, **override):
    base = {"hcpcs": [f"{10000 + i:05d}" for i in range(n)], "modifier": [""] * n, "status_code": ["A"] * n,
            "global_days": ["000"] * n, "conversion_factor": [Decimal("33.2875")] * n,
            "work_rvu": [Decimal("3.80")] * n, "non_facility_pe_rvu": [Decimal("2.00")] * n,
            "facility_pe_rvu": [Decimal("1.00")] * n, "mp_rvu": [Decimal("0.80")] * n,
            "non_facility_total_rvu": [Decimal("6.60")] * n, "facility_total_rvu": [Decimal("5.60")] * n,
            "pre_op_share": [Decimal("0.10")] * n, "intra_op_share": [Decimal("0.80")] * n,
            "post_op_share": [Decimal("0.10")] * n, "source_sha256": ["x"] * n, "source_row": list(range(11, 11 + n))}
    for column, (row, value) in override.items():
        base[column][row] = value
    frame = pl.DataFrame(base)
    cols = [c.name for c in TABLES["pfs_rvu"].columns]
    frame = frame.with_columns(*[pl.lit(None, dtype=TABLES["pfs_rvu"].column(c).polars_type).alias(c)
                                 for c in cols if c not in frame.columns])
    return frame.select(*cols, "source_sha256", "source_row")


def failed(result) -> list[tuple[str, str]]:
    return [(o.expectation, o.column) for o in result.failures()]


def test_a_clean_rvu_frame_passes():
    assert check({"pfs_rvu": rvu_frame()})["pfs_rvu"].success


def test_a_total_that_is_not_the_sum_of_its_parts_names_the_code():
    r = check({"pfs_rvu": rvu_frame(non_facility_total_rvu=(5, Decimal("6.62")))})["pfs_rvu"]
    assert failed(r) == [("expect_column_values_to_be_null", "total_rvu_problem")]
    with pytest.raises(ValidationError, match=r"10005 : non_facility_total_rvu 6.62 != work 3.80 \+ PE 2.00 \+ MP 0.80"):
        r.raise_for_failures()


def test_shares_out_of_range_or_summing_over_one():
    r = check({"pfs_rvu": rvu_frame(pre_op_share=(3, Decimal("50.00")))})["pfs_rvu"]
    assert set(failed(r)) == {("expect_column_values_to_be_between", "pre_op_share"),
                              ("expect_column_values_to_be_between", "share_sum")}


def test_work_and_mp_swapped_in_every_row_fail_the_means():
    frame = rvu_frame().with_columns(pl.col("mp_rvu").alias("work_rvu"), pl.col("work_rvu").alias("mp_rvu"))
    r = check({"pfs_rvu": frame})["pfs_rvu"]
    assert set(failed(r)) == {("expect_column_mean_to_be_between", "work_rvu"),
                              ("expect_column_mean_to_be_between", "mp_rvu")}


def test_a_pprrvu_cut_to_95_percent_of_the_previous_release_fails():
    r = check({"pfs_rvu": rvu_frame(n=16_000)}, previous={"pfs_rvu": 16_900})["pfs_rvu"]  # 94.7 %
    assert failed(r) == [("expect_table_row_count_to_be_between", None)]
    assert check({"pfs_rvu": rvu_frame(n=16_000)}, previous={"pfs_rvu": 16_300})["pfs_rvu"].success  # 98 %


def locality_frames(drop: dict[str, int] | None = None):
    gpci = gpci_frame(n=5)
    locco = pl.DataFrame({"mac": gpci["mac"], "locality": gpci["locality"], "state": ["AL"] * 5,
                          "fee_schedule_area": ["X"] * 5, "counties": ["ALL"] * 5, "source_sha256": ["x"] * 5,
                          "source_row": list(range(5))})
    anes = pl.DataFrame({"mac": gpci["mac"], "locality": gpci["locality"], "anesthesia_cf": [Decimal("19.31")] * 5,
                         "source_sha256": ["x"] * 5, "source_row": list(range(5))})
    frames = {"pfs_gpci": gpci, "pfs_locality": locco, "pfs_anesthesia_cf": anes}
    for table, row in (drop or {}).items():
        frames[table] = frames[table].filter(pl.int_range(pl.len()) != row)
    return frames


def test_a_locality_missing_from_one_file_of_the_release_is_named():
    from expectations import consistency

    ok = consistency.release_checks(locality_frames())
    assert [label for label, *_ in ok] == ["pfs localities (GPCI, LOCCO, ANES)"]
    assert ok[0][1]["problem"].null_count() == 5
    (_, frame, _), = consistency.release_checks(locality_frames({"pfs_anesthesia_cf": 2}))
    assert frame["problem"].drop_nulls().to_list() == ["10002:00 missing from ANES"]
    results = validate_tables(locality_frames({"pfs_locality": 4}), dataset="pfs", period="2024B",
                              effective_from=date(2024, 4, 1))
    (across,) = [r for r in results if r.table == "pfs localities (GPCI, LOCCO, ANES)"]
    assert not across.success  # (the 5-row tables also fail their own row-count bounds; not what this test is about)
    with pytest.raises(ValidationError, match="10004:00 missing from LOCCO"):
        across.raise_for_failures()


def test_an_unknown_pfs_status_code_fails():
    r = check({"pfs_rvu": rvu_frame(status_code=(7, "Z"))})["pfs_rvu"]
    assert failed(r) == [("expect_column_values_to_be_in_set", "status_code")]


@pytest.mark.parametrize("n", [99, 121])
def test_a_locality_table_outside_100_to_120_localities_fails(n):
    r = check({"pfs_gpci": gpci_frame(n=n)})["pfs_gpci"]
    assert ("expect_table_row_count_to_be_between", None) in failed(r)


def test_a_changed_locality_set_needs_a_catalogued_reason():
    from expectations import consistency

    frames = {"pfs_gpci": gpci_frame(n=5)}
    keys = set(frames["pfs_gpci"].select("mac", "locality").iter_rows())
    def previous(keys, why=None):
        return {"localities": (keys, "2024B", why)}
    assert consistency.release_checks(frames, previous(keys))[0][1]["problem"].to_list() == [None]
    fewer = keys - {("10004", "00")}
    (_, frame, _), = consistency.release_checks(frames, previous(fewer))
    assert frame["problem"].to_list() == ["10004:00 added since 2024B"]
    assert consistency.release_checks(frames, previous(fewer, "CY2023 California locality update")) == []


def test_work_rvus_that_changed_for_most_codes_since_the_previous_release_fail():
    before = rvu_frame().select("hcpcs", "modifier", "work_rvu")
    same = validate_tables({"pfs_rvu": rvu_frame()}, dataset="pfs", period="2024C", effective_from=date(2024, 7, 1),
                           previous_data={"work_rvu": (before, "2024B")})
    assert [r.success for r in same if r.table == "pfs_rvu work RVUs vs 2024B"] == [True]
    shifted = rvu_frame().with_columns(pl.col("mp_rvu").alias("work_rvu"))  # MP read into the work column
    results = validate_tables({"pfs_rvu": shifted}, dataset="pfs", period="2024C", effective_from=date(2024, 7, 1),
                              previous_data={"work_rvu": (before, "2024B")})
    (churn,) = [r for r in results if r.table == "pfs_rvu work RVUs vs 2024B"]
    assert not churn.success
    with pytest.raises(ValidationError, match="share_changed"):
        churn.raise_for_failures()
