"""Version and effective-window rules of warehouse/publish.py, on tiny tables built in code."""

from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from core.errors import PublishError
from tests.builders import built
from tests.helpers import snapshot
from warehouse.publish import build_lock, publish
from warehouse.views import create_pinned_views


def windows(db, version):
    con = duckdb.connect(str(db), read_only=True)
    try:
        create_pinned_views(con, version)
        return con.execute("SELECT period, effective_from, effective_to FROM pfs_rvu ORDER BY effective_from").fetchall()
    finally:
        con.close()


def test_windows_end_at_next_release_stated_end_or_year_end(tmp_path):
    db = tmp_path / "w.duckdb"
    r = publish(db, [built("2024A", date(2024, 1, 1), "a", stated_to=date(2024, 3, 9)),
                     built("2024C", date(2024, 7, 1), "c"), built("2025D", date(2025, 10, 1), "d")])
    assert r.data_version == "2025.4"
    assert windows(db, "2025.4") == [
        ("2024A", date(2024, 1, 1), date(2024, 3, 9)),  # CMS states the end (CF changed on 2024-03-09)
        ("2024C", date(2024, 7, 1), date(2025, 1, 1)),  # no later 2024 release loaded: the year ends it
        ("2025D", date(2025, 10, 1), date(2026, 1, 1)),
    ]
    # adding 2024B later shortens nothing it should not: 2024B ends where 2024C starts
    r2 = publish(db, [built("2024B", date(2024, 4, 1), "b")])
    assert r2.data_version == "2025.4.1"
    assert ("2024B", date(2024, 4, 1), date(2024, 7, 1)) in windows(db, "2025.4.1")
    assert len(windows(db, "2025.4")) == 3  # the earlier version still shows what it showed


def test_same_sources_publish_nothing_and_changed_sources_make_a_revision(tmp_path):
    db = tmp_path / "w.duckdb"
    assert publish(db, [built("2024B", date(2024, 4, 1), "b")]).data_version == "2024.2"
    before = snapshot(db)
    again = publish(db, [built("2024B", date(2024, 4, 1), "b")])
    assert again.data_version is None and snapshot(db) == before
    changed = publish(db, [built("2024B", date(2024, 4, 1), "b2", work="1.81")])
    assert (changed.data_version, changed.new_releases) == ("2024.2.1", ["pfs/2024B/r2"])


def test_a_failing_publish_rolls_back_everything(tmp_path):
    db = tmp_path / "w.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    before = snapshot(db)
    bad = built("2024C", date(2024, 7, 1), "c")
    bad.tables["pfs_rvu"] = bad.tables["pfs_rvu"].with_columns(work_rvu=pl.lit("not a number"))
    with pytest.raises(duckdb.Error):
        publish(db, [bad])
    assert snapshot(db) == before


def test_rows_lacking_a_column_of_the_table_are_refused_never_stored_as_null(tmp_path):
    db = tmp_path / "w.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    before = snapshot(db)
    bad = built("2024C", date(2024, 7, 1), "c")
    bad.tables["pfs_rvu"] = bad.tables["pfs_rvu"].drop("status_code", "mp_rvu")
    with pytest.raises(PublishError, match=r"pfs/2024C/r1: the rows of pfs_rvu lack column\(s\) status_code, mp_rvu "
                                           r"of core/tables.py; .* fill them in transform/pfs.py"):
        publish(db, [bad])
    assert snapshot(db) == before


