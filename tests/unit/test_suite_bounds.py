"""Every row-count bound a suite states, tested just inside and just past it (issue 21): the absolute bounds, and the
drift from the previous release's row count. The bounds are restated here on purpose: a test that read them from
the suites would follow a changed bound instead of failing."""

from __future__ import annotations

import polars as pl
import pytest

from expectations.common import E, SuiteContext
from expectations.runner import run_suite
from expectations.suites import SUITES

# table: (fewest rows, most rows, largest drift from the previous release), as the suites state them
BOUNDS = {
    "pfs_rvu": (15_000, 25_000, 0.04),
    "pfs_gpci": (100, 120, 0.10),
    "pfs_locality": (100, 120, 0.10),
    "pfs_anesthesia_cf": (100, 120, 0.10),
    "pfs_opps_cap": (8_000, 30_000, 0.25),
    "mue": (1_000, 40_000, 0.10),
    "addon_code_edit": (1, 200_000, 0.25),
    "opps_addendum_a": (1, 5_000, 0.10),
    "opps_addendum_b": (1, 40_000, 0.10),
    "asc_addendum_aa": (100, 20_000, 0.20),
    "asc_addendum_bb": (100, 20_000, 0.20),
    "asc_device_offset": (100, 20_000, 0.20),
    "asc_excluded": (100, 20_000, 0.35),
    "zip_locality": (30_000, 50_000, 0.02),
    "status_indicator": (2, 200, None),  # no drift bound: an indicator list is as long as CMS defines it
    "vendor_guide_row": (1, 100_000, None),
}
PREVIOUS = 100_000  # a previous release's rows: large enough that the drift bound is exact to the row


class _AnyCodes:
    """Indicator definitions of every setting (the suites ask for them; row counts do not depend on them)."""

    def get(self, setting):
        return ["x"]


def row_count_checks(table: str, previous: int | None = None) -> list:
    ctx = SuiteContext("d", "2026-01", 2026, previous, "prev" if previous else None, _AnyCodes())
    checks, _ = SUITES[table](pl.DataFrame(), ctx)
    return [c for c in checks if isinstance(c, E.ExpectTableRowCountToBeBetween)]


def accepts(checks, rows: int) -> bool:
    return all(c.min_value <= rows <= c.max_value for c in checks)


def test_every_suite_that_counts_rows_is_listed_here():
    assert {t for t in SUITES if row_count_checks(t)} == set(BOUNDS)
    assert {t for t in SUITES if len(row_count_checks(t, PREVIOUS)) == 2} == {
        t for t, (_, _, drift) in BOUNDS.items() if drift is not None}


@pytest.mark.parametrize("table", sorted(BOUNDS))
def test_the_absolute_row_count_bounds(table):
    low, high, _ = BOUNDS[table]
    checks = row_count_checks(table)
    assert [accepts(checks, n) for n in (low - 1, low, high, high + 1)] == [False, True, True, False]


@pytest.mark.parametrize("table", sorted(t for t, (_, _, drift) in BOUNDS.items() if drift is not None))
def test_the_drift_from_the_previous_release(table):
    _, _, drift = BOUNDS[table]
    (check,) = [c for c in row_count_checks(table, PREVIOUS) if "previous" in (c.meta or {}).get("why", "")]
    low, high = round(PREVIOUS * (1 - drift)), round(PREVIOUS * (1 + drift)) + 1  # one row of slack above
    assert [accepts([check], n) for n in (low - 1, low, high, high + 1)] == [False, True, True, False]
    half = PREVIOUS * 0.005  # half a percent past the bound and half a percent inside it
    assert [accepts([check], round(n)) for n in (PREVIOUS * (1 - drift) - half, PREVIOUS * (1 - drift) + half,
                                                 PREVIOUS * (1 + drift) - half, PREVIOUS * (1 + drift) + half)] == [
        False, True, True, False]


@pytest.mark.parametrize("rows, success", [(19_949, False), (18_231, False), (19_758, True), (18_422, True)])
def test_a_pprrvu_drifting_4_5_percent_from_the_previous_release_is_refused(rows, success):
    """Through Great Expectations, after RVU25D's 19,090 rows: 4.5 % more or fewer fails, 3.5 % passes."""
    frame = pl.DataFrame({"hcpcs": pl.int_range(rows, eager=True)})
    result = run_suite(frame, "pfs_rvu", row_count_checks("pfs_rvu", 19_090))
    assert result.success is success
