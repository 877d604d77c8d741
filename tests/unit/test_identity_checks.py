"""The identities CMS's files obey (expectations/rates.py, expectations/cross_file.py) fail on frames built in code
that break exactly one of them, and pass on the same frames intact."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest

from core.errors import ValidationError
from expectations.suites import validate_tables
from core.tables import TABLES

ASC_CF_2024 = Decimal("53.514")
OPPS_CF_2022 = Decimal("84.177")


def typed(table: str, data: dict) -> pl.DataFrame:
    """`data` as the published table: every registry column (NULL where not given), its type, lineage."""
    n = len(next(iter(data.values())))
    frame = pl.DataFrame(data)
    cols = TABLES[table].columns
    frame = frame.with_columns(*[pl.lit(None).alias(c.name) for c in cols if c.name not in frame.columns])
    frame = frame.select(*[pl.col(c.name).cast(c.polars_type) for c in cols])
    return frame.with_columns(pl.lit("x").alias("source_sha256"), pl.Series("source_row", range(5, 5 + n)))


def definitions(setting: str, codes: list[str]) -> pl.DataFrame:
    return typed("status_indicator", {"setting": [setting] * len(codes), "code": codes, "definition": codes})


def failed(result) -> list[tuple[str, str]]:
    return [(o.expectation, o.column) for o in result.failures()]


def only(results, table: str):
    (r,) = [r for r in results if r.table == table]
    return r


# ------------------------------------------------------------------------------------------------ ASC
def asc_frame(table="asc_addendum_aa", n=150, cf=ASC_CF_2024, **override):
    weights = [Decimal(f"{1 + i * 0.7371:.4f}") for i in range(n)]
    rates = [(w * cf).quantize(Decimal("0.01"), ROUND_HALF_UP) for w in weights]
    data = {"hcpcs": [f"{20000 + i:05d}" for i in range(n)], "payment_indicator": ["A2"] * n,
            "payment_weight": weights, "payment_rate": rates}
    for column, (row, value) in override.items():
        data[column][row] = value
    return typed(table, data)


def check_asc(frame, table="asc_addendum_aa", eff=date(2024, 1, 1)):
    results = validate_tables({table: frame, "status_indicator": definitions("asc_pi", ["A2", "H2", "K2"])},
                              dataset="asc", period=f"{eff:%Y-%m}", effective_from=eff)
    return only(results, table)


@pytest.mark.parametrize("table", ["asc_addendum_aa", "asc_addendum_bb"])
def test_asc_rates_that_are_weight_times_the_cf_pass(table):
    r = check_asc(asc_frame(table), table)
    assert r.success and not r.warnings()


@pytest.mark.parametrize("table", ["asc_addendum_aa", "asc_addendum_bb"])
def test_an_asc_rate_with_two_digits_transposed_is_refused(table):
    frame = asc_frame(table)
    good = frame["payment_rate"][7]  # 6.1597 x 53.514 = 329.63
    assert good == Decimal("329.63")
    r = check_asc(asc_frame(table, payment_rate=(7, Decimal("329.36"))), table)
    assert failed(r) == [("expect_column_values_to_be_null", "rate_problem")]
    with pytest.raises(ValidationError, match=rf"{table}.*20007: payment_rate 329.36 != payment_weight 6.1597 "
                                              rf"x CF 53.514 = 329.63"):
        r.raise_for_failures()


def test_an_asc_rate_one_cent_off_passes_and_two_cents_off_fails():
    assert check_asc(asc_frame(payment_rate=(7, Decimal("329.64")))).success  # CMS's own (0632T, 0871T)
    assert failed(check_asc(asc_frame(payment_rate=(7, Decimal("329.65"))))) == \
        [("expect_column_values_to_be_null", "rate_problem")]


def test_an_asc_row_with_a_weight_of_zero_or_no_weight_is_not_checked():
    """CMS's 2024-01 BB states 0.0000 and a rate for its H2 codes; P3 / K2 rows have a rate and no weight."""
    frame = asc_frame("asc_addendum_bb", payment_weight=(3, Decimal("0")), payment_rate=(3, Decimal("60.15")))
    frame = frame.with_columns(pl.when(pl.col("hcpcs") == "20004").then(None).otherwise(pl.col("payment_weight"))
                               .alias("payment_weight"))
    assert check_asc(frame, "asc_addendum_bb").success


def test_an_asc_year_with_no_curated_cf_is_a_warning():
    r = check_asc(asc_frame(cf=Decimal("60.000")), eff=date(2031, 1, 1))
    assert r.success
    assert [(o.expectation, o.column) for o in r.warnings()] == \
        [("expect_column_values_to_not_be_null", "asc_conversion_factor")]


