"""OPPS Addendum B (xlsx or Section 508 csv) -> one row per HCPCS code.

The layout (header found by name, money cleaning, the yearly note header) is data in
transform/layouts/opps.toml; both formats parse to the same table. Every row keeps `source_row`.
"""

from __future__ import annotations

from transform.layout import load_layouts, parse_file
from transform.tables import ReleaseTables, conform, curated_definitions, split_reference

def transform_release(spec, release, files):
    """Addendum B (and A) as opps_addendum_b (and opps_addendum_a); the curated Addendum D1 definitions as
    status_indicator rows (opps_si)."""

    files, reference = split_reference(files)
    layouts = load_layouts(spec.layout)
    tables, notes = {}, []
    for src in files:  # Addendum B (required) and, where the release has it, Addendum A
        parsed = parse_file(src.path, layouts[src.kind], release.year)
        tables[layouts[src.kind].table] = conform(parsed.frame, layouts[src.kind].table, src.sha256)
        notes += parsed.notes
    if "status_definitions" in reference:
        tables["status_indicator"] = curated_definitions(reference["status_definitions"], "opps_si")
    return ReleaseTables(tables=tables, notes=notes)
