"""Quoting for the few SQL texts cmsref must build from values (a version name in a view definition, a COMMENT,
an export path): one helper, so a quote in a name or path (O'Brien) can never end a string early. Values of
queries are passed as parameters instead wherever DuckDB allows it."""

from __future__ import annotations

from pathlib import Path


def literal(value: str | Path) -> str:
    """A SQL string literal: 'O''Brien'."""
    return "'" + str(value).replace("'", "''") + "'"