def test_the_release_notes_list_cms_zero_weight_rows():
    from transform.asc import zero_weight_notes

    bb = asc_frame("asc_addendum_bb", payment_weight=(3, Decimal("0")), payment_rate=(3, Decimal("60.15")))
    assert zero_weight_notes({"asc_addendum_bb": bb, "asc_addendum_aa": asc_frame()}) == [
        "asc_addendum_bb: 1 row state a payment weight of 0 and a payment rate (CMS's own; not weight x the ASC "
        "conversion factor, so not checked against it): 20003 60.15"]


# ------------------------------------------------------------------------------------------------ OPPS
def opps_frame(n=60, **override):
    weights = [Decimal(f"{0.5 + i * 1.3077:.4f}") for i in range(n)]
    rates = [(w * OPPS_CF_2022).quantize(Decimal("0.01"), ROUND_HALF_UP) for w in weights]
    data = {"hcpcs": [f"{30000 + i:05d}" for i in range(n)], "status_indicator": ["T"] * n, "apc": ["5111"] * n,
            "relative_weight": weights, "payment_rate": rates, "national_unadjusted_copayment": [None] * n,
            "minimum_unadjusted_copayment": [(r * Decimal("0.2")).quantize(Decimal("0.01"), ROUND_HALF_UP)
                                             for r in rates]}
    data["national_unadjusted_copayment"][2] = data["minimum_unadjusted_copayment"][2] + 10
    data["minimum_unadjusted_copayment"][4] = Decimal("0")  # no cost sharing: allowed
    for column, (row, value) in override.items():
        data[column][row] = value
    return typed("opps_addendum_b", data)


def check_opps(frame, eff=date(2022, 1, 1)):
    results = validate_tables({"opps_addendum_b": frame, "status_indicator": definitions("opps_si", ["T", "S"])},
                              dataset="opps", period=f"{eff:%Y-%m}", effective_from=eff)
    return only(results, "opps_addendum_b")


def test_opps_rates_and_copayments_that_obey_the_identities_pass():
    r = check_opps(opps_frame())
    assert r.success and not r.warnings()


def test_an_opps_rate_that_is_not_weight_times_the_cf_is_refused():
    frame = opps_frame()
    rate = frame["payment_rate"][10]  # 13.5770 x 84.177 = 1142.87
    assert rate == Decimal("1142.87")
    r = check_opps(opps_frame(payment_rate=(10, Decimal("1142.78"))))
    assert ("expect_column_values_to_be_null", "rate_problem") in failed(r)
    with pytest.raises(ValidationError, match=r"30010: payment_rate 1142.78 != relative_weight 13.5770 x CF 84.177 "
                                              r"= 1142.87"):
        r.raise_for_failures()


@pytest.mark.parametrize("override, why", [
    ({"national_unadjusted_copayment": (5, Decimal("99999"))}, "national copayment above the rate"),
    ({"national_unadjusted_copayment": (5, Decimal("1"))}, "minimum copayment above the national"),
    ({"minimum_unadjusted_copayment": (5, Decimal("118.05"))}, r"minimum copayment is not 20 % of the rate \(118.5\)"),
])
def test_opps_copayments_that_break_an_identity_are_refused(override, why):
    r = check_opps(opps_frame(**override))
    assert failed(r) == [("expect_column_values_to_be_null", "copay_problem")]
    with pytest.raises(ValidationError, match=rf"30005: payment_rate .*: {why}"):
        r.raise_for_failures()


def test_an_opps_year_with_no_curated_cf_is_a_warning():
    r = check_opps(opps_frame(), eff=date(2031, 1, 1))
    assert r.success and [o.column for o in r.warnings()] == ["opps_conversion_factor"]


# ------------------------------------------------------------------------------------------------ PFS across files
SHARES = (0.7687, 0.1662, 0.0651)  # RVU25D's fitted anesthesia shares


def pfs_frames(n=109):
    """GPCI, LOCCO and ANES of n localities, written the way CMS writes each file."""
    names = ["ALABAMA", "REST OF CALIFORNIA", "HAWAII, GUAM", "LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES/ORANGE CNTY)"]
    areas = [("STATEWIDE", "ALABAMA"), ("REST OF STATE", "CALIFORNIA"), ("STATEWIDE", "HAWAII/GUAM"),
             ("LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES CNTY)", "CALIFORNIA")]
    names += [f"AREA {i}" for i in range(len(names), n)]
    areas += [(f"AREA {i}*", "TEXAS") for i in range(len(areas), n)]
    mac = [f"{10000 + i:05d}" for i in range(n)]
    work = [Decimal(f"{1 + (i % 7) * 0.011:.3f}") for i in range(n)]
    pe = [Decimal(f"{0.85 + (i % 13) * 0.031:.3f}") for i in range(n)]
    mp = [Decimal(f"{0.4 + (i % 17) * 0.087:.3f}") for i in range(n)]
    anes = [Decimal(str(round(20.3178 * (SHARES[0] * float(w) + SHARES[1] * float(p) + SHARES[2] * float(m)), 2)))
            for w, p, m in zip(work, pe, mp)]
    loc = ["01"] * n
    return {
        "pfs_gpci": typed("pfs_gpci", {"mac": mac, "state": ["TX"] * n, "locality": loc, "locality_name": names,
                                       "work_gpci": work, "pe_gpci": pe, "mp_gpci": mp}),
        "pfs_locality": typed("pfs_locality", {"mac": mac, "locality": loc, "state": [s for _, s in areas],
                                               "fee_schedule_area": [a for a, _ in areas], "counties": ["ALL"] * n}),
        "pfs_anesthesia_cf": typed("pfs_anesthesia_cf", {"mac": mac, "locality": loc, "anesthesia_cf": anes}),
    }


