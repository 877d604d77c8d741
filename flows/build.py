"""Prefect flow: build periods (extract -> transform -> validate -> publish) as tasks.

Thin by design: every task calls a plain function of cmsref.pipeline, which tests and `--no-prefect` call
directly. What Prefect adds: download retries with backoff, transform results cached by the SHA-256 of the
source files (plus the cmsref version and the layout files), run history, and schedules (flows/deployments).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core import __version__, settings


settings.prefect_environment()

from prefect import flow, task  # noqa: E402  (the environment above must be set first)
from prefect.cache_policies import NO_CACHE  # noqa: E402

from cmsref import pipeline  # noqa: E402
from core.errors import DownloadError  # noqa: E402
from extract.catalog import load_dataset  # noqa: E402
from transform.layout import LAYOUT_DIR  # noqa: E402


def _layout_hash() -> str:
    """What a transform's output depends on besides its source bytes: the layout files, the transform code and the
    table registry (a changed scale or key must not reuse a cached parse)."""
    from core import tables as schema

    digest = hashlib.sha256()
    for path in [*sorted(LAYOUT_DIR.glob("*.toml")), *sorted(LAYOUT_DIR.parent.glob("*.py")), Path(schema.__file__)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _transform_key(context, parameters) -> str | None:
    """Same source bytes + same cmsref + same layouts -> same tables: reuse the cached transform. A dataset checked
    against the warehouse being built (vendor guides) depends on that warehouse too: never cached (None)."""
    if parameters["spec"].name in pipeline.WAREHOUSE_TRANSFORMS:
        return None
    files = parameters["files"]
    shas = ",".join(sorted(f"{f.kind}:{f.variant}:{f.sha256}" for f in files))
    return f"transform-{parameters['spec'].name}-{parameters['release'].period}-{__version__}-{_layout_hash()}-" + \
        hashlib.sha256(shas.encode()).hexdigest()


def _worth_retrying(task, task_run, state) -> bool:
    """Retry the extract task later only when waiting can help (cms.gov kept failing); a 404, a license page, a
    SHA-256 mismatch or a bad zip fails at once. The downloader itself already retried each request."""
    try:
        state.result()
    except DownloadError as exc:
        return exc.transient
    except Exception:
        return False
    return False


@task(name="extract", retries=3, retry_delay_seconds=[60, 300, 900], retry_condition_fn=_worth_retrying,
      cache_policy=NO_CACHE)
def extract_task(spec, release, cfg):
    return pipeline.extract(spec, release, cfg)


@task(name="transform", cache_key_fn=_transform_key, persist_result=True)
def transform_task(spec, release, files, limits=None, db: Path | None = None):
    return pipeline.transform(spec, release, files, limits, db)


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(spec, release, files, tables, previous, previous_period, report_root, previous_data=None):
    return pipeline.validate(spec, release, files, tables, previous, previous_period, report_root, previous_data)


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(db: Path, built, unchanged, reports_dir: Path | None = None):
    return pipeline.publish_built(db, built, unchanged, reports_dir)


TASKS = pipeline.Steps(extract=extract_task, transform=transform_task, validate=validate_task, publish=publish_task)


def _notify_failure(flow, flow_run, state) -> None:
    """A failed refresh leaves `latest` where it was; say so in the log, and through a Prefect notification block
    when CMSREF_NOTIFY_BLOCK names one (e.g. a Slack or email block created with `prefect block register`)."""
    import logging

    message = f"cmsref refresh FAILED ({flow_run.name}): {state.message}. The warehouse is unchanged."
    logging.getLogger("cmsref.flows").error(message)
    block = settings.resolve().notify_block
    if block:
        try:
            from prefect.blocks.core import Block

            Block.load(block).notify(message)
        except Exception as exc:  # a broken notifier must not hide the failure it reports
            logging.getLogger("cmsref.flows").error("notification block %s failed: %s", block, exc)


@flow(name="cmsref-build", log_prints=True, on_failure=[_notify_failure])
def build_flow(datasets: list[str] | None = None, periods: list[str] | None = None, mirror: str | None = None,
               db: str | None = None):
    return pipeline.run(datasets, periods, settings.resolve(db=db, mirror=mirror), TASKS)


@flow(name="cmsref-refresh", log_prints=True, on_failure=[_notify_failure])
def refresh_flow(datasets: list[str] | None = None, mirror: str | None = None, db: str | None = None,
                 year: int | None = None):
    """Check the catalog against what is published and build what is missing (of `year` only, if given): the
    quarterly refresh, and with `year` the annual build of a new year. One run publishes at most one data version,
    whatever the number of datasets it found new. Vendor guides are checked against published CMS data, so when a
    run finds new CMS releases too, the guides wait for the next run (it says so); otherwise they are built.
    Returns the PublishResult (data_version None when nothing was new)."""
    cfg = settings.resolve(db=db, mirror=mirror)
    missing = pipeline.missing_releases(datasets, cfg.mirror, cfg.db, year=year)
    cms = [(d, p) for d, p in missing if load_dataset(d).in_default_build]
    guides = [(d, p) for d, p in missing if not load_dataset(d).in_default_build]
    todo = cms or guides
    if not todo:
        print("cmsref: every available catalogued release is published; nothing to do")
        return pipeline.PublishResult(None, [], [], "nothing to do")
    if cms and guides:
        print(f"cmsref: vendor guides {', '.join(p for _, p in guides)} wait for the next run: they are checked "
              f"against the CMS data this run publishes")
    print(f"cmsref: building {', '.join(f'{d}:{p}' for d, p in todo)}")
    result = pipeline.run(list(dict.fromkeys(d for d, _ in todo)), [f"{d}:{p}" for d, p in todo], cfg, TASKS)
    print(f"cmsref: {result.message}")
    return result


def run_build_flow(datasets, periods=None, *, mirror=None, db=None):
    """Run the flow and hand back its result, re-raising our own error (with its clear message) on failure."""
    state = build_flow(datasets, periods, mirror=str(mirror) if mirror else None, db=str(db) if db else None,
                       return_state=True)
    return state.result()  # raises the task's exception (e.g. ValidationError) when the flow failed
