"""The routes of `cmsref serve`, one APIRouter per resource: versions, payment, codes and lines (the JSON API) and
pages (HTML for people). What every router shares is here: GET (a GET route answers HEAD too) and `serving`, the
dependency through which a route reaches the server's Versions (`app.state.versions`)."""

from __future__ import annotations

from fastapi import Request

from cmsref.serve.connections import Versions

GET = ["GET", "HEAD"]  # a GET route answers HEAD too (headers only), as HTTP clients and caches expect


async def serving(request: Request) -> Versions:
    """The Versions of the app answering this request (set by create_app)."""
    return request.app.state.versions
