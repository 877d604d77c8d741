"""Tests for extract.download against a real HTTP server on 127.0.0.1 (no network)."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from core import __version__
from core.errors import DownloadError
from extract.download import Fetched, download, record_local, sha256_file

HTML_LICENSE = (
    b"\n  <!DOCTYPE html>\n<html><head><title>AMA License Agreement</title></head>"
    b"<body><form>Accept</form></body></html>"
)


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return buf.getvalue()


class Route:
    """What the server does for one path. Only the fields that are set matter."""

    def __init__(
        self,
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str = "application/octet-stream",
        fail_first: int = 0,  # answer the first N requests with fail_status
        fail_status: int = 500,
        truncate_first: int = 0,  # for the first N requests send half the body, then close
        redirect_to: str | None = None,
        stall: float = 0.0,  # sleep before sending anything
        stall_body: float = 0.0,  # send headers and a few bytes, then sleep
    ) -> None:
        self.body = body
        self.status = status
        self.content_type = content_type
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.truncate_first = truncate_first
        self.redirect_to = redirect_to
        self.stall = stall
        self.stall_body = stall_body


class Server:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.user_agents: list[str] = []
        self.lock = threading.Lock()

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.base_url + path


class Handler(BaseHTTPRequestHandler):
    server_state: Server  # set on a per-fixture subclass

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        state = self.server_state
        with state.lock:
            state.hits[self.path] += 1
            n = state.hits[self.path]
            state.user_agents.append(self.headers.get("User-Agent", ""))
        route = state.routes.get(self.path)
        try:
            self._respond(route, n)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def _respond(self, route: Route | None, n: int) -> None:
        if route is None:
            self.send_error(404, "Not Found")
            return
        if route.stall:
            time.sleep(route.stall)
        if route.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", route.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if n <= route.fail_first:
            self.send_error(route.fail_status)
            return
        if route.status != 200:
            self.send_error(route.status)
            return
        self.send_response(200)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if n <= route.truncate_first:
            # Promise the whole body, send half, then close the connection.
            self.wfile.write(route.body[: len(route.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if route.stall_body:
            self.wfile.write(route.body[:10])
            self.wfile.flush()
            time.sleep(route.stall_body)
        self.wfile.write(route.body)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy from the environment must not intercept requests to 127.0.0.1.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server():
    handler = type("BoundHandler", (Handler,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state = Server(f"http://127.0.0.1:{httpd.server_address[1]}")
    handler.server_state = state
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def fast(**kwargs):
    """download() options for tests: no backoff sleep, short timeouts."""
    opts = {"backoff": 0, "timeout": (2.0, 2.0), "progress": False}
    opts.update(kwargs)
    return opts


def cached_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file())


def assert_no_temp_files(cache: Path) -> None:
    # Everything in the cache must sit at a content-addressed path.
    leftovers = [p for p in cache.rglob("*") if p.is_file() and "sha256" not in p.relative_to(cache).parts]
    assert leftovers == []


# --- success -------------------------------------------------------------------------


def test_download_stores_file_at_content_addressed_path(server, tmp_path):
    body = b"HCPCS,DESC\nA0001,Ambulance\n" * 1000
    url = server.add("/files/RVU24A.csv", Route(body))
    cache = tmp_path / "cache"

    fetched = download(url, cache, **fast())

    sha = hashlib.sha256(body).hexdigest()
    assert isinstance(fetched, Fetched)
    assert fetched.sha256 == sha
    assert fetched.size == len(body)
    assert fetched.url == url
    assert fetched.path == cache / "sha256" / sha[:2] / sha / "RVU24A.csv"
    assert fetched.path.read_bytes() == body
    assert fetched.retrieved_at.tzinfo is not None
    assert fetched.retrieved_at.utcoffset().total_seconds() == 0
    assert cached_files(cache) == [fetched.path]
    assert server.user_agents == [f"cmsref/{__version__} (+https://github.com/cmsref)"]


def test_name_comes_from_unquoted_url_and_is_sanitised(server, tmp_path):
    url = server.add("/dl/My%20File%20(2024).zip", Route(make_zip({"a.txt": b"a"})))
    fetched = download(url, tmp_path, expect_zip=True, **fast())
    assert fetched.path.name == "My_File_2024_.zip"

    url = server.add("/dl/..%2F..%2Fevil.txt", Route(b"x"))
    fetched = download(url, tmp_path, **fast())
    assert fetched.path.parent.parent.parent == tmp_path / "sha256"
    assert "/" not in fetched.path.name and not fetched.path.name.startswith(".")


def test_explicit_name(server, tmp_path):
    url = server.add("/download?id=7", Route(b"data"))
    fetched = download(url, tmp_path, name="pfs_2024.csv", **fast())
    assert fetched.path.name == "pfs_2024.csv"


def test_reuses_existing_cached_file(server, tmp_path):
    body = b"same bytes"
    url = server.add("/a.txt", Route(body))
    first = download(url, tmp_path, **fast())
    before = first.path.stat()

    second = download(url, tmp_path, **fast())

    assert second.path == first.path
    after = second.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert cached_files(tmp_path) == [first.path]
    assert server.hits["/a.txt"] == 2


def test_matching_pinned_sha256_is_accepted(server, tmp_path):
    body = b"pinned"
    url = server.add("/p.txt", Route(body))
    sha = hashlib.sha256(body).hexdigest()
    assert download(url, tmp_path, expected_sha256=sha.upper(), **fast()).sha256 == sha


def test_zip_accepted_when_expected(server, tmp_path):
    data = make_zip({"x.csv": b"1,2\n"})
    url = server.add("/x.zip", Route(data, content_type="application/zip"))
    assert download(url, tmp_path, expect_zip=True, **fast()).size == len(data)

    empty = make_zip({})
    assert empty.startswith(b"PK\x05\x06")
    url = server.add("/empty.zip", Route(empty))
    assert download(url, tmp_path, expect_zip=True, **fast()).size == len(empty)


# --- retries -------------------------------------------------------------------------


def test_retries_500_then_succeeds(server, tmp_path, caplog):
    url = server.add("/flaky.csv", Route(b"ok", fail_first=2))
    with caplog.at_level(logging.INFO, logger="cmsref.extract"):
        fetched = download(url, tmp_path, retries=4, **fast())
    assert fetched.path.read_bytes() == b"ok"
    assert server.hits["/flaky.csv"] == 3
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and "HTTP 500" in retries[0].getMessage()


def test_gives_up_after_all_attempts(server, tmp_path):
    url = server.add("/down.csv", Route(b"never", fail_first=100, fail_status=503))
    with pytest.raises(DownloadError) as exc_info:
        download(url, tmp_path / "cache", retries=2, **fast())
    message = str(exc_info.value)
    assert url in message and "3 attempts" in message and "HTTP 503" in message
    assert server.hits["/down.csv"] == 3
    assert cached_files(tmp_path / "cache") == []


def test_429_is_retried(server, tmp_path):
    url = server.add("/busy.csv", Route(b"ok", fail_first=1, fail_status=429))
    download(url, tmp_path, **fast())
    assert server.hits["/busy.csv"] == 2


def test_404_is_not_retried(server, tmp_path):
    url = server.base_url + "/missing.zip"
    with pytest.raises(DownloadError, match=r"HTTP 404 Not Found for .*/missing\.zip"):
        download(url, tmp_path, retries=4, **fast())
    assert server.hits["/missing.zip"] == 1
    assert_no_temp_files(tmp_path)


def test_403_is_not_retried(server, tmp_path):
    url = server.add("/forbidden", Route(status=403))
    with pytest.raises(DownloadError, match="HTTP 403"):
        download(url, tmp_path, retries=4, **fast())
    assert server.hits["/forbidden"] == 1


def test_truncated_body_is_retried_then_succeeds(server, tmp_path):
    body = bytes(range(256)) * 400
    url = server.add("/trunc.bin", Route(body, truncate_first=1))
    fetched = download(url, tmp_path, **fast())
    assert fetched.sha256 == hashlib.sha256(body).hexdigest()
    assert server.hits["/trunc.bin"] == 2
    assert_no_temp_files(tmp_path)


def test_always_truncated_body_fails_and_leaves_no_temp_file(server, tmp_path):
    url = server.add("/trunc.bin", Route(b"z" * 100_000, truncate_first=100))
    with pytest.raises(DownloadError) as exc_info:
        download(url, tmp_path, retries=2, **fast())
    assert url in str(exc_info.value) and "3 attempts" in str(exc_info.value)
    assert server.hits["/trunc.bin"] == 3
    assert cached_files(tmp_path) == []


def test_redirect_loop_is_not_retried(server, tmp_path):
    url = server.add("/loop", Route(redirect_to="/loop"))
    with pytest.raises(DownloadError, match="redirect") as exc_info:
        download(url, tmp_path, retries=4, **fast())
    assert url in str(exc_info.value)
    # One chain of requests (requests follows 30 redirects), not five.
    assert server.hits["/loop"] == requests.models.DEFAULT_REDIRECT_LIMIT + 1


def test_stalled_response_times_out_and_is_retried(server, tmp_path):
    url = server.add("/slow", Route(b"late", stall=4.0))
    start = time.monotonic()
    with pytest.raises(DownloadError) as exc_info:
        download(url, tmp_path, retries=1, backoff=0, timeout=(1.0, 0.1), progress=False)
    assert time.monotonic() - start < 3.0  # two 0.1 s read timeouts, not the 4 s stall (room for a busy machine)
    assert url in str(exc_info.value) and "2 attempts" in str(exc_info.value)
    assert server.hits["/slow"] == 2
    assert cached_files(tmp_path) == []


def test_body_stalling_mid_stream_times_out(server, tmp_path):
    url = server.add("/slowbody", Route(b"x" * 1000, stall_body=1.0))
    with pytest.raises(DownloadError, match="2 attempts"):
        download(url, tmp_path, retries=1, backoff=0, timeout=(1.0, 0.1), progress=False)
    assert server.hits["/slowbody"] == 2
    assert cached_files(tmp_path) == []


def test_connection_refused_is_retried_then_fails(tmp_path):
    # Bind and close a socket to get a port nobody listens on.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.zip"
    with pytest.raises(DownloadError, match="2 attempts") as exc_info:
        download(url, tmp_path, retries=1, **fast())
    assert url in str(exc_info.value)


# --- zip / html checks ----------------------------------------------------------------


def test_html_license_page_instead_of_zip(server, tmp_path):
    url = server.add("/cpt.zip", Route(HTML_LICENSE, content_type="text/html; charset=utf-8"))
    with pytest.raises(DownloadError) as exc_info:
        download(url, tmp_path, expect_zip=True, retries=3, **fast())
    message = str(exc_info.value)
    assert "HTML page" in message and "license" in message
    assert url in message and "AMA License Agreement" in message
    assert server.hits["/cpt.zip"] == 1  # not retried
    assert cached_files(tmp_path) == []


def test_html_detected_by_content_even_if_mislabelled(server, tmp_path):
    url = server.add("/odd.zip", Route(b"  <html><body>hi</body></html>", content_type="application/zip"))
    with pytest.raises(DownloadError, match="HTML page"):
        download(url, tmp_path, expect_zip=True, **fast())
    assert cached_files(tmp_path) == []


def test_non_zip_body_when_zip_expected(server, tmp_path):
    url = server.add("/data.zip", Route(b"HCPCS,DESC\n"))
    with pytest.raises(DownloadError, match="not a zip") as exc_info:
        download(url, tmp_path, expect_zip=True, **fast())
    assert url in str(exc_info.value)
    assert server.hits["/data.zip"] == 1
    assert cached_files(tmp_path) == []


def test_html_is_fine_when_zip_not_expected(server, tmp_path):
    url = server.add("/page.html", Route(HTML_LICENSE, content_type="text/html"))
    assert download(url, tmp_path, **fast()).path.read_bytes() == HTML_LICENSE


# --- pinned sha256 -------------------------------------------------------------------


def test_sha256_mismatch_leaves_nothing_in_cache(server, tmp_path):
    body = b"changed upstream"
    url = server.add("/pinned.csv", Route(body))
    wrong = "0" * 64
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as exc_info:
        download(url, cache, expected_sha256=wrong, **fast())
    message = str(exc_info.value)
    assert url in message and wrong in message and hashlib.sha256(body).hexdigest() in message
    assert cached_files(cache) == []
    assert server.hits["/pinned.csv"] == 1


# --- progress and helpers ------------------------------------------------------------


def test_progress_line_on_stderr(server, tmp_path, capsys):
    url = server.add("/big.bin", Route(b"\x01" * 3_000_000))
    download(url, tmp_path, progress=True, backoff=0)
    err = capsys.readouterr().err
    assert "big.bin" in err and "3.0 / 3.0 MB" in err and "100%" in err


def test_sha256_file_and_record_local(tmp_path):
    path = tmp_path / "mirror" / "RVU24A.zip"
    path.parent.mkdir()
    data = b"y" * (3 << 20)  # several read chunks
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()

    fetched = record_local(path, "https://www.cms.gov/files/zip/rvu24a.zip")
    assert fetched.path == path
    assert fetched.sha256 == hashlib.sha256(data).hexdigest()
    assert fetched.size == len(data)
    assert fetched.url == "https://www.cms.gov/files/zip/rvu24a.zip"
    assert fetched.retrieved_at.utcoffset().total_seconds() == 0


def test_record_local_missing_file(tmp_path):
    with pytest.raises(DownloadError, match="does not exist"):
        record_local(tmp_path / "nope.zip", "https://example.invalid/nope.zip")
