"""Identities across the files of one PFS release that CMS's own files obey (each table's suite sees only itself).

**Locality names: GPCI and LOCCO agree** on the name of every MAC x locality. A swap of two localities' numbers in the
GPCI file (each then paid with the other's GPCIs while LOCCO still names them the other way) shows up as two
localities whose names differ. How the real files (RVU24B, RVU25D) write the names, and the rule that compares them:

* GPCI writes the locality's own name (`REST OF CALIFORNIA`, `ALABAMA`, `HAWAII, GUAM`); LOCCO writes the fee
  schedule area, and for a locality that is a whole state `STATEWIDE`, for the rest of a state `REST OF STATE`,
  with the state's full name in its state column (`HAWAII/GUAM`). So LOCCO's `STATEWIDE` stands for its state's
  name and `REST OF STATE` for `REST OF <state>`.
* The county list in parentheses at the end of a name is not compared: the files list counties differently
  (GPCI `LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES/ORANGE CNTY)`, LOCCO `... (LOS ANGELES CNTY)`; GPCI
  `(SAN FRANCISCO/SAN MATEO/ALAMEDA/CONTRA COSTA CNTY)`, LOCCO `(SAN FRANCISCO CNTY/ALAMEDA/CONTR COSTA CNTY/SAN
  MATEO)`), and the ANES CSV of 2024 and every ANES .txt cut names at 40 characters inside that list.
* Upper case, footnote marks (`*`) dropped, white space collapsed, `,` and `/` (with spaces around them) are the
  same separator (`HAWAII, GUAM` = `HAWAII/GUAM`). Nothing else is normalised: with this rule all 109 localities of
  RVU24B and RVU25D agree.
* ANES names are not compared here: the transform does not keep them (the .txt truncates them; docs/catalog.md).
  They agree with GPCI in both real releases (the 5 names of 2024 longer than 40 characters are cut inside the county
  list). ANES rows are tied to their localities by value instead (next check), which also catches a swap there.

**Anesthesia CF follows the GPCIs**: CMS computes each locality's anesthesia CF as the national anesthesia CF x
(s_work x work GPCI + s_pe x PE GPCI + s_mp x MP GPCI), with fixed shares. The shares (and so the national CF) are
fitted to the release's own localities by trimmed least squares (refitted on the best-fitting 75 % until that set
settles, then on every locality within a cent: a swap of two far-apart localities such as ALABAMA and MANHATTAN does
not pull the fit), then every locality must be within a cent of the fit. Real
files: RVU24B fits national 20.7738 (shares 0.774 / 0.162 / 0.064), RVU25D 20.3177 (the header states 20.3178;
0.769 / 0.166 / 0.065); largest gap 0.0053 (GPCIs are rounded to 3 decimals). This catches:
* two localities' GPCI values swapped with names intact (GPCI rows changed, ANES not): 5,798 of the 5,886 pairs of
  RVU24B's localities and 5,799 of RVU25D's are refused, each naming exactly the two localities swapped. Not caught:
  56 pairs with identical GPCIs (California localities paid at the rest-of-state floor: no payment changes), and 32
  (RVU24B) / 31 (RVU25D) pairs whose GPCIs differ but whose anesthesia-weighted sums are within a cent of each other
  (e.g. ARIZONA and REST OF TEXAS);
* a swap of two localities' numbers in the ANES file, likewise.
What no check here can catch: GPCI and ANES values swapped together consistently, or a swap between localities whose
GPCIs are equal. The previous release's GPCIs are not used: they did not move at all from RVU24B to RVU25D, but
from RVU22A to RVU24B (the CY2023 GPCI update) MP GPCIs moved by up to 1.199 and PE GPCIs by up to 0.09, more than a
swap of neighbouring localities moves them.

Cost: two joins over about 109 rows and one 3-column least-squares fit: a few milliseconds.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from expectations.common import E

ANES_TOLERANCE = 0.01  # a cent: CMS states anesthesia CFs in cents
MIN_LOCALITIES_TO_FIT = 20  # the real files have 109; a fit of 3 shares to a handful of rows proves nothing


def comparable(name: str | None) -> str | None:
    """A locality name as the files can be compared on it (see the module docstring)."""
    if name is None:
        return None
    name = re.sub(r"\s*\(.*$", "", name.upper().replace("*", ""))
    name = re.sub(r"\s*[,/]\s*", "/", name)
    return " ".join(name.split())


def locco_locality_name(area: str | None, state: str | None) -> str | None:
    """LOCCO's name of a locality: its fee schedule area, with STATEWIDE and REST OF STATE spelled out."""
    if area is None:
        return None
    area = " ".join(area.upper().replace("*", "").split())
    if area == "STATEWIDE":
        return state
    if area == "REST OF STATE":
        return f"REST OF {state}"
    return area


