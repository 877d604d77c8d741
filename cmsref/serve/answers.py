"""How `cmsref serve` answers: JSON read from one data version, with the headers naming it (X-Cmsref-Version,
X-Cmsref-Manifest-Sha256, ETag, Cache-Control), the source files of every SHA-256 it cites, and decimals and dates
as text."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def version_headers(served: tuple, version: str) -> dict:
    """The headers naming what answered: the resolved data version and its manifest; a pinned version's answers
    never change (cacheable forever), `latest` must be asked again."""
    _, name, sha = served
    return {"X-Cmsref-Version": name, "X-Cmsref-Manifest-Sha256": sha, "ETag": f'"{sha}"',
            "Cache-Control": "public, max-age=31536000, immutable" if version != "latest" else "no-cache"}


def answer(versions, served: tuple, version: str, body, status: int = 200, cite: bool = True) -> JSONResponse:
    """The JSON answer with the headers of the version it was read from (`served`: the request's connection, its
    version and manifest; never looked up again, so a publish meanwhile cannot mix two versions), and
    `source_files`: the file name, archive, URL and release of every source SHA-256 the answer cites (from the
    payment cache of `versions`, the server's Versions)."""
    con, name, sha = served
    if cite:
        files = versions.payments(name, sha).source_files(con)
        body = {**body, "source_files": {c: files[c] for c in sorted(_cited(body)) if c in files}}
    return JSONResponse(_jsonable({"data_version": name, "manifest_sha256": sha, **body}), status_code=status,
                        headers=version_headers(served, version))


def _cited(value) -> set[str]:
    """The SHA-256s an answer cites: the values of its keys that end in source_sha256."""
    if isinstance(value, dict):
        return {v for k, v in value.items() if k.endswith("source_sha256") and isinstance(v, str)} | {
            c for v in value.values() for c in _cited(v)}
    if isinstance(value, (list, tuple)):
        return {c for v in value for c in _cited(v)}
    return set()


def _jsonable(value):
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)  # money and RVUs as the exact decimal text, never a float
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
