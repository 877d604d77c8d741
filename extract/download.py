"""Download one source file into a content-addressed cache.

A file lands at ``cache_dir/sha256/<first2>/<sha256>/<name>``: the same bytes always get
the same path, so a re-run that fetches an unchanged file reuses what is there, and a
changed file never overwrites an older release.

The body is streamed into a temporary file inside ``cache_dir`` (same filesystem, so
the final ``os.replace`` is an atomic rename) and hashed as it arrives. Every failure
path removes the temporary file, so the cache only ever holds complete, verified files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests

from core import __version__
from core.errors import DownloadError

log = logging.getLogger("cmsref.extract")

USER_AGENT = f"cmsref/{__version__} (+https://github.com/cmsref)"
CHUNK_SIZE = 1 << 20  # 1 MiB
PROGRESS_INTERVAL = 0.5  # seconds between progress-line updates

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # local file header / empty archive
# How much of the body start we keep to sniff zip vs HTML and find an HTML <title>.
HEAD_BYTES = 64 * 1024

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Fetched:
    path: Path  # the file in the content-addressed cache
    url: str  # the URL it came from
    sha256: str  # hex
    size: int  # bytes
    retrieved_at: datetime  # timezone-aware UTC


class _Retryable(Exception):
    """An attempt failed in a way that may succeed if tried again (5xx, 429, short body)."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so large files do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def record_local(path: Path, url: str) -> Fetched:
    """Describe a file that is already on disk (e.g. a local mirror) as if it was fetched.

    The file is hashed where it is; it is not copied into any cache.
    """
    path = Path(path)
    if not path.is_file():
        raise DownloadError(f"local file {path} (standing in for {url}) does not exist")
    return Fetched(
        path=path,
        url=url,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        retrieved_at=datetime.now(timezone.utc),
    )


