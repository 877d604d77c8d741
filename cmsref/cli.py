"""The `cmsref` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from core import __version__, settings
from core.errors import CmsrefError, NoDataError
from extract.catalog import datasets as catalog_datasets, load_dataset
from warehouse.outputs import atomic_file, refuse_owned_by

EPILOG = """environment:
  CMSREF_DB      warehouse file (default: $CMSREF_HOME/cmsref.duckdb)
  CMSREF_MIRROR  local mirror folder laid out like ../shared/cms-mirror (offline builds)
  CMSREF_HOME    data folder: warehouse, download cache, validation reports, Prefect state (default: ./data)

examples:
  cmsref build --mirror ../shared/cms-mirror          every release of every dataset the mirror holds
  cmsref build --period 2024B --period 2025D          two PFS periods from cms.gov
  cmsref payment 37252 --date 2024-06-01              national facility/non-facility amounts
  cmsref payment 37252 --date 2025-11-01 --zip 90210  amounts in the locality of a ZIP code
  cmsref query "SELECT * FROM pfs_rvu_on('2024-06-01') WHERE hcpcs = '37252'"
  cmsref versions                                     the data versions to pin (newest last)
  cmsref query --version latest --format csv "SELECT * FROM conversion_factor"
  cmsref verify --version latest                      recompute the version's manifest from its rows
