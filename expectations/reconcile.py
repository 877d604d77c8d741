"""Reconcile a vendor guide's figures (transform/vendor_guide.py) against cmsref's CMS data.

Every figure the guide states becomes one Check: the CMS figure it is compared with, the release that figure
comes from, and a status:

* match            the guide states the CMS figure (at the guide's precision, see _compare_numbers)
* mismatch         it states something else
* not in CMS data  no loaded release of the year has the table, or the table does not have the code
* not comparable   cmsref has no table for the statement (e.g. "cannot be reported with": no NCCI PTP table yet)
* other period     only another year's CMS data is loaded (e.g. a 2022 MUE against the 2026 table): the figures are
                   shown with the period that would be needed, and never counted as a match

Which release: the guide's year (the `year` argument, else the year the guide states).

* PFS (RVUs, payments): the releases of that year loaded in pfs_rvu. When the guide states a conversion factor,
  the first release of the year with that CF (the release that brought in the CF the guide was computed with:
  33.2875 -> RVU24B, not a January release with 32.7442); else the latest release of the year. National
  amounts come from pfs_payment (is_national, cf_variant 'all', or from 2026 the variant whose CF the guide
  states, else 'non_qp'). No release of the year loaded: every PFS figure is 'not in CMS data'.
* ASC addenda AA/BB and OPPS Addendum B: the latest loaded release of the year, else 'not in CMS data'.
* MUE (practitioner services): the latest table of the year, else the newest loaded table, as 'other period'.

Every lookup reads the view `<name>_on(date)` on a date inside the year that the chosen release covers, so
the connection's views decide which data version is used (latest, or pinned by `cmsref query --version`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import duckdb

from core.errors import CmsrefError, NoDataError
from transform.vendor_guide import GuideExtract, GuideFigure
from core.effective import latest_end_sql, overlaps

MATCH, MISMATCH, NOT_IN_CMS, NOT_COMPARABLE = "match", "mismatch", "not in CMS data", "not comparable"
OTHER_PERIOD = "other period"  # compared with another year's CMS data: never a match, whatever the figures say
STATUS_ORDER = (MISMATCH, OTHER_PERIOD, NOT_IN_CMS, NOT_COMPARABLE, MATCH)  # the report's order

# guide field -> pfs_rvu column (modifier '')
RVU_FIELDS = {"work_rvu": "work_rvu", "total_rvu_facility": "facility_total_rvu",
              "total_rvu_non_facility": "non_facility_total_rvu"}
# guide field -> pfs_payment setting (national amount)
PAYMENT_FIELDS = {"payment_facility": "facility", "payment_non_facility": "non_facility"}
# guide field -> (dataset label, column) of the ASC addenda AA/BB and OPPS Addendum B
ASC_FIELDS = {"asc_payment_indicator": "payment_indicator", "asc_payment": "payment_rate"}
OPPS_FIELDS = {"opps_status_indicator": "status_indicator", "opps_payment": "payment_rate"}
MONEY_FIELDS = frozenset({*PAYMENT_FIELDS, "asc_payment", "opps_payment"})
INDICATOR_FIELDS = frozenset({"asc_payment_indicator", "opps_status_indicator"})
NOT_COMPARABLE_FIELDS = {
    "not_reported_with": "cmsref has no NCCI procedure-to-procedure (PTP) edit table yet",
}
MUE_SERVICE_TYPE = "practitioner"


@dataclass(frozen=True)
class Check:
    guide: str                # the PDF's file name
    guide_sha256: str
    page: int
    hcpcs: str
    field: str                # GuideFigure.field
    guide_value: str          # as normalised by the extractor
    guide_raw: str
    cms_value: str | None     # the CMS figure compared with (as text), None when there is none
    status: str               # 'match' | 'mismatch' | 'not in CMS data' | 'not comparable'
    cms_release: str | None   # release_id used, e.g. 'pfs/2024B/r1'
    note: str                 # short explanation


# --- which release ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Release:
    release_id: str
    period: str
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True)
class _Source:
    """The release a dataset's figures are compared with, or (release None) why there is none."""
    release: _Release | None
    on: date | None           # the date of service looked up (inside the year, inside the release's window)
    note: str                 # why this release, or why none ('' when nothing needs saying)
    cf_variant: str = "all"   # PFS payments only
    other_period: bool = False  # the release is not of the guide's year: figures are shown, never called a match


