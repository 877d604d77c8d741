"""Unzip a downloaded archive without trusting it.

Every member is checked before anything is written (names that would escape the target
folder, symlinks, declared sizes, compression ratio), then the wanted members are copied
into a temporary folder next to ``dest`` and only moved into ``dest`` once all of them
extracted cleanly, so a failure never leaves a half-written ``dest`` behind.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from core.errors import ArchiveError

COPY_CHUNK = 1 << 20  # 1 MiB

# The compression-ratio check only applies to members at least this large: small,
# repetitive files (a header-only CSV, a file of blanks) legitimately compress far
# better than 200:1, and a small member cannot be a dangerous bomb anyway.
RATIO_MIN_BYTES = 1 << 20

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_MAX_LISTED = 50  # members named in an error message before "... and N more"


def list_members(zip_path: Path) -> list[str]:
    """Names of the file members of a zip, in archive order (directories are left out)."""
    with _open_zip(Path(zip_path)) as zf:
        return [info.filename for info in zf.infolist() if not info.is_dir()]


def safe_extract(
    zip_path: Path,
    dest: Path,
    *,
    members: list[str] | None = None,
    max_member_bytes: int = 1 << 30,
    max_total_bytes: int = 2 << 30,
    max_ratio: float = 200.0,
) -> dict[str, Path]:
    """Extract ``zip_path`` into ``dest``; return {member name: extracted path}.

    ``members`` restricts extraction to those names. Raises :class:`ArchiveError` for a
    corrupt or truncated zip, an unsafe member name, a symlink, a member or total over
    the size limits, a compression ratio over ``max_ratio``, or a CRC mismatch.
    If ``dest`` already exists, the extracted files are moved into it (replacing files of
    the same name); nothing else in it is touched.
    """
    zip_path = Path(zip_path)
    dest = Path(dest)
    with _open_zip(zip_path) as zf:
        infos = zf.infolist()

        # 1. Check every member's name before writing anything, even members that were
        #    not asked for: a zip carrying a path-traversal entry is not to be trusted.
        dest_root = dest.resolve()
        seen: set[str] = set()
        for info in infos:
            _check_name(info.filename, dest_root, zip_path)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"{zip_path}: member {info.filename!r} is a symlink; refusing to extract it")
            if not info.is_dir():
                if info.filename in seen:
                    raise ArchiveError(f"{zip_path}: member {info.filename!r} appears more than once")
                seen.add(info.filename)

        # 2. Pick the members to extract.
        files = [info for info in infos if not info.is_dir()]
        if members is not None:
            by_name = {info.filename: info for info in files}
            missing = [m for m in members if m not in by_name]
            if missing:
                raise ArchiveError(
                    f"{zip_path} has no member {', '.join(map(repr, missing))}; "
                    f"it has: {_describe(list(by_name))}"
                )
            files = [by_name[m] for m in dict.fromkeys(members)]  # keep order, drop repeats

        # 3. Size limits on what the headers declare, before decompressing anything.
        total = 0
        for info in files:
            if info.flag_bits & 0x1:
                raise ArchiveError(f"{zip_path}: member {info.filename!r} is encrypted")
            if info.file_size > max_member_bytes:
                raise ArchiveError(
                    f"{zip_path}: member {info.filename!r} is {info.file_size} bytes uncompressed, "
                    f"over the limit of {max_member_bytes}"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size >= RATIO_MIN_BYTES and ratio > max_ratio:
                raise ArchiveError(
                    f"{zip_path}: member {info.filename!r} looks like a zip bomb: "
                    f"{info.compress_size} bytes expand to {info.file_size} "
                    f"(ratio {ratio:.0f}, limit {max_ratio:g})"
                )
            total += info.file_size
        if total > max_total_bytes:
            raise ArchiveError(
                f"{zip_path}: members total {total} bytes uncompressed, over the limit of {max_total_bytes}"
            )

        # 4. Extract into a temp folder beside dest (same filesystem, so moves are renames).
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp_root = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
        try:
            for info in files:
                _copy_member(zf, info, tmp_root / info.filename, zip_path)
            _move_into_place(tmp_root, dest)
        finally:
            shutil.rmtree(tmp_root, ignore_errors=True)  # already gone if moved whole

    return {info.filename: dest / info.filename for info in files}


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    """Open a zip, turning every way it can fail into an ArchiveError naming the file."""
    try:
        return zipfile.ZipFile(zip_path)
    except FileNotFoundError as exc:
        raise ArchiveError(f"zip file {zip_path} does not exist") from exc
    except zipfile.BadZipFile as exc:
        raise ArchiveError(_why_not_a_zip(zip_path, exc)) from exc
    except (OSError, EOFError, ValueError) as exc:
        # A truncated file can also surface as an OSError (seek before start) or ValueError.
        raise ArchiveError(f"{zip_path} looks truncated or corrupt: {exc}") from exc


def _why_not_a_zip(zip_path: Path, exc: Exception) -> str:
    with open(zip_path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        # It starts like a zip but the central directory at the end is missing or broken:
        # almost always a download that stopped part-way.
        return f"{zip_path} looks truncated or corrupt (starts like a zip, but: {exc})"
    if head.lstrip()[:16].lower().startswith((b"<!doctype", b"<html")):
        return (
            f"{zip_path} is an HTML page, not a zip (probably a license/click-through page "
            "saved in place of the file)"
        )
    if not head:
        return f"{zip_path} is empty, not a zip"
    return f"{zip_path} is not a zip file (starts with {head[:8]!r})"


def _check_name(name: str, dest_root: Path, zip_path: Path) -> None:
    """Refuse a member name that could write outside dest, on POSIX or Windows."""

    def refuse(why: str) -> ArchiveError:
        return ArchiveError(f"{zip_path}: member {name!r} {why}; refusing to extract anything")

    # Zips written on Windows may use backslashes; treat them as separators too.
    parts = name.replace("\\", "/").split("/")
    if not name or "\x00" in name:
        raise refuse("has an empty or invalid name")
    if name.startswith(("/", "\\")):
        raise refuse("is an absolute path")
    if _DRIVE_RE.match(name):
        raise refuse("starts with a drive letter")
    if ".." in parts:
        raise refuse("contains a '..' component")
    # Belt and braces: the resolved path must stay inside dest.
    target = (dest_root / PurePosixPath(name.replace("\\", "/"))).resolve()
    if target != dest_root and not target.is_relative_to(dest_root):
        raise refuse(f"would be written outside {dest_root}")


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, zip_path: Path) -> None:
    """Copy one member to ``target``, counting bytes and checking its CRC."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        # zipfile checks the CRC-32 when the member has been read to its end and raises
        # BadZipFile on a mismatch, so copying to EOF doubles as the testzip() check
        # without decompressing everything twice.
        with zf.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(COPY_CHUNK):
                written += len(chunk)
                # zipfile already stops at the declared size; this guards a lying header
                # regardless of that implementation detail.
                if written > info.file_size:
                    raise ArchiveError(
                        f"{zip_path}: member {info.filename!r} holds more than its declared "
                        f"{info.file_size} bytes (lying header, possible zip bomb)"
                    )
                out.write(chunk)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{zip_path}: member {info.filename!r} is corrupt: {exc}") from exc
    except NotImplementedError as exc:
        # e.g. Deflate64 (method 9), which some Windows tools use for large files.
        raise ArchiveError(
            f"{zip_path}: member {info.filename!r} uses unsupported compression method "
            f"{info.compress_type}: {exc}"
        ) from exc
    except (EOFError, zlib.error) as exc:
        raise ArchiveError(
            f"{zip_path}: member {info.filename!r} looks truncated or corrupt: {exc}"
        ) from exc


def _move_into_place(tmp_root: Path, dest: Path) -> None:
    """Move the fully extracted tree into dest."""
    if not dest.exists():
        try:
            os.replace(tmp_root, dest)  # one atomic rename
            return
        except OSError:
            if not dest.is_dir():
                raise
            # another process extracted into dest between the check and the rename (two builds of the same
            # zip into one cache): fall through and move file by file, which is idempotent
    # dest exists (e.g. a re-run): move file by file, leaving unrelated files alone.
    for src in sorted(p for p in tmp_root.rglob("*") if p.is_file()):
        target = dest / src.relative_to(tmp_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, target)


def _describe(names: list[str]) -> str:
    if not names:
        return "no files"
    shown = ", ".join(names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... and {more} more" if more > 0 else "")
