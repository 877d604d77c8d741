"""cmsref.spark.check_lines on Spark `local[2]` gives what `cmsref lines` gives, line for line, on 100,000 lines of
the whole mirror's real codes (the issue's acceptance; pyspark is the `.[spark]` extra, Java 17 the image's)."""

from __future__ import annotations

import os
import sys

import duckdb
import pytest

from tests.integration.test_lines_files import RESULTS
from tests.lines_data import reference_rows, write_lines

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers import cmsref from this interpreter's packages
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("cmsref-lines-test")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
               .config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def export(mirror_db, tmp_path_factory):
    """The whole mirror's version 2026.2 exported as Parquet once for the module (a test that alters it copies it)."""
    from warehouse.export import export_version

    folder = tmp_path_factory.mktemp("spark") / "export"
    export_version(mirror_db, "2026.2", folder)
    return folder


def test_spark_gives_the_answers_of_cmsref_lines(mirror_db, export, spark, tmp_path):
    from cmsref.spark import check_lines
    from warehouse.claim_files import Reference, run

    write_lines(reference_rows(mirror_db), 100_000, tmp_path / "lines.parquet")
    ref = Reference.from_version(mirror_db)
    try:
        run([str(tmp_path / "lines.parquet")], tmp_path / "cli.parquet", ref, tmp_path / "work")
    finally:
        ref.close()
    lines = spark.read.parquet(str(tmp_path / "lines.parquet"))
    check_lines(lines, export, partitions=4).write.parquet(str(tmp_path / "spark"))
    cols = ", ".join(["line_id", "npi", *RESULTS]).replace("units_compared", "CAST(units_compared AS BIGINT)")
    cli = duckdb.sql(f"SELECT {cols} FROM '{tmp_path / 'cli.parquet'}' ORDER BY line_id").fetchall()
    on_spark = duckdb.sql(f"SELECT {cols} FROM '{tmp_path / 'spark'}/*.parquet' ORDER BY line_id").fetchall()
    assert len(cli) == 100_000 and cli == on_spark
    assert sum(r[RESULTS.index("pfs_status") + 2] == "priced" for r in cli) > 50_000


def test_an_export_that_differs_from_its_manifest_fails_the_task(export, spark, tmp_path):
    import shutil

    from cmsref.spark import _REFERENCES, check_lines

    shutil.copytree(export, tmp_path / "export")
    con = duckdb.connect()
    mue = tmp_path / "export" / "mue.parquet"
    con.execute(f"COPY (SELECT * REPLACE (mue_value + 1 AS mue_value) FROM '{mue}') TO '{tmp_path / 'm.parquet'}'")
    os.replace(tmp_path / "m.parquet", mue)
    _REFERENCES.clear()
    lines = spark.createDataFrame([("A", "99213", 1, "2024-06-01")], "claim string, hcpcs string, units int, "
                                                                      "date_of_service string")
    with pytest.raises(Exception, match="mue.parquet: SHA-256"):
        check_lines(lines, tmp_path / "export").collect()
