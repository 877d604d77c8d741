"""A local stand-in for www.cms.gov that can be told to misbehave, per URL.

It serves the files of a mirror-like folder (laid out like ../shared/cms-mirror) under the cms.gov paths the
catalog names: /files/zip/rvu24b-updated-03/18/2024.zip answers with the bytes of
<mirror>/pfs_rvu/RVU24B/rvu24b-updated-03-18-2024.zip, and every catalogued landing page answers with a small
HTML page linking the zips of its releases that the folder holds (the way the PFS, MUE, ASC and OPPS pages
link their zips). cmsref is pointed at it with CMSREF_CMS_BASE_URL.

Misbehaviour is queued per path with `fault(url, *behaviours)`: each behaviour answers `times` requests (None:
every request from then on) and the path is served normally once the queue is used up. Every request is
counted per path (`hits(url)`), so a test can say exactly what was retried.

Behaviours (module-level helpers build them): status (500, 503, 404, ...), reset (TCP RST before any answer,
or after the headers and some body bytes), stall (no answer for a while), truncate (the full Content-Length is
promised, half the body is sent, the connection is closed), content_length (a Content-Length that does not
match the body), license (the AMA click-through page CMS shows before some files; the file is served once the
license is accepted: the accept link sets a cookie and redirects back, as cms.gov's license.asp does),
redirect (to another path, e.g. itself: a redirect loop), body (other bytes: a different zip, an HTML page).
"""

from __future__ import annotations

import html
import io
import socket
import struct
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from extract.catalog import datasets, load_dataset

LICENSE_PATH = "/apps/ama/license.asp"
LICENSE_COOKIE = "cms_ama_license"


@dataclass
class Behaviour:
    kind: str
    times: int | None = 1  # None: every request
    status: int = 500
    seconds: float = 0.0
    after_bytes: int | None = None
    delta: int = 0
    target: str = ""
    data: bytes = b""
    content_type: str = "application/zip"


def status(code: int, times: int | None = 1) -> Behaviour:
    return Behaviour("status", times, status=code)


def reset(times: int | None = 1, after_bytes: int | None = None) -> Behaviour:
    return Behaviour("reset", times, after_bytes=after_bytes)


def stall(seconds: float, times: int | None = 1) -> Behaviour:
    return Behaviour("stall", times, seconds=seconds)


def truncate(times: int | None = 1) -> Behaviour:
    return Behaviour("truncate", times)


def content_length(delta: int, times: int | None = 1) -> Behaviour:
    """Declare len(body) + delta bytes (and close the connection after the body)."""
    return Behaviour("content_length", times, delta=delta)


def license_page(times: int | None = None) -> Behaviour:
    return Behaviour("license", times)


def redirect(target: str, times: int | None = None) -> Behaviour:
    return Behaviour("redirect", times, target=target)


def body(data: bytes, times: int | None = None, content_type: str = "application/zip") -> Behaviour:
    return Behaviour("body", times, data=data, content_type=content_type)


