"""Pinned data versions answer forever as they did; readers in other processes keep working during a publish."""

import subprocess
import sys
import textwrap

import pytest

from cmsref import pipeline

from core import settings
from core.errors import CmsrefError
from tests.helpers import MIRROR, ROOT
from warehouse.api import UnknownVersionError, manifest_sha256, open_version

pytestmark = pytest.mark.integration
QUESTIONS = [
    "SELECT setting, amount FROM pfs_payment_on('2024-06-01') WHERE hcpcs = '37252' AND is_national ORDER BY 1",
    "SELECT period, count(*) FROM pfs_rvu GROUP BY 1 ORDER BY 1",
    "SELECT kind, period, conversion_factor FROM conversion_factor ORDER BY ALL",
    "SELECT hcpcs, work_rvu, non_facility_pe_rvu FROM pfs_rvu_on('2024-06-01') WHERE hcpcs LIKE '3725%' ORDER BY ALL",
    "SELECT count(*), sum(amount) FROM pfs_payment WHERE hcpcs = '76145'",
    "SELECT period, effective_from, effective_to FROM pfs_gpci GROUP BY ALL ORDER BY ALL",
]


def answers(con):
    return [con.execute(q).fetchall() for q in QUESTIONS]


@pytest.fixture(scope="module")
def two_versions(pfs_2024b, pfs_2024b_2025d):
    """The answers and manifest of 2024B's version while it was the only one (the session's 2024B build), and the
    warehouse after 2025D was published onto it (the session's pair, a copy of that build plus 2025D)."""
    (v1,) = pfs_2024b.data_versions
    con = open_version(pfs_2024b.db, v1)
    before, sha1 = answers(con), manifest_sha256(con)
    con.close()
    v2 = pfs_2024b_2025d.data_versions[-1]
    return pfs_2024b_2025d.db, v1, v2, before, sha1


def test_pinned_version_answers_exactly_as_before(two_versions):
    db, v1, v2, before, sha1 = two_versions
    assert (v1, v2) == ("2024.2", "2025.4")
    con = open_version(db, v1, expected_manifest_sha256=sha1)
    assert answers(con) == before
    con.close()
    latest = open_version(db)
    assert latest.execute("SELECT pinned_version()").fetchone()[0] == v2
    assert latest.execute(QUESTIONS[1]).fetchall() == [("2024B", 18_534), ("2025D", 19_090)]
    latest.close()


def test_pinning_from_plain_sql_matches_the_python_api(two_versions):
    db, v1, _, before, _ = two_versions
    con = open_version(db)  # latest, but the *_version / *_at macros pin explicitly
    sql = ("SELECT setting, amount FROM pfs_payment_at('2024.2', '2024-06-01') WHERE hcpcs = '37252' AND is_national "
           "ORDER BY 1")
    assert con.execute(sql).fetchall() == before[0]
    assert con.execute("SELECT count(*) FROM pfs_rvu_version('2024.2')").fetchone()[0] == 18_534
    con.close()


def test_unknown_version_and_wrong_manifest_are_clear_errors(two_versions):
    db, *_ = two_versions
    with pytest.raises(UnknownVersionError, match=r"unknown data version '1999.1'.*published: 2024.2, 2025.4"):
        open_version(db, "1999.1")
    with pytest.raises(CmsrefError, match="not the pinned"):
        open_version(db, "2024.2", expected_manifest_sha256="0" * 64)


READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    q = "SELECT (SELECT max(data_version) FROM meta.data_versions), (SELECT count(*) FROM pfs_rvu)"
    print(con.execute(q).fetchone(), flush=True)
    sys.stdin.readline()                      # the test publishes a new version meanwhile
    print(con.execute(q).fetchone(), flush=True)
""")


def test_a_reader_in_another_process_keeps_the_previous_version_during_a_publish(tmp_path, monkeypatch):
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path))
    pipeline.build(["pfs"], ["2024C"], mirror=MIRROR)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.db_path())], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    first = reader.stdout.readline().strip()
    result = pipeline.build(["pfs"], ["2025D"], mirror=MIRROR)  # no lock error although a reader has the file open
    out, _ = reader.communicate("go\n", timeout=60)
    assert first == "('2024.3', 18664)"
    assert out.strip() == "('2024.3', 18664)"  # the previous version, complete, never half-published
    assert result.data_version == "2025.4"
    con = open_version(settings.db_path())
    assert con.execute("SELECT count(*) FROM pfs_rvu").fetchone()[0] == 18_664 + 19_090
    con.close()