def test_a_second_writer_is_refused_with_a_clear_message(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom warehouse.publish import build_lock\n"
                               f"with build_lock({str(db)!r}):\n    print('held', flush=True)\n    time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PublishError, match=rf"another cmsref build is running on .*w.duckdb \(PID {holder.pid}, "
                                               rf"started \d{{4}}-"):
            publish(db, [built("2024B", date(2024, 4, 1), "b")])
    finally:
        holder.kill()
        holder.wait()
    with build_lock(db):  # re-entrant within the process that holds it: a build takes it, then its publish
        assert publish(db, [built("2024B", date(2024, 4, 1), "b")]).data_version == "2024.2"


def test_a_build_refused_in_the_instant_before_the_holder_records_itself_still_names_it(tmp_path):
    """The holder takes the lock, then writes who it is: a second build arriving in between waits for that record
    instead of saying 'another process' (seen once in CI as a flaky two-builds test)."""
    import subprocess
    import sys

    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, time\n"
                               f"fh = open({str(db) + '.lock'!r}, 'a+')\nfcntl.flock(fh, fcntl.LOCK_EX)\n"
                               "print('locked', flush=True)\ntime.sleep(0.5)\n"
                               "fh.write(f'PID {os.getpid()}, started 2026-11-30 02:00:00 UTC')\nfh.flush()\n"
                               "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(PublishError, match=rf"\(PID {holder.pid}, started 2026-11-30 02:00:00 UTC\)"):
            publish(db, [built("2024B", date(2024, 4, 1), "b")])
    finally:
        holder.kill()
        holder.wait()


def test_a_warehouse_written_before_a_table_existed_still_opens_pinned(tmp_path):
    """A newer cmsref reading an older warehouse (read-only, so it cannot add tables): the new table is empty."""
    from warehouse.api import open_version

    db = tmp_path / "w.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    con = duckdb.connect(str(db))
    con.execute("DROP VIEW main.opps_addendum_a")
    con.execute("DROP TABLE store.opps_addendum_a")  # as a warehouse from before opps_addendum_a
    _as_written_before_definitions(con)
    con.close()
    pinned = open_version(db, "2024.2")
    assert pinned.execute("SELECT count(*) FROM opps_addendum_a").fetchone() == (0,)
    assert pinned.execute("SELECT count(*) FROM pfs_rvu").fetchone() == (1,)
    pinned.close()


def _as_written_before_definitions(con) -> None:
    """Manifests as a cmsref wrote them before they recorded the views and macros (which older cmsrefs changed)."""
    import json

    from warehouse.manifest import sha256_json

    for seq, manifest in con.execute("SELECT seq, manifest FROM meta.data_versions").fetchall():
        manifest = json.loads(manifest)
        manifest.pop("definitions")
        con.execute("UPDATE meta.data_versions SET manifest = ?, manifest_sha256 = ? WHERE seq = ?",
                    [json.dumps(manifest, sort_keys=True), sha256_json(manifest), seq])


def test_an_older_warehouse_is_migrated_without_changing_a_stored_value(tmp_path):
    """A warehouse written before OPPS money held its stated decimals (DECIMAL(12,2)) and before the IRA column: the
    next publish widens and adds, keeps 1.50 as 1.50, and stores a new 115.936 unrounded."""
    from core.errors import PublishError
    from warehouse.publish import connect, ensure_schema

    db = tmp_path / "old.duckdb"
    con = connect(db)
    ensure_schema(con)
    con.execute("ALTER TABLE store.opps_addendum_b DROP COLUMN ira_adjusted_copayment")
    con.execute("ALTER TABLE store.opps_addendum_b ALTER COLUMN payment_rate TYPE DECIMAL(12,2)")
    con.execute("INSERT INTO store.opps_addendum_b (release_id, hcpcs, payment_rate) VALUES ('opps/x/r1', 'A', 1.50)")
    ensure_schema(con)
    assert con.execute("SELECT data_type FROM duckdb_columns() WHERE schema_name = 'store' AND table_name = 'opps_addendum_b' "
                       "AND column_name IN ('payment_rate', 'ira_adjusted_copayment') ORDER BY column_name"
                       ).fetchall() == [("DECIMAL(18,9)",), ("DECIMAL(18,9)",)]
    con.execute("INSERT INTO store.opps_addendum_b (release_id, hcpcs, payment_rate) VALUES ('opps/y/r1', 'B', 115.936)")
    assert con.execute("SELECT hcpcs, payment_rate::VARCHAR FROM store.opps_addendum_b ORDER BY 1").fetchall() == [
        ("A", "1.500000000"), ("B", "115.936000000")]
    con.execute("ALTER TABLE store.pfs_rvu ALTER COLUMN work_rvu TYPE DECIMAL(9,3)")  # a narrower registry column
    with pytest.raises(PublishError, match="could change stored values"):
        ensure_schema(con)
    con.close()


def test_content_hashes_ignore_trailing_decimal_zeros_and_see_any_other_change(tmp_path):
    from warehouse.manifest import content_sha256
    from warehouse.publish import connect, ensure_schema

    con = connect(tmp_path / "h.duckdb")
    ensure_schema(con)
    con.execute("INSERT INTO store.opps_addendum_b (release_id, hcpcs, payment_rate) VALUES ('r', 'A', 1.50)")
    before = content_sha256(con, "opps_addendum_b", "r")
    con.execute("ALTER TABLE store.opps_addendum_b ALTER COLUMN payment_rate TYPE DECIMAL(20,10)")
    assert content_sha256(con, "opps_addendum_b", "r") == before
    con.execute("UPDATE store.opps_addendum_b SET payment_rate = 1.51")
    assert content_sha256(con, "opps_addendum_b", "r") != before
    con.close()


def test_threads_opening_the_same_version_at_once_all_get_a_locked_down_connection(tmp_path):
    """Connections of one process to one file share DuckDB's database instance and its settings: the threads of a
    server opening it at the same moment must not race to lock it (the second used to fail on a locked setting)."""
    import threading

    from warehouse.api import open_version

    db = tmp_path / "w.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    for _ in range(5):
        barrier, failures, opened = threading.Barrier(8), [], []

        def open_one():
            barrier.wait()
            try:
                opened.append(open_version(db, "latest"))
            except Exception as exc:  # noqa: BLE001 - any failure is the defect
                failures.append(repr(exc))

        threads = [threading.Thread(target=open_one) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert failures == [] and len(opened) == 8
        for con in opened:
            with pytest.raises(duckdb.Error, match="disabled|locked"):
                con.execute(f"SELECT * FROM read_csv({str(tmp_path / 'x.csv')!r})")
            con.close()


@pytest.fixture
def two_releases(tmp_path):
    """A pinned connection to a warehouse of 37252 in 2024B (work 1.80) and 2024C (work 2.00)."""
    from warehouse.api import open_version

    db = tmp_path / "w.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    publish(db, [built("2024C", date(2024, 7, 1), "c", work="2.00")])
    con = open_version(db, "latest")
    yield con
    con.close()


def test_the_cached_lookup_answers_like_the_views(two_releases):
    from warehouse.api import Lookup

    con = two_releases
    lookup = Lookup(con)
    assert lookup.row("pfs_rvu", "37252", date(2024, 5, 1))["work_rvu"] == Decimal("1.80")
    assert lookup.row("pfs_rvu", "37252", date(2024, 8, 1))["work_rvu"] == Decimal("2.00")
    assert lookup.row("pfs_rvu", "37252", date(2023, 8, 1)) is None  # no release covers it
    assert lookup.row("pfs_rvu", "99999", date(2024, 8, 1)) is None
    via_view = con.execute("SELECT work_rvu FROM pfs_rvu_on('2024-08-01') WHERE hcpcs = '37252'").fetchall()
    assert via_view == [(Decimal("2.00"),)]
    assert [(p["setting"], p["amount"]) for p in lookup.payment("37252", date(2024, 8, 1))] == [
        ("facility", Decimal("92.87")), ("non_facility", Decimal("933.71"))]  # 28.05 x 33.2875
    assert lookup.payment("37252", date(2023, 8, 1)) == []


def test_the_payment_cache_answers_like_the_view_and_keeps_only_its_size(two_releases):
    from warehouse.lookup import PaymentCache, on, payment_rows

    con = two_releases
    cache = PaymentCache(size=1)
    for day in ("2024-05-01", "2024-08-01"):
        via_view = con.execute("SELECT setting, amount, period FROM pfs_payment_on(CAST(? AS DATE)) WHERE "
                               "hcpcs = '37252' AND is_national ORDER BY setting", [day]).fetchall()
        cached = [(a["setting"], a["amount"], a["period"]) for a in on(cache.windows(con, "37252"), day)]
        assert cached == via_view and len(via_view) == 2
    assert on(cache.windows(con, "37252"), "2024-08-01")[0]["amount"] == Decimal("92.87")  # (2 + .44 + .35) x CF
    assert payment_rows(con, "37252", "2024-08-01")[1][0][9] == Decimal("92.87")  # the CLI's answer
    assert list(cache.entries) == [("37252", "", None)]
    assert cache.windows(con, "99999") == [] and list(cache.entries) == [("99999", "", None)]  # size 1 kept


def test_the_snapshot_sees_one_changed_value_a_repeated_row_and_a_widened_column(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA store; CREATE TABLE store.t (hcpcs VARCHAR, rvu DECIMAL(9,2)); "
                "INSERT INTO store.t VALUES ('37252', 1.80), ('37253', 1.44)")
    con.close()
    before = snapshot(db)
    for change in ["UPDATE store.t SET rvu = 1.81 WHERE hcpcs = '37252'",
                   "INSERT INTO store.t VALUES ('37253', 1.44)",
                   "ALTER TABLE store.t ALTER rvu TYPE DECIMAL(18,2)"]:
        copy = tmp_path / "c.duckdb"
        copy.write_bytes(db.read_bytes())
        con = duckdb.connect(str(copy))
        con.execute(change)
        con.close()
        assert snapshot(copy) != before, change
    assert snapshot(db) == before
