"""The one rule of "in effect": a release's rows apply to a date of service d when effective_from <= d and
(effective_to is NULL or d < effective_to); effective_to is exclusive and NULL means open. Written once here, in
SQL (the `in_effect` macro every view, `_on`/`_at` macro and claim-line rule uses) and in Python (for the checks
that decide in Python, e.g. which curated conversion factor or which release of a year applies)."""

from __future__ import annotations

from datetime import date

import polars as pl

# Created beside the views in every warehouse (and as a TEMP macro on pinned connections).
SQL_MACRO = "in_effect(d, f, t) AS CAST(d AS DATE) >= f AND (t IS NULL OR CAST(d AS DATE) < t)"


def sql(day: str, effective_from: str = "effective_from", effective_to: str = "effective_to") -> str:
    """The rule as a SQL condition on the given expressions."""
    return f"in_effect({day}, {effective_from}, {effective_to})"


def in_effect(day: date, effective_from: date, effective_to: date | None) -> bool:
    return effective_from <= day and (effective_to is None or day < effective_to)


def in_effect_expr(day: date, effective_from: str = "effective_from", effective_to: str = "effective_to") -> pl.Expr:
    """The rule as a polars filter on a frame with window columns."""
    return (pl.col(effective_from) <= day) & (pl.col(effective_to).is_null() | (pl.lit(day) < pl.col(effective_to)))


def overlaps(effective_from: date, effective_to: date | None, start: date, end: date) -> bool:
    """The window is in effect on some day of [start, end): its first day in that range is in effect."""
    return in_effect(max(effective_from, start), effective_from, effective_to) and max(effective_from, start) < end
