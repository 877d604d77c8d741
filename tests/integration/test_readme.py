"""The README's commands, run in order on a warehouse of the whole mirror (as its build command leaves it), exit 0
and give the figures the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import duckdb
import pytest

from tests.helpers import ROOT, SHARED

pytestmark = pytest.mark.integration
README = (ROOT / "README.md").read_text()


def block(heading: str, lang: str) -> str:
    section = README.split(f"## {heading}", 1)[1]
    return section.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def claim_extract(folder):
    """The README's `cmsref lines claims/ --map ...` example reads a folder of claim extracts named as CMS's claim
    files name their columns."""
    folder.mkdir()
    (folder / "part-1.csv").write_text("CLM_ID,HCPCS_CD,LINE_SRVC_CNT,date_of_service\n1,37252,1,2024-06-01\n"
                                       "1,37253,2,2024-06-01\n2,99214,1,2025-11-01\n")


def test_the_use_it_commands_run_in_order(mirror_home, tmp_path):
    claim_extract(tmp_path / "claims")
    lines = [line.split("  #", 1)[0].strip() for line in block("Use it", "bash").splitlines() if line.strip()]
    assert len(lines) >= 10
    outputs = {}
    for line in lines:
        for command in line.split(" && "):
            words = shlex.split(command.replace("../shared", str(SHARED)))
            assert words[0] == ".venv/bin/cmsref", command
            r = subprocess.run([sys.executable, "-m", "cmsref.cli", *words[1:]], cwd=tmp_path, capture_output=True,
                               text=True)
            assert r.returncode == 0, (command, r.stderr[-1500:])
            outputs[command] = r.stdout
    national = outputs[".venv/bin/cmsref payment 37252 --date 2024-06-01"]
    assert re.search(r"facility\s+all\s+33\.2875\s+86\.21", national) and "927.06" in national
    assert (tmp_path / "r.html").exists() and (tmp_path / "out" / "manifest.json").exists()
    checked = duckdb.sql(f"SELECT CLM_ID, hcpcs, pfs_amount FROM '{tmp_path / 'checked.parquet'}' ORDER BY input_line")
    assert [str(a) for *_, a in checked.fetchall()][:1] == ["927.06"]  # 37252 on 2024-06-01: national, non-facility


def test_the_readme_sql_gives_the_figures_it_shows(mirror_db):
    sql = block("Use it", "sql")
    first = sql.split(";", 1)[0]
    con = duckdb.connect(str(mirror_db), read_only=True)
    try:
        rows = dict(con.execute(first.split("\n", 1)[1]).fetchall())
        assert {k: str(v) for k, v in rows.items()} == {"facility": "86.21", "non_facility": "927.06"}
        assert "--> facility 86.21, non_facility 927.06" in sql
        for statement in [s for s in sql.split(";")[1:] if s.strip()]:
            assert con.execute("\n".join(l for l in statement.splitlines() if not l.startswith("--"))).fetchall()
    finally:
        con.close()


def test_every_readme_output_pointed_at_the_warehouse_is_refused(mirror_home, tmp_path):
    """Tried as a new user would: each README command that writes a file (--output, --report, --to), with that file
    pointed at the warehouse, is refused in one line with exit 2, the warehouse keeps its bytes and the latest
    version still verifies."""
    import hashlib

    db = mirror_home / "cmsref.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    claim_extract(tmp_path / "claims")
    commands = [c for line in block("Use it", "bash").splitlines() for c in line.split("  #", 1)[0].split(" && ")
                if re.search(r"--(output|report|to)\b", c)]
    assert len(commands) >= 3, commands
    for command in commands:
        words = shlex.split(command.replace("../shared", str(SHARED)))
        for i, word in enumerate(words[:-1]):
            if word in ("--output", "--report", "--to"):
                words[i + 1] = str(db)
        r = subprocess.run([sys.executable, "-m", "cmsref.cli", *words[1:]], cwd=tmp_path, capture_output=True,
                           text=True)
        assert r.returncode == 2 and r.stdout == "", (command, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "never writes" in r.stderr, (command, r.stderr)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    r = subprocess.run([sys.executable, "-m", "cmsref.cli", "verify", "--version", "latest"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