def _loaded(con: duckdb.DuckDBPyConnection, view: str, where: str = "") -> list[_Release]:
    """Releases of a view in the connection's data version, oldest first."""
    rows = _rows(con, f"SELECT release_id, any_value(period), min(effective_from), {latest_end_sql('effective_to')} "
                      f"FROM {view} "
                      f"{where} GROUP BY release_id ORDER BY 3, 1", [])
    return [_Release(*row) for row in rows]


def _in_year(releases: list[_Release], year: int) -> list[_Release]:
    """The releases in effect on some day of `year` (core.effective, the one rule)."""
    return [r for r in releases if overlaps(r.effective_from, r.effective_to, date(year, 1, 1), date(year + 1, 1, 1))]


def _day_in(release: _Release, year: int) -> date:
    """A date of service in `year` that the release covers."""
    return max(release.effective_from, date(year, 1, 1))


def _periods(releases: list[_Release]) -> str:
    return ", ".join(r.period for r in releases) or "none"


def _pfs_source(con: duckdb.DuckDBPyConnection, year: int, stated_cf: str | None) -> _Source:
    loaded = _loaded(con, "pfs_rvu")
    releases = _in_year(loaded, year)
    if not releases:
        return _Source(None, None, f"no {year} PFS release is loaded (loaded: {_periods(loaded)})")
    cfs: dict[str, dict[str, Decimal]] = {}
    for release_id, variant, cf in con.execute(
            "SELECT release_id, variant, conversion_factor FROM conversion_factor WHERE kind = 'physician'"
    ).fetchall():
        cfs.setdefault(release_id, {})[variant] = cf
    stated = _decimal(stated_cf) if stated_cf else None
    note = ""
    if stated is not None:
        with_cf = [r for r in releases if stated in cfs.get(r.release_id, {}).values()]
        if with_cf:
            chosen = with_cf[0]
        else:
            chosen = releases[-1]
            found = ", ".join(f"{v} {cf}" for v, cf in sorted(cfs.get(chosen.release_id, {}).items()))
            note = (f"no loaded {year} release has the guide's CF {stated_cf}; "
                    f"compared with {chosen.period} (CF {found or 'unknown'})")
    else:
        chosen = releases[-1]
    variants = cfs.get(chosen.release_id, {})
    stated_variant = next((v for v, cf in sorted(variants.items()) if stated is not None and cf == stated), None)
    variant = stated_variant or ("non_qp" if "non_qp" in variants else "all")
    return _Source(chosen, _day_in(chosen, year), note, variant)


def _latest_source(con: duckdb.DuckDBPyConnection, views: tuple[str, ...], year: int, label: str) -> _Source:
    loaded = sorted({r for v in views for r in _loaded(con, v)}, key=lambda r: (r.effective_from, r.release_id))
    releases = _in_year(loaded, year)
    if not releases:
        return _Source(None, None, f"no {year} {label} release is loaded (loaded: {_periods(loaded)})")
    return _Source(releases[-1], _day_in(releases[-1], year), "")


def _mue_source(con: duckdb.DuckDBPyConnection, year: int) -> _Source:
    loaded = _loaded(con, "mue", f"WHERE service_type = '{MUE_SERVICE_TYPE}'")
    if not loaded:
        return _Source(None, None, "no MUE table is loaded")
    releases = _in_year(loaded, year)
    if releases:
        chosen = releases[-1]
        return _Source(chosen, _day_in(chosen, year), f"MUE {chosen.period} ({MUE_SERVICE_TYPE} services)")
    chosen = loaded[-1]
    return _Source(chosen, chosen.effective_from,
                   f"no {year} MUE table is loaded (a {year} quarter's {MUE_SERVICE_TYPE} table is needed); shown: the "
                   f"newest loaded, {chosen.period}, which is another period", other_period=True)


# --- CMS figures -----------------------------------------------------------------------------------------

def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.CatalogException as exc:  # every published view exists (pinned: shown empty if older): say so
        raise CmsrefError(f"the warehouse lacks a view the reconciliation reads ({exc}); rebuild it with this "
                          f"cmsref") from None