def check_pfs(frames):
    results = validate_tables(frames, dataset="pfs", period="2025D", effective_from=date(2025, 10, 1))
    return {r.table: r for r in results}


NAMES = "pfs locality names (GPCI vs LOCCO)"
ANES = "pfs anesthesia CF vs GPCI (ANES, GPCI)"


def test_localities_named_alike_in_gpci_and_locco_and_anes_cfs_that_follow_the_gpcis_pass():
    r = check_pfs(pfs_frames())
    assert r[NAMES].success and r[ANES].success
    assert all(x.success for x in r.values()), [x.summary() for x in r.values() if not x.success]


def test_the_name_rule():
    from expectations.cross_file import comparable, locco_locality_name

    assert comparable("HAWAII, GUAM") == comparable(locco_locality_name("STATEWIDE", "HAWAII/GUAM"))
    assert comparable("REST OF MISSOURI") == comparable(locco_locality_name("REST OF STATE*", "MISSOURI"))
    assert comparable("SAN FRANCISCO-OAKLAND-BERKELEY (SAN FRANCISCO/SAN MATEO/ALAMEDA/CONTRA COSTA CNTY)") == \
        comparable("SAN FRANCISCO-OAKLAND-BERKELEY (SAN FRANCISCO CNTY/ALAMEDA/CONTR COSTA CNTY/SAN MATEO)")
    assert comparable("ALASKA*") == "ALASKA"
    assert comparable("CHICO") != comparable("FRESNO")


def swap_rows(frame: pl.DataFrame, a: int, b: int, columns: list[str]) -> pl.DataFrame:
    idx = list(range(frame.height))
    idx[a], idx[b] = b, a
    return frame.with_columns(*[frame[c].gather(idx) for c in columns])


def test_two_localities_numbers_swapped_in_gpci_are_refused():
    frames = pfs_frames()
    frames["pfs_gpci"] = swap_rows(frames["pfs_gpci"], 10, 20, ["mac", "locality"]).sort("mac")
    r = check_pfs(frames)
    assert failed(r[NAMES]) == [("expect_column_values_to_be_null", "problem")]
    with pytest.raises(ValidationError, match=r"pfs locality names \(GPCI vs LOCCO\).*10010:01 is named AREA 20 in "
                                              r"GPCI \(row 25\) but AREA 10 in LOCCO"):
        r[NAMES].raise_for_failures()
    assert not r[ANES].success  # each is also paid with the other's GPCIs


def test_two_localities_gpci_values_swapped_with_names_intact_are_refused():
    frames = pfs_frames()
    frames["pfs_gpci"] = swap_rows(frames["pfs_gpci"], 10, 20, ["work_gpci", "pe_gpci", "mp_gpci"])
    r = check_pfs(frames)
    assert r[NAMES].success
    assert failed(r[ANES]) == [("expect_column_values_to_be_null", "problem")]
    assert r[ANES].failures()[0].unexpected_count == 2  # the two localities, no other
    with pytest.raises(ValidationError, match=r"10010:01 AREA 10: ANES CF 21.73 \(ANES row 15\) but its GPCIs "
                                              r"\(GPCI row 15: work 1.066, PE 1.067, MP 0.661\) give 21.13"):
        r[ANES].raise_for_failures()


def test_the_anesthesia_fit_finds_the_national_cf():
    from expectations.cross_file import fit_anesthesia

    g = pfs_frames()
    j = g["pfs_gpci"].join(g["pfs_anesthesia_cf"], on=["mac", "locality"])
    coef, residual = fit_anesthesia(*(j[c].cast(pl.Float64).to_numpy()
                                      for c in ("work_gpci", "pe_gpci", "mp_gpci", "anesthesia_cf")))
    assert abs(coef.sum() - 20.3178 * sum(SHARES)) < 0.01 and abs(residual).max() < 0.01


def test_too_few_localities_are_not_fitted():
    from expectations import cross_file

    assert [label for label, *_ in cross_file.release_checks(pfs_frames(n=5))] == [NAMES]
