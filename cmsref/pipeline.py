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
from core.errors import CatalogError, CmsrefError, PublishError
from core.settings import Settings
from extract.catalog import DatasetSpec, ReleaseSpec, datasets as all_datasets, load_dataset
from extract.fetch import SourceFile, fetch_release, local_source, releases_in_mirror
from transform import aoc, asc, formats, mue, opps, pfs, vendor, zip_locality
from transform.grids import InputLimits, input_limits
from transform.tables import ReleaseTables
from core.tables import TABLES
from warehouse.publish import (BuiltRelease, PublishResult, build_lock, connect, publish,
                               published_unchanged)

log = logging.getLogger("cmsref.pipeline")


def _vendor_transform(spec, release, files, db: Path):
    """A guide's figures, and each compared with the CMS data of the latest data version of the warehouse being built
    (`db`, at build time)."""
    from expectations.reconcile import reconcile
    from warehouse.api import open_version

    def check(extract, year, guide_sha256):
        con = open_version(db)
        try:
            return reconcile(con, extract, year=year, guide_sha256=guide_sha256)
        finally:
            con.close()
    return vendor.transform_release(spec, release, files, check)


TRANSFORMS = {"pfs": pfs.transform_release, "mue": mue.transform_release,  # dataset -> its transform
              "aoc": aoc.transform_release, "asc": asc.transform_release, "opps": opps.transform_release,
              "zip": zip_locality.transform_release}
# dataset -> its transform, which also reads the warehouse being built (spec, release, files, db)
WAREHOUSE_TRANSFORMS = {"vendor": _vendor_transform}


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


def extract(spec: DatasetSpec, release: ReleaseSpec, cfg: Settings | Path | None) -> list[SourceFile]:
    """The release's source files, from the settings' mirror (or cms.gov), through their download cache. The build
    passes its Settings; a caller with none (a test, the benchmark) passes a mirror (or None), resolved here."""
    if not isinstance(cfg, Settings):
        cfg = settings.resolve(mirror=cfg)
    return fetch_release(spec, release, cache_dir=cfg.cache_dir, mirror=cfg.mirror, http=dict(cfg.http),
                         cms_base_url=cfg.cms_base_url)


def transform(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile], limits: InputLimits | None = None,
              db: Path | None = None) -> ReleaseTables:
    """The dataset's transform, on the copies whose rows are published, every file read within `limits`; first, every
    copy of a file in another format is parsed and compared with it cell for cell (transform/formats.py), and the
    release notes say what was compared. `db`: the warehouse being built, for a dataset checked against it (vendor)."""
    with input_limits(limits or InputLimits()):
        published, compared = formats.check_release(spec, release, files)
        if spec.name in WAREHOUSE_TRANSFORMS:
            if db is None:
                raise CmsrefError(f"{release.label} is checked against a warehouse, and none was given")
            tables = WAREHOUSE_TRANSFORMS[spec.name](spec, release, published, db)
        else:
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
    """Row counts of the release loaded just before this one (from this build or the latest data version); (None,
    None) only when there is none. A warehouse that cannot be read stops the build (_read_earlier)."""
    candidates = [(b.effective_from, b.period, b.row_counts) for b in built
                  if b.dataset == spec.name and b.effective_from < release.effective_from]
    rows = _read_earlier(db, release, "the row counts of earlier releases", None, lambda con: con.execute(
        "SELECT effective_from, period, row_counts FROM releases WHERE in_latest AND dataset = ? "
        "AND effective_from < ?", [spec.name, release.effective_from]).fetchall())
    candidates += [(f, p, json.loads(c)) for f, p, c in rows]
    if not candidates:
        return None, None
    _, period, counts = max(candidates, key=lambda c: c[0])
    return counts, period