def _rvu_values(con, src: _Source, codes: list[str]) -> dict[str, dict[str, object]]:
    cols = ", ".join(RVU_FIELDS.values())
    rows = _rows(con, f"SELECT hcpcs, {cols} FROM pfs_rvu_on(?) WHERE release_id = ? AND modifier = '' "
                      "AND list_contains(?, hcpcs)", [src.on, src.release.release_id, codes])
    return {row[0]: dict(zip(RVU_FIELDS.values(), row[1:])) for row in rows}


def _payment_values(con, src: _Source, codes: list[str]) -> dict[str, dict[str, object]]:
    rows = _rows(con, "SELECT hcpcs, setting, amount FROM pfs_payment_on(?) WHERE release_id = ? AND modifier = '' "
                      "AND is_national AND cf_variant = ? AND list_contains(?, hcpcs)",
                 [src.on, src.release.release_id, src.cf_variant, codes])
    out: dict[str, dict[str, object]] = {}
    for hcpcs, setting, amount in rows:
        out.setdefault(hcpcs, {})[setting] = amount
    return out


def _addendum_values(con, views: tuple[str, ...], columns: tuple[str, ...], src: _Source,
                     codes: list[str]) -> dict[str, dict[str, object]]:
    """The code's row in the first of the views that has it (ASC: AA, then BB)."""
    out: dict[str, dict[str, object]] = {}
    for view in views:
        rows = _rows(con, f"SELECT hcpcs, {', '.join(columns)} FROM {view}_on(?) WHERE release_id = ? "
                          "AND list_contains(?, hcpcs)", [src.on, src.release.release_id, codes])
        for row in rows:
            out.setdefault(row[0], dict(zip(columns, row[1:])))
    return out


def _mue_values(con, src: _Source, codes: list[str]) -> dict[str, dict[str, object]]:
    rows = _rows(con, "SELECT hcpcs, mue_value, mai FROM mue_on(?) WHERE release_id = ? AND service_type = ? "
                      "AND list_contains(?, hcpcs)", [src.on, src.release.release_id, MUE_SERVICE_TYPE, codes])
    return {h: {"mue": v, "mai": mai} for h, v, mai in rows}


# --- comparing -------------------------------------------------------------------------------------------

