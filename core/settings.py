"""Where cmsref keeps its files. Every path can be set by an environment variable or a CLI option."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The data folder: warehouse, download cache, validation reports, Prefect's state (CMSREF_HOME, ./data)."""
    return Path(os.environ.get("CMSREF_HOME", "data")).absolute()


def db_path(option: str | os.PathLike | None = None) -> Path:
    return Path(option or os.environ.get("CMSREF_DB") or home() / "cmsref.duckdb").absolute()


def mirror(option: str | os.PathLike | None = None) -> Path | None:
    value = option or os.environ.get("CMSREF_MIRROR")
    return Path(value).absolute() if value else None


def cache_dir() -> Path:
    return home() / "cache"


def reports_dir() -> Path:
    return home() / "reports"


def http_settings() -> dict:
    """Downloader settings: CMSREF_HTTP_TIMEOUT (read timeout, seconds; default 60), CMSREF_HTTP_RETRIES (extra
    attempts on 5xx, resets, timeouts; default 4) and CMSREF_HTTP_BACKOFF (first wait, doubled each retry; default 1)."""
    return {"timeout": (10.0, float(os.environ.get("CMSREF_HTTP_TIMEOUT", 60))),
            "retries": int(os.environ.get("CMSREF_HTTP_RETRIES", 4)),
            "backoff": float(os.environ.get("CMSREF_HTTP_BACKOFF", 1.0))}


def input_limits() -> dict:
    """Caps on one source file, so a hostile or broken file ends in a clear error while memory stays bounded:
    CMSREF_MAX_FILE_MB (bytes of one file to parse, default 256: CMS's largest, PPRRVU, is 3.3 MB) and
    CMSREF_MAX_ROWS (lines or rows of one file, default 1,000,000: the largest CMS file we read has about 20,000)."""
    return {"max_bytes": int(float(os.environ.get("CMSREF_MAX_FILE_MB", 256)) * (1 << 20)),
            "max_rows": int(os.environ.get("CMSREF_MAX_ROWS", 1_000_000))}


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
