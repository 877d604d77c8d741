"""The core pipeline as plain functions: extract -> transform -> validate -> publish.

The Prefect flow (flows/build.py) wraps these same functions as tasks; tests and the CLI's --no-prefect
path call them directly, without a Prefect server. Nothing is written to the warehouse until every release
of the build has been extracted, parsed and validated, and then all of it is published in one transaction.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl

from core import settings
from core.errors import CatalogError
from extract.catalog import DatasetSpec, ReleaseSpec, datasets as all_datasets, load_dataset
from extract.fetch import SourceFile, fetch_release, local_source, releases_in_mirror
from transform import aoc, asc, formats, mue, opps, pfs, vendor, zip_locality
from transform.tables import ReleaseTables
from core.tables import TABLES
from warehouse.publish import (BuiltRelease, PublishResult, build_lock, connect, publish,
                               published_unchanged)

log = logging.getLogger("cmsref.pipeline")
def _vendor_transform(spec, release, files):
    """A guide's figures, and each compared with the CMS data of the latest data version (at build time)."""
    from expectations.reconcile import reconcile
    from warehouse.api import open_version

    def check(extract, year, guide_sha256):
        con = open_version(settings.db_path())
        try:
            return reconcile(con, extract, year=year, guide_sha256=guide_sha256)
        finally:
            con.close()
    return vendor.transform_release(spec, release, files, check)


TRANSFORMS = {"pfs": pfs.transform_release, "mue": mue.transform_release,  # dataset -> its transform
              "aoc": aoc.transform_release, "asc": asc.transform_release, "opps": opps.transform_release,
              "vendor": _vendor_transform, "zip": zip_locality.transform_release}


def default_datasets(mirror: Path | None, periods: list[str] | None = None) -> list[str]:
    """No --dataset: the datasets that have the periods asked for (and, with a mirror, hold them there); with no
    period, every catalogued dataset the mirror holds a release of; online with no period, the PFS."""
    def holds(name: str) -> bool:
        spec = load_dataset(name)
        available = releases_in_mirror(spec, mirror) if mirror is not None else spec.releases
        wanted = {p.upper() for p in periods or []}
        have = {r.period.upper() for r in available}
        return wanted <= have if wanted else bool(have)

    if mirror is None and not periods:
        return ["pfs"]
    found = [name for name in all_datasets() if load_dataset(name).in_default_build and holds(name)]
    if not found:
        where = f"the mirror {mirror}" if mirror is not None else "the catalog"
        raise CatalogError(f"{where} holds no release {'of period ' + ', '.join(periods) if periods else ''}; "
                           f"name the dataset with --dataset ({', '.join(all_datasets())})")
    return found


def select_releases(datasets: list[str], periods: list[str], mirror: Path | None,
                    today: date | None = None) -> list[tuple[DatasetSpec, ReleaseSpec]]:
    """Which releases a build covers: the periods asked for; else, from a mirror, every release it holds;
    else the newest catalogued release that has taken effect."""
    today = today or date.today()
    chosen = []
    for name in datasets:
        spec = load_dataset(name)
        if periods:  # "2024B", or "pfs:2024B" for one dataset of several
            chosen += [(spec, spec.release(p.split(":", 1)[-1])) for p in periods
                       if ":" not in p or p.split(":", 1)[0] == name]
        elif mirror is not None:
            found = releases_in_mirror(spec, mirror)
            if not found:
                raise CatalogError(f"the mirror {mirror} holds no release of {name!r} "
                                   f"(expected folders under {mirror / spec.mirror_root})")
            chosen += [(spec, r) for r in found]
        else:
            current = [r for r in spec.releases if r.effective_from <= today]
            chosen.append((spec, current[-1] if current else spec.releases[0]))
    return chosen


def missing_releases(datasets: list[str] | None, mirror: Path | None, db: Path | None = None,
                     today: date | None = None, year: int | None = None) -> list[tuple[str, str]]:
    """(dataset, period) of the catalogued releases that are available but not in the latest data version:
    from a mirror, those it holds; online, those that have taken effect (or will within 45 days: CMS posts
    ahead). Vendor guides come last: they are checked against the CMS data."""
    today = today or date.today()
    db = settings.db_path(db)
    published = set()
    if db.exists():
        con = connect(db, read_only=True)
        try:
            published = {(d, p) for d, p in con.execute(
                "SELECT dataset, period FROM releases WHERE in_latest").fetchall()}
        finally:
            con.close()
    names = datasets or all_datasets()
    names = sorted(names, key=lambda n: not load_dataset(n).in_default_build)  # vendor last
    missing = []
    for name in names:
        spec = load_dataset(name)
        if mirror is not None:
            available = releases_in_mirror(spec, mirror)
        else:
            available = [r for r in spec.releases if r.effective_from <= today + timedelta(days=45)
                         and (r.files or r.landing_page)]
        missing += [(name, r.period) for r in available
                    if (name, r.period) not in published and (year is None or r.effective_from.year == year)]
    return missing


