"""cmsref benchmark: prints wall time, CPU time and peak memory of each step, and the floor for the same data.

    .venv/bin/python tests/benchmarks/bench.py [--mirror ../shared/cms-mirror] [--lookups 10000]

Not a test: it measures. Each step runs in a fresh Python process, so its peak memory (ru_maxrss) is its own and
its time includes that process's imports. Targets (issue 7, 2 cores) are printed next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
MIRROR = {mirror!r}
t0, c0 = time.perf_counter(), time.process_time()
"""
REPORT = """
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "peak_mb": ru.ru_maxrss / 1024, "info": info}))
"""

PARSE = """
from pathlib import Path
import time as _t
from transform.layout import load_layouts, parse_file
cases = [("pfs", "pprrvu", "pfs_rvu/RVU25D/PPRRVU2025_Oct", 2025), ("pfs", "gpci", "pfs_rvu/RVU25D/GPCI2025", 2025),
         ("pfs", "locco", "pfs_rvu/RVU25D/25LOCCO", 2025), ("pfs", "anes", "pfs_rvu/RVU25D/ANES2025", 2025),
         ("pfs", "oppscap", "pfs_rvu/RVU25D/OPPSCAP_Oct", 2025),
         ("mue", "mue", "mue/2026Q2/MCR_MUE_PractitionerServices_Eff_04-01-2026", 2026)]
info = {}
for family, kind, stem, year in cases:
    for ext in ("csv", "txt", "xlsx"):
        path = Path(MIRROR) / f"{stem}.{ext}"
        if path.exists() and (ext != "txt" or family == "pfs"):
            t = _t.perf_counter()
            rows = parse_file(path, load_layouts(family)[kind], year).frame.height
            info[f"{kind}.{ext}"] = f"{_t.perf_counter() - t:.2f}s/{rows}"
t = _t.perf_counter()
from transform.asc import parse_workbook
n = sum(p.frame.height for p in parse_workbook(Path(MIRROR) / "asc_addenda/2020-01/asc_addenda.xlsx", 2020).values())
info["asc.xlsx"] = f"{_t.perf_counter() - t:.2f}s/{n}"
"""

BUILD = """
from cmsref import pipeline
info = pipeline.build(None, mirror=MIRROR).data_version
"""

VALIDATION_ONLY = """
# Great Expectations' own cost: validate the tables of every mirrored release, nothing else
from cmsref import pipeline
from cmsref.pipeline import select_releases, default_datasets
from pathlib import Path
from expectations.suites import validate_tables
frames = []
for spec, rel in select_releases(default_datasets(Path(MIRROR)), [], Path(MIRROR)):
    frames.append((spec, rel, pipeline.transform(spec, rel, pipeline.extract(spec, rel, Path(MIRROR)))))
t1 = time.perf_counter()
for spec, rel, tables in frames:
    validate_tables(tables.tables, dataset=spec.name, period=rel.period, effective_from=rel.effective_from)
info = f"validation alone {time.perf_counter() - t1:.2f}s"
"""

FLOOR = """
# the floor: polars reads every mirrored source (no layout rules, no checks) and DuckDB writes them as tables
import glob, io, duckdb, polars as pl
con = duckdb.connect(os.environ["CMSREF_HOME"] + "/floor.duckdb")
n = 0
for i, path in enumerate(sorted(glob.glob(MIRROR + "/pfs_rvu/*/*.csv") + glob.glob(MIRROR + "/mue/*/*.csv"))):
    text = open(path, "rb").read().decode("cp1252")
    f = pl.read_csv(io.StringIO(text), has_header=False, infer_schema=False, truncate_ragged_lines=True,
                    skip_rows=3 if "MUE" in path else 0)
    con.register("f", f.to_arrow()); con.execute(f"CREATE TABLE t{i} AS SELECT * FROM f"); n += f.height
for path in sorted(glob.glob(MIRROR + "/asc_addenda/*/*.xlsx")):
    for sheet, f in pl.read_excel(path, sheet_id=0, has_header=False).items():
        con.register("f", f.to_arrow()); con.execute(f"CREATE TABLE t{n} AS SELECT * FROM f"); n += f.height
con.close()
info = f"{n} rows"
"""

PAYMENT = """
# every amount of one release, materialised with its keys and window (what a pricing tool loads); the lineage
# columns (two 64-character SHA-256 strings a row) stay in the view, to be read for the rows one traces
import duckdb
con = duckdb.connect(os.environ["CMSREF_HOME"] + "/cmsref.duckdb", read_only=True)
t1 = time.perf_counter()
con.execute("CREATE TEMP TABLE p AS SELECT hcpcs, modifier, mac, locality, setting, cf_variant, effective_from, "
            "effective_to, amount FROM pfs_payment WHERE period = '2025D'")
q = time.perf_counter() - t1
n, total = con.execute("SELECT count(*), sum(amount) FROM p").fetchone()
info = f"{n} amounts in {q:.2f}s (sum {total})"
"""