def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(str(text).replace(",", "").replace("$", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _places(value: Decimal) -> int:
    return max(0, -value.as_tuple().exponent)


def _compare_numbers(guide: str, cms: Decimal, money: bool) -> tuple[str, str]:
    """(status, note). Equal numbers match. A guide value with fewer decimal places than CMS -- one fewer, or
    none at all for a dollar amount -- matches when the CMS figure rounded half-up to the guide's precision
    equals it. A guide value with more places is compared at its own precision (CMS padded with zeros)."""
    g = _decimal(guide)
    if g is None:
        return NOT_COMPARABLE, f"the guide's value {guide!r} is not a number"
    cms = Decimal(cms)
    if g == cms:
        return MATCH, "equal"
    gp, cp = _places(g), _places(cms)
    if gp < cp and (gp == cp - 1 or (money and gp == 0)):
        rounded = cms.quantize(Decimal(1).scaleb(-gp), rounding=ROUND_HALF_UP)
        precision = "whole dollars" if money and gp == 0 else f"{gp} decimal place{'s' * (gp != 1)}"
        if rounded == g:
            return MATCH, f"guide rounds to {precision}; CMS {cms} rounds to {rounded}"
        return MISMATCH, f"guide {guide} differs from CMS {cms} (rounded to {precision}: {rounded})"
    return MISMATCH, f"guide {guide} differs from CMS {cms}"


def _compare_indicators(guide: str, cms: str) -> tuple[str, str]:
    if guide.strip().upper() == cms.strip().upper():
        return MATCH, "equal"
    return MISMATCH, f"guide {guide} differs from CMS {cms}"


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# --- reconcile -------------------------------------------------------------------------------------------

def reconcile(con: duckdb.DuckDBPyConnection, extract: GuideExtract, *, year: int | None = None,
              guide_sha256: str) -> list[Check]:
    """One Check per figure of the guide, in the guide's order. NoDataError if no year is given and the guide
    states none."""
    year = year if year is not None else extract.year
    if year is None:
        raise NoDataError(f"{Path(extract.path).name} states no year; give the year its figures are for")
    codes = sorted({f.hcpcs for f in extract.figures})
    fields = {f.field for f in extract.figures}

    sources: dict[str, _Source] = {}
    values: dict[str, dict[str, dict[str, object]]] = {}  # dataset -> code -> column -> value
    if fields & (RVU_FIELDS.keys() | PAYMENT_FIELDS.keys()):
        src = sources["pfs"] = _pfs_source(con, year, extract.conversion_factor)
        if src.release:
            values["pfs_rvu"] = _rvu_values(con, src, codes)
            values["pfs_payment"] = _payment_values(con, src, codes)
    if fields & ASC_FIELDS.keys():
        src = sources["asc"] = _latest_source(con, ("asc_addendum_aa", "asc_addendum_bb"), year, "ASC addenda")
        if src.release:
            values["asc"] = _addendum_values(con, ("asc_addendum_aa", "asc_addendum_bb"),
                                             tuple(dict.fromkeys(ASC_FIELDS.values())), src, codes)
    if fields & OPPS_FIELDS.keys():
        src = sources["opps"] = _latest_source(con, ("opps_addendum_b",), year, "OPPS Addendum B")
        if src.release:
            values["opps"] = _addendum_values(con, ("opps_addendum_b",),
                                              tuple(dict.fromkeys(OPPS_FIELDS.values())), src, codes)
    if "mue" in fields:
        src = sources["mue"] = _mue_source(con, year)
        if src.release:
            values["mue"] = _mue_values(con, src, codes)

    guide = Path(extract.path).name
    checks = []
    for f in extract.figures:
        cms_value, status, release, note = _check(f, sources, values)
        checks.append(Check(guide, guide_sha256, f.page, f.hcpcs, f.field, f.value, f.raw,
                            cms_value, status, release, note))
    return checks


def _check(f: GuideFigure, sources: dict[str, _Source], values: dict) -> tuple[str | None, str, str | None, str]:
    """(cms_value, status, release_id, note) of one figure."""
    if f.field in NOT_COMPARABLE_FIELDS:
        return None, NOT_COMPARABLE, None, NOT_COMPARABLE_FIELDS[f.field]
    if f.field in RVU_FIELDS:
        dataset, table, column, what = "pfs", "pfs_rvu", RVU_FIELDS[f.field], "PPRRVU"
    elif f.field in PAYMENT_FIELDS:
        dataset, table, column, what = "pfs", "pfs_payment", PAYMENT_FIELDS[f.field], "national payment amounts"
    elif f.field in ASC_FIELDS:
        dataset, table, column, what = "asc", "asc", ASC_FIELDS[f.field], "ASC addenda AA/BB"
    elif f.field in OPPS_FIELDS:
        dataset, table, column, what = "opps", "opps", OPPS_FIELDS[f.field], "OPPS Addendum B"
    elif f.field == "mue":
        dataset, table, column, what = "mue", "mue", "mue", "MUE table"
    else:
        return None, NOT_COMPARABLE, None, f"cmsref has no CMS figure for the field {f.field!r}"

    src = sources[dataset]
    if src.release is None:
        return None, NOT_IN_CMS, None, src.note
    release_id, period = src.release.release_id, src.release.period
    row = values[table].get(f.hcpcs)
    if row is None:
        return None, NOT_IN_CMS, release_id, _join(f"{f.hcpcs} is not in the {period} {what}", src.note)
    cms = row.get(column)
    if cms is None:
        kind = "payment rate" if column == "payment_rate" else column.replace("_", " ")
        extra = ""
        if table in ("asc", "opps"):  # a packaged code has an indicator but no rate
            indicator = row.get("payment_indicator") or row.get("status_indicator")
            extra = f" (indicator {indicator})" if indicator else ""
        if f.field in MONEY_FIELDS and _decimal(f.value) is not None:
            return None, MISMATCH, release_id, _join(
                f"the guide states an amount; CMS {period} states no {kind} for {f.hcpcs}{extra}", src.note)
        return None, NOT_IN_CMS, release_id, _join(f"CMS {period} states no {kind} for {f.hcpcs}{extra}", src.note)

    if f.field in INDICATOR_FIELDS:
        status, why = _compare_indicators(f.value, str(cms))
    else:
        status, why = _compare_numbers(f.value, cms, money=f.field in MONEY_FIELDS)
    if src.other_period:
        status, why = OTHER_PERIOD, f"{'equal' if status == MATCH else 'different'} figures, but of {period}"
    note = _join(why, src.note)
    if f.field == "mue" and row.get("mai") is not None:
        note = _join(note, f"MAI {row['mai']}")
    return str(cms), status, release_id, note
