"""The real Prefect flow (ephemeral server, no separately started one) builds from the mirror.

Slow on a fresh machine: the first start of Prefect's local server migrates its database (~20 s on 2 cores).
"""

import shutil
from pathlib import Path

import pytest

from tests.helpers import PFS, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.prefect]

# Prefect's settings for tests are set in tests/conftest.py, before anything imports it.

@pytest.fixture(scope="module")
def flows():
    from flows import build

    return build


def mirror_with_24c(tmp_path, change: bytes | None = None, unique: bool = False):
    folder = tmp_path / "mirror" / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    shutil.copy(PFS / "RVU24C/PPRRVU24_JUL.csv", folder)
    path = folder / "PPRRVU24_JUL.csv"
    if change:
        path.write_bytes(path.read_bytes().replace(b"37252,,Intrvasc us noncoronary 1st,A,,1.80", change))
    if unique:  # a trailing blank line: the same table from bytes (a SHA-256) no other test uses, so the
        path.write_bytes(path.read_bytes() + b"\r\n")  # session's Prefect result cache cannot already hold it
    return tmp_path / "mirror"


def transform_states(flow_run_id):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="transform")))
    return [r.state.name for r in runs]


def test_flow_builds_publishes_and_reuses_cached_transform(flows, tmp_path, monkeypatch):
    mirror = mirror_with_24c(tmp_path, unique=True)
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "a"))
    state = flows.build_flow(["pfs"], ["2024C"], mirror=str(mirror), return_state=True)
    result = state.result()
    assert result.data_version == "2024.3" and result.new_releases == ["pfs/2024C/r1"]
    assert transform_states(state.state_details.flow_run_id) == ["Completed"]

    # Same source bytes into a second, empty warehouse: the transform comes from Prefect's cache
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "b"))
    state = flows.build_flow(["pfs"], ["2024C"], mirror=str(mirror), return_state=True)
    assert state.result().data_version == "2024.3"
    assert transform_states(state.state_details.flow_run_id) == ["Cached"]


def test_flow_failure_raises_our_error_and_leaves_the_warehouse(flows, tmp_path, monkeypatch):
    from core.errors import ValidationError

    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "w"))
    flows.run_build_flow(["pfs"], ["2024C"], mirror=mirror_with_24c(tmp_path))
    db = Path(tmp_path / "w" / "cmsref.duckdb")
    before = snapshot(db)
    bad = mirror_with_24c(tmp_path / "bad", change=b"37252,,Intrvasc us noncoronary 1st,A,,-1.80")
    with pytest.raises(ValidationError, match="work_rvu"):
        flows.run_build_flow(["pfs"], ["2024C"], mirror=bad)
    assert snapshot(db) == before
