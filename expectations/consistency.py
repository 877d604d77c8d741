"""Checks across the tables of one release (each table's own suite sees only itself).

PFS: every Medicare locality (MAC x locality) is in each of the release's GPCI, LOCCO and ANES files: a file that
lost a locality would leave it without payments, or without counties or an anesthesia CF, while each table alone
looks fine. The frame has one row per locality and a `problem` naming the locality and the files it is missing from.
The set must also equal the previous release's (its GPCI localities), unless the catalog gives a `locality_change`
for a release in between: a locality dropped from a file is then caught even when all three files lost it.
"""

from __future__ import annotations

import polars as pl

from expectations.common import E

LOCALITY_TABLES = {"pfs_gpci": "GPCI", "pfs_locality": "LOCCO", "pfs_anesthesia_cf": "ANES"}


def release_checks(tables: dict[str, pl.DataFrame], previous_data: dict | None = None
                   ) -> list[tuple[str, pl.DataFrame, list]]:
    """(label, frame, expectations) of every cross-table check that applies to these tables. previous_data, from
    cmsref.pipeline: "localities" (keys, period, why they may change) and "work_rvu" (frame, period) of the previous
    release."""
    previous_data = previous_data or {}
    out = _against_previous(tables, previous_data.get("localities")) + _work_rvu_churn(tables,
                                                                                        previous_data.get("work_rvu"))
    present = {t: f for t, f in tables.items() if t in LOCALITY_TABLES}
    if len(present) < 2:
        return out
    keys = pl.concat([f.select("mac", "locality").unique() for f in present.values()]).unique()
    frame = keys
    for table, frame_of in present.items():
        frame = frame.join(frame_of.select("mac", "locality").unique().with_columns(pl.lit(True).alias(table)),
                           on=["mac", "locality"], how="left")
    missing = pl.concat_list([pl.when(pl.col(t).is_null()).then(pl.lit(LOCALITY_TABLES[t])) for t in present])
    frame = frame.with_columns(missing.list.drop_nulls().alias("missing")).select(
        "mac", "locality",
        pl.when(pl.col("missing").list.len() > 0)
          .then(pl.format("{}:{} missing from {}", "mac", "locality", pl.col("missing").list.join(", ")))
          .alias("problem")).sort("mac", "locality")
    return out + [("pfs localities (GPCI, LOCCO, ANES)", frame, [E.ExpectColumnValuesToBeNull(column="problem")])]


def _against_previous(tables, previous_localities) -> list:
    keys, period, why = previous_localities or (None, None, None)
    if keys is None or why or "pfs_gpci" not in tables:
        return []
    now = set(tables["pfs_gpci"].select("mac", "locality").iter_rows())
    rows = [(m, loc, f"{m}:{loc} {'added' if (m, loc) in now else 'dropped'} since {period}")
            for m, loc in sorted(now ^ keys)] or [(None, None, None)]
    frame = pl.DataFrame(rows, schema={"mac": pl.String, "locality": pl.String, "problem": pl.String}, orient="row")
    return [(f"pfs localities vs {period}", frame, [E.ExpectColumnValuesToBeNull(
        column="problem", meta={"why": "a locality change needs a locality_change entry in extract/catalog/pfs.toml"})])]


MAX_WORK_RVU_CHURN = 0.10  # real releases: 0.0-0.5 % of the codes in both change their work RVU (2022A..2025D)


def _work_rvu_churn(tables, previous) -> list:
    """The share of codes (in both releases) whose work RVU changed stays under 10 %: swapped or shifted columns, or
    another file read as PPRRVU, change nearly all of them."""
    frame_before, period = previous or (None, None)
    if frame_before is None or "pfs_rvu" not in tables:
        return []
    both = tables["pfs_rvu"].select("hcpcs", "modifier", "work_rvu").join(
        frame_before.rename({"work_rvu": "before"}), on=["hcpcs", "modifier"], how="inner")
    if both.height == 0:
        return []
    changed = both.filter(pl.col("work_rvu") != pl.col("before"))
    frame = pl.DataFrame({"codes_in_both": [both.height], "work_rvu_changed": [changed.height],
                          "share_changed": [changed.height / both.height],
                          "examples": [", ".join(f"{h}{' ' + m if m else ''}: {b} -> {w}" for h, m, w, b in
                                                 changed.head(3).rows())]})
    return [(f"pfs_rvu work RVUs vs {period}", frame, [E.ExpectColumnValuesToBeBetween(
        column="share_changed", min_value=0, max_value=MAX_WORK_RVU_CHURN,
        meta={"why": f"work RVUs change for under 1 % of codes between releases; compared with {period}"})])]