"""


def main(argv: list[str] | None = None) -> int:
    try:  # the parser lists the catalogued datasets: a broken catalog is one line, even for --help
        parser = _parser()
    except CmsrefError as exc:
        print(f"cmsref: error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("great_expectations", "prefect", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        # the one place a command's settings are read: options, else the environment (core/settings.py)
        args.settings = settings.resolve(db=getattr(args, "db", None), mirror=getattr(args, "mirror", None))
        return args.func(args)
    except CmsrefError as exc:
        print(f"cmsref: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cmsref: interrupted; the warehouse is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as exc:  # disk full, read-only or unwritable CMSREF_HOME, `ulimit -f`, a vanished file
        if args.verbose:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cmsref: error: {where}{exc.strerror or exc}{_OS_ADVICE.get(exc.errno, '')}; published data "
              f"versions are unchanged", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug or a library's error that no check above foresaw: one line, details with -v
        if args.verbose:
            raise
        if "Corrupt database file" in str(exc):  # DuckDB found a damaged block only when a query read it
            db = args.dir if getattr(args, "dir", None) else getattr(args, "settings", None) and args.settings.db
            from warehouse.publish import RECOVER_DAMAGED

            print(f"cmsref: error: {db} is damaged ({str(exc).splitlines()[0]}); nothing was changed: "
                  f"{RECOVER_DAMAGED}", file=sys.stderr)
            return 1
        first = (str(exc).splitlines() or [""])[0]
        print(f"cmsref: error: unexpected {type(exc).__name__}: {first} (run with -v for the traceback)",
              file=sys.stderr)
        return 1


_OS_ADVICE = {28: " (the disk is full: free space or set CMSREF_HOME elsewhere)",
              30: " (a read-only file system: set CMSREF_HOME to a writable folder)",
              13: " (permission denied: set CMSREF_HOME to a folder you can write)",
              27: " (the file size limit, `ulimit -f`, was reached)",
              20: " (a part of the path is a file, not a folder: set CMSREF_HOME to a writable folder)",
              1: " (operation not permitted: set CMSREF_HOME to a writable folder)"}


class _Parser(argparse.ArgumentParser):
    """A wrong argument is one line (no usage block): what is wrong, and where the help is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="cmsref", description="CMS Medicare reference files as versioned, validated DuckDB tables.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"cmsref {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="extract, transform, validate and publish periods as a new data version",
                       description="Build periods and publish them as one data version. With no options: the "
                                   "newest catalogued PFS period, from cms.gov. With --mirror and no --period: "
                                   "every period of every dataset the mirror holds.")
    b.add_argument("--dataset", action="append", metavar="D", choices=catalog_datasets(),
                   help=f"dataset to build: {', '.join(catalog_datasets())} (default: every dataset the mirror holds; "
                        f"online: pfs); repeatable. " + "; ".join(f"{d}: {load_dataset(d).title}"
                                                                  for d in catalog_datasets()))
    b.add_argument("--period", action="append", metavar="P", help="period such as 2024B; repeatable")
    b.add_argument("--mirror", metavar="DIR", help="read sources from a local mirror (default: $CMSREF_MIRROR)")
    b.add_argument("--db", metavar="PATH", help="warehouse file (default: $CMSREF_DB)")
    b.add_argument("--no-prefect", action="store_true",
                   help="run the pipeline as plain functions, without the Prefect flow")
    b.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines (each release's steps, downloads), only the result and errors")
    b.set_defaults(func=_build)

    r = sub.add_parser("releases", help="list published releases")
    r.add_argument("--db", metavar="PATH")
    r.add_argument("--format", choices=["table", "csv", "json"], default="table")
    r.set_defaults(func=lambda a: _print_sql(a, "SELECT release_id, dataset, period, effective_from, effective_to, "
                                               "in_latest, cms_release_date, row_counts, validation_success "
                                               "FROM releases ORDER BY dataset, effective_from, revision",
                                             check=False))

    v = sub.add_parser("versions", help="list published data versions")
    v.add_argument("--db", metavar="PATH")
    v.add_argument("--format", choices=["table", "csv", "json"], default="table")
    v.set_defaults(func=lambda a: _print_sql(a, "SELECT data_version, is_latest, published_at, manifest_sha256, "
                                               "summary FROM data_versions ORDER BY seq", check=False))

    q = sub.add_parser("query", help="run SQL against the warehouse (read-only)",
                       description="Run SQL read-only. The views (pfs_rvu, pfs_payment, ...) show the latest data "
                                   "version, or the one given with --version.")
    q.add_argument("sql")
    q.add_argument("--version", metavar="V", help="pin a data version (default: latest)")
    q.add_argument("--db", metavar="PATH")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.add_argument("--output", metavar="FILE", help="write the result to FILE instead of the terminal, streamed (any "
                                                     "number of rows) and renamed into place when complete; never "
                                                     "the warehouse, its data folder or the mirror (SQL itself "
                                                     "cannot write, attach or read files)")
    q.set_defaults(func=lambda a: _print_sql(a, a.sql))

    e = sub.add_parser("export", help="write one data version as a self-contained snapshot with manifest.json")
    e.add_argument("--version", required=True, metavar="V", help="data version, or 'latest'")
    e.add_argument("--to", required=True, metavar="DIR", help="output folder (not inside the data folder or the "
                                                              "mirror); each file is renamed into place when complete")
    e.add_argument("--format", choices=["parquet", "duckdb"], default="parquet")
    e.add_argument("--without-cpt-descriptors", action="store_true",
                   help="blank CPT (AMA) and CDT (ADA) descriptors, for redistribution")
    e.add_argument("--db", metavar="PATH")
    e.set_defaults(func=_export)

    ver = sub.add_parser("verify", help="check an exported snapshot, or a published data version in place",
                         description="With DIR: check an exported snapshot against its manifest.json. With --version: "
                                     "recompute that data version's manifest from the rows stored in the warehouse "
                                     "and compare it with the published one (any changed byte is reported).")
    ver.add_argument("dir", metavar="DIR", nargs="?")
    ver.add_argument("--version", metavar="V", help="a data version of the warehouse, or 'latest'")
    ver.add_argument("--db", metavar="PATH")
    ver.set_defaults(func=_verify)

    df = sub.add_parser("diff", help="what changed between two data versions or two periods",
                        description="Per table: added and removed codes and changed values between A and B. A and B "
                                    "are data versions (2024.2) or periods (2024B, mue:2026Q2).")
    df.add_argument("a")
    df.add_argument("b")
    df.add_argument("--dataset", metavar="D", help="only this dataset")
    df.add_argument("--details", action="store_true", help="list the codes and values, not only the counts")
    df.add_argument("--format", choices=["table", "csv", "json"], default="table")
    df.add_argument("--db", metavar="PATH")
    df.set_defaults(func=_diff)

    nt = sub.add_parser("notes", help="release notes (Markdown) of a data version")
    nt.add_argument("version", nargs="?", default="latest")
    nt.add_argument("--db", metavar="PATH")
    nt.set_defaults(func=_notes)

    vd = sub.add_parser("vendor", help="vendor coding guides (PDF): reconcile against CMS, or import")
    vsub = vd.add_subparsers(dest="vendor_command", required=True, metavar="ACTION")
    vr = vsub.add_parser("reconcile", help="compare every figure of a guide with the CMS data of its year",
                         description="Exit status: 0 when no figure is a mismatch, 1 when one is (2 with --strict "
                                     "also when a figure has no CMS data to compare with).")
    vr.add_argument("pdf", metavar="PDF")
    vr.add_argument("--year", type=int, help="the guide's year (default: read from its text)")
    vr.add_argument("--version", metavar="V", help="compare with this data version (default: latest)")
    vr.add_argument("--db", metavar="PATH")
    vr.add_argument("--format", choices=["table", "csv", "json", "markdown", "html"], default="table")
    vr.add_argument("--report", metavar="FILE", help="also write an HTML (or .md) report to FILE (never the "
                                                     "warehouse, its data folder or the mirror)")
    vr.add_argument("--strict", action="store_true", help="fail also on 'not in CMS data'")
    vr.set_defaults(func=_vendor_reconcile)
    vi = vsub.add_parser("import", help="publish a guide's figures and checks as a new data version")
    vi.add_argument("pdf", metavar="PDF")
    vi.add_argument("--year", type=int, help="the guide's year (default: read from its text)")
    vi.add_argument("--db", metavar="PATH")
    vi.set_defaults(func=_vendor_import)

    sv = sub.add_parser("serve", help="answer data versions over HTTP (JSON, read-only) and show code pages",
                        description="Serve the warehouse read-only over HTTP: /api/versions, /api/{version}/payment, "
                                    "/api/{version}/codes/{hcpcs}, POST /api/{version}/lines (interactive docs at "
                                    "/docs and /redoc), and pages for people: / and /code/{hcpcs}?date=. A publish "
                                    "while it runs is answered for `latest` on the next request. Stop with Ctrl-C.")
    sv.add_argument("--db", metavar="PATH", help="warehouse file (default: $CMSREF_DB)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only; "
                                                        "any other address must be given explicitly)")
    sv.add_argument("--port", type=_port, default=8000, help="port, 1 to 65535 (default: 8000)")
    sv.set_defaults(func=_serve)

    pay = sub.add_parser("payment", help="PFS payment amounts for a code on a date of service")
    pay.add_argument("hcpcs", type=_hcpcs, help="HCPCS / CPT code, 5 letters or digits (37252)")
    pay.add_argument("--date", required=True, metavar="YYYY-MM-DD", type=_date, help="date of service")
    pay.add_argument("--modifier", default="", type=_modifier, help="modifier, 2 letters or digits (default: none)")
    where = pay.add_mutually_exclusive_group()
    where.add_argument("--locality", metavar="MAC:LOC", type=_locality, help="e.g. 01182:18 (default: national)")
    where.add_argument("--zip", metavar="ZIP", type=_field("zip"),
                       help="ZIP code of service (90210 or ZIP+4): priced in the locality CMS's ZIP code file places "
                            "it in on the date, said on stderr; a ZIP code that spans localities gets no amount")
    pay.add_argument("--version", metavar="V")
    pay.add_argument("--db", metavar="PATH")
    pay.add_argument("--format", choices=["table", "csv", "json"], default="table")
    pay.set_defaults(func=_payment)
    from cmsref import lines

    lines.add_parser(sub)  # cmsref lines: claim-line files of any size (cmsref/lines.py)
    return p


def _build(args) -> int:
    datasets = args.dataset  # None: every dataset the mirror holds, or the PFS from cms.gov
    if args.no_prefect:
        from cmsref.pipeline import build

        result = build(datasets, args.period, cfg=args.settings)
    else:
        from cmsref.pipeline import nothing_new

        result = nothing_new(datasets, args.period, args.settings)
        if result is None:  # something to build: through the Prefect flow
            if not args.quiet:
                print("cmsref: starting Prefect's local server for the build flow (the first start migrates its "
                      "database: 20-60 s on 2 cores; later starts about 15 s)", file=sys.stderr)
            from flows.build import run_build_flow

            result = run_build_flow(datasets, args.period, mirror=args.mirror, db=args.db)
    print(result.message)
    return 0


def _export(args) -> int:
    from warehouse.export import export_version

    db = args.settings.db
    to = refuse_owned_by(args.settings, args.to, option="--to", folder=True)
    manifest = export_version(db, args.version, to, args.format, args.without_cpt_descriptors)
    print(f"exported to {manifest.parent} (manifest: {manifest})")
    return 0


def _verify(args) -> int:
    if args.version:
        return _verify_version(args)
    if not args.dir:
        raise CmsrefError("verify needs an export folder (DIR) or --version V")
    from warehouse.export import verify

    problems = verify(Path(args.dir))
    for p in problems:
        print(f"cmsref: verify: {p}", file=sys.stderr)
    if problems:
        print(f"cmsref: error: {args.dir} does not match its manifest ({len(problems)} problem(s))", file=sys.stderr)
        return 1
    print(f"{args.dir}: every file matches manifest.json")
    return 0


def _verify_version(args) -> int:
    from warehouse.api import open_version
    from warehouse.manifest import coverage, verify_version

    con = open_version(args.settings.db, args.version, check=False)  # it lists every difference itself
    try:
        version = con.execute("SELECT pinned_version()").fetchone()[0]
        sha = con.execute("SELECT manifest_sha256 FROM meta.data_versions WHERE data_version = ?", [version]).fetchone()[0]
        problems = verify_version(con, version)
        checked, uncovered = coverage(con, version)
    finally:
        con.close()
    for p in problems:
        print(f"cmsref: verify: {p}", file=sys.stderr)
    if problems:
        print(f"cmsref: error: data version {version} does not match what was published ({len(problems)} "
              f"problem(s))", file=sys.stderr)
        return 1
    print(f"data version {version}: its {', '.join(checked)} match its published manifest {sha}"
          + (f" ({' and '.join(uncovered)} not checked: published by a cmsref whose manifests did not cover them)"
             if uncovered else ""))
    return 0


def _diff(args) -> int:
    from warehouse.diff import diff
    from core.tables import TABLES

    con = _open(args)
    try:
        result = diff(con, args.a, args.b, args.dataset, details=args.details)
    finally:
        con.close()
    if args.format == "json":  # one object per table: counts, and with --details the rows
        def rows(d):
            key = ["period", *TABLES[d.table].key] if d.a_release == args.a else list(TABLES[d.table].key)
            return {"added": [dict(zip(key, k)) for k in d.added_keys],
                    "removed": [dict(zip(key, k)) for k in d.removed_keys],
                    "changed": [dict(zip([*key, "column", "old", "new"], c)) for c in d.changes]}
        print(json.dumps({d.table: {"from": d.a_release, "to": d.b_release, "added": d.added, "removed": d.removed,
                                    "changed": d.changed, **(rows(d) if args.details else {})} for d in result},
                         indent=1, default=str))
        return 0
    _emit(["table", "from", "to", "added", "removed", "changed"],
          [(d.table, d.a_release, d.b_release, d.added, d.removed, d.changed) for d in result], args.format)
    if args.details:
        for d in result:
            if d.added_keys or d.removed_keys or d.changes:
                key = ["period", *TABLES[d.table].key] if d.a_release == args.a else list(TABLES[d.table].key)
                print(f"\n{d.table}: {d.a_release} -> {d.b_release}")
                rows = [("added", *k, "", "", "") for k in d.added_keys] + \
                       [("removed", *k, "", "", "") for k in d.removed_keys] + [("changed", *c) for c in d.changes]
                _emit(["change", *key, "column", "old", "new"], rows, args.format)
    return 0


def _notes(args) -> int:
    from warehouse.diff import release_notes

    con = _open(args)
    try:
        version = args.version if args.version != "latest" else con.execute("SELECT pinned_version()").fetchone()[0]
        print(release_notes(con, version), end="")
    finally:
        con.close()
    return 0


def _vendor_reconcile(args) -> int:
    from transform.vendor_guide import extract_guide
    from extract.download import sha256_file as file_sha256
    from expectations.reconcile import reconcile
    from expectations.reconcile_report import render_report

    pdf = Path(args.pdf)
    report = refuse_owned_by(args.settings, args.report, option="--report") if args.report else None
    extract = extract_guide(pdf, year=args.year)
    con = _open(args)
    try:
        checks = reconcile(con, extract, year=args.year, guide_sha256=file_sha256(pdf))
    finally:
        con.close()
    if report:
        with _writing(report, "--report") as fh:
            fh.write(render_report(checks, extract, "markdown" if report.suffix == ".md" else "html", year=args.year))
    if args.format in ("markdown", "html"):
        print(render_report(checks, extract, args.format, year=args.year))
    else:
        cols = ["page", "hcpcs", "field", "guide_raw", "cms_value", "status", "cms_release", "note"]
        _emit(cols, [tuple(getattr(c, k) for k in cols) for c in checks], args.format)
    statuses = [c.status for c in checks]
    if "mismatch" in statuses:
        print(f"cmsref: {statuses.count('mismatch')} figure(s) of {pdf.name} disagree with CMS", file=sys.stderr)
        return 1
    if args.strict and "not in CMS data" in statuses:
        print(f"cmsref: {statuses.count('not in CMS data')} figure(s) of {pdf.name} have no CMS data to compare with",
              file=sys.stderr)
        return 2
    return 0


def _vendor_import(args) -> int:
    from cmsref.pipeline import import_vendor_guide

    print(import_vendor_guide(Path(args.pdf), year=args.year, cfg=args.settings).message)
    return 0


def _open(args, check: bool = True):
    from warehouse.api import open_version

    return open_version(args.settings.db, getattr(args, "version", None) or "latest", check=check)


BATCH_ROWS = 10_000  # rows fetched at a time: a result of any size streams through bounded memory


def _print_sql(args, sql: str, params=None, check: bool = True) -> int:
    import duckdb

    output = _output(args)  # refused before any work when it would land on a file cmsref owns
    con = _open(args, check=check)
    try:
        try:
            rel = con.execute(sql, params or [])
        except duckdb.Error as exc:
            raise CmsrefError(f"query failed: {str(exc).splitlines()[0]}") from None
        cols = [d[0] for d in rel.description] if rel.description else []
        json_cols = [i for i, d in enumerate(rel.description or []) if str(d[1]).upper() == "JSON"]

        def batches():
            while True:
                try:
                    rows = rel.fetchmany(BATCH_ROWS)
                except duckdb.Error as exc:
                    raise CmsrefError(f"query failed: {str(exc).splitlines()[0]}") from None
                if not rows:
                    return
                if json_cols and args.format == "json":  # a JSON column is JSON in the output, not a string in it
                    rows = [tuple(json.loads(v) if i in json_cols and isinstance(v, str) else v
                                  for i, v in enumerate(r)) for r in rows]
                yield rows
        return _deliver(cols, batches(), args.format, output)
    finally:
        con.close()


def _output(args) -> Path | None:
    """The --output file, checked: never the warehouse, a file beside it, the data folder or the mirror."""
    output = getattr(args, "output", None)
    return refuse_owned_by(args.settings, output, option="--output") if output else None


@contextmanager
def _writing(target: Path, option: str):
    """A user's output file, written whole or not at all (see warehouse.outputs)."""
    try:
        with atomic_file(target) as fh:
            yield fh
    except OSError as exc:
        raise CmsrefError(f"cannot write {option} {target}: {exc.strerror or exc}; it was left as it was") from None


def _deliver(cols, batches, fmt: str, output: Path | None) -> int:
    """The result on the terminal, or with --output in a file (the only way a query result reaches a file)."""
    if output is None:
        _write(cols, batches, fmt, sys.stdout)
        return 0
    with _writing(output, "--output") as fh:
        n = _write(cols, batches, fmt, fh)
    print(f"{n} row(s) written to {output}", file=sys.stderr)
    return 0


def _emit(cols, rows, fmt) -> None:
    _write(cols, [rows], fmt, sys.stdout)


def _write(cols, batches, fmt: str, out) -> int:
    """Rows (an iterable of lists of rows) as json, csv or a table for a person, written as they come; the count."""
    n = 0
    if fmt == "json":
        out.write("[")
        for rows in batches:
            for r in rows:
                item = json.dumps(dict(zip(cols, r)), default=str, indent=1).replace("\n", "\n ")
                out.write(("," if n else "") + "\n " + item)
                n += 1
        out.write("\n]\n" if n else "]\n")
    elif fmt == "csv":
        import csv

        w = csv.writer(out)
        w.writerow(cols)
        for rows in batches:
            w.writerows(rows)
            n += len(rows)
    else:  # a table for a person: long cells are cut (csv and json keep every character); widths from the first rows
        widths = None
        for rows in batches:
            text = [[_cell("" if v is None else str(v)) for v in r] for r in rows]
            if widths is None:
                widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(cols)]
                out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths)) + "\n")
                out.write("  ".join("-" * w for w in widths) + "\n")
            for r in text:
                out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "\n")
            n += len(rows)
        if widths is None:
            widths = [len(c) for c in cols]
            out.write("  ".join(cols) + "\n" + "  ".join("-" * w for w in widths) + "\n")
        out.write(f"({n} row{'s' if n != 1 else ''})\n")
    return n


