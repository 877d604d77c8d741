"""The one rule of "in effect": a release's rows apply to a date of service d when effective_from <= d and
(effective_to is NULL or d < effective_to); effective_to is exclusive and NULL means open. Written once here, in
SQL (the `in_effect` macro every view, `_on`/`_at` macro and claim-line rule uses) and in Python (for the checks
that decide in Python, e.g. which curated conversion factor or which release of a year applies).

Beside it, the rules of two windows (an open end, NULL, is later than every date): they overlap when each starts
before the other ends (`windows_overlap`, SQL macro and Python); their intersection ends at the earlier end
(`earlier_end_sql`); the windows of a group end at the latest end, open if any is open (`latest_end_sql`)."""

from __future__ import annotations

from datetime import date

import polars as pl

# Created beside the views in every warehouse (and as TEMP macros on pinned connections, and in exported snapshots).
SQL_MACRO = "in_effect(d, f, t) AS CAST(d AS DATE) >= f AND (t IS NULL OR CAST(d AS DATE) < t)"
OVERLAP_MACRO = "windows_overlap(f1, t1, f2, t2) AS (t2 IS NULL OR f1 < t2) AND (t1 IS NULL OR f2 < t1)"
SQL_MACROS = (SQL_MACRO, OVERLAP_MACRO)


def sql(day: str, effective_from: str = "effective_from", effective_to: str = "effective_to") -> str:
    """The rule as a SQL condition on the given expressions."""
    return f"in_effect({day}, {effective_from}, {effective_to})"


def in_effect(day: date, effective_from: date, effective_to: date | None) -> bool:
    return effective_from <= day and (effective_to is None or day < effective_to)


def in_effect_expr(day: date, effective_from: str = "effective_from", effective_to: str = "effective_to") -> pl.Expr:
    """The rule as a polars filter on a frame with window columns."""
    return (pl.col(effective_from) <= day) & (pl.col(effective_to).is_null() | (pl.lit(day) < pl.col(effective_to)))


def overlaps(effective_from: date, effective_to: date | None, start: date, end: date) -> bool:
    """The window is in effect on some day of [start, end)."""
    return windows_overlap(effective_from, effective_to, start, end)


def windows_overlap(from1: date, to1: date | None, from2: date, to2: date | None) -> bool:
    """Two windows [from, to) share a day; an open end (None) is later than every date."""
    return (to2 is None or from1 < to2) and (to1 is None or from2 < to1)


def earlier_end_sql(to1: str, to2: str) -> str:
    """SQL: the end of the intersection of two windows: the earlier end, open (NULL) only when both are open."""
    return f"CASE WHEN {to1} IS NULL THEN {to2} WHEN {to2} IS NULL THEN {to1} ELSE least({to1}, {to2}) END"


def latest_end_sql(to: str) -> str:
    """SQL aggregate: the end of a group of windows: open (NULL) when any of them is open, else the latest end
    (max() alone skips NULLs and would close an open window)."""
    return f"CASE WHEN bool_or({to} IS NULL) THEN NULL ELSE max({to}) END"
