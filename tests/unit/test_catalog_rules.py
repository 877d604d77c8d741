"""The catalog is checked when it is read: windows, duplicate periods, unknown keys, dates and types are one
CatalogError line naming the catalog file and the entry; release dates (catalog and PPRRVU preamble) must be real,
not in the future and not before the year before the file's year."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import CatalogError, ParseError
from extract import catalog
from extract.catalog import load_dataset

DATASET = """
[dataset]
name = "demo"
title = "A demo dataset"
layout = "pfs"
period_end = "year"
mirror_root = "demo"
prefer = ["csv"]
required = ["pprrvu"]

[dataset.members]
pprrvu = '(?i)^PPRRVU.*\\.csv$'
gpci = '(?i)^GPCI.*\\.csv$'
"""

GOOD = DATASET + """
[[release]]
period = "2024A"
effective_from = 2024-01-01
effective_to = 2024-03-09
cms_release_date = 2023-11-30
landing_page = "https://www.cms.gov/rvu24a"
mirror_dir = "RVU24A"
[[release.file]]
url = "https://www.cms.gov/files/zip/rvu24a.zip"
file_name = "rvu24a.zip"
sha256 = "0d25be13406d04c85501204755e5c48599a8900cf41a82899a956020e0a64e68"

[[release]]
period = "2024B"
effective_from = 2024-04-01
mirror_dir = "RVU24B"
mirror_lacks = ["gpci"]
"""


@pytest.fixture
def catalog_dir(tmp_path, monkeypatch):
    """load_dataset reading tmp_path/<name>.toml (its cache cleared before and after)."""
    monkeypatch.setattr(catalog, "CATALOG_DIR", tmp_path)
    load_dataset.cache_clear()
    yield tmp_path
    load_dataset.cache_clear()


def refused(folder, text: str) -> str:
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_dataset("demo")
    message = str(err.value)
    assert "\n" not in message and message.startswith("catalog "), message
    assert "demo.toml" in message, message
    return message


def test_a_good_catalog_loads(catalog_dir):
    (catalog_dir / "demo.toml").write_text(GOOD, encoding="utf-8")
    spec = load_dataset("demo")
    assert [r.period for r in spec.releases] == ["2024A", "2024B"]
    assert spec.release("2024a").effective_to == date(2024, 3, 9)


@pytest.mark.parametrize("name", catalog.datasets())
def test_every_shipped_catalog_passes_the_rules(name):
    assert load_dataset(name).releases


def test_a_period_listed_twice_names_both_entries(catalog_dir):
    msg = refused(catalog_dir, GOOD + '\n[[release]]\nperiod = "2024b"\neffective_from = 2024-07-01\nmirror_dir = "X"\n')
    assert "release #3 (2024b): period 2024b is listed twice (release #2 and #3)" in msg


@pytest.mark.parametrize("where, text, expect", [
    ("release", GOOD.replace("effective_to = 2024-03-09", "efective_to = 2024-03-09"),
     "release #1 (2024A): unknown key 'efective_to' (did you mean 'effective_to'?)"),
    ("file", GOOD.replace('file_name = "rvu24a.zip"', 'file_name = "rvu24a.zip"\nsha = "x"'),
     "release #1 (2024A) file #1: unknown key 'sha'"),
    ("dataset", GOOD.replace('layout = "pfs"', 'layout = "pfs"\nperiod_ends = "year"'),
     "[dataset]: unknown key 'period_ends' (did you mean 'period_end'?)"),
    ("top", "stray = 1\n" + GOOD, "unknown top-level key 'stray'"),
])
def test_unknown_keys_are_refused_not_ignored(catalog_dir, where, text, expect):
    assert expect in refused(catalog_dir, text)


@pytest.mark.parametrize("old, new, expect", [
    ("effective_to = 2024-03-09", "effective_to = 2024-01-01",
     "release #1 (2024A): effective_to 2024-01-01 is not after effective_from 2024-01-01"),
    ("effective_to = 2024-03-09", "effective_to = 2023-12-01", "effective_to 2023-12-01 is not after"),
    ("effective_to = 2024-03-09", "effective_to = 2025-02-01",
     "release #1 (2024A): effective_to 2025-02-01 is past the end of its year (2025-01-01, exclusive)"),
    ("effective_to = 2024-03-09", 'effective_to = "2024-03-09"',
     "release #1 (2024A): effective_to should be a TOML date (YYYY-MM-DD, unquoted), not '2024-03-09'"),
    ("effective_to = 2024-03-09", "effective_to = 2024-03-09T00:00:00", "effective_to should be a TOML date"),
    ('mirror_lacks = ["gpci"]', 'mirror_lacks = "gpci"', "release #2 (2024B): mirror_lacks should be a list"),
    ('mirror_lacks = ["gpci"]', 'mirror_lacks = ["gcpi"]', "mirror_lacks names 'gcpi', not a file kind"),
    ('mirror_dir = "RVU24B"', "", "release #2 (2024B): missing 'mirror_dir'"),
    ('period = "2024B"', "period = 2024", "release #2: period should be a string, not 2024"),
    ("sha256 = \"0d25", "sha256 = \"0D25", "file #1: sha256 should be 64 lower-case hex digits"),
    ('period_end = "year"', 'period_end = "annual"', "period_end 'annual' should be one of year, quarter, none"),
    ("cms_release_date = 2023-11-30", "cms_release_date = 2031-09-11",
     "release #1 (2024A): cms_release_date 2031-09-11 is after today"),
    ("cms_release_date = 2023-11-30", "cms_release_date = 2022-12-31",
     "cms_release_date 2022-12-31 is before 2023, the year before the file's year 2024"),
    ("effective_from = 2024-04-01", "effective_from = 2023-12-01",
     "release #2 (2024B): effective_from 2023-12-01 is before that of release #1 (2024A)"),
])
def test_bad_entries_are_one_line_naming_the_entry(catalog_dir, old, new, expect):
    assert old in GOOD
    assert expect in refused(catalog_dir, GOOD.replace(old, new, 1))


def test_an_impossible_date_names_the_release_it_is_in(catalog_dir):
    msg = refused(catalog_dir, GOOD.replace("effective_from = 2024-04-01", "effective_from = 2024-02-30"))
    assert "is not valid TOML in release #2 (2024B)" in msg and "line" in msg


def test_every_problem_is_listed(catalog_dir):
    msg = refused(catalog_dir, GOOD.replace("effective_to = 2024-03-09", "efective_to = 2024-03-09")
                  .replace('mirror_lacks = ["gpci"]', 'mirror_lacks = "gpci"'))
    assert "'efective_to'" in msg and "mirror_lacks should be a list" in msg


def test_the_catalog_sha256_covers_the_whole_entry_and_ignores_absent_fields(catalog_dir):
    (catalog_dir / "demo.toml").write_text(GOOD, encoding="utf-8")
    a = load_dataset("demo").release("2024A")
    shas = {a.catalog_sha256}
    for old, new in (("effective_to = 2024-03-09", "effective_to = 2024-03-10"),
                     ("cms_release_date = 2023-11-30", "cms_release_date = 2023-12-01"),
                     ('sha256 = "0d25', 'sha256 = "1d25'), ('file_name = "rvu24a.zip"', 'file_name = "rvu24a-0.zip"'),
                     ('mirror_dir = "RVU24A"', 'mirror_dir = "RVU24A"\nmirror_lacks = ["gpci"]')):
        (catalog_dir / "demo.toml").write_text(GOOD.replace(old, new, 1), encoding="utf-8")
        load_dataset.cache_clear()
        shas.add(load_dataset("demo").release("2024A").catalog_sha256)
    assert len(shas) == 6
    # a field left out is the same entry as the field at its default: new optional fields do not change old entries
    b = load_dataset("demo").release("2024B")
    assert "link_pattern" not in b.canonical() and "effective_to" not in b.canonical()


# ------------------------------------------------------------------------------------------- release dates
def test_release_date_rule():
    from extract.catalog import release_date_problem

    today = date(2026, 5, 1)
    assert release_date_problem(date(2024, 11, 1), 2025, today) is None
    assert release_date_problem(date(2026, 5, 1), 2026, today) is None
    assert "after today" in release_date_problem(date(2026, 5, 2), 2026, today)
    assert "before 2024" in release_date_problem(date(2023, 12, 31), 2025, today)


@pytest.mark.parametrize("text, expect", [
    ("02/30/2025", "PPRRVU2025_Oct.csv: the release date 'RELEASED 02/30/2025' is not a date (mm/dd/yyyy)"),
    ("09/11/2031", "PPRRVU2025_Oct.csv: the release date 'RELEASED 09/11/2031' cannot be right: 2031-09-11 is "
                   "after today"),
    ("09/11/2021", "'RELEASED 09/11/2021' cannot be right: 2021-09-11 is before 2024"),
])
def test_a_preamble_release_date_that_cannot_be_right_is_a_parse_error(text, expect):
    from transform.release_date import stated_release_date

    with pytest.raises(ParseError) as err:
        stated_release_date(text, 2025, "PPRRVU2025_Oct.csv")
    assert expect in str(err.value)


def test_a_real_preamble_release_date_is_read():
    from transform.release_date import stated_release_date

    assert stated_release_date("09/11/2025", 2025, "PPRRVU2025_Oct.csv", today=date(2026, 1, 1)) == date(2025, 9, 11)
