"""Shared test fixtures. Real CMS files are read from ../shared (never copied into the project)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from decimal import Decimal

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CMSREF_SHARED", ROOT.parent / "shared"))
MIRROR = SHARED / "cms-mirror"
PFS = MIRROR / "pfs_rvu"

# Prefect reads its settings when first imported: tests use an ephemeral server whose state lives inside the
# project's data folder (gitignored) and a result store of this test session only, so cached transforms from
# earlier sessions do not leak in. A PREFECT_API_URL of the developer's own server is ignored.
os.environ.pop("PREFECT_API_URL", None)
# Tests write only under temporary folders, never into the user's ./data: Prefect's test state lives in a folder of
# the system's temp dir that later runs reuse (its first start migrates a database: 20-60 s on 2 cores), and a test
# that sets no CMSREF_HOME of its own gets this session's temporary one.
os.environ["PREFECT_HOME"] = str(Path(tempfile.gettempdir()) / f"cmsref-prefect-test-{os.getuid()}")
os.environ["CMSREF_HOME"] = tempfile.mkdtemp(prefix="cmsref-test-home-")
for _var in ("CMSREF_DB", "CMSREF_MIRROR"):
    os.environ.pop(_var, None)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = tempfile.mkdtemp(prefix="cmsref-prefect-results-")
from core.settings import prefect_environment  # noqa: E402  (creates PREFECT_HOME, start-up timeout, no telemetry)

prefect_environment()


def pytest_collection_modifyitems(config, items):
    """Without the real CMS files the integration tests are skipped on a developer's machine, but in CI (CI set, as
    .ci/run runs) a missing ../shared is a failure: a green run must have read the real files."""
    if MIRROR.is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"the real CMS files are not at {MIRROR} (set CMSREF_SHARED): CI needs them")
    skip = pytest.mark.skip(reason=f"real CMS files not found at {MIRROR}")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty CMSREF_HOME for one test: its own warehouse, cache and reports."""
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CMSREF_DB", raising=False)
    monkeypatch.delenv("CMSREF_MIRROR", raising=False)
    return tmp_path / "data"


def home_with_copy(db: Path, tmp_path: Path, monkeypatch) -> Path:
    """A fresh CMSREF_HOME under tmp_path holding a copy of warehouse `db` (copy on write: the original stays as it
    was for the next test); returns the copy."""
    import shutil

    home = tmp_path / "data"
    home.mkdir()
    shutil.copyfile(db, home / "cmsref.duckdb")
    monkeypatch.setenv("CMSREF_HOME", str(home))
    for var in ("CMSREF_DB", "CMSREF_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    return home / "cmsref.duckdb"


@contextmanager
def cmsref_home(path: Path):
    """CMSREF_HOME set to `path` while a module-scoped fixture builds and yields (monkeypatch is per test)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CMSREF_HOME", str(path))
    try:
        yield Path(path)
    finally:
        mp.undo()


def parse_addendum_b(path: Path, year: int):
    """An OPPS Addendum B file parsed with the real layout (transform/layouts/opps.toml), as a polars frame."""
    from transform.layout import load_layouts, parse_file

    return parse_file(Path(path), load_layouts("opps")["addendum_b"], year).frame


def query(db: Path, sql: str, params=None) -> list:
    """Rows of one query on a warehouse file, opened read-only and closed again."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def addon_statuses(db: Path, lines: list[tuple[str, str]]) -> list[str]:
    """addon_check's status of each (code, date of service) line of one claim."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE claim AS SELECT * FROM (VALUES " +
                    ", ".join(f"('{c}', DATE '{d}')" for c, d in lines) + ") t(hcpcs, date_of_service)")
        return [r[-1] for r in con.execute("SELECT * FROM addon_check('claim')").fetchall()]
    finally:
        con.close()


def snapshot(db: Path) -> dict:
    """Everything a reader can see: data versions and every stored row, to prove a failed build changed nothing.
    Each table is summarised by its columns and types, its row count and two order-independent sums of its rows'
    hashes (one changed value, added, lost or repeated row changes them), not by its rows: the rows of the whole
    mirror take seconds to compare, the hashes 50 ms."""
    import duckdb

    if not db.exists():
        return {"exists": False}
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN ('meta', 'store') "
            "ORDER BY ALL").fetchall():
            columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                                  "table_name = ? ORDER BY column_index", [schema, table]).fetchall()
            rows = con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT), bit_xor(hash(t)) FROM {schema}.{table} t")
            out[f"{schema}.{table}"] = (columns, rows.fetchone())
        return out
    finally:
        con.close()


def pytest_sessionfinish(session, exitstatus):
    """Stop Prefect's ephemeral server if a test started one (else it logs errors on a closed stream at exit)."""
    import sys

    if "prefect.server.api.server" in sys.modules:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()


@pytest.fixture(scope="session")
def mirror_db(tmp_path_factory):
    """The whole mirror built once, as `cmsref build --mirror ../shared/cms-mirror` does (without Prefect): read-only
    for the tests that use it (copy it before publishing into it)."""
    from cmsref import pipeline
    from core import settings

    home = tmp_path_factory.mktemp("mirror-build") / "data"
    with cmsref_home(home):
        result = pipeline.build(None, mirror=MIRROR)
        assert result.data_version == "2026.2", result.message
        return settings.db_path()


@pytest.fixture(scope="module")
def mirror_home(mirror_db, tmp_path_factory):
    """A CMSREF_HOME whose warehouse is a copy of the whole-mirror build (copy on write): for tests that publish."""
    import shutil

    home = tmp_path_factory.mktemp("mirror-copy") / "data"
    home.mkdir()
    shutil.copy(mirror_db, home / "cmsref.duckdb")
    with cmsref_home(home):
        yield home


D = Decimal
# The figures each documented example gives on the whole mirror (CMS's own numbers: 86.21 / 927.06 are also in the
# README; PFREV-checked payment formula, see docs/payments.md)
DOC_EXAMPLE_FIGURES = {
    "The payment for a code in a locality on a date of service": [
        ("facility", D("87.96"), D("1.042"), D("1.194"), D("0.690"), D("33.2875")),
        ("non_facility", D("1091.93"), D("1.042"), D("1.194"), D("0.690"), D("33.2875"))],
    "National payment, and the release it comes from": [("2024B", "facility", D("86.21")),
                                                        ("2024B", "non_facility", D("927.06"))],
    "What changed between two quarters (RVUs of codes in both)": ("0446T", "", D("91.71"), D("179.53")),
    "Which codes are packaged (no separate payment) in OPPS and in an ASC": ("10004", "Fna bx w/o img gdn ea addl",
                                                                            "N1"),
    "Which MUEs dropped from one quarter to the next": [],  # one MUE quarter is mirrored: it runs and finds none
    "A code side by side in every setting, with definitions": [
        ("pfs_status", None, None, None, None, None, "no data: no release of this setting covers the date of service"),
        ("opps_si", "2020-01", "N", "Items and services packaged into APC rates: no separate payment", None, None,
         "found"),
        ("asc_pi", "2020-01", "N1", "Packaged service/item; no separate payment made.", None, None, "found")],
    "Scrub claim lines against the MUEs (lines: a table you create)": [
        ("37253", 6, 5, "Date of Service Edit: Clinical", True, "exceeds")],
    "Pin a data version from plain SQL": [("37252", D("1.80"))],
}