def release_checks(tables: dict[str, pl.DataFrame]) -> list[tuple[str, pl.DataFrame, list]]:
    """(label, frame, expectations) of every cross-file identity that applies to these tables."""
    out = []
    if "pfs_gpci" in tables and "pfs_locality" in tables:
        out.append(_names(tables["pfs_gpci"], tables["pfs_locality"]))
    if "pfs_gpci" in tables and "pfs_anesthesia_cf" in tables:
        out += _anesthesia_vs_gpci(tables["pfs_gpci"], tables["pfs_anesthesia_cf"])
    return out


def _names(gpci: pl.DataFrame, locco: pl.DataFrame):
    locco = locco.unique(["mac", "locality", "fee_schedule_area", "state"]).select(
        "mac", "locality", pl.struct("fee_schedule_area", "state").map_elements(
            lambda r: locco_locality_name(r["fee_schedule_area"], r["state"]), return_dtype=pl.String)
        .alias("locco_name"))
    frame = gpci.select("mac", "locality", pl.col("locality_name").alias("gpci_name"), "source_row").join(
        locco, on=["mac", "locality"], how="inner")
    same = [comparable(g) == comparable(lo) for g, lo in frame.select("gpci_name", "locco_name").iter_rows()]
    frame = frame.with_columns(pl.Series("same", same, dtype=pl.Boolean)).with_columns(
        pl.when(~pl.col("same")).then(pl.format(
            "{}:{} is named {} in GPCI (row {}) but {} in LOCCO", "mac", "locality",
            pl.col("gpci_name").fill_null("(none)"), "source_row", pl.col("locco_name").fill_null("(none)")))
        .alias("problem")).drop("same").sort("mac", "locality")
    return ("pfs locality names (GPCI vs LOCCO)", frame, [E.ExpectColumnValuesToBeNull(column="problem", meta={
        "why": "GPCI and LOCCO of one release name each MAC x locality alike (expectations/cross_file.py)"})])


def fit_anesthesia(work, pe, mp, cf) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients per GPCI, residual per locality) of anesthesia CF ~ work, PE, MP GPCI; the second fit leaves out
    localities more than a cent off the first. The coefficients add up to the national anesthesia CF."""
    x = np.column_stack([work, pe, mp]).astype(float)
    y = np.asarray(cf, dtype=float)
    keep = np.ones(len(y), dtype=bool)
    for _ in range(20):  # trimmed least squares: refit on the best 75 % until the set settles
        coef, *_ = np.linalg.lstsq(x[keep], y[keep], rcond=None)
        gap = np.abs(y - x @ coef)
        settled = gap <= max(ANES_TOLERANCE, float(np.quantile(gap, 0.75)))
        if (settled == keep).all():
            break
        keep = settled
    keep = gap <= ANES_TOLERANCE
    if keep.sum() >= MIN_LOCALITIES_TO_FIT:
        coef, *_ = np.linalg.lstsq(x[keep], y[keep], rcond=None)
    return coef, y - x @ coef


def _anesthesia_vs_gpci(gpci: pl.DataFrame, anes: pl.DataFrame) -> list:
    frame = gpci.select("mac", "locality", "locality_name", "work_gpci", "pe_gpci", "mp_gpci",
                        pl.col("source_row").alias("gpci_row")).join(
        anes.select("mac", "locality", "anesthesia_cf", pl.col("source_row").alias("anes_row")),
        on=["mac", "locality"], how="inner").drop_nulls(["work_gpci", "pe_gpci", "mp_gpci", "anesthesia_cf"])
    if frame.height < MIN_LOCALITIES_TO_FIT:
        return []
    coef, residual = fit_anesthesia(*(frame[c].cast(pl.Float64).to_numpy()
                                      for c in ("work_gpci", "pe_gpci", "mp_gpci", "anesthesia_cf")))
    national = float(coef.sum())
    shares = " + ".join(f"{c / national:.4f} x {n}" for c, n in zip(coef, ("work", "PE", "MP")))
    frame = frame.with_columns(pl.Series("expected", frame["anesthesia_cf"].cast(pl.Float64).to_numpy() - residual),
                               pl.Series("gap", residual)).with_columns(
        pl.when(pl.col("gap").abs() > ANES_TOLERANCE).then(pl.format(
            "{}:{} {}: ANES CF {} (ANES row {}) but its GPCIs (GPCI row {}: work {}, PE {}, MP {}) give {}",
            "mac", "locality", "locality_name", "anesthesia_cf", "anes_row", "gpci_row", "work_gpci", "pe_gpci",
            "mp_gpci", pl.col("expected").round(2))).alias("problem")).sort("mac", "locality")
    why = (f"locality anesthesia CF = {national:.4f} x ({shares}), fitted over the release's {frame.height} "
           f"localities; each within {ANES_TOLERANCE} (expectations/cross_file.py)")
    return [("pfs anesthesia CF vs GPCI (ANES, GPCI)", frame.select("mac", "locality", "gap", "problem"),
             [E.ExpectColumnValuesToBeNull(column="problem", meta={"why": why})])]