def download(
    url: str,
    cache_dir: Path,
    *,
    expected_sha256: str | None = None,
    expect_zip: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    retries: int = 4,
    backoff: float = 1.0,
    progress: bool | None = None,
    name: str | None = None,
) -> Fetched:
    """Fetch ``url`` into the content-addressed cache under ``cache_dir``.

    ``retries`` is the number of extra attempts after the first, so at most
    ``retries + 1`` requests are made. Transient failures (connection errors, timeouts,
    truncated bodies, HTTP 5xx and 429) are retried after ``backoff * 2**attempt``
    seconds; anything else raises :class:`DownloadError` at once.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    file_name = _safe_name(name if name is not None else _url_file_name(url))
    if progress is None:
        progress = sys.stderr.isatty()
    expected = expected_sha256.lower() if expected_sha256 else None

    own_session = session is None
    if own_session:
        session = requests.Session()
    attempts = retries + 1
    log.info("downloading %s", url)
    try:
        last_cause = ""
        for attempt in range(attempts):
            if attempt:
                delay = backoff * 2 ** (attempt - 1)
                log.warning(
                    "retrying %s (attempt %d of %d) in %.1fs: %s",
                    url, attempt + 1, attempts, delay, last_cause,
                )
                if delay > 0:
                    time.sleep(delay)
            try:
                tmp_path, sha, size = _fetch_once(
                    session, url, cache_dir, file_name, timeout, expect_zip, progress
                )
            except _Retryable as exc:
                last_cause = str(exc)
                continue
            except requests.TooManyRedirects as exc:
                # A redirect loop will not fix itself; do not retry.
                raise DownloadError(f"too many redirects (redirect loop?) for {url}: {exc}") from exc
            except (
                requests.ConnectionError,  # includes ConnectTimeout and read timeouts mid-body
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                last_cause = f"{type(exc).__name__}: {exc}"
                continue
            except requests.RequestException as exc:
                # Invalid URL, unsupported scheme, ...: retrying cannot help.
                raise DownloadError(f"could not download {url}: {type(exc).__name__}: {exc}") from exc
            return _store(tmp_path, url, cache_dir, file_name, sha, size, expected)
        raise DownloadError(
            f"giving up on {url} after {attempts} attempt{'s' if attempts != 1 else ''}; "
            f"last error: {last_cause}",
            transient=True,
        )
    finally:
        if own_session:
            session.close()


def _fetch_once(
    session: requests.Session,
    url: str,
    cache_dir: Path,
    file_name: str,
    timeout: tuple[float, float],
    expect_zip: bool,
    progress: bool,
) -> tuple[Path, str, int]:
    """One request: stream the body into a new temp file in ``cache_dir``.

    Returns (temp path, sha256, size). On any exception the temp file is removed.
    """
    headers = {"User-Agent": USER_AGENT}
    with session.get(url, headers=headers, timeout=timeout, stream=True) as resp:
        status = resp.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status} {resp.reason} for {url}")
        if status >= 400:
            raise DownloadError(f"HTTP {status} {resp.reason} for {url}")

        # Content-Length counts the bytes on the wire; if the server compressed the body
        # (Content-Encoding), iter_content yields more bytes than that, so only compare
        # lengths for unencoded bodies. (urllib3 also checks the wire length itself.)
        declared = _int_or_none(resp.headers.get("Content-Length"))
        encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        content_type = resp.headers.get("Content-Type", "")
        bar = _Progress(file_name, None if encoded else declared) if progress else None

        fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=".download-", suffix=".part")
        tmp_path = Path(tmp_name)
        ok = False
        try:
            digest = hashlib.sha256()
            size = 0
            head = b""
            head_checked = not expect_zip
            with os.fdopen(fd, "wb") as out:
                for chunk in resp.iter_content(CHUNK_SIZE):
                    if not chunk:
                        continue
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if not head_checked and len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                        if len(head) >= HEAD_BYTES:
                            _check_zip_head(head, content_type, url)
                            head_checked = True
                    if bar:
                        bar.update(size)
            if bar:
                bar.finish(size)
            if declared is not None and not encoded and size < declared:
                raise _Retryable(f"truncated body: got {size} of {declared} bytes from {url}")
            if not head_checked:
                _check_zip_head(head, content_type, url)
            ok = True
            return tmp_path, digest.hexdigest(), size
        finally:
            if not ok:
                tmp_path.unlink(missing_ok=True)


def _store(
    tmp_path: Path,
    url: str,
    cache_dir: Path,
    file_name: str,
    sha: str,
    size: int,
    expected: str | None,
) -> Fetched:
    """Verify a complete temp file and move it to its content-addressed path."""
    try:
        if expected is not None and sha != expected:
            raise DownloadError(
                f"SHA-256 mismatch for {url}: expected {expected}, got {sha} "
                f"({size} bytes); the file was not kept"
            )
        final = cache_dir / "sha256" / sha[:2] / sha / file_name
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            log.info("already cached: %s", final)
        else:
            os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)  # no-op after a successful os.replace
    log.info("downloaded %s: %d bytes, sha256 %s…", url, size, sha[:12])
    return Fetched(
        path=final, url=url, sha256=sha, size=size, retrieved_at=datetime.now(timezone.utc)
    )


def _check_zip_head(head: bytes, content_type: str, url: str) -> None:
    """Raise DownloadError unless the body starts like a zip archive.

    The zip magic wins over the Content-Type header: servers do mislabel zips.
    """
    if head[:4] in ZIP_MAGIC:
        return
    start = head.lstrip()[:16].lower()
    if "text/html" in content_type.lower() or start.startswith((b"<!doctype", b"<html")):
        title = ""
        if match := _TITLE_RE.search(head):
            title = " ".join(match.group(1).decode("utf-8", "replace").split())
        raise DownloadError(
            f"an HTML page was served where a zip was expected from {url}"
            + (f" (page title: {title!r})" if title else "")
            + "; this is probably a license/click-through page (CMS shows an AMA license "
            "page before some files): accept it in a browser, download the file, put it in a local mirror folder "
            "(e.g. MIRROR/pfs_rvu/RVU24B/) and build with --mirror MIRROR"
        )
    raise DownloadError(
        f"the body from {url} is not a zip archive (starts with {head[:8]!r}, "
        f"Content-Type {content_type or 'not given'})"
    )


def _url_file_name(url: str) -> str:
    """The last path segment of a URL, URL-unquoted ('' when the path ends in '/')."""
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def _safe_name(raw: str) -> str:
    """A file name that cannot escape its folder or upset a filesystem.

    Runs of anything other than letters, digits, '.', '_' and '-' become '_'
    (this removes '/' and '\\'), leading dots are dropped (no '..', no hidden files),
    and the result is capped at 200 characters.
    """
    cleaned = _UNSAFE_NAME_CHARS.sub("_", raw).lstrip(".")[:200]
    return cleaned or "download"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Progress:
    """A single self-overwriting line on stderr, updated at most every PROGRESS_INTERVAL."""

    def __init__(self, name: str, total: int | None) -> None:
        self.name = name
        self.total = total
        self.last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            self._write(done)

    def finish(self, done: int) -> None:
        self._write(done)
        sys.stderr.write("\n")
        sys.stderr.flush()

    def _write(self, done: int) -> None:
        mb = done / 1e6
        if self.total:
            text = f"{self.name}: {mb:.1f} / {self.total / 1e6:.1f} MB ({100 * done / self.total:.0f}%)"
        else:
            text = f"{self.name}: {mb:.1f} MB"
        # \r returns to the line start; \x1b[K clears whatever a longer earlier line left.
        sys.stderr.write(f"\r{text}\x1b[K")
        sys.stderr.flush()
