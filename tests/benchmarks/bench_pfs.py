"""Benchmark: prints wall time, CPU time and peak memory (not a test; targets are checked by reading it).

    .venv/bin/python tests/benchmarks/bench_pfs.py [--mirror ../shared/cms-mirror]

Each measurement runs in a fresh Python process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
t0, c0 = time.perf_counter(), time.process_time()
"""
REPORT = """
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "peak_mb": ru.ru_maxrss / 1024, "info": info}))
"""

CASES = {
    "build every mirrored PFS release into an empty warehouse (no Prefect)": """
from cmsref import pipeline
r = pipeline.build(["pfs"], mirror={mirror!r})
info = r.data_version
""",
    "no-change rebuild (same sources: nothing published)": """
from cmsref import pipeline
r = pipeline.build(["pfs"], mirror={mirror!r})
info = r.message[:40]
""",
    "pfs_payment for every code x locality x setting of RVU25D (materialised)": """
import duckdb
con = duckdb.connect(os.environ["CMSREF_HOME"] + "/cmsref.duckdb", read_only=True)
n = con.execute("CREATE TEMP TABLE p AS SELECT * FROM pfs_payment WHERE period = '2025D'").fetchall()
info = con.execute("SELECT count(*), sum(amount) FROM p").fetchone()
info = [info[0], str(info[1])]
""",
    "floor: polars reads the 2025D PPRRVU csv (no checks, no warehouse)": """
import polars as pl
f = pl.read_csv({mirror!r} + "/pfs_rvu/RVU25D/PPRRVU2025_Oct.csv", skip_rows=9, infer_schema=False,
                truncate_ragged_lines=True, encoding="utf8-lossy")
info = f.height
""",
}


def run(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mirror", default=str(ROOT.parent / "shared" / "cms-mirror"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CMSREF_HOME=home)
        print(f"{'measurement':75s} {'wall s':>7s} {'cpu s':>7s} {'peak MB':>8s}  result")
        for name, body in CASES.items():
            code = PRELUDE.format(root=str(ROOT)) + body.format(mirror=args.mirror) + REPORT
            r = run(code, env)
            print(f"{name:75s} {r['wall']:7.2f} {r['cpu']:7.2f} {r['peak_mb']:8.0f}  {r['info']}")


if __name__ == "__main__":
    main()
