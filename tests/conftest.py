"""Fixtures and pytest hooks of the whole suite (helpers are in tests/helpers.py). Real CMS files are read from
../shared (never copied into the project)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import MIRROR, WholeBuild, built_once, cmsref_home

# Prefect reads its settings when first imported: tests use an ephemeral server whose state lives inside the
# project's data folder (gitignored) and a result store of this test session only, so cached transforms from
# earlier sessions do not leak in. A PREFECT_API_URL of the developer's own server is ignored.
os.environ.pop("PREFECT_API_URL", None)
# Tests write only under temporary folders, never into the user's ./data: Prefect's test state lives in a folder of
# the system's temp dir that later runs reuse (its first start migrates a database: 20-60 s on 2 cores), and a test
# that sets no CMSREF_HOME of its own gets this session's temporary one.
# Under pytest-xdist (the default: pyproject's addopts) each worker has its own folder, as two Prefect servers must not
# share one SQLite database.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # set before xdist's worker imports this file; "" without xdist
os.environ["PREFECT_HOME"] = str(Path(tempfile.gettempdir()) /
                                 f"cmsref-prefect-test-{os.getuid()}{'-' + _WORKER if _WORKER else ''}")
os.environ["CMSREF_HOME"] = tempfile.mkdtemp(prefix="cmsref-test-home-")
for _var in ("CMSREF_DB", "CMSREF_MIRROR"):
    os.environ.pop(_var, None)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = tempfile.mkdtemp(prefix="cmsref-prefect-results-")
from core.settings import prefect_environment  # noqa: E402  (creates PREFECT_HOME, start-up timeout, no telemetry)

prefect_environment()
# expectations/__init__.py keeps pyspark's Spark Connect modules from ending a process whose main module is neither a
# file nor a module, as an xdist worker's is; imported here, before a test module imports Great Expectations itself
# (tests/unit/test_expectations_runner.py does: run first, as in `pytest tests/unit`, it ended the worker)
import expectations  # noqa: E402,F401


# ------------------------------------------------------------------------------------------- running on xdist workers
# pyproject's addopts run the suite on 2 pytest-xdist workers (`--dist loadfile`), with the scheduler below: every test
# of a file runs on one worker (a module-scoped fixture, many of which build a warehouse, is built once), the tests of
# an xdist_group run on one worker whatever file they are in (`prefect`: one Prefect server per run migrates its
# database and starts, not one per worker), and files are handed out heavy first. `-n 0` runs in one process.

def _heavy_first(item) -> int:
    """The order in which an xdist worker lists its tests, and so the order they are handed out in: the groups (the
    Prefect servers: the slowest tests), the integration tests (whole-mirror builds, servers, subprocesses), the fault
    tests, then the quick unit tests, so that a run ends on short tests spread over both workers."""
    if item.get_closest_marker("xdist_group"):
        return 0
    parts = item.nodeid.split("/")
    return {"integration": 1, "fault": 2}.get(parts[1] if len(parts) > 2 else "", 3)


def _groups_file(run_temp: Path) -> Path:
    """Where the workers tell the scheduler (in the main process) which tests are in which xdist_group: xdist 3.8
    names a group in its tests' ids, but pytest 9.2 ignores that (Item.nodeid no longer reads the `_nodeid` it sets)."""
    return run_temp / "xdist-groups.json"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tests marked `prefect` are one xdist_group; an xdist worker lists its tests heavy first and writes the groups
    for the scheduler (pytest_xdist_make_scheduler). A run without xdist keeps pytest's order.

    Without the real CMS files the integration tests are skipped on a developer's machine, but in CI (CI set, as
    .ci/run runs) a missing ../shared is a failure: a green run must have read the real files."""
    for item in items:
        if "prefect" in item.keywords and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group("prefect"))
    if _WORKER and Path(config.option.basetemp or "").name.startswith("popen-"):  # xdist: <run's basetemp>/popen-gwN
        import json

        items.sort(key=_heavy_first)  # stable: each file keeps its tests' order
        groups = {item.nodeid: str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                  for item in items if (mark := item.get_closest_marker("xdist_group"))}
        target = _groups_file(Path(config.option.basetemp).parent)
        written = target.with_name(f"{target.name}.{_WORKER}")
        written.write_text(json.dumps(groups))
        os.replace(written, target)  # every worker writes the same: the last one whole
    if MIRROR.is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"the real CMS files are not at {MIRROR} (set CMSREF_SHARED): CI needs them")
    skip = pytest.mark.skip(reason=f"real CMS files not found at {MIRROR}")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` (pyproject's addopts), where a test file is a unit of work, with the tests of an xdist_group
    one unit too, and the units handed out in the order the workers list them (heavy first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    import json

    from xdist.scheduler import LoadFileScheduling

    class FileOrGroupScheduling(LoadFileScheduling):
        groups: dict | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first asked once every worker has sent its collection: the file is written
                path = _groups_file(config._tmp_path_factory.getbasetemp())
                self.groups = json.loads(path.read_text()) if path.exists() else {}
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

    config.option.loadscopereorder = False  # keep the workers' order, not xdist's "files with most tests first"
    return FileOrGroupScheduling(config, log)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty CMSREF_HOME for one test: its own warehouse, cache and reports."""
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CMSREF_DB", raising=False)
    monkeypatch.delenv("CMSREF_MIRROR", raising=False)
    return tmp_path / "data"


