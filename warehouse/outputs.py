"""Files cmsref writes for a user (query results, payment tables, reconciliation reports, exports): never over a file
cmsref owns, and never half-written.

What cmsref owns: the warehouse file and every file beside it that shares its name (`.wal`, `.lock`, the serving
links `.serving-*`, unfinished `.publishing-*` copies, set-aside `.wal.stale-*` logs), the data folder
(CMSREF_HOME: download cache, validation reports, Prefect's state) and the local mirror (CMSREF_MIRROR or --mirror).
An output that resolves to one of them (through a symbolic link too, or as another name of the same file) is refused
in one line before any work. Every output is written to a temporary file beside its target and renamed into place
when complete, so a failed or interrupted write leaves the target as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from core.errors import UnsafeOutputError


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def owned(db: Path, home: Path | None = None, mirror: Path | None = None
          ) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(files, folders) cmsref owns for the warehouse `db`, each with what it is: the caller's settings name the data
    folder `home` (its download cache is inside it) and the `mirror`."""
    db = Path(db).absolute()
    files = [(db, "the warehouse")]
    if db.parent.is_dir():
        files += [(p, "a file of the warehouse (its log, lock, serving link or copy)")
                  for p in db.parent.iterdir() if p.name.startswith(db.name + ".")]
    for suffix in (".wal", ".lock"):  # also before they exist
        files.append((Path(f"{db}{suffix}"), "a file of the warehouse (its log, lock, serving link or copy)"))
    folders = []
    if home is not None:
        folders += [(Path(home).absolute(), "the data folder (CMSREF_HOME)"),
                    (Path(home).absolute() / "cache", "the download cache")]
    if mirror is not None:
        folders.append((Path(mirror).absolute(), "the mirror of CMS files"))
    return files, folders


def refuse_owned_by(settings, target: str | os.PathLike, *, option: str, folder: bool = False) -> Path:
    """refuse_owned for what the resolved `settings` (core.settings.Settings) say cmsref owns: their warehouse, data
    folder and mirror. What the CLI's output options call."""
    return refuse_owned(target, settings.db, option=option, home=settings.home, mirror=settings.mirror, folder=folder)


def refuse_owned(target: str | os.PathLike, db: Path, *, option: str, home: Path | None = None,
                 mirror: Path | None = None, folder: bool = False) -> Path:
    """The absolute target of an output option (a file, or with folder=True a folder to write files into), or
    UnsafeOutputError naming the option and what the target is."""
    target = Path(target).absolute()
    real = _real(target)
    files, folders = owned(db, home, mirror)
    for path, what in files:
        if real == _real(path) or _same_file(target, path):
            raise UnsafeOutputError(f"{option} {target} is {what}; cmsref never writes a result over it: choose "
                                    f"another file")
    for owned_folder, what in folders:
        top = _real(owned_folder)
        if real == top or top in real.parents:
            raise UnsafeOutputError(f"{option} {target} is inside {what} ({owned_folder}); cmsref never writes results "
                                    f"there: choose a file elsewhere")
    if target.is_dir() and not folder:
        raise UnsafeOutputError(f"{option} {target} is a folder: give a file name")
    if folder and target.exists() and not target.is_dir():
        raise UnsafeOutputError(f"{option} {target} is a file: give a folder")
    return target


@contextmanager
def atomic_file(target: Path, mode: str = "w") -> Iterator[IO]:
    """An open file that becomes `target` only when the block completes (renamed into place, after fsync); on any
    error or interrupt the target is as it was and the temporary file is gone."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.cmsref-{os.getpid()}.tmp")
    kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
