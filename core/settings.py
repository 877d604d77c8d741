"""cmsref's settings: where it keeps its files, how it downloads, how large a source file may be. Every one can be set
by an environment variable, the paths also by a CLI option.

This is the one module that reads the environment. The entry points (cmsref/cli.py, flows/, cmsref/serve) call
`resolve` once and hand the `Settings` down as arguments; no module of extract/, transform/, expectations/ or
warehouse/ imports this module (tests/unit/test_settings_passed.py). A value the environment does not set is the
default of the function that uses it (`extract.download.download`, `transform.grids.InputLimits`), so each default
is written once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import CmsrefError


@dataclass(frozen=True)
class Settings:
    """Everything a build, a command or the server needs from its environment, resolved once at the entry point."""

    home: Path  # the data folder (CMSREF_HOME)
    db: Path  # the warehouse this run reads or builds (--db, CMSREF_DB)
    mirror: Path | None = None  # the local mirror of CMS files (--mirror, CMSREF_MIRROR); None: cms.gov
    http: Mapping = field(default_factory=dict)  # download() keyword arguments the environment sets
    input_limits: Mapping = field(default_factory=dict)  # transform.grids.InputLimits fields the environment sets
    cms_base_url: str | None = None  # CMSREF_CMS_BASE_URL: cms.gov's files asked of another server
    notify_block: str | None = None  # CMSREF_NOTIFY_BLOCK: a Prefect notification block for failed refreshes

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


def resolve(db: str | os.PathLike | None = None, mirror: str | os.PathLike | None = None,
            environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of one run: the options given (--db, --mirror), else the environment, else the defaults."""
    env = os.environ if environ is None else environ
    home_ = Path(env.get("CMSREF_HOME", "data")).absolute()
    db_ = Path(db or env.get("CMSREF_DB") or home_ / "cmsref.duckdb").absolute()
    mirror_ = mirror or env.get("CMSREF_MIRROR")
    return Settings(home=home_, db=db_, mirror=Path(mirror_).absolute() if mirror_ else None,
                    http=_http(env), input_limits=_input_limits(env),
                    cms_base_url=env.get("CMSREF_CMS_BASE_URL") or None,
                    notify_block=env.get("CMSREF_NOTIFY_BLOCK") or None)


def _http(env: Mapping[str, str]) -> dict:
    """Downloader settings: CMSREF_HTTP_TIMEOUT (read timeout, seconds), CMSREF_HTTP_RETRIES (extra attempts on 5xx,
    resets, timeouts) and CMSREF_HTTP_BACKOFF (first wait, doubled each retry); unset: download()'s defaults."""
    out = {}
    if env.get("CMSREF_HTTP_TIMEOUT"):
        out["timeout"] = (10.0, _number(env, "CMSREF_HTTP_TIMEOUT", float))
    if env.get("CMSREF_HTTP_RETRIES"):
        out["retries"] = _number(env, "CMSREF_HTTP_RETRIES", int)
    if env.get("CMSREF_HTTP_BACKOFF"):
        out["backoff"] = _number(env, "CMSREF_HTTP_BACKOFF", float)
    return out


def _input_limits(env: Mapping[str, str]) -> dict:
    """Caps on one source file, so a hostile or broken file ends in a clear error while memory stays bounded:
    CMSREF_MAX_FILE_MB (bytes of one file to parse) and CMSREF_MAX_ROWS (lines or rows of one file); unset:
    transform.grids.InputLimits's defaults."""
    out = {}
    if env.get("CMSREF_MAX_FILE_MB"):
        out["max_bytes"] = int(_number(env, "CMSREF_MAX_FILE_MB", float) * (1 << 20))
    if env.get("CMSREF_MAX_ROWS"):
        out["max_rows"] = _number(env, "CMSREF_MAX_ROWS", int)
    return out


def _number(env: Mapping[str, str], name: str, kind: type) -> float | int:
    try:
        value = kind(env[name])
    except ValueError:
        raise CmsrefError(f"{name}={env[name]!r} is not {'a whole' if kind is int else 'a'} number") from None
    if value < 0:
        raise CmsrefError(f"{name}={env[name]!r} is negative")
    return value


# The paths alone, for entry points and tests that need one of them (each resolves the environment afresh).
def home() -> Path:
    """The data folder: warehouse, download cache, validation reports, Prefect's state (CMSREF_HOME, ./data)."""
    return resolve().home


def db_path(option: str | os.PathLike | None = None) -> Path:
    return resolve(db=option).db


def mirror(option: str | os.PathLike | None = None) -> Path | None:
    return resolve(mirror=option).mirror


def cache_dir() -> Path:
    return resolve().cache_dir


def reports_dir() -> Path:
    return resolve().reports_dir


def prefect_environment() -> None:
    """Settings that must be in place before Prefect is imported: state inside the data folder, a start-up timeout
    long enough for the first database migration on 2 cores, no telemetry (offline), no log shipping."""
    os.environ.setdefault("PREFECT_HOME", str(home() / "prefect"))
    # Prefect creates PREFECT_HOME without its parents; if they are missing its server exits, is restarted in a
    # loop and the client reports only "Timed out ... ephemeral Prefect API server". Create the whole path.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    for key, value in {
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    }.items():
        os.environ.setdefault(key, value)