def pytest_sessionfinish(session, exitstatus):
    """Stop Prefect's ephemeral server if a test started one (else it logs errors on a closed stream at exit)."""
    import sys

    if "prefect.server.api.server" in sys.modules:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()


@pytest.fixture(scope="session")
def mirror_db(tmp_path_factory):
    """The whole mirror built once, as `cmsref build --mirror ../shared/cms-mirror` does (without Prefect): read-only
    for the tests that use it (copy it before publishing into it). Under xdist the workers share one build."""
    from cmsref import pipeline
    from core import settings

    def build(folder):
        with cmsref_home(folder / "data"):
            result = pipeline.build(None, mirror=MIRROR)
            assert result.data_version == "2026.2", result.message
            return str(settings.db_path())

    return Path(built_once(tmp_path_factory, "mirror-build", build))


@pytest.fixture(scope="module")
def mirror_home(mirror_db, tmp_path_factory):
    """A CMSREF_HOME whose warehouse is a copy of the whole-mirror build (copy on write): for tests that publish."""
    import shutil

    home = tmp_path_factory.mktemp("mirror-copy") / "data"
    home.mkdir()
    shutil.copy(mirror_db, home / "cmsref.duckdb")
    with cmsref_home(home):
        yield home


@pytest.fixture(scope="session")
def pfs_2024b(tmp_path_factory) -> WholeBuild:
    """PFS 2024B (the real RVU24B) built once per session into an empty warehouse, as `cmsref build --no-prefect
    --period 2024B` does: data version 2024.2. Read-only for the tests that use it: copy it before publishing. Under
    xdist the workers share one build."""
    from cmsref import pipeline
    from core import settings

    def build(folder):
        with cmsref_home(folder / "data"):
            result = pipeline.build(["pfs"], ["2024B"], mirror=MIRROR)
            assert result.data_version, result.message
            return [str(settings.db_path()), [result.data_version]]

    db, versions = built_once(tmp_path_factory, "pfs-2024b", build)
    return WholeBuild(Path(db), tuple(versions))


@pytest.fixture(scope="session")
def pfs_2024b_2025d(pfs_2024b, tmp_path_factory) -> WholeBuild:
    """PFS 2025D (the real RVU25D) published onto a copy of pfs_2024b, once per session: data versions 2024.2 and
    2025.4. Read-only for the tests that use it: copy it before publishing. Under xdist the workers share one build."""
    import shutil

    from cmsref import pipeline
    from core import settings

    def build(folder):
        home = folder / "data"
        home.mkdir()
        shutil.copyfile(pfs_2024b.db, home / "cmsref.duckdb")
        with cmsref_home(home):
            result = pipeline.build(["pfs"], ["2025D"], mirror=MIRROR)
            assert result.data_version, result.message
            return [str(settings.db_path()), [*pfs_2024b.data_versions, result.data_version]]

    db, versions = built_once(tmp_path_factory, "pfs-2024b-2025d", build)
    return WholeBuild(Path(db), tuple(versions))
