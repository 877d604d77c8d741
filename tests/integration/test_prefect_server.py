"""The quarterly deployment end to end, as an operator runs it: a real `prefect server start`, a `process` work pool,
`prefect deploy --all` of prefect.yaml, `prefect worker start`, a triggered run; on a mirror holding two datasets it
publishes exactly one data version. Everything listens on 127.0.0.1 only and is stopped by the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import PFS, ROOT, query

pytestmark = [pytest.mark.integration, pytest.mark.prefect]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def flow_run_state(api: str, deployment: str) -> str | None:
    req = urllib.request.Request(f"{api}/flow_runs/filter", data=json.dumps({}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        runs = [run for run in json.load(r) if run.get("deployment_id")]
    states = [run["state"]["type"] for run in runs if run.get("state")]
    return states[0] if states and states[0] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def test_a_triggered_quarterly_deployment_publishes_one_version(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "pfs_rvu" / "RVU24B").mkdir(parents=True)
    shutil.copy(PFS / "RVU24B/rvu24b-updated-03-18-2024.zip", mirror / "pfs_rvu" / "RVU24B")
    shutil.copytree(PFS.parent / "mue" / "2026Q2", mirror / "mue" / "2026Q2")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_UI_ENABLED": "false",
           "CMSREF_HOME": str(tmp_path / "data"), "CMSREF_MIRROR": str(mirror)}
    env.pop("PREFECT_SERVER_EPHEMERAL_ENABLED", None)
    (tmp_path / "prefect").mkdir()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    worker = None
    try:
        wait_for(lambda: healthy(api), 150, "the Prefect server")
        prefect = lambda *a: subprocess.run([str(BIN / "prefect"), *a], env=env, cwd=ROOT,  # noqa: E731
                                            capture_output=True, text=True, timeout=120)
        r = prefect("work-pool", "create", "cmsref", "--type", "process")
        assert r.returncode == 0, r.stdout + r.stderr
        r = prefect("--no-prompt", "deploy", "--all")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "cmsref"], env=env, cwd=ROOT,
                                  stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        r = prefect("deployment", "run", "cmsref-refresh/quarterly")
        assert r.returncode == 0, r.stdout + r.stderr
        state = wait_for(lambda: flow_run_state(api, "quarterly"), 240, "the triggered flow run")
        assert state == "COMPLETED", (tmp_path / "worker.log").read_text()[-4000:]
        db = tmp_path / "data" / "cmsref.duckdb"
        assert query(db, "SELECT data_version FROM data_versions") == [("2026.2",)]  # one version, both datasets
        assert sorted(query(db, "SELECT release_id FROM releases")) == [("mue/2026Q2/r1",), ("pfs/2024B/r1",)]
    finally:
        for proc in (worker, server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # the worker stops on SIGINT, not SIGTERM
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        log.close()
