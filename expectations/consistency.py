"""Checks across the tables of one release (each table's own suite sees only itself).

PFS: every Medicare locality (MAC x locality) is in each of the release's GPCI, LOCCO and ANES files: a file that
lost a locality would leave it without payments, or without counties or an anesthesia CF, while each table alone
looks fine. The frame has one row per locality and a `problem` naming the locality and the files it is missing from.
"""

from __future__ import annotations

import polars as pl

from expectations.common import E

LOCALITY_TABLES = {"pfs_gpci": "GPCI", "pfs_locality": "LOCCO", "pfs_anesthesia_cf": "ANES"}


def release_checks(tables: dict[str, pl.DataFrame]) -> list[tuple[str, pl.DataFrame, list]]:
    """(label, frame, expectations) of every cross-table check that applies to these tables."""
    present = {t: f for t, f in tables.items() if t in LOCALITY_TABLES}
    if len(present) < 2:
        return []
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
    return [("pfs localities (GPCI, LOCCO, ANES)", frame, [E.ExpectColumnValuesToBeNull(column="problem")])]
