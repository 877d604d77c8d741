"""Cross-format checks: CMS ships the same table in several formats (a PFS bundle's csv, fixed-width txt and xlsx;
an MUE table's csv and xlsx). Every copy is parsed with the same layout and must agree with the published copy (the
first format of the dataset's `prefer`, extract/fetch.py) cell for cell, row by row in file order, and in the values
read from header or preamble cells that both copies state. A disagreement is refused with one line naming the copy,
its row, the column and both values; nothing is published.

Differences CMS is known to ship are data, not code: `[[kind.format_differences]]` in transform/layouts/<family>.toml
names the format, the column, the rule (the copy holds the value cut to N characters, or another wording of it, as
value pairs), why, and the files it was seen in. Every difference such a rule allows is counted in the release notes,
so it is never hidden; any other difference is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from core.errors import ParseError
from transform.layout import FileLayout, Parsed


@dataclass
class CopyCheck:
    """The result of comparing one copy with the published copy of the same table."""

    published: str  # member name of the published copy
    copy: str  # member name of the checked copy
    rows: int
    cells: int
    family: str = ""  # the layout file the rules are in
    allowed: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (format, column, rule) -> cells allowed

    def note(self) -> str:
        """The release note of a copy with known differences (copies that agree are named together, check_copies)."""
        known = "; ".join(f"{fmt} {column}: {n} {'cell' if n == 1 else 'cells'} {rule}"
                          for (fmt, column, rule), n in sorted(self.allowed.items()))
        return (f"{self.published} agrees with {self.copy} ({self.rows:,} rows) except where CMS's copies are known "
                f"to differ (format_differences in transform/layouts/{self.family}.toml): {known}")


def _fmt(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower()


def _show(value) -> str:
    return "blank" if value is None else repr(str(value))


def compare(layout: FileLayout, published_name: str, published: Parsed, copy_name: str, copy: Parsed) -> CopyCheck:
    """Compare a copy with the published copy of a table; raise ParseError at the first difference that no
    `format_differences` rule of the layout allows."""
    a, b = published.frame, copy.frame
    fa, fb = _fmt(published_name), _fmt(copy_name)
    for key in sorted(set(published.values) & set(copy.values)):  # e.g. the PPRRVU release date, the ANES CF
        if published.values[key] != copy.values[key]:
            raise ParseError(
                f"{copy_name} header: {key} is {_show(copy.values[key])}, but {published_name} has "
                f"{_show(published.values[key])}; CMS's copies of one table must agree (nothing was published)")
    columns = [c for c in a.columns if c != "source_row"]
    key = [c for c in layout.key if c in columns]
    if a.height != b.height:
        extra = _first_unmatched(a, b, key) or _first_unmatched(b, a, key)
        where = ""
        if extra is not None:
            frame, row = extra
            owner, other = (published_name, copy_name) if frame is a else (copy_name, published_name)
            where = (f"; {owner} row {row['source_row']} ({_key_text(row, key)}) is not in {other}")
        raise ParseError(f"{copy_name} has {b.height:,} data rows, {published_name} {a.height:,}{where}; CMS's copies "
                         f"of one table must agree row for row (nothing was published)")
    rules = [d for d in layout.format_differences if d.format in (fa, fb)]
    check = CopyCheck(published_name, copy_name, a.height, a.height * len(columns), layout.family)
    for col in columns:
        left, right = a[col], b[col]
        if left.dtype != right.dtype:
            left, right = left.cast(pl.String), right.cast(pl.String)
        differ = left.ne_missing(right)
        if not differ.any():
            continue
        mine = [d for d in rules if d.column == col]
        bad = []
        for i in differ.arg_true().to_list():
            rule = next((d for d in mine if _allowed(d, fa, fb, left[i], right[i])), None)
            if rule is None:
                bad.append(i)
            else:
                k = (rule.format, col, rule.rule)
                check.allowed[k] = check.allowed.get(k, 0) + 1
        if bad:
            i = bad[0]
            row_a, row_b = a.row(i, named=True), b.row(i, named=True)
            more = f"; {len(bad) - 1} more cells of {col} differ" if len(bad) > 1 else ""
            raise ParseError(
                f"{copy_name} row {row_b['source_row']}, column {col}: {_show(right[i])}, but {published_name} row "
                f"{row_a['source_row']} has {_show(left[i])} ({_key_text(row_a, key)}){more}; CMS's copies of one "
                f"table must agree cell for cell (nothing was published)")
    return check


def _allowed(rule, fa: str, fb: str, published_value, copy_value) -> bool:
    """Whether `rule` (about format rule.format) allows this pair; the rule states (other copies' value, value in
    its format), whichever of the two copies is in that format."""
    pv = None if published_value is None else str(published_value)
    cv = None if copy_value is None else str(copy_value)
    if rule.format == fb:
        return rule.allows(pv, cv)
    if rule.format == fa:
        return rule.allows(cv, pv)
    return False


def _key_text(row: dict, key: list[str]) -> str:
    return ", ".join(f"{k} {_show(row[k])}" for k in key) or f"row {row['source_row']}"


def _first_unmatched(x: pl.DataFrame, y: pl.DataFrame, key: list[str]):
    if not key:
        return None
    missing = x.join(y.select(key).unique(), on=key, how="anti", nulls_equal=True)
    return (x, missing.row(0, named=True)) if missing.height else None


def check_copies(layout: FileLayout, published_src, published: Parsed, copies: list) -> list[str]:
    """Compare each (source file, Parsed) copy with the published one. Returns the release note (one line naming
    the copies that agree cell for cell and, for each copy with known differences, how many cells each rule
    allowed); [] when there is no copy. Raises ParseError on a disagreement."""
    if not copies:
        return []
    checks = [compare(layout, published_src.member_name, published, src.member_name, parsed)
              for src, parsed in copies]
    same = [c.copy for c in checks if not c.allowed]
    notes = []
    if same:
        notes.append(f"{published_src.member_name} agrees cell for cell with {' and '.join(same)} "
                     f"({checks[0].rows:,} rows)")
    notes += [c.note() for c in checks if c.allowed]
    return notes


def split_copies(files: list) -> tuple[list, list]:
    """(the files whose rows are published, the copies in other formats that are checked against them)."""
    return ([f for f in files if getattr(f, "role", "published") != "checked"],
            [f for f in files if getattr(f, "role", "published") == "checked"])


def _layout_for(src, layouts: dict[str, FileLayout], family: str) -> FileLayout:
    """The layout a copy is parsed with: the one its title names (ASC addenda), else the one of its kind, else the
    family's only layout (the three MUE tables share one)."""
    from transform.layout import identify

    if any(layout.title for layout in layouts.values()) and src.format in ("csv", "txt"):
        named = identify(src.path, layouts)
        if named:
            return layouts[named]
    if src.kind in layouts:
        return layouts[src.kind]
    if len(layouts) == 1:
        return next(iter(layouts.values()))
    raise ParseError(f"{src.member_name}: no layout in transform/layouts/{family}.toml to compare this copy with its "
                     f"other format by; name the one file to read in the catalog")


