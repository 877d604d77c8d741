"""The deployment file validates with Prefect's own models (offline), and the refresh flow builds exactly what
the warehouse is missing."""

import asyncio
import shutil
from datetime import datetime, timezone

import pytest
import yaml

from cmsref import pipeline

from core import settings
from tests.helpers import PFS, ROOT, query

DEPLOYMENTS = ROOT / "prefect.yaml"


def test_prefect_yaml_validates_with_prefect_tooling():
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.flows import load_flow_from_entrypoint
    from prefect.server.schemas.schedules import CronSchedule

    raw = yaml.safe_load(DEPLOYMENTS.read_text())
    model = PrefectYamlModel.model_validate(raw)
    names = sorted(d["name"] for d in raw["deployments"])
    assert names == ["annual", "quarterly"] and len(model.deployments) == 2
    for d in raw["deployments"]:
        flow = load_flow_from_entrypoint(d["entrypoint"])
        flow.validate_parameters(d["parameters"])
        for s in d["schedules"]:
            cron = CronSchedule(cron=s["cron"], timezone=s["timezone"])
            nxt = asyncio.run(cron.get_dates(n=1, start=datetime(2026, 11, 22, tzinfo=timezone.utc)))
            assert nxt[0].month in (1, 4, 7, 10)


def test_missing_releases_against_a_mirror(home, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "pfs_rvu" / "RVU24B").mkdir(parents=True)
    shutil.copy(PFS / "RVU24B/rvu24b-updated-03-18-2024.zip", mirror / "pfs_rvu" / "RVU24B")  # the whole bundle
    assert pipeline.missing_releases(None, mirror) == [("pfs", "2024B")]
    pipeline.build(None, mirror=mirror)
    assert pipeline.missing_releases(None, mirror) == []


@pytest.mark.prefect
@pytest.mark.integration
def test_refresh_flow_builds_exactly_the_one_release_the_warehouse_lacks(home, tmp_path):
    from flows.build import refresh_flow

    mirror = tmp_path / "mirror"
    for release, name in (("RVU24B", "rvu24b-updated-03-18-2024.zip"), ("RVU24C", "PPRRVU24_JUL.csv")):
        (mirror / "pfs_rvu" / release).mkdir(parents=True)
        shutil.copy(PFS / release / name, mirror / "pfs_rvu" / release)
    pipeline.build(["pfs"], ["2024B"], mirror=mirror)  # the warehouse has 2024B; the mirror also has 2024C
    result = refresh_flow(mirror=str(mirror))
    assert result.new_releases == ["pfs/2024C/r1"]
    assert refresh_flow(mirror=str(mirror)).data_version is None  # up to date now
    assert settings.db_path().exists()


@pytest.mark.prefect
@pytest.mark.integration
def test_a_refresh_finding_two_datasets_publishes_one_version(home, tmp_path):
    from flows.build import refresh_flow

    mirror = tmp_path / "mirror"
    (mirror / "pfs_rvu" / "RVU24B").mkdir(parents=True)
    shutil.copy(PFS / "RVU24B/rvu24b-updated-03-18-2024.zip", mirror / "pfs_rvu" / "RVU24B")
    shutil.copytree(PFS.parent / "mue" / "2026Q2", mirror / "mue" / "2026Q2")
    result = refresh_flow(mirror=str(mirror))
    assert sorted(result.new_releases) == ["mue/2026Q2/r1", "pfs/2024B/r1"]
    assert query(settings.db_path(), "SELECT data_version FROM data_versions") == [(result.data_version,)]