PAYMENT_WIDE = """
import duckdb
con = duckdb.connect(os.environ["CMSREF_HOME"] + "/cmsref.duckdb", read_only=True)
con.execute("CREATE TEMP TABLE wide AS SELECT * FROM pfs_payment WHERE period = '2025D'")
info = f"{con.execute('SELECT count(*) FROM wide').fetchone()[0]} rows with every column, lineage included"
"""

LOOKUPS = """
import random, statistics
from warehouse.api import open_version
con = open_version(os.environ["CMSREF_HOME"] + "/cmsref.duckdb", "latest")
codes = [r[0] for r in con.execute("SELECT DISTINCT hcpcs FROM pfs_rvu WHERE period = '2025D' ORDER BY 1").fetchall()]
random.seed(7)
sql = ("SELECT work_rvu, facility_pe_rvu, non_facility_pe_rvu, mp_rvu, conversion_factor "
       "FROM pfs_rvu_on(?) WHERE hcpcs = ? AND modifier = ''")
times = []
for _ in range({lookups}):
    t = time.perf_counter()
    con.execute(sql, ["2025-11-01", random.choice(codes)]).fetchall()
    times.append(time.perf_counter() - t)
times.sort()
info = (f"median {statistics.median(times) * 1000:.2f} ms, p95 {times[int(len(times) * .95)] * 1000:.2f} ms "
        f"over {len(times)} lookups")
"""

CACHED_LOOKUPS = """
import random, statistics
from datetime import date
from warehouse.api import Lookup, open_version
con = open_version(os.environ["CMSREF_HOME"] + "/cmsref.duckdb", "latest")
codes = [r[0] for r in con.execute("SELECT DISTINCT hcpcs FROM pfs_rvu WHERE period = '2025D' ORDER BY 1").fetchall()]
random.seed(7)
lookup = Lookup(con)
t1 = time.perf_counter()
lookup.row("pfs_rvu", codes[0], date(2025, 11, 1))
load = time.perf_counter() - t1
times = []
for _ in range({lookups}):
    t = time.perf_counter()
    lookup.row("pfs_rvu", random.choice(codes), date(2025, 11, 1))
    times.append(time.perf_counter() - t)
times.sort()
pay = []
for _ in range({lookups}):
    t = time.perf_counter()
    lookup.payment(random.choice(codes[:50]), date(2025, 11, 1), locality=("01182", "18"))
    pay.append(time.perf_counter() - t)
pay.sort()
info = (f"median {statistics.median(times) * 1000:.3f} ms, p95 {times[int(len(times) * .95)] * 1000:.3f} ms over "
        f"{len(times)} lookups (first one loads the version's pfs_rvu: {load:.2f} s); Lookup.payment of 50 codes in "
        f"01182:18: median {statistics.median(pay) * 1000:.3f} ms, p95 {pay[int(len(pay) * .95)] * 1000:.3f} ms")
"""

