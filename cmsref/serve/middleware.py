"""What wraps every request of `cmsref serve` (ASGI middleware): BodyLimit refuses a body over MAX_BODY_BYTES with a
413, NotModified answers a GET or HEAD that already holds the answer with a 304, and LastResort answers whatever
escapes every handler with a 503 and one log line, never a 500."""

from __future__ import annotations

import json

from cmsref.serve.errors import failed, log
from cmsref.serve.inputs import MAX_LINES

MAX_BODY_BYTES = 16 * 1024 * 1024  # 20,000 lines of ~200 bytes, with room; a larger body is refused unread


class BodyLimit:
    """Refuse a request body over MAX_BODY_BYTES with a 413, by its Content-Length before reading it, or while
    reading a body sent without one: the server never holds more than that of one request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            if length.isdigit() and int(length) <= 16 * MAX_BODY_BYTES:
                await _drain(receive)  # read and dropped, so that the client, still sending, hears the 413
            return await _too_large(send)
        seen, too_large = 0, False

        async def counted():
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:  # the app sees the client gone; its answer is replaced by the 413
                too_large = True
                return {"type": "http.disconnect"}
            return message

        async def unless_too_large(message):
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counted, unless_too_large)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await _drain(receive)
            await _too_large(send)


class NotModified:
    """A GET or HEAD whose If-None-Match names the ETag of its answer (one of a list, weak or strong, or `*`) gets a
    304 with the version headers and no body: a client holding that data version's answer is not sent it again.
    Judged on the answer itself, a 200 with an ETag, so every versioned endpoint has it and nothing else does (an
    error is never a 304)."""

    KEPT = {b"etag", b"x-cmsref-version", b"x-cmsref-manifest-sha256", b"cache-control", b"vary", b"expires",
            b"content-location", b"date"}

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        asked = [v for k, v in scope.get("headers") or () if k == b"if-none-match"] if scope["type"] == "http" \
            and scope["method"] in ("GET", "HEAD") else []
        if not asked:
            return await self.app(scope, receive, send)
        tags = {t.strip().removeprefix(b"W/") for value in asked for t in value.split(b",")}
        matched = False

        async def unless_matched(message):
            nonlocal matched
            if message["type"] == "http.response.start" and message["status"] == 200:
                etag = dict(message.get("headers") or ()).get(b"etag")
                if etag and (b"*" in tags or etag.removeprefix(b"W/") in tags):
                    matched = True
                    await send({"type": "http.response.start", "status": 304,
                                "headers": [(k, v) for k, v in message["headers"] if k in self.KEPT]})
                    await send({"type": "http.response.body", "body": b""})
                    return
            if not matched:  # the answer's body is dropped: the client has it
                await send(message)

        await self.app(scope, receive, unless_matched)


class LastResort:
    """Whatever escapes every handler is answered 503 with a generic JSON message and logged as one line, without a
    traceback: no request is ever answered 500 (Starlette's own last handler answers 500 and lets the server log
    the traceback). A client gone before sending its body is not an error: there is no one to answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import ClientDisconnect

        started = False

        async def noted(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noted)
        except ClientDisconnect:
            return
        except Exception as exc:  # noqa: BLE001 - the point of a last resort
            error = failed(exc)
            log.warning("%s %s: %s", scope.get("method"), scope.get("path"), error.logged)
            if started:  # the answer was under way: it cannot be replaced, only cut short
                return
            body = json.dumps(error.body).encode()
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})


async def _drain(receive) -> None:
    message = {"more_body": True}
    while message.get("more_body") and message.get("type", "http.request") == "http.request":
        message = await receive()


async def _too_large(send) -> None:
    body = json.dumps({"error": "bad input", "parameter": "body",
                       "detail": f"the request body is over {MAX_BODY_BYTES // 2**20} MiB (at most {MAX_LINES:,} "
                                 f"lines per request)"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