def path_of(url: str) -> str:
    """The path (and query) of a cms.gov or stand-in URL: the key of routes, faults and hits."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@dataclass
class _Route:
    source: Path | None = None  # a file of the mirror-like folder
    data: bytes | None = None  # or bytes given in code (landing pages)
    content_type: str = "application/zip"

    def read(self) -> bytes:
        return self.data if self.data is not None else self.source.read_bytes()


@dataclass
class CmsStandIn:
    routes: dict[str, _Route] = field(default_factory=dict)
    faults: dict[str, list[Behaviour]] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    log: list[tuple[str, str]] = field(default_factory=list)  # (path, Cookie header) of every request
    links: dict[str, list[str]] = field(default_factory=dict)  # landing page path -> zip paths
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    base_url: str = ""

    # ------------------------------------------------------------------------- content
    def serve_mirror(self, root: Path, only: list[str] | None = None) -> None:
        """Serve every catalogued zip that the mirror-like folder `root` holds, at its cms.gov path.

        A zip the catalog names (release.file) is served at the catalog URL; any other zip of a release's
        folder is served at /files/zip/<name> and linked from the release's landing page.
        """
        for name in only or datasets():
            spec = load_dataset(name)
            for release in spec.releases:
                folder = Path(root) / spec.mirror_root / release.mirror_dir
                if not folder.is_dir():
                    continue
                named = {f.file_name: f.url for f in release.files}
                for z in sorted(folder.glob("*.zip")):
                    path = path_of(named[z.name]) if z.name in named else f"/files/zip/{quote(z.name)}"
                    self.routes[path] = _Route(source=z)
                    if release.landing_page:
                        self._link(path_of(release.landing_page), path)

    def add_release_zip(self, root: Path, dataset: str, period: str, zip_name: str, members: dict[str, bytes]
                        ) -> str:
        """Write a zip into the mirror-like folder `root` for a catalogued release and serve it (linked from the
        release's landing page). Returns the zip's cms.gov URL."""
        spec = load_dataset(dataset)
        release = spec.release(period)
        folder = Path(root) / spec.mirror_root / release.mirror_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / zip_name).write_bytes(make_zip(members) if isinstance(members, dict) else members)
        self.serve_mirror(root, only=[dataset])
        named = {f.file_name: f.url for f in release.files}
        return named.get(zip_name) or f"https://www.cms.gov/files/zip/{quote(zip_name)}"

    def _link(self, page: str, target: str) -> None:
        links = self.links.setdefault(page, [])
        if target not in links:
            links.append(target)
        items = "".join(f'<li><a href="{html.escape(t)}">{html.escape(t.rsplit("/", 1)[-1])}</a></li>' for t in links)
        self.routes[page] = _Route(
            data=(f"<!DOCTYPE html><html><head><title>CMS stand-in {html.escape(page)}</title></head><body>"
                  f"<h1>Downloads</h1><ul>{items}</ul></body></html>").encode(),
            content_type="text/html; charset=utf-8")

    # ------------------------------------------------------------------------- faults and counts
    def fault(self, url: str, *behaviours: Behaviour) -> None:
        with self.lock:
            self.faults.setdefault(path_of(url), []).extend(behaviours)

    def hits(self, url: str) -> int:
        with self.lock:
            return self.counts[path_of(url)]

    def all_hits(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def url(self, path_or_url: str) -> str:
        return self.base_url + path_of(path_or_url)

    def _next_fault(self, path: str) -> Behaviour | None:
        queue = self.faults.get(path) or []
        while queue:
            b = queue[0]
            if b.times is None:
                return b
            if b.times > 0:
                b.times -= 1
                if b.times == 0:
                    queue.pop(0)
                return b
            queue.pop(0)
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as cms.gov (requests reuses connections)
    state: CmsStandIn

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        state = self.state
        path = self.path
        with state.lock:
            state.counts[path] += 1
            state.log.append((path, self.headers.get("Cookie", "")))
            fault = state._next_fault(path)
        try:
            self._answer(path, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its read timeout)

    # ---------------------------------------------------------------------------------------------
    def _answer(self, path: str, fault: Behaviour | None) -> None:
        state = self.state
        if path.startswith(LICENSE_PATH):
            return self._accept_license(path)
        if fault is not None:
            if fault.kind == "status":
                return self._send(fault.status, f"<html><title>{fault.status}</title></html>".encode(), "text/html")
            if fault.kind == "reset" and fault.after_bytes is None:
                return self._reset()
            if fault.kind == "stall":
                state.stopping.wait(fault.seconds)
                if state.stopping.is_set():
                    return self._reset()
                fault = None  # then answer normally (too late for a client with a shorter timeout)
            elif fault.kind == "redirect":
                return self._send(302, b"", "text/html", extra={"Location": fault.target})
            elif fault.kind == "body":
                return self._send(200, fault.data, fault.content_type)
            elif fault.kind == "license" and LICENSE_COOKIE + "=accepted" not in self.headers.get("Cookie", ""):
                return self._send(200, _license_html(path), "text/html; charset=utf-8")
        route = state.routes.get(path.split("?", 1)[0])
        if route is None:
            return self._send(404, b"<html><title>Page Not Found | CMS</title></html>", "text/html")
        data = route.read()
        if fault is not None and fault.kind == "truncate":
            self._headers(200, route.content_type, len(data))
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "reset":
            self._headers(200, route.content_type, len(data))
            self.wfile.write(data[: fault.after_bytes])
            self.wfile.flush()
            return self._reset()
        if fault is not None and fault.kind == "content_length":
            self._headers(200, route.content_type, len(data) + fault.delta)
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(200, data, route.content_type)

    def _accept_license(self, path: str) -> None:
        query = parse_qs(urlsplit(path).query)
        target = (query.get("file") or ["/"])[0]
        if (query.get("agree") or [""])[0] != "yes":
            return self._send(200, _license_html(target), "text/html; charset=utf-8")
        self._send(302, b"", "text/html", extra={
            "Location": target, "Set-Cookie": f"{LICENSE_COOKIE}=accepted; Path=/"})

    def _headers(self, code: int, content_type: str, length: int, extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, code: int, data: bytes, content_type: str, extra: dict | None = None) -> None:
        self._headers(code, content_type, len(data), extra)
        self.wfile.write(data)
        self.wfile.flush()

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a dropped connection looks to the client."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


def _license_html(target: str) -> bytes:
    accept = f"{LICENSE_PATH}?file={quote(target)}&agree=yes"
    return (
        "<!DOCTYPE html>\n<html><head><title>License Agreement | CMS</title></head><body>"
        "<h1>American Medical Association License for Use of CPT</h1>"
        "<p>End User Point and Click Agreement ... CPT codes, descriptions and other data only are copyright "
        "American Medical Association. All Rights Reserved.</p>"
        f'<form action="{LICENSE_PATH}" method="get"><input type="hidden" name="file" value="{html.escape(target)}">'
        '<button name="agree" value="yes">Accept</button></form>'
        f'<a href="{html.escape(accept)}">Accept</a> <a href="/">Decline</a></body></html>'
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up mid-answer is part of the game


def start(state: CmsStandIn) -> tuple[CmsStandIn, _Server, threading.Thread]:
    handler = type("Handler", (_Handler,), {"state": state})
    server = _Server(("127.0.0.1", 0), handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return state, server, thread


def stop(state: CmsStandIn, server: _Server, thread: threading.Thread) -> None:
    state.stopping.set()  # stalled answers end now
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