def check_release(spec, release, files: list) -> tuple[list, list[str]]:
    """Parse every copy of a release's files in another format and compare it with the published copy of the same
    (kind, variant). Returns (the files to transform: the published copies and the curated reference files, the
    release notes saying what was compared). Raises ParseError on a disagreement no layout rule allows."""
    from transform.layout import load_layouts, parse_file

    published, copies = split_copies(files)
    if not copies:
        return published, []
    layouts = load_layouts(spec.layout)
    by_key = {(f.kind, f.variant): f for f in published}
    groups: dict[tuple[str, str], list] = {}
    for c in copies:
        groups.setdefault((c.kind, c.variant), []).append(c)
    notes = []
    for key, group in sorted(groups.items()):
        src = by_key.get(key)
        if src is None:  # _choose always returns the published copy of a group; a hand-made list may not
            raise ParseError(f"{group[0].member_name}: a copy to check, but no published {key[0]} file beside it")
        layout = _layout_for(src, layouts, spec.layout)
        parsed = parse_file(src.path, layout, release.year)
        for c in group:
            if _layout_for(c, layouts, spec.layout) is not layout:
                raise ParseError(f"{c.member_name} holds another table than {src.member_name} (its title names "
                                 f"another layout), so it cannot be checked as a copy of it")
        checked = [(c, parse_file(c.path, layout, release.year)) for c in group]
        notes += check_copies(layout, src, parsed, checked)
    return published, notes
