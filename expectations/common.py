"""Building blocks shared by the per-table suites: row-count bounds and the key checks every table has."""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations as gx

E = gx.expectations
HCPCS_RE = r"^[0-9A-Z]{5}$"  # CPT (5 digits or 4 digits + F/T/U) and HCPCS Level II (letter + 4 digits)
MAC_RE = r"^[0-9]{5}$"
LOCALITY_RE = r"^[0-9]{2}$"
RVU_MAX = 10_000  # no real RVU comes near; a parse that shifted columns into an RVU does


@dataclass(frozen=True)
class SuiteContext:
    dataset: str
    period: str
    year: int
    previous_rows: int | None = None  # this table's rows in the previous loaded release of the dataset
    previous_period: str | None = None
    definitions: dict | None = None  # setting -> the indicator codes this release defines (status_indicator)

    def defined(self, setting: str) -> list[str]:
        """The codes of `setting` this release defines; a table's indicators must be among them."""
        codes = (self.definitions or {}).get(setting)
        if not codes:
            raise KeyError(f"release {self.dataset}:{self.period} defines no {setting} indicators to validate against")
        return codes


def row_count(ctx: SuiteContext, low: int, high: int, drift: float = 0.10) -> list:
    """Absolute bounds, and (when a previous release is loaded) within `drift` of its row count."""
    checks = [E.ExpectTableRowCountToBeBetween(min_value=low, max_value=high)]
    if ctx.previous_rows:
        checks.append(E.ExpectTableRowCountToBeBetween(
            min_value=int(ctx.previous_rows * (1 - drift)), max_value=int(ctx.previous_rows * (1 + drift)) + 1,
            meta={"why": f"within {drift:.0%} of the previous release {ctx.previous_period} ({ctx.previous_rows} rows)"},
        ))
    return checks


def key_checks(table: str, column_set: bool = True, derived: tuple[str, ...] = ()) -> list:
    """From the table registry (core.tables), not from the frame: the published column set (plus the `derived`
    columns the suite adds before validating), and the natural key non-null and unique."""
    from core.tables import TABLES

    key = list(TABLES[table].key)
    checks = [E.ExpectTableColumnsToMatchSet(column_set=[c.name for c in TABLES[table].columns] + list(derived),
                                             exact_match=True)] if column_set else []
    checks += [E.ExpectColumnValuesToNotBeNull(column=k) for k in key]
    checks.append(E.ExpectCompoundColumnsToBeUnique(column_list=key) if len(key) > 1
                  else E.ExpectColumnValuesToBeUnique(column=key[0]))
    return checks


def non_negative(columns: list[str], high: float) -> list:
    return [E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=high) for c in columns]


def locality_grain(table: str, ctx: SuiteContext) -> list:
    """Tables with one row per MAC x locality (about 109 localities): key, row count and code formats."""
    return [*key_checks(table), *row_count(ctx, 100, 120),
            E.ExpectColumnValuesToMatchRegex(column="mac", regex=MAC_RE),
            E.ExpectColumnValuesToMatchRegex(column="locality", regex=LOCALITY_RE)]
