"""The claim-line rules on Spark: a DataFrame of claim lines in, the result columns of `cmsref lines` out, computed
partition by partition by the same macros in DuckDB over a pinned version's export (docs/scale.md).

    from cmsref.spark import check_lines
    lines = spark.read.parquet("s3://claims/2025/")            # columns named as POST /lines names its fields
    check_lines(lines, "/shared/cmsref-2026.2").write.parquet("s3://claims/2025-checked/")

`export_dir` is a `cmsref export --format parquet` folder on storage every executor reads (a shared file system
path). Lines are repartitioned by `claim` first, so the lines of one claim are judged together in one partition.
Each executor process checks the export against its manifest.json before its first partition (warehouse.export
.verify) and fails the task otherwise; the rules are warehouse/claim_rules.py's macros, run by
warehouse.claim_files.check_arrow: no rule is written here. pyspark is the optional extra `.[spark]`.
"""

from __future__ import annotations

import os
from pathlib import Path

# Spark's names of the DuckDB types of claim_rules.LINE_RESULT (the result columns after the pass-through ones;
# input_file is a file's name, and there is none here; input_line is the line's position in its partition, so it
# is left out too)
SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint", "DATE": "date", "BOOLEAN": "boolean",
               "VARCHAR[]": "array<string>"}


def spark_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.lower()
    return SPARK_TYPES[duckdb_type]


_REFERENCES: dict = {}  # export folder -> Reference, per executor process (checked once per process)


def result_schema(lines_schema):
    """The output's Spark schema: the input's columns that are not fields of a line, then the result columns."""
    from pyspark.sql.types import StructType, _parse_datatype_string

    from warehouse.claim_rules import LINE_FIELDS, LINE_RESULT

    fields = [f for f in lines_schema.fields if f.name not in LINE_FIELDS]
    for name, kind in LINE_RESULT.items():
        fields.append(StructType().add(name, _parse_datatype_string(spark_type(kind))).fields[0])
    return StructType(fields)


def check_lines(lines, export_dir: str | os.PathLike, partitions: int | None = None):
    """`lines` (a Spark DataFrame with columns named as POST /lines names its fields; any others pass through) ->
    a DataFrame of the pass-through columns and the result columns, one row per line."""
    from pyspark.sql.pandas.types import to_arrow_schema

    export = str(Path(export_dir).absolute())
    if not Path(export, "manifest.json").is_file():  # checked on the driver too: one line before any task
        from core.errors import CmsrefError

        raise CmsrefError(f"{export} has no manifest.json: give the folder of `cmsref export --format parquet`")
    schema = result_schema(lines.schema)
    arrow_schema = to_arrow_schema(schema)
    names = [f.name for f in schema.fields]
    n = partitions or lines.rdd.getNumPartitions()
    if "claim" in lines.columns:  # the lines of one claim in one partition
        lines = lines.repartition(n, "claim")

    def per_partition(batches):
        import pyarrow as pa

        from warehouse.claim_files import check_arrow

        batches = [b for b in batches if b.num_rows]
        if not batches:  # an empty partition (repartitioning leaves some)
            return
        table = pa.Table.from_batches(batches)
        out = check_arrow(table, _reference(export), threads=1)
        yield from out.select(names).cast(arrow_schema).to_batches()

    return lines.mapInArrow(per_partition, schema)


def _reference(export: str):
    """The export's Reference in this process: verified against its manifest the first time (a failure fails the
    task, with the export's problem in its message)."""
    from warehouse.claim_files import Reference

    ref = _REFERENCES.get(export)
    if ref is None:
        ref = _REFERENCES[export] = Reference.from_export(Path(export))
    return ref
