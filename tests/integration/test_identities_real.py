"""The identities of expectations/rates.py and expectations/cross_file.py hold on every real file of the mirror
(../shared/cms-mirror), with CMS's own exceptions counted exactly."""

from functools import cache

import polars as pl
import pytest

from tests.helpers import MIRROR

pytestmark = pytest.mark.integration

ASC_QUARTERS = ["2020-01", "2020-04", "2020-07", "2021-01", "2021-04", "2022-01", "2022-04", "2023-01", "2023-10",
                "2024-01", "2024-04", "2025-01", "2026-01"]
OPPS_QUARTERS = ["2020-01", "2020-04", "2021-01", "2022-01", "2022-04", "2022-07", "2022-10"]


@cache
def built(dataset: str, period: str):
    """(release, transformed tables) of a real release, as the build reads it from the mirror."""
    from cmsref.pipeline import extract, transform
    from extract.catalog import load_dataset

    if not MIRROR.is_dir():
        pytest.skip(f"real CMS files not found at {MIRROR}")
    spec = load_dataset(dataset)
    release = spec.release(period)
    return release, transform(spec, release, extract(spec, release, MIRROR))


def test_the_asc_cf_of_2024_is_53_514_and_every_rate_of_april_2024_is_weight_times_it():
    from expectations import asc_addendum_aa, rates

    release, tables = built("asc", "2024-04")
    assert rates.curated_cf("asc", release.effective_from) == 53.514
    for table in ("asc_addendum_aa", "asc_addendum_bb"):
        frame = asc_addendum_aa.with_derived(tables.tables[table], release.effective_from)
        weighted = frame.filter(pl.col("payment_weight") > 0)
        assert weighted.height == {"asc_addendum_aa": 3287, "asc_addendum_bb": 324}[table]
        gap = (weighted["payment_rate"].cast(pl.Float64) - weighted["payment_weight"].cast(pl.Float64) * 53.514).abs()
        assert gap.max() <= 0.005 + 1e-6  # rounded to the cent
        assert frame["rate_problem"].null_count() == frame.height
    _, january = built("asc", "2024-01")  # AA.txt row 5: 0101T  R2  2.2859  $122.33 (2.2859 x 53.514 = 122.3277)
    row = january.tables["asc_addendum_aa"].filter(pl.col("hcpcs") == "0101T")
    assert [str(v) for v in row.select("payment_weight", "payment_rate").row(0)] == ["2.2859", "122.33"]


@pytest.mark.parametrize("period", ASC_QUARTERS)
def test_every_asc_quarter_obeys_rate_equals_weight_times_cf(period):
    from expectations import asc_addendum_aa

    release, tables = built("asc", period)
    one_cent = []
    for table in ("asc_addendum_aa", "asc_addendum_bb"):
        frame = asc_addendum_aa.with_derived(tables.tables[table], release.effective_from)
        assert frame["asc_conversion_factor"].null_count() == 0  # every mirrored year has a curated CF
        assert frame["rate_problem"].drop_nulls().to_list() == []
        off = frame.filter(pl.col("payment_weight") > 0).filter(
            (pl.col("payment_rate").cast(pl.Float64) - pl.col("payment_weight").cast(pl.Float64)
             * pl.col("asc_conversion_factor")).abs() > 0.005 + 1e-6)
        one_cent += off["hcpcs"].to_list()
    # CMS's own: rounded from an unrounded weight, one cent off
    assert one_cent == {"2021-04": ["0632T"], "2026-01": ["0871T"]}.get(period, [])


def test_cms_zero_weight_rows_of_january_2024_are_counted_in_the_release_notes():
    _, tables = built("asc", "2024-01")
    bb = tables.tables["asc_addendum_bb"]
    zero = bb.filter((pl.col("payment_weight") == 0) & pl.col("payment_rate").is_not_null())
    assert zero.height == 17 and set(zero["payment_indicator"]) == {"H2"}
    (note,) = [n for n in tables.notes if "payment weight of 0" in n]
    assert note.startswith("asc_addendum_bb: 17 rows state a payment weight of 0") and "A9527 60.15" in note
    others = [built("asc", q)[1].notes for q in ASC_QUARTERS if q != "2024-01"]
    assert not [n for notes in others for n in notes if "payment weight of 0" in n]


@pytest.mark.parametrize("period", OPPS_QUARTERS)
def test_every_opps_addendum_b_obeys_its_rate_and_copayment_identities(period):
    from expectations import opps_addendum_b

    release, tables = built("opps", period)
    frame = opps_addendum_b.with_derived(tables.tables["opps_addendum_b"], release.effective_from)
    assert frame["opps_conversion_factor"][0] == {"2020": 80.793, "2021": 82.797, "2022": 84.177}[period[:4]]
    assert frame["rate_problem"].drop_nulls().to_list() == []
    assert frame["copay_problem"].drop_nulls().to_list() == []
    national = frame.filter(pl.col("national_unadjusted_copayment").is_not_null())
    assert 120 <= national.height <= 160  # the identities are not vacuous: CMS states about 130 of them


@pytest.mark.parametrize("period, national, stated", [("2024B", 20.7738, None), ("2025D", 20.3177, 20.3178)])
def test_gpci_locco_and_anes_of_a_real_release_agree(period, national, stated):
    from expectations import cross_file
    from expectations.cross_file import fit_anesthesia

    _, tables = built("pfs", period)
    checks = {label: frame for label, frame, _ in cross_file.release_checks(tables.tables)}
    names = checks["pfs locality names (GPCI vs LOCCO)"]
    assert names.height == 109 and names["problem"].null_count() == 109
    anes = checks["pfs anesthesia CF vs GPCI (ANES, GPCI)"]
    assert anes.height == 109 and anes["problem"].null_count() == 109
    assert anes["gap"].abs().max() < 0.006
    j = tables.tables["pfs_gpci"].join(tables.tables["pfs_anesthesia_cf"], on=["mac", "locality"])
    coef, _ = fit_anesthesia(*(j[c].cast(pl.Float64).to_numpy()
                               for c in ("work_gpci", "pe_gpci", "mp_gpci", "anesthesia_cf")))
    assert coef.sum() == pytest.approx(national, abs=0.0001)
    if stated:  # the fitted national anesthesia CF is the one the ANES header states
        cf = tables.tables["conversion_factor"].filter(pl.col("kind") == "anesthesia")["conversion_factor"][0]
        assert float(cf) == stated and abs(coef.sum() - stated) < 0.001
