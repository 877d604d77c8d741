"""PFS RVU bundle -> tables: pfs_rvu, pfs_gpci, pfs_locality, pfs_anesthesia_cf, pfs_opps_cap, conversion_factor.

The file layouts are data (transform/layouts/pfs.toml); this module only wires files to layouts, handles the
QP / non-QP file pairs of 2026, and reads the conversion factors the files state. Every row carries the
SHA-256 and row number of the file it came from.
"""

from __future__ import annotations

import polars as pl

from core.errors import ParseError
from extract.fetch import SourceFile
from transform.layout import load_layouts, parse_file
from transform.release_date import stated_release_date
from transform.tables import ReleaseTables, conform, curated_definitions, split_reference

VARIANT_ORDER = ("all", "non_qp", "qp")  # the first present feeds pfs_rvu; RVUs are the same in each


def transform_release(spec, release, files: list[SourceFile]) -> ReleaseTables:
    year = release.year
    files, reference = split_reference(files)
    layouts = load_layouts(spec.layout)
    parsed = {}
    result_notes: list[str] = []
    for src in files:
        layout = layouts[src.kind]
        parsed[(src.kind, src.variant)] = (src, parse_file(src.path, layout, year))
        result_notes.extend(parsed[(src.kind, src.variant)][1].notes)

    tables: dict[str, pl.DataFrame] = {}
    result = ReleaseTables(tables=tables, notes=result_notes)
    cf_rows = []

    pprrvu = {v: parsed[("pprrvu", v)] for v in VARIANT_ORDER if ("pprrvu", v) in parsed}
    if not pprrvu:
        raise ParseError("no PPRRVU file was given for this release")
    base_variant = next(iter(pprrvu))
    base_src, base = pprrvu[base_variant]
    rvu = conform(base.frame, "pfs_rvu", base_src.sha256)
    for variant, (src, p) in pprrvu.items():
        cf_rows.append(_physician_cf(src, p.frame, variant))
        if variant != base_variant:
            _check_same_rvus(base_src, base.frame, src, p.frame)
    tables["pfs_rvu"] = rvu
    released = base.values.get("cms_release_date")
    if released:
        result.cms_release_date = stated_release_date(released, year, base_src.member_name)

    for kind, table in (("gpci", "pfs_gpci"), ("locco", "pfs_locality"), ("oppscap", "pfs_opps_cap")):
        if (kind, "all") in parsed:
            src, p = parsed[(kind, "all")]
            tables[table] = conform(p.frame, table, src.sha256)

    anes = [(v, parsed[("anes", v)]) for v in VARIANT_ORDER if ("anes", v) in parsed]
    if anes:
        variant, (src, p) = anes[0]
        tables["pfs_anesthesia_cf"] = conform(p.frame, "pfs_anesthesia_cf", src.sha256)
        for variant, (src, p) in anes:
            national = p.values.get("anesthesia_cf_header_value")
            if national:
                cf_rows.append({"kind": "anesthesia", "variant": variant, "conversion_factor": national,
                                "source_sha256": src.sha256, "source_row": 1,
                                "source_field": "header of the anesthesia CF column"})
            else:
                result.notes.append(f"{src.member_name} states no national anesthesia CF; none published for it")

    if "status_definitions" in reference:
        tables["status_indicator"] = curated_definitions(reference["status_definitions"], "pfs_status")

    tables["conversion_factor"] = conform(pl.DataFrame(
        cf_rows,
        schema={"kind": pl.String, "variant": pl.String, "conversion_factor": pl.String,
                "source_sha256": pl.String, "source_row": pl.Int64, "source_field": pl.String},
    ), "conversion_factor", None)
    return result


def _physician_cf(src: SourceFile, frame: pl.DataFrame, variant: str) -> dict:
    """The PPRRVU CONV FACTOR column holds one national CF for every row; more than one is an error."""
    values = frame.group_by("conversion_factor").agg(pl.col("source_row").min().alias("row"), pl.len().alias("n"))
    if values.height != 1:
        shown = values.sort("n").head(5).rows()
        raise ParseError(
            f"{src.member_name}: the conversion factor column should hold one value, found {values.height}: "
            f"(value, first row, count) {shown}"
        )
    value, row, _ = values.row(0)
    return {"kind": "physician", "variant": variant, "conversion_factor": str(value),
            "source_sha256": src.sha256, "source_row": row, "source_field": "CONV FACTOR column"}


def _check_same_rvus(a_src, a, b_src, b):
    cols = [c for c in a.columns if c not in ("conversion_factor", "source_row")]
    if not a.select(cols).sort(["hcpcs", "modifier"]).equals(b.select(cols).sort(["hcpcs", "modifier"])):
        raise ParseError(
            f"{a_src.member_name} and {b_src.member_name} should differ only in the conversion factor, "
            f"but their RVUs or codes differ"
        )