HTTP = """
import json, random, socket, statistics, subprocess, threading, urllib.request
import duckdb
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
db = os.environ["CMSREF_HOME"] + "/cmsref.duckdb"
server = subprocess.Popen([sys.executable, "-m", "cmsref.cli", "serve", "--db", db, "--port", str(port)],
                          stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
for _ in range(200):
    try:
        urllib.request.urlopen(base + "/api/versions", timeout=2).close(); break
    except OSError:
        time.sleep(0.2)
con = duckdb.connect(db, read_only=True)
all_codes = [r[0] for r in con.execute("SELECT DISTINCT hcpcs FROM pfs_rvu WHERE period = '2025D' ORDER BY 1").fetchall()]
localities = [f"{m}:{l}" for m, l in con.execute("SELECT DISTINCT mac, locality FROM pfs_gpci WHERE period = '2025D' "
                                                 "ORDER BY 1, 2").fetchall()]
con.close()
codes = ["37252", "37253", "99213", "76145", "93000", "G0008", "36415", "27447"]

def load(make_url, per_client):
    times, errors, lock = [], [], threading.Lock()
    def client(n):
        rnd = random.Random(n)
        for _ in range(per_client):
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(make_url(rnd), timeout=30) as r:
                    r.read()
            except Exception as exc:
                if getattr(exc, "code", None) != 404:
                    with lock: errors.append(repr(exc))
            with lock: times.append(time.perf_counter() - t)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    [t.start() for t in threads]; [t.join() for t in threads]
    times.sort()
    return (f"p50 {statistics.median(times) * 1000:.1f} ms, p95 {times[int(len(times) * .95)] * 1000:.1f} ms, "
            f"{len(errors)} errors")

def post_lines(lines):
    t = time.perf_counter()
    req = urllib.request.Request(base + "/api/latest/lines", data=json.dumps({"lines": lines}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=120).read()
    return time.perf_counter() - t

# 8 common codes (answered from the per-version cache after their first request)
warm = load(lambda rnd: f"{base}/api/2026.2/payment?hcpcs={rnd.choice(codes)}&date=2025-11-01", 100)
# every request a code x locality not asked before: one query of pfs_payment each
cold = load(lambda rnd: f"{base}/api/2026.2/payment?hcpcs={rnd.choice(all_codes)}&date=2025-11-01"
                        f"&locality={rnd.choice(localities)}", 50)
rnd = random.Random(1)
same = post_lines([{"hcpcs": rnd.choice(codes), "units": 1, "date_of_service": "2025-11-01"} for _ in range(10_000)])
mixed_codes = rnd.sample(all_codes, 2000)
mixed = post_lines([{"hcpcs": rnd.choice(mixed_codes), "units": 1, "locality": rnd.choice(localities + [None]),
                     "date_of_service": f"{rnd.choice([2022, 2023, 2024, 2025])}-{rnd.randint(1, 12):02d}-15",
                     "setting": rnd.choice(["facility", "non_facility"])} for _ in range(10_000)])
server.terminate(); server.wait()
info = (f"20 clients x 100, 8 codes: {warm}; 20 clients x 50, a new code x locality each: {cold}; "
        f"POST /lines with 10,000 lines of 8 codes {same:.2f} s, of 2,000 codes x localities x 4 years {mixed:.2f} s")
"""

INTEGRITY = """
from core import settings
from warehouse.api import open_version

def answer():
    t = time.perf_counter()
    con = open_version(settings.db_path(), "latest")
    con.execute("SELECT amount FROM pfs_payment_on('2024-06-01') WHERE hcpcs = '37252' AND is_national").fetchall()
    con.close()
    return time.perf_counter() - t

first, again = answer(), answer()
os.utime(settings.db_path())  # a new state of the file (as after a publish): checked again
changed = answer()
info = (f"first answer {first:.2f} s (the manifest recomputed from every row, lineage row, view and macro), next "
        f"open {again * 1000:.0f} ms, after the file changed {changed:.2f} s")
"""

STEPS = [
    ("(a) parse each file type of the mirror (seconds/rows)", PARSE, ""),
    ("(b) build every mirrored period of every dataset, empty warehouse", BUILD, "<= 5x (floor + validation)"),
    ("    Great Expectations' own cost for the same tables", VALIDATION_ONLY, ""),
    ("    floor: polars reads the raw files, DuckDB writes them", FLOOR, ""),
    ("(c) no-change rebuild", BUILD, "< 3 s"),
    ("(d) pfs_payment, every code x locality x setting of RVU25D", PAYMENT, "< 2 s"),
    ("    the same materialised with every lineage column (for reference)", PAYMENT_WIDE, ""),
    ("(e) single-code as-of lookups through the pinned API", LOOKUPS, "median < 5 ms"),
    ("(f) the same through the per-version cache (warehouse.api.Lookup)", CACHED_LOOKUPS, "p50 < 1 ms"),
    ("(g) cmsref serve over HTTP, 20 clients; POST /lines", HTTP, "p95 < 20 ms; /lines < 1 s"),
    ("(h) content check before a new file is answered from", INTEGRITY, "first answer < 2 s"),
]


def run(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", default=str(ROOT.parent / "shared" / "cms-mirror"))
    ap.add_argument("--lookups", type=int, default=10_000)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CMSREF_HOME=home)
        print(f"{'step':70s} {'wall s':>7s} {'cpu s':>7s} {'peak MB':>8s}  {'target':28s} result")
        for name, body, target in STEPS:
            code = PRELUDE.format(root=str(ROOT), mirror=args.mirror) + body.replace("{lookups}", str(args.lookups)) + REPORT
            r = results[name] = run(code, env)
            print(f"{name:70s} {r['wall']:7.2f} {r['cpu']:7.2f} {r['peak_mb']:8.0f}  {target:28s} {r['info']}")
    build = results[STEPS[1][0]]["wall"]
    floor = results[STEPS[3][0]]["wall"]
    validation = float(results[STEPS[2][0]]["info"].split()[2].rstrip("s"))
    print(f"\nbuild / (floor + validation) = {build:.2f} / ({floor:.2f} + {validation:.2f}) = "
          f"{build / (floor + validation):.2f}x (target <= 5x)")
    print(f"peak memory of any step: {max(r['peak_mb'] for r in results.values()):.0f} MB (target < 1,500 MB)")


if __name__ == "__main__":
    main()