def extract(spec: DatasetSpec, release: ReleaseSpec, mirror: Path | None) -> list[SourceFile]:
    return fetch_release(spec, release, cache_dir=settings.cache_dir(), mirror=mirror)


def transform(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile]) -> ReleaseTables:
    """The dataset's transform, on the copies whose rows are published; first, every copy of a file in another format
    is parsed and compared with it cell for cell (transform/formats.py), and the release notes say what was compared."""
    published, compared = formats.check_release(spec, release, files)
    tables = TRANSFORMS[spec.name](spec, release, published)
    tables.notes[:0] = compared
    return tables


def validate(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile], tables: ReleaseTables,
             previous: dict[str, int] | None, previous_period: str | None, report_root: Path,
             previous_data: dict | None = None) -> BuiltRelease:
    """Run every table's suite, keep the JSON + HTML report, and stop (ValidationError) on any failure."""
    from expectations.report import write_reports  # Great Expectations takes ~3 s to import: only when validating
    from expectations.suites import validate_tables

    results = validate_tables(tables.tables, dataset=spec.name, period=release.period,
                              effective_from=release.effective_from, previous_rows=previous,
                              previous_period=previous_period, previous_data=previous_data)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = report_root / f"{spec.name}-{release.period}-{stamp}"
    json_path, html_path = write_reports(results, out, f"cmsref validation: {spec.name} {release.period}",
                                         created_at=stamp)
    log.info("%s: validation report %s", release.label, html_path)
    for r in results:
        r.raise_for_failures()  # the message names table, expectation, column, count and examples
    # the reports' names relative to the reports folder: a published table names no path of this machine
    validation = {"success": True, "report_html": _relative(html_path, report_root),
                  "report_json": _relative(json_path, report_root),
                  "suites": [r.to_dict() for r in results]}
    return BuiltRelease(
        dataset=spec.name, period=release.period, effective_from=release.effective_from,
        stated_effective_to=release.effective_to,
        cms_release_date=tables.cms_release_date or release.cms_release_date,
        sources=files, tables=tables.tables, validation=validation, notes=tables.notes,
        catalog_sha256=release.catalog_sha256,
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def previous_rows(db: Path, built: list[BuiltRelease], spec: DatasetSpec, release: ReleaseSpec
                  ) -> tuple[dict[str, int] | None, str | None]:
    """Row counts of the release loaded just before this one (from this build or the latest data version)."""
    candidates = [(b.effective_from, b.period, b.row_counts) for b in built
                  if b.dataset == spec.name and b.effective_from < release.effective_from]
    if db.exists():
        con = connect(db, read_only=True)
        try:
            rows = con.execute(
                "SELECT effective_from, period, row_counts FROM releases WHERE in_latest AND dataset = ? "
                "AND effective_from < ?", [spec.name, release.effective_from]).fetchall()
            candidates += [(f, p, json.loads(c)) for f, p, c in rows]
        except duckdb.CatalogException as exc:  # a warehouse from before the catalog views: no counts to compare
            log.warning("%s: no previous row counts to compare with (%s)", release.label, exc)
        finally:
            con.close()
    if not candidates:
        return None, None
    _, period, counts = max(candidates, key=lambda c: c[0])
    return counts, period


def _previous_table(db: Path, built: list[BuiltRelease], spec: DatasetSpec, release: ReleaseSpec, table: str,
                    columns: list[str]) -> tuple[pl.DataFrame | None, str | None, date | None]:
    """(columns of `table` in the newest earlier release of the dataset that has the table, from this build or the
    latest data version; its period; its effective_from), or (None, None, None)."""
    candidates = [(b.effective_from, b.period, b.tables[table].select(columns)) for b in built
                  if b.dataset == spec.name and table in b.tables and b.effective_from < release.effective_from]
    if db.exists():
        con = connect(db, read_only=True)
        try:
            row = con.execute(
                f"SELECT r.release_id, r.period, r.effective_from FROM releases r WHERE r.in_latest AND r.dataset = ? "
                f"AND r.effective_from < ? AND EXISTS (SELECT 1 FROM store.{table} t WHERE t.release_id = r.release_id) "
                f"ORDER BY r.effective_from DESC LIMIT 1", [spec.name, release.effective_from]).fetchone()
            if row:
                rows = con.execute(f"SELECT {', '.join(columns)} FROM store.{table} WHERE release_id = ?",
                                   [row[0]]).fetchall()
                schema = {c: TABLES[table].column(c).polars_type for c in columns}
                candidates.append((row[2], row[1], pl.DataFrame(rows, schema=schema, orient="row")))
        except duckdb.CatalogException as exc:
            log.warning("%s: no previous %s to compare with (%s)", release.label, table, exc)
        finally:
            con.close()
    if not candidates:
        return None, None, None
    since, period, frame = max(candidates, key=lambda c: c[0])
    return frame, period, since


def previous_localities(db: Path, built: list[BuiltRelease], spec: DatasetSpec, release: ReleaseSpec
                        ) -> tuple[set | None, str | None, str | None]:
    """(MAC x locality keys of the newest earlier release with a GPCI table, its period, and why they may differ:
    the `locality_change` of a catalogued release after it, up to this one). (None, None, None) when there is none."""
    if spec.name != "pfs":
        return None, None, None
    frame, period, since = _previous_table(db, built, spec, release, "pfs_gpci", ["mac", "locality"])
    if frame is None:
        return None, None, None
    why = next((r.locality_change for r in spec.releases
                if since < r.effective_from <= release.effective_from and r.locality_change), None)
    return set(frame.iter_rows()), period, why


def previous_work_rvus(db: Path, built: list[BuiltRelease], spec: DatasetSpec, release: ReleaseSpec
                       ) -> tuple[pl.DataFrame | None, str | None]:
    """(hcpcs, modifier, work_rvu of the newest earlier PFS release, its period): work RVUs change for under 1 % of
    codes from one year to the next, so a file whose columns were swapped or shifted shows up against them."""
    if spec.name != "pfs":
        return None, None
    frame, period, _ = _previous_table(db, built, spec, release, "pfs_rvu", ["hcpcs", "modifier", "work_rvu"])
    return frame, period


def gpci_in_effect(db: Path, built: list[BuiltRelease], spec: DatasetSpec, release: ReleaseSpec
                   ) -> tuple[pl.DataFrame | None, str | None]:
    """For a ZIP locality release: (mac, locality of the PFS GPCI file in effect on its first day, that PFS period),
    from this build or the latest data version, whichever release took effect later; (None, None) when no loaded PFS
    release with a GPCI file covers the day (the check against it is then not made)."""
    if spec.name != "zip":
        return None, None
    day = release.effective_from
    candidates = [(b.effective_from, b.period, b.tables["pfs_gpci"].select("mac", "locality")) for b in built
                  if b.dataset == "pfs" and "pfs_gpci" in b.tables and b.effective_from <= day
                  and b.effective_from.year == day.year
                  and (b.stated_effective_to is None or day < b.stated_effective_to)]
    if db.exists():
        con = connect(db, read_only=True)
        try:
            rows = con.execute("SELECT effective_from, period, mac, locality FROM pfs_gpci_on(?)", [day]).fetchall()
            if rows:
                frame = pl.DataFrame([r[2:] for r in rows], orient="row",
                                     schema={"mac": pl.String, "locality": pl.String})
                candidates.append((rows[0][0], rows[0][1], frame))
        except duckdb.Error as exc:  # a warehouse without PFS views: nothing to compare with
            log.warning("%s: no GPCI file to compare the localities with (%s)", release.label, exc)
        finally:
            con.close()
    if not candidates:
        return None, None
    _, period, frame = max(candidates, key=lambda c: c[0])
    return frame, period


def targets(datasets: list[str] | None, periods: list[str] | None, mirror: Path | None
            ) -> list[tuple[DatasetSpec, ReleaseSpec]]:
    """The releases a build covers, oldest first (see default_datasets and select_releases); a ZIP locality release
    after the PFS release of the same day, whose GPCI localities it is checked against (gpci_in_effect)."""
    chosen = select_releases(datasets or default_datasets(mirror, periods), periods or [], mirror)
    return sorted(chosen, key=lambda x: (x[1].effective_from, x[0].name == "zip"))


def publish_built(db: Path, built: list[BuiltRelease], unchanged: list[str]) -> PublishResult:
    """Publish what was built as one data version; say so when every source was already published unchanged."""
    if not built:
        return PublishResult(None, [], unchanged, f"nothing new to publish: the sources of {', '.join(unchanged)} "
                                                  f"are unchanged")
    result = publish(db, built, summary=", ".join(f"{b.dataset}:{b.period}" for b in built))
    reports = [str(settings.reports_dir())] if any(b.validation.get("report_html") for b in built) else []
    if result.data_version and reports:  # the run's log and the flow run's result say where the checks are
        result.message += f"; validation reports in {', '.join(reports)}"
    return result


@dataclass(frozen=True)
class Steps:
    """The four steps of a build. The CLI's --no-prefect path and the tests use these plain functions; the Prefect
    flow (flows/build.py) passes the same functions wrapped as tasks. The loop that calls them is `run`."""

    extract: Callable = extract
    transform: Callable = transform
    validate: Callable = validate
    publish: Callable = publish_built


def run(datasets: list[str] | None, periods: list[str] | None, mirror: Path | None, db: Path,
        steps: Steps = Steps()) -> PublishResult:
    """Build the selected releases and publish them as one data version (or nothing, if unchanged): the one build
    loop. A release whose source bytes are already published is skipped before it is parsed."""
    with build_lock(db):  # before any download: a second build is refused at once, not after all its work
        return _run(datasets, periods, mirror, db, steps)


def _run(datasets, periods, mirror, db, steps) -> PublishResult:
    built, unchanged = [], []
    chosen = targets(datasets, periods, mirror)
    for n, (spec, release) in enumerate(chosen, start=1):
        log.info("[%d/%d] building %s from %s", n, len(chosen), release.label, mirror or "cms.gov")
        files = steps.extract(spec, release, mirror)
        same = published_unchanged(db, spec.name, release.period, files, release)
        if same:  # identical bytes and catalog entry are already published: no need to parse and validate again
            log.info("%s: sources unchanged since %s; skipped", release.label, same)
            unchanged.append(same)
            continue
        tables = steps.transform(spec, release, files)
        lacking = [k for k in release.mirror_lacks if mirror is not None and k not in {f.kind for f in files}]
        if lacking:
            tables.notes.append(f"built from a partial copy in the mirror: no {', '.join(lacking)} file (the catalog "
                                f"lists them under mirror_lacks)")
        prev, prev_period = previous_rows(db, built, spec, release)
        built.append(steps.validate(spec, release, files, tables, prev, prev_period, settings.reports_dir(),
                                    {"localities": previous_localities(db, built, spec, release),
                                     "work_rvu": previous_work_rvus(db, built, spec, release),
                                     "gpci": gpci_in_effect(db, built, spec, release)}))
    return steps.publish(db, built, unchanged)


def nothing_new(datasets: list[str] | None, periods: list[str] | None, mirror: Path | None, db: Path
                ) -> PublishResult | None:
    """From a local mirror: the no-op answer when every selected release's sources are already published unchanged
    (hashing local files takes well under a second), else None. Lets the CLI skip starting Prefect for nothing."""
    if mirror is None or not db.exists():
        return None
    unchanged = []
    for spec, release in targets(datasets, periods, mirror):
        same = published_unchanged(db, spec.name, release.period, extract(spec, release, mirror), release)
        if not same:
            return None
        unchanged.append(same)
    return publish_built(db, [], unchanged)


def build(datasets: list[str] | None, periods: list[str] | None = None, *, mirror: Path | None = None,
          db: Path | None = None) -> PublishResult:
    """Build the selected releases with the plain steps (no Prefect)."""
    return run(datasets, periods, settings.mirror(mirror), settings.db_path(db))


def import_vendor_guide(pdf: Path, *, year: int | None = None, db: Path | None = None) -> PublishResult:
    """Publish one guide that is not in the catalog, from a local path, as a release of dataset `vendor`."""
    from transform.vendor_guide import extract_guide

    pdf = Path(pdf).absolute()
    db = settings.db_path(db)
    spec = load_dataset("vendor")
    year = year or extract_guide(pdf).year
    if not year:
        raise CatalogError(f"{pdf.name}: no year found in the guide's text; give it with --year")
    period = re.sub(r"[^a-z0-9]+", "-", pdf.stem.lower()).strip("-")
    release = ReleaseSpec(dataset="vendor", period=period, effective_from=date(year, 1, 1), effective_to=None,
                          cms_release_date=None, landing_page=None, files=(), mirror_dir=".")
    files = [local_source("guide", "all", pdf)]
    same = published_unchanged(db, "vendor", period, files, release)
    if same:
        return publish_built(db, [], [same])
    tables = transform(spec, release, files)
    prev, prev_period = previous_rows(db, [], spec, release)
    return publish_built(db, [validate(spec, release, files, tables, prev, prev_period, settings.reports_dir())], [])