def _read_earlier(db: Path, release: ReleaseSpec, what: str, table: str | None, query: Callable) -> list:
    """`query`'s rows from the warehouse being built; [] when it holds no earlier release to read (no file, nothing
    ever published into it, or no release ever had `table`). Any other failure stops the build in one line: a check
    against the previous release is never skipped quietly."""
    if not db.exists():
        return []
    con = connect(db, read_only=True)
    try:
        present = {(sch, name) for sch, name in con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() UNION ALL "
            "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        if ("main", "releases") not in present or (table and ("store", table) not in present):
            return []
        return query(con)
    except duckdb.Error as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise PublishError(f"{release.label}: cannot read {what} from {db} ({type(exc).__name__}: {first}); "
                           f"nothing was published") from None
    finally:
        con.close()


def _previous_table(db: Path, built: list[BuiltRelease], spec: DatasetSpec, release: ReleaseSpec, table: str,
                    columns: list[str]) -> tuple[pl.DataFrame | None, str | None, date | None]:
    """(columns of `table` in the newest earlier release of the dataset that has the table, from this build or the
    latest data version; its period; its effective_from), or (None, None, None) when there is none."""
    candidates = [(b.effective_from, b.period, b.tables[table].select(columns)) for b in built
                  if b.dataset == spec.name and table in b.tables and b.effective_from < release.effective_from]

    def newest(con):
        row = con.execute(
            f"SELECT r.release_id, r.period, r.effective_from FROM releases r WHERE r.in_latest AND r.dataset = ? "
            f"AND r.effective_from < ? AND EXISTS (SELECT 1 FROM store.{table} t WHERE t.release_id = r.release_id) "
            f"ORDER BY r.effective_from DESC LIMIT 1", [spec.name, release.effective_from]).fetchone()
        if not row:
            return []
        rows = con.execute(f"SELECT {', '.join(columns)} FROM store.{table} WHERE release_id = ?", [row[0]]).fetchall()
        schema = {c: TABLES[table].column(c).polars_type for c in columns}
        return [(row[2], row[1], pl.DataFrame(rows, schema=schema, orient="row"))]
    candidates += _read_earlier(db, release, f"the earlier {table}", table, newest)
    if not candidates:
        return None, None, None
    since, period, frame = max(candidates, key=lambda c: c[0])
    return frame, period, since


def checks_not_made(spec: DatasetSpec, previous: dict | None, previous_data: dict) -> list[str]:
    """The release notes' line on each check against the previous release that could not be made because there is
    no previous release (or none with the table it compares), and for a ZIP locality release the GPCI check when no
    PFS release with a GPCI file covers its first day."""
    out = []
    if previous is None:
        skipped = ["row-count drift", *(["locality", "work-RVU"] if spec.name == "pfs" else [])]
        out.append(f"no earlier {spec.name} release loaded: {', '.join(skipped)} check{'s' * (len(skipped) > 1)} "
                   f"not made")
    else:
        for key, table, check in (("localities", "pfs_gpci", "locality"), ("work_rvu", "pfs_rvu", "work-RVU")):
            if spec.name == "pfs" and previous_data[key][0] is None:
                out.append(f"no earlier {spec.name} release with a {table} table loaded: {check} check not made")
    if spec.name == "zip" and (previous_data.get("gpci") or (None,))[0] is None:
        out.append("no PFS release with a GPCI file covers the quarter's first day: the check of the ZIP codes' "
                   "localities against the GPCI file not made")
    return out


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
    rows = _read_earlier(db, release, "the GPCI file in effect", "pfs_gpci", lambda con: con.execute(
        "SELECT effective_from, period, mac, locality FROM pfs_gpci_on(?)", [day]).fetchall())
    if rows:
        frame = pl.DataFrame([r[2:] for r in rows], orient="row", schema={"mac": pl.String, "locality": pl.String})
        candidates.append((rows[0][0], rows[0][1], frame))
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


def publish_built(db: Path, built: list[BuiltRelease], unchanged: list[str], reports_dir: Path | None = None
                  ) -> PublishResult:
    """Publish what was built as one data version; say so when every source was already published unchanged, and
    where the validation reports are (`reports_dir`)."""
    if not built:
        return PublishResult(None, [], unchanged, f"nothing new to publish: the sources of {', '.join(unchanged)} "
                                                  f"are unchanged")
    result = publish(db, built, summary=", ".join(f"{b.dataset}:{b.period}" for b in built))
    reported = reports_dir is not None and any(b.validation.get("report_html") for b in built)
    if result.data_version and reported:  # the run's log and the flow run's result say where the checks are
        result.message += f"; validation reports in {reports_dir}"
    return result


@dataclass(frozen=True)
class Steps:
    """The four steps of a build. The CLI's --no-prefect path and the tests use these plain functions; the Prefect
    flow (flows/build.py) passes the same functions wrapped as tasks. The loop that calls them is `run`."""

    extract: Callable = extract
    transform: Callable = transform
    validate: Callable = validate
    publish: Callable = publish_built


def run(datasets: list[str] | None, periods: list[str] | None, cfg: Settings, steps: Steps = Steps(),
        chosen: list[tuple[DatasetSpec, ReleaseSpec]] | None = None) -> PublishResult:
    """Build the selected releases (`chosen`, else those of `datasets` and `periods`) into the warehouse of the
    settings `cfg`, and publish them as one data version (or nothing, if unchanged): the one build loop. A release
    whose source bytes are already published is skipped before it is parsed."""
    with build_lock(cfg.db):  # before any download: a second build is refused at once, not after all its work
        return _run(chosen or targets(datasets, periods, cfg.mirror), cfg, steps)


def _run(chosen, cfg: Settings, steps: Steps) -> PublishResult:
    db, mirror, built, unchanged = cfg.db, cfg.mirror, [], []
    limits = InputLimits(**cfg.input_limits)
    for n, (spec, release) in enumerate(chosen, start=1):
        log.info("[%d/%d] building %s from %s", n, len(chosen), release.label, mirror or "cms.gov")
        files = steps.extract(spec, release, cfg)
        same = published_unchanged(db, spec.name, release.period, files, release)
        if same:  # identical bytes and catalog entry are already published: no need to parse and validate again
            log.info("%s: sources unchanged since %s; skipped", release.label, same)
            unchanged.append(same)
            continue
        tables = steps.transform(spec, release, files, limits, db)
        lacking = [k for k in release.mirror_lacks if mirror is not None and k not in {f.kind for f in files}]
        if lacking:
            tables.notes.append(f"built from a partial copy in the mirror: no {', '.join(lacking)} file (the catalog "
                                f"lists them under mirror_lacks)")
        prev, prev_period = previous_rows(db, built, spec, release)
        previous_data = {"localities": previous_localities(db, built, spec, release),
                         "work_rvu": previous_work_rvus(db, built, spec, release),
                         "gpci": gpci_in_effect(db, built, spec, release)}
        tables.notes += checks_not_made(spec, prev, previous_data)
        built.append(steps.validate(spec, release, files, tables, prev, prev_period, cfg.reports_dir, previous_data))
    return steps.publish(db, built, unchanged, cfg.reports_dir)


def nothing_new(datasets: list[str] | None, periods: list[str] | None, cfg: Settings) -> PublishResult | None:
    """From a local mirror: the no-op answer when every selected release's sources are already published unchanged
    (hashing local files takes well under a second), else None. Lets the CLI skip starting Prefect for nothing."""
    if cfg.mirror is None or not cfg.db.exists():
        return None
    unchanged = []
    for spec, release in targets(datasets, periods, cfg.mirror):
        same = published_unchanged(cfg.db, spec.name, release.period, extract(spec, release, cfg), release)
        if not same:
            return None
        unchanged.append(same)
    return publish_built(cfg.db, [], unchanged)


def build(datasets: list[str] | None, periods: list[str] | None = None, *, mirror: Path | None = None,
          db: Path | None = None, cfg: Settings | None = None) -> PublishResult:
    """Build the selected releases with the plain steps (no Prefect), with the settings `cfg` (an entry point's),
    else those resolved here from `mirror`, `db` and the environment."""
    return run(datasets, periods, cfg or settings.resolve(db=db, mirror=mirror))


def import_vendor_guide(pdf: Path, *, year: int | None = None, db: Path | None = None,
                        cfg: Settings | None = None) -> PublishResult:
    """Publish one guide that is not in the catalog, from a local path, as a release of dataset `vendor`: through the
    one build loop, with the guide itself as what is extracted."""
    from transform.vendor_guide import extract_guide

    pdf = Path(pdf).absolute()
    cfg = cfg or settings.resolve(db=db)
    spec = load_dataset("vendor")
    year = year or extract_guide(pdf).year
    if not year:
        raise CatalogError(f"{pdf.name}: no year found in the guide's text; give it with --year")
    period = re.sub(r"[^a-z0-9]+", "-", pdf.stem.lower()).strip("-")
    release = ReleaseSpec(dataset="vendor", period=period, effective_from=date(year, 1, 1), effective_to=None,
                          cms_release_date=None, landing_page=None, files=(), mirror_dir=".")
    the_guide = Steps(extract=lambda spec, release, cfg: [local_source("guide", "all", pdf)])
    return run(None, None, cfg, the_guide, chosen=[(spec, release)])
