"""`cmsref build` as an operator meets it: a no-op build answers without starting Prefect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import MIRROR

pytestmark = pytest.mark.integration


def test_a_no_op_build_does_not_start_prefect(mirror_home):
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cmsref.cli", "build", "--mirror", str(MIRROR)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("nothing new to publish: the sources of "), r.stderr[-2000:]
    assert "starting Prefect" not in r.stderr
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "prefect" not in imported and "flows.build" not in imported


def test_releases_as_json_keep_row_counts_as_json_and_tables_stay_readable(mirror_db, capsys):
    import json

    from cmsref.cli import main

    assert main(["releases", "--db", str(mirror_db), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    aoc = next(r for r in rows if r["release_id"] == "aoc/2026Q2/r1")
    assert aoc["row_counts"] == {"addon_code_edit": 9000}
    assert main(["releases", "--db", str(mirror_db)]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) < 200


def test_a_quiet_build_prints_only_its_result_and_a_normal_one_shows_progress(home):
    def build(*extra):
        return subprocess.run([sys.executable, "-m", "cmsref.cli", "build", "--no-prefect", *extra, "--dataset", "mue",
                               "--period", "2026Q2", "--mirror", str(MIRROR), "--db", str(home / f"w{len(extra)}.duckdb")],
                              capture_output=True, text=True)
    quiet, loud = build("--quiet"), build()
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stdout.startswith("published data version 2026.2") and quiet.stderr == ""
    assert "[1/1] building mue:2026Q2" in loud.stderr and "validation report" in loud.stderr


def test_the_result_of_a_build_names_the_version_its_releases_and_the_validation_reports(home):
    from cmsref import pipeline
    from core import settings

    result = pipeline.build(["mue"], mirror=MIRROR)
    assert result.message.startswith("published data version 2026.2 (previous: none); new releases: mue/2026Q2/r1")
    assert f"validation reports in {settings.reports_dir()}" in result.message
    assert list(settings.reports_dir().glob("mue-2026Q2-*/validation.html"))
