"""`cmsref build --help` and an unknown --dataset name every dataset of the catalog (not a list written by hand)."""

import subprocess
import sys

from extract.catalog import datasets


def run(*args):
    return subprocess.run([sys.executable, "-m", "cmsref.cli", *args], capture_output=True, text=True)


def test_build_help_lists_every_catalogued_dataset():
    out = " ".join(run("build", "--help").stdout.split())
    assert f"dataset to build: {', '.join(datasets())} " in out
    assert {"pfs", "mue", "aoc", "asc", "opps", "vendor"} <= set(datasets())


def test_an_unknown_dataset_is_refused_with_the_catalogued_ones():
    r = run("build", "--dataset", "ops", "--no-prefect")
    assert r.returncode == 2
    assert "invalid choice: 'ops'" in r.stderr and all(f"'{d}'" in r.stderr for d in datasets())
