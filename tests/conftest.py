"""Fixtures and pytest hooks of the whole suite (helpers are in tests/helpers.py). Real CMS files are read from
../shared (never copied into the project)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import MIRROR, WholeBuild, cmsref_home

# Prefect reads its settings when first imported: tests use an ephemeral server whose state lives inside the
# project's data folder (gitignored) and a result store of this test session only, so cached transforms from
# earlier sessions do not leak in. A PREFECT_API_URL of the developer's own server is ignored.
os.environ.pop("PREFECT_API_URL", None)
# Tests write only under temporary folders, never into the user's ./data: Prefect's test state lives in a folder of
# the system's temp dir that later runs reuse (its first start migrates a database: 20-60 s on 2 cores), and a test
# that sets no CMSREF_HOME of its own gets this session's temporary one.
os.environ["PREFECT_HOME"] = str(Path(tempfile.gettempdir()) / f"cmsref-prefect-test-{os.getuid()}")
os.environ["CMSREF_HOME"] = tempfile.mkdtemp(prefix="cmsref-test-home-")
for _var in ("CMSREF_DB", "CMSREF_MIRROR"):
    os.environ.pop(_var, None)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = tempfile.mkdtemp(prefix="cmsref-prefect-results-")
from core.settings import prefect_environment  # noqa: E402  (creates PREFECT_HOME, start-up timeout, no telemetry)

prefect_environment()


def pytest_collection_modifyitems(config, items):
    """Without the real CMS files the integration tests are skipped on a developer's machine, but in CI (CI set, as
    .ci/run runs) a missing ../shared is a failure: a green run must have read the real files."""
    if MIRROR.is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"the real CMS files are not at {MIRROR} (set CMSREF_SHARED): CI needs them")
    skip = pytest.mark.skip(reason=f"real CMS files not found at {MIRROR}")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


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
    for the tests that use it (copy it before publishing into it)."""
    from cmsref import pipeline
    from core import settings

    home = tmp_path_factory.mktemp("mirror-build") / "data"
    with cmsref_home(home):
        result = pipeline.build(None, mirror=MIRROR)
        assert result.data_version == "2026.2", result.message
        return settings.db_path()


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
    --period 2024B` does: data version 2024.2. Read-only for the tests that use it: copy it before publishing."""
    from cmsref import pipeline
    from core import settings

    with cmsref_home(tmp_path_factory.mktemp("pfs-2024b") / "data"):
        result = pipeline.build(["pfs"], ["2024B"], mirror=MIRROR)
        assert result.data_version, result.message
        return WholeBuild(settings.db_path(), (result.data_version,))


@pytest.fixture(scope="session")
def pfs_2024b_2025d(pfs_2024b, tmp_path_factory) -> WholeBuild:
    """PFS 2025D (the real RVU25D) published onto a copy of pfs_2024b, once per session: data versions 2024.2 and
    2025.4. Read-only for the tests that use it: copy it before publishing."""
    import shutil

    from cmsref import pipeline
    from core import settings

    home = tmp_path_factory.mktemp("pfs-2024b-2025d") / "data"
    home.mkdir()
    shutil.copyfile(pfs_2024b.db, home / "cmsref.duckdb")
    with cmsref_home(home):
        result = pipeline.build(["pfs"], ["2025D"], mirror=MIRROR)
        assert result.data_version, result.message
        return WholeBuild(settings.db_path(), pfs_2024b.data_versions + (result.data_version,))
