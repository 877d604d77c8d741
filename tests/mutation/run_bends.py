"""Bend the SQL rules one at a time and see a test fail (issue 21). Python mutation tools do not bend SQL inside
Python strings meaningfully, so the bends are data: tests/mutation/sql_bends.toml lists for each one the file, the
text before, the text after, the behaviour it breaks and the tests that guard it.

    .venv/bin/python tests/mutation/run_bends.py                 # every bend
    .venv/bin/python tests/mutation/run_bends.py in_effect_open  # the bends named (or whose name starts so)

The project is copied (without .venv, .git, data and caches) into a temporary folder; each bend is applied to the
copy, its guarding tests run there (PYTHONPATH = the copy), and the file is restored. The project itself is never
touched. First the guarding tests of all bends run once unbent: they must pass, or a kill would mean nothing.
A bend whose text is not found exactly once is an error (the rule moved: update the list). Exit status 1 when a bend
survives or errs. Not run in CI (minutes on 2 cores); rerun whenever a rule changes and record it in docs/quality.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENDS = Path(__file__).with_name("sql_bends.toml")
SKIP = shutil.ignore_patterns(".venv", ".git", "data", "__pycache__", ".pytest_cache", "mutants", "*.duckdb*",
                              "node_modules", ".hypothesis")


def load(names: list[str]) -> list[dict]:
    bends = tomllib.loads(BENDS.read_text())["bend"]
    return [b for b in bends if not names or any(b["name"].startswith(n) for n in names)]


def pytest(copy: Path, tests: list[str]) -> subprocess.CompletedProcess:
    # the real CMS files stay where they are (never copied); CI=1 makes their absence an error, not a skip
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1", "CI": "1",
           "CMSREF_SHARED": os.environ.get("CMSREF_SHARED", str(ROOT.parent / "shared"))}
    # -n 0: one process, as pyproject's addopts otherwise start xdist workers, and under xdist -x ends a run that
    # failed with exit status 2 (interrupted), which would count a killed bend as an error
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0", *tests],
                          cwd=copy, env=env, capture_output=True, text=True)


def main(argv: list[str]) -> int:
    bends = load(argv)
    with tempfile.TemporaryDirectory(prefix="cmsref-bends-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=SKIP)
        guards = sorted({t for b in bends for t in b["tests"]})
        base = pytest(copy, guards)
        if base.returncode != 0:
            print(base.stdout[-3000:], base.stderr[-2000:])
            print("the guarding tests fail unbent: fix them first")
            return 2
        results = {"killed": 0, "survived": 0, "error": 0}
        for b in bends:
            path = copy / b["file"]
            text = path.read_text()
            if text.count(b["before"]) != 1:
                print(f"ERROR    {b['name']}: text before found {text.count(b['before'])} times in {b['file']}")
                results["error"] += 1
                continue
            path.write_text(text.replace(b["before"], b["after"]))
            start = time.monotonic()
            try:
                run = pytest(copy, b["tests"])
            finally:
                path.write_text(text)
            took = time.monotonic() - start
            outcome = "killed" if run.returncode == 1 else "survived" if run.returncode == 0 else "error"
            results[outcome] += 1
            failed = [line for line in run.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))][:1]
            print(f"{outcome.upper():8} {b['name']} ({b['file']}, {took:.0f} s): {b['breaks']}"
                  + (f"\n         {failed[0][:160]}" if failed else ""), flush=True)
        total = sum(results.values())
        print(f"\n{total} bends: {results['killed']} killed, {results['survived']} survived, "
              f"{results['error']} errors; survival {results['survived'] / max(total, 1):.0%}")
        return 0 if results["survived"] == results["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
