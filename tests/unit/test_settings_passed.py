"""Settings are resolved once, at the entry points (core/settings.py reads the environment), and passed down: no
module of extract/, transform/, expectations/ or warehouse/ reads the environment or core.settings, and what an
entry point resolves is what the lower modules use."""

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from cmsref import pipeline
from core import settings
from core.errors import CmsrefError, DownloadError, ParseError, UnsafeOutputError
from extract import fetch
from extract.catalog import FileSpec, load_dataset
from transform import grids
from transform.grids import InputLimits
from transform.tables import ReleaseTables
from warehouse.outputs import refuse_owned

ROOT = Path(__file__).resolve().parents[2]
BELOW_THE_TOP = ("extract", "transform", "expectations", "warehouse")


def _reads_settings(path: Path) -> list[str]:
    """What in one module imports core.settings or reads the environment (os.environ, os.getenv, environ)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name == "core.settings"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == "core.settings" or (node.module == "core" and any(a.name == "settings"
                                                                                for a in node.names)):
                found.append(f"from {node.module} import ...")
            if node.module == "os" and any(a.name in ("environ", "getenv", "environb") for a in node.names):
                found.append("from os import environ/getenv")
        elif isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            found.append(f"os.{node.attr}")
    return found


def test_no_module_below_the_top_reads_the_environment_or_core_settings():
    offenders = {str(p.relative_to(ROOT)): what for package in BELOW_THE_TOP
                 for p in sorted((ROOT / package).rglob("*.py")) if (what := _reads_settings(p))}
    assert offenders == {}


@pytest.mark.parametrize("source", ["from core import settings", "from core.settings import home",
                                    "import core.settings", "import os\nx = os.environ['A']",
                                    "import os\nx = os.getenv('A')", "from os import environ"])
def test_the_check_sees_each_way_of_reading_settings(tmp_path, source):
    (tmp_path / "m.py").write_text(source + "\n")
    assert _reads_settings(tmp_path / "m.py")


def test_resolve_takes_options_then_the_environment_then_the_defaults(tmp_path):
    env = {"CMSREF_HOME": str(tmp_path / "h"), "CMSREF_MIRROR": str(tmp_path / "m"), "CMSREF_HTTP_RETRIES": "0",
           "CMSREF_MAX_ROWS": "7", "CMSREF_MAX_FILE_MB": "0.5", "CMSREF_CMS_BASE_URL": "http://127.0.0.1:1"}
    cfg = settings.resolve(environ=env)
    assert (cfg.home, cfg.db, cfg.mirror) == (tmp_path / "h", tmp_path / "h" / "cmsref.duckdb", tmp_path / "m")
    assert (cfg.cache_dir, cfg.reports_dir) == (tmp_path / "h" / "cache", tmp_path / "h" / "reports")
    assert dict(cfg.http) == {"retries": 0} and dict(cfg.input_limits) == {"max_rows": 7, "max_bytes": 1 << 19}
    assert cfg.cms_base_url == "http://127.0.0.1:1"
    given = settings.resolve(db=tmp_path / "x.duckdb", mirror=tmp_path / "other", environ=env)
    assert (given.db, given.mirror) == (tmp_path / "x.duckdb", tmp_path / "other")
    assert settings.resolve(environ={}).http == {} and settings.resolve(environ={}).input_limits == {}


@pytest.mark.parametrize("name, value, said", [("CMSREF_HTTP_TIMEOUT", "soon", "is not a number"),
                                               ("CMSREF_MAX_ROWS", "1.5", "is not a whole number"),
                                               ("CMSREF_HTTP_RETRIES", "-1", "is negative")])
def test_a_setting_that_is_not_a_number_is_one_line(name, value, said):
    with pytest.raises(CmsrefError) as exc:
        settings.resolve(environ={name: value})
    assert str(exc.value) == f"{name}={value!r} {said}"


def test_fetch_uses_the_http_settings_and_base_url_it_is_given_not_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CMSREF_HTTP_RETRIES", "9")
    monkeypatch.setenv("CMSREF_CMS_BASE_URL", "http://environment.invalid")
    asked = []

    def download(url, cache_dir, **kwargs):
        asked.append((url, kwargs))
        raise DownloadError("stop here")
    monkeypatch.setattr(fetch, "download", download)
    spec = load_dataset("pfs")
    release = spec.release("2024B")
    release = replace(release, files=(FileSpec("https://www.cms.gov/files/zip/rvu24b.zip", "rvu24b.zip", None),))
    with pytest.raises(DownloadError):
        fetch.fetch_release(spec, release, cache_dir=tmp_path, http={"retries": 0, "backoff": 0.0},
                            cms_base_url="http://127.0.0.1:1")
    url, kwargs = asked[0]
    assert url == "http://127.0.0.1:1/files/zip/rvu24b.zip"
    assert (kwargs["retries"], kwargs["backoff"]) == (0, 0.0)


def test_the_input_limits_in_force_are_those_passed_not_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "five.csv"
    path.write_text("a\nb\nc\nd\ne\n")
    monkeypatch.setenv("CMSREF_MAX_ROWS", "2")
    assert grids.read_text(path) == "a\nb\nc\nd\ne\n"  # the defaults: the environment is not read here
    with grids.input_limits(InputLimits(max_rows=3)):
        with pytest.raises(ParseError, match=r"five\.csv: 5 lines, more than the 3 a source file may have"):
            grids.read_text(path)
    assert grids.read_text(path)  # the block's limits end with it


def test_the_build_passes_its_settings_to_every_step(tmp_path, monkeypatch):
    """run hands the steps the settings it was given: the extract step the Settings, the transform step their input
    limits and the warehouse being built, the publish step that warehouse and the reports folder."""
    cfg = settings.resolve(db=tmp_path / "x.duckdb", environ={"CMSREF_HOME": str(tmp_path / "h"),
                                                              "CMSREF_MAX_ROWS": "3"})
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "elsewhere"))
    seen = {}
    spec = load_dataset("pfs")
    release = spec.release("2024B")

    def transform(spec, release, files, limits, db):
        seen["transform"] = (limits, db)
        return ReleaseTables({})

    def validate(spec, release, files, tables, prev, prev_period, reports, previous_data):
        seen["validate"] = reports
        return None

    def publish(db, built, unchanged, reports):
        seen["publish"] = (db, reports)
        return pipeline.PublishResult(None, [], [], "done")
    steps = pipeline.Steps(extract=lambda spec, release, got: seen.setdefault("extract", got) and [],
                           transform=transform, validate=validate, publish=publish)
    assert pipeline.run(None, None, cfg, steps, chosen=[(spec, release)]).message == "done"
    assert seen["extract"] is cfg
    assert seen["transform"] == (InputLimits(max_rows=3), tmp_path / "x.duckdb")
    assert seen["validate"] == tmp_path / "h" / "reports"
    assert seen["publish"] == (tmp_path / "x.duckdb", tmp_path / "h" / "reports")


def test_the_transform_step_parses_within_the_limits_it_is_given(tmp_path, monkeypatch):
    path = tmp_path / "five.csv"
    path.write_text("a\nb\nc\nd\ne\n")
    monkeypatch.setitem(pipeline.TRANSFORMS, "pfs", lambda spec, release, files: grids.read_text(path))
    spec = load_dataset("pfs")
    with pytest.raises(ParseError, match="more than the 3"):
        pipeline.transform(spec, spec.release("2024B"), [], InputLimits(max_rows=3))


def test_a_dataset_checked_against_a_warehouse_needs_one():
    spec = load_dataset("vendor")
    with pytest.raises(CmsrefError, match="checked against a warehouse, and none was given"):
        pipeline.transform(spec, spec.releases[0], [])


def test_outputs_refuse_the_data_folder_and_mirror_they_are_given(tmp_path, monkeypatch):
    home, mirror = tmp_path / "home", tmp_path / "mirror"
    monkeypatch.setenv("CMSREF_HOME", str(tmp_path / "environment-home"))
    db = home / "cmsref.duckdb"
    with pytest.raises(UnsafeOutputError, match="is inside the data folder"):
        refuse_owned(home / "cache" / "out.csv", db, option="--output", home=home)
    with pytest.raises(UnsafeOutputError, match="is inside the mirror of CMS files"):
        refuse_owned(mirror / "out.csv", db, option="--output", home=home, mirror=mirror)
    # the environment's CMSREF_HOME is the entry point's to read: an output there is refused only when passed in
    assert refuse_owned(tmp_path / "environment-home" / "o.csv", db, option="--output", home=home)
