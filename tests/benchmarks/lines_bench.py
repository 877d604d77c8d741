"""Benchmark of `cmsref lines` (docs/benchmark.md): lines/s of all three claim-line rules together, beside the floor
(a plain DuckDB join of the same lines with their payment amounts, no rules), and the peak memory of the run.

    .venv/bin/python tests/benchmarks/lines_bench.py --db data/cmsref.duckdb [--lines 1000000 10000000 50000000]

Lines are generated from the version's real codes, localities and dates of service (tests/lines_data.py: 1-8 lines
a claim) into a Parquet file in a temporary folder; `cmsref lines` and the floor each run in a fresh process under
/usr/bin/time (wall, CPU and maximum resident set size), with DuckDB's default 1 GB memory limit for the run. The
floor is the join alone: the lines with the amounts of a payment grid (every code x locality of the version, from
the pfs_payment view's SQL) built first, as if it were stored, and not counted.
Targets on the 2-core machine: >= 500,000 lines/s at 10 M lines, <= 3x the floor, peak RSS <= 2 GB at 50 M lines.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FLOOR = r'''
import sys, time, duckdb
from pathlib import Path
from warehouse.claim_files import Reference, load_reference
from warehouse.views import payment_sql
lines, out, db = sys.argv[1:4]
ref = Reference.from_version(Path(db))
con = duckdb.connect()
con.execute("SET memory_limit = '1GB'")
load_reference(con, ref)
t = time.monotonic()  # the payment grid of every code x locality, as if it were stored: not timed as the floor
con.execute(f"CREATE TABLE payment AS SELECT * FROM ({payment_sql(None)}) WHERE cf_variant IN ('all', 'non_qp')")
grid = time.monotonic() - t
t = time.monotonic()
con.execute(f"""COPY (SELECT l.*, p.amount FROM read_parquet('{lines}') l LEFT JOIN payment p
  ON p.hcpcs = l.hcpcs AND p.modifier = l.modifier AND p.setting = l.setting
 AND p.mac IS NOT DISTINCT FROM nullif(split_part(coalesce(l.locality, ''), ':', 1), '')
 AND p.locality IS NOT DISTINCT FROM nullif(split_part(coalesce(l.locality, ''), ':', 2), '')
 AND in_effect(l.date_of_service, p.effective_from, p.effective_to))
 TO '{out}' (FORMAT parquet, COMPRESSION zstd)""").fetchall()
print(f"FLOOR {grid:.2f} {time.monotonic() - t:.2f} {con.execute('SELECT count(*) FROM payment').fetchall()[0][0]}")
'''


def timed(cmd: list[str], env: dict) -> tuple[float, float, int, str]:
    """(wall s, cpu s, peak RSS KB, stdout) of a command run under /usr/bin/time."""
    start = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %M", *cmd], capture_output=True, text=True, env=env)
    wall = time.monotonic() - start
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {p.stderr[-2000:]}")
    user, system, rss = re.search(r"TIME ([\d.]+) ([\d.]+) (\d+)", p.stderr).groups()
    return wall, float(user) + float(system), int(rss), p.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=str(ROOT / "data" / "cmsref.duckdb"))
    ap.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--no-floor", action="store_true")
    args = ap.parse_args()
    from tests.lines_data import reference_rows, write_lines

    db = Path(args.db).absolute()
    rows = reference_rows(db)
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="cmsref-lines-bench-") as tmp:
        env = {**os.environ, "CMSREF_DB": str(db), "CMSREF_HOME": str(Path(tmp) / "home"), "PYTHONPATH": str(ROOT)}
        for n in args.lines:
            lines = Path(tmp) / f"lines-{n}.parquet"
            t = time.monotonic()
            write_lines(rows, n, lines)
            print(f"{n:,} lines generated in {time.monotonic() - t:.1f} s ({lines.stat().st_size / 2**20:.0f} MB)",
                  flush=True)
            wall, cpu, rss, out = timed([python, "-m", "cmsref.cli", "lines", str(lines), "--output",
                                         str(Path(tmp) / "out.parquet"), "--quiet"], env)
            print(out.splitlines()[0])
            print(f"cmsref lines, {n:,} lines: {wall:.1f} s wall, {cpu:.1f} s CPU, {n / wall:,.0f} lines/s, "
                  f"peak RSS {rss / 1024:,.0f} MB", flush=True)
            if not args.no_floor:
                fwall, fcpu, frss, fout = timed([python, "-c", FLOOR, str(lines), str(Path(tmp) / "floor.parquet"),
                                                 str(db)], env)
                grid, join, grid_rows = re.search(r"FLOOR ([\d.]+) ([\d.]+) (\d+)", fout).groups()
                print(f"floor (a join of the lines with a stored payment grid, {int(grid_rows):,} rows built in "
                      f"{float(grid):.1f} s, not counted), {n:,} lines: {float(join):.1f} s, "
                      f"{n / float(join):,.0f} lines/s (the process: {fwall:.1f} s wall, peak RSS "
                      f"{frss / 1024:,.0f} MB); cmsref lines / floor: {wall / float(join):.2f}x", flush=True)
            for f in (lines, Path(tmp) / "out.parquet", Path(tmp) / "floor.parquet"):
                f.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
