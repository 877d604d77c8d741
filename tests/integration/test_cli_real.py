"""The command line as a user meets it, on a warehouse built from the real RVU24B."""

import json

import pytest

from cmsref.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(pfs_2024b):
    """The session's 2024B warehouse: these commands only read it."""
    return str(pfs_2024b.db)


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_payment_json(db, capsys):
    code, out, _ = run(capsys, "payment", "37252", "--date", "2024-06-01", "--db", db, "--format", "json")
    assert code == 0
    rows = {r["setting"]: r["amount"] for r in json.loads(out)}
    assert rows == {"facility": "86.21", "non_facility": "927.06"}


def test_payment_in_a_locality(db, capsys):
    code, out, _ = run(capsys, "payment", "37252", "--date", "2024-06-01", "--locality", "1182:18", "--db", db,
                       "--format", "csv")
    assert code == 0 and "01182:18" in out


def test_payment_for_an_uncovered_date_says_which_windows_are_loaded(db, capsys):
    code, out, err = run(capsys, "payment", "37252", "--date", "2023-06-01", "--db", db)
    assert code == 1 and out == ""
    assert "no PFS payment for 37252" in err and "2024B 2024-04-01..2025-01-01" in err


def test_query_pinned_version_and_unknown_version(db, capsys):
    code, out, _ = run(capsys, "query", "--version", "2024.2", "--db", db, "--format", "csv",
                       "SELECT kind, conversion_factor FROM conversion_factor")
    assert code == 0 and out.splitlines() == ["kind,conversion_factor", "physician,33.2875"]
    code, _, err = run(capsys, "query", "--version", "1999.1", "--db", db, "SELECT 1")
    assert code == 1 and "unknown data version '1999.1' in " in err and "published: 2024.2" in err


def test_versions_and_releases(db, capsys):
    code, out, _ = run(capsys, "versions", "--db", db, "--format", "json")
    assert code == 0 and [v["data_version"] for v in json.loads(out)] == ["2024.2"]
    code, out, _ = run(capsys, "releases", "--db", db, "--format", "json")
    (rel,) = json.loads(out)
    assert (rel["release_id"], rel["cms_release_date"], rel["effective_to"]) == ("pfs/2024B/r1", "2024-03-15",
                                                                                  "2025-01-01")


def test_help_lists_commands_and_environment(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("build", "releases", "versions", "query", "payment", "CMSREF_DB", "CMSREF_MIRROR"):
        assert word in out
