"""`cmsref lines INPUT... --output OUT`: claim-line files of any size checked and priced by the claim-line rules of a
pinned data version (warehouse/claim_files.py does the work), with progress on stderr and a summary by status."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from core.errors import CmsrefError

DESCRIPTION = """Check and price claim lines from CSV, Parquet or JSON Lines files (files, folders or globs, any number)
with the rules POST /api/{version}/lines runs: one output row per input line, every other input column passed
through, the input file and line number beside each. Columns are named as /lines names its fields (claim, hcpcs,
modifier, units, date_of_service, locality or zip, setting, service_type, qp); --map names others. A bad value is
that line's status (invalid: ...), never a stopped run. Lines of one claim are judged together, whatever their order
and file. Memory stays within --memory-limit: DuckDB spills to a temporary folder in the data folder, removed
afterwards. The output is written under a temporary name and renamed when complete."""


def add_parser(sub) -> None:
    ln = sub.add_parser("lines", help="check and price claim-line files of any size (CSV, Parquet, JSON Lines)",
                        description=DESCRIPTION)
    ln.add_argument("inputs", nargs="+", metavar="INPUT", help="a file, a folder of files or a glob ('claims/*.csv')")
    ln.add_argument("--output", required=True, metavar="OUT", help="the result file (Parquet; CSV with --format csv "
                                                                    "or a .csv name)")
    ln.add_argument("--format", choices=["parquet", "csv"], help="of the output (default: parquet, csv for a .csv "
                                                                 "name)")
    ln.add_argument("--map", metavar="FIELD=COLUMN,...", help="columns named otherwise, e.g. "
                                                              "hcpcs=HCPCS_CD,units=LINE_SRVC_CNT")
    ln.add_argument("--version", metavar="V", default="latest", help="the data version (default: latest)")
    ln.add_argument("--db", metavar="PATH")
    ln.add_argument("--memory-limit", default="1GB", metavar="SIZE", help="DuckDB's memory limit (default 1GB)")
    ln.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    ln.set_defaults(func=command)


def command(args) -> int:
    from warehouse.claim_files import Reference, find_inputs, parse_map, run
    from warehouse.outputs import refuse_owned_by

    s = args.settings
    output = refuse_owned_by(s, args.output, option="--output")
    mapping = parse_map(args.map)
    for f in find_inputs(args.inputs):  # the output would be written over a file still being read
        if f.resolve() == output.resolve():
            raise CmsrefError(f"--output {output} is one of the input files: choose another file")
    fmt = args.format or ("csv" if output.suffix.lower() == ".csv" else "parquet")
    ref = Reference.from_version(s.db, args.version)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a terminated run cleans up like an interrupted one
    try:
        summary = run(args.inputs, output, ref, s.home / "tmp", fmt=fmt, mapping=mapping,
                      memory_limit=args.memory_limit, progress=None if args.quiet else _progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
        ref.close()
    print(f"{summary.lines:,} line(s) of {summary.files} file(s) checked against data version {ref.version} in "
          f"{summary.seconds:.1f} s ({summary.lines / max(summary.seconds, 1e-9):,.0f} lines/s); written to {output}")
    for column, counts in summary.statuses.items():
        print(f"{column}:")
        for status, n in counts:
            print(f"  {n:>12,}  {status}")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _progress(done: int, total: int, seconds: float) -> None:
    rate = done / max(seconds, 1e-9)
    left = (total - done) / rate if rate else 0
    print(f"cmsref lines: {done:,} of {total:,} lines done, {rate:,.0f} lines/s, about {left:.0f} s left",
          file=sys.stderr, flush=True)
