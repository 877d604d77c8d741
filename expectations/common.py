"""Building blocks shared by the per-table suites: row-count bounds and the key checks every table has."""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations as gx

E = gx.expectations
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


def key_checks(table: str, column_set: bool = True, derived: tuple[str, ...] = (),
               warned: tuple[str, ...] = ()) -> list:
    """From the table registry (core.tables), not from the frame: the published column set (plus the `derived`
    columns the suite adds before validating), the natural key non-null and unique, and the value checks of every
    column whose field (core/fields.py) has a pattern or values (field_checks), except the `warned` columns, whose
    checks the suite gives as warnings."""
    from core.tables import TABLES

    key = list(TABLES[table].key)
    checks = [E.ExpectTableColumnsToMatchSet(column_set=[c.name for c in TABLES[table].columns] + list(derived),
                                             exact_match=True)] if column_set else []
    checks += [E.ExpectColumnValuesToNotBeNull(column=k) for k in key]
    checks.append(E.ExpectCompoundColumnsToBeUnique(column_list=key) if len(key) > 1
                  else E.ExpectColumnValuesToBeUnique(column=key[0]))
    checks += field_checks(table, *[c.name for c in TABLES[table].columns if c.name not in warned and (
        c.spec.pattern is not None or c.spec.values is not None)])
    return checks


def field_checks(table: str, *columns: str) -> list:
    """The value checks of the named columns, asked of their fields (core/fields.py): the pattern a value matches in
    full, and the values the field takes. A column whose field has neither is refused (there is nothing to check)."""
    from core.tables import TABLES

    checks = []
    for name in columns:
        field = TABLES[table].column(name).spec
        if field.pattern is None and field.values is None:
            raise ValueError(f"{table}.{name}: its field {field.name!r} has no pattern or values in core/fields.py")
        if field.pattern is not None:
            checks.append(E.ExpectColumnValuesToMatchRegex(column=name, regex=field.regex))
        if field.values is not None:
            checks.append(E.ExpectColumnValuesToBeInSet(column=name, value_set=list(field.values)))
    return checks


def non_negative(columns: list[str], high: float) -> list:
    return [E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=high) for c in columns]


def locality_grain(table: str, ctx: SuiteContext) -> list:
    """Tables with one row per MAC x locality (about 109 localities): key, row count and code formats."""
    return [*key_checks(table), *row_count(ctx, 100, 120)]
