"""Fixtures of the fault suite: one baseline warehouse per session, a fresh copy per test, a cms.gov stand-in.

The baseline holds a release of every dataset, built once (under pytest-xdist, once for all workers): the real PFS
RVU24B (a copy of the whole suite's pfs_2024b), MUE 2026 Q2 and ASC 2020-01 from ../shared/cms-mirror, plus OPPS
2025-01 and AOC 2026 Q2 generated in code (no real file of those is mirrored).
Every test gets its own copy of it in tmp_path (CMSREF_HOME), and its own stand-in server serving the mirror's
zips under their cms.gov paths (CMSREF_CMS_BASE_URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import built_once, home_with_copy, MIRROR, snapshot
from tests.fault import cms_standin


@dataclass
class Baseline:
    db: Path
    before: dict  # snapshot(db)
    versions: list[str]


@pytest.fixture(scope="session")
def baseline(request, tmp_path_factory) -> Baseline:
    import shutil

    from cmsref import pipeline
    from tests.fault.sources import aoc_grid, csv_bytes, opps_grid
    from tests.builders import AOC_ROWS

    if not MIRROR.is_dir():
        pytest.skip(f"real CMS files not found at {MIRROR}")
    pfs_2024b = request.getfixturevalue("pfs_2024b")  # PFS 2024B: the whole suite's session build, copied below

    def build(root):
        generated = root / "generated-mirror"
        (generated / "opps_addendum_b/2025-01").mkdir(parents=True)
        (generated / "opps_addendum_b/2025-01/january_2025_addendum_b.csv").write_bytes(csv_bytes(opps_grid()))
        (generated / "aoc/2026Q2").mkdir(parents=True)
        (generated / "aoc/2026Q2/AOC_V2026Q2.csv").write_bytes(csv_bytes(aoc_grid(AOC_ROWS)))
        mp = pytest.MonkeyPatch()
        mp.setenv("CMSREF_HOME", str(root / "data"))
        for var in ("CMSREF_DB", "CMSREF_MIRROR", "CMSREF_CMS_BASE_URL"):
            mp.delenv(var, raising=False)
        try:
            db = root / "data" / "cmsref.duckdb"
            db.parent.mkdir()
            shutil.copyfile(pfs_2024b.db, db)
            for datasets, periods, mirror in ((["mue"], ["2026Q2"], MIRROR),
                                              (["asc"], ["2020-01"], MIRROR), (["opps"], ["2025-01"], generated),
                                              (["aoc"], ["2026Q2"], generated)):
                result = pipeline.build(datasets, periods, mirror=mirror, db=db)
                assert result.data_version, result.message
        finally:
            mp.undo()
        return str(db)

    db = Path(built_once(tmp_path_factory, "fault-baseline", build))  # under xdist: one build the workers share
    from tests.fault.helpers import versions

    return Baseline(db=db, before=snapshot(db), versions=versions(db))


@pytest.fixture
def cms():
    """The cms.gov stand-in on 127.0.0.1 (port 0), serving the real mirror's catalogued zips."""
    state = cms_standin.CmsStandIn()
    state.serve_mirror(MIRROR)
    state, server, thread = cms_standin.start(state)
    yield state
    cms_standin.stop(state, server, thread)


@dataclass
class World:
    home: Path
    db: Path
    before: dict
    baseline: Baseline
    cms: cms_standin.CmsStandIn
    mirror: Path  # a mirror-like folder of this test: what the stand-in serves beyond the real mirror


@pytest.fixture
def world_unpatched(baseline, cms, tmp_path, monkeypatch) -> World:
    """A copy of the baseline warehouse; cmsref pointed at the stand-in. The downloader runs as shipped."""
    db = home_with_copy(baseline.db, tmp_path, monkeypatch)
    home = db.parent
    monkeypatch.setenv("CMSREF_CMS_BASE_URL", cms.base_url)
    return World(home=home, db=db, before=baseline.before, baseline=baseline, cms=cms, mirror=tmp_path / "cms-mirror")


@pytest.fixture
def world(world_unpatched, monkeypatch) -> World:
    """As world_unpatched, but retries without backoff and with a 0.5 s read timeout, through the downloader's
    own settings (CMSREF_HTTP_BACKOFF, CMSREF_HTTP_TIMEOUT); every request still goes over a real socket."""
    monkeypatch.setenv("CMSREF_HTTP_BACKOFF", "0")
    monkeypatch.setenv("CMSREF_HTTP_TIMEOUT", "0.5")
    return world_unpatched


@pytest.fixture
def cli(capsys, caplog):
    """run(*args): `cmsref build --no-prefect ARGS` in this process -> Run(code, out, err, log)."""
    from tests.fault.helpers import build

    return lambda *args: build(capsys, caplog, *args)