def _field(name: str):
    """An argument type that reads a value as core/fields.py's field `name` reads it (the server reads its parameters
    the same way): the value as published (upper case, zeros restored, ISO date), or one line saying what is wanted."""
    def parse(text: str) -> str:
        from core.fields import FIELDS, FieldValueError

        try:
            return FIELDS[name].parse(text)
        except FieldValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name
    return parse


_date = _field("date_of_service")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


_hcpcs = _field("hcpcs")
_modifier = _field("modifier")


def _locality(text: str) -> tuple[str, str] | None:
    """MAC:LOC, padded to 5:2 digits; '' is national."""
    from core.fields import FieldValueError, parse_locality

    try:
        return parse_locality(text)
    except FieldValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cell(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _serve(args) -> int:
    import os
    import socket

    from cmsref.serve import run

    db = args.settings.db
    if not db.exists():
        raise CmsrefError(f"no warehouse at {db}: run `cmsref build` first")
    try:  # said in one line before the server starts, not as the server's traceback
        socket.create_server((args.host, args.port)).close()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CmsrefError(f"cannot listen on {args.host}:{args.port}: {reason} (another server on that port? choose "
                          f"one with --port)") from None
    print(f"cmsref: serving {db} on http://{args.host}:{args.port} (API under /api, its docs at /docs)",
          file=sys.stderr)
    run(db, args.host, args.port)
    return 0


def _payment(args) -> int:
    from warehouse.lookup import explain_no_payment, payment_rows, place_zip

    con = _open(args)
    try:
        locality = args.locality
        if args.zip:  # the ZIP code's locality, then priced exactly as that locality
            place = place_zip(con, args.zip, args.date)
            if place.locality is None:
                raise (CmsrefError if place.fault else NoDataError)(place.message)
            print(f"cmsref: {place.message}", file=sys.stderr)
            locality = place.locality
        cols, rows = payment_rows(con, args.hcpcs, args.date, args.modifier, locality)
        if not rows:
            raise NoDataError(explain_no_payment(con, args.hcpcs, args.date, args.modifier, locality)[1])
    finally:
        con.close()
    return _deliver(cols, [rows], args.format, None)


if __name__ == "__main__":
    sys.exit(main())
