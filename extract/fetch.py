"""Resolve one catalogued release into local source files, from cms.gov or from a local mirror.

Online: each zip the catalog names is downloaded into the content-addressed cache (or, when the catalog
gives only a landing page, the zip links are found on that page). Mirror mode (`--mirror DIR` or
CMSREF_MIRROR): the same catalog is resolved from a folder laid out like ../shared/cms-mirror, holding
either the original zips or the loose bundle members. Either way every file parsed is recorded with its
URL or mirror path, archive, member name, size, SHA-256 and retrieval time.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urljoin

import requests

from core.errors import DownloadError
from extract.archive import list_members, safe_extract
from extract.catalog import DatasetSpec, ReleaseSpec
from extract.download import download, record_local, sha256_file

log = logging.getLogger("cmsref.extract")


@dataclass(frozen=True)
class SourceFile:
    kind: str  # layout kind, e.g. "pprrvu"
    variant: str  # "all", or "qp" / "non_qp" from 2026
    path: Path  # local copy that is parsed
    url: str  # where CMS publishes it (catalog URL of its zip, else the landing page); a curated file: its project path
    archive_name: str | None  # the zip it was a member of, if any
    member_name: str  # file name (inside the archive, if any)
    size: int
    sha256: str
    archive_sha256: str | None
    retrieved_at: datetime
    # "published": the copy whose rows are published; "checked": another format of the same file in the same posting
    # (a bundle's .txt and .xlsx beside the .csv), parsed and compared with it cell for cell (transform/formats.py)
    role: str = "published"
    mirror_path: str | None = None  # the mirror file it was read from, relative to the mirror root (None: downloaded)

    @property
    def format(self) -> str:
        return self.path.suffix.lower().lstrip(".")


def mirror_folder(spec: DatasetSpec, release: ReleaseSpec, mirror: Path) -> Path:
    return Path(mirror) / spec.mirror_root / release.mirror_dir


def releases_in_mirror(spec: DatasetSpec, mirror: Path) -> list[ReleaseSpec]:
    """Catalogued releases that have a folder with at least one file in the mirror."""
    return [r for r in spec.releases
            if mirror_folder(spec, r, mirror).is_dir() and any(mirror_folder(spec, r, mirror).iterdir())]


PROJECT_ROOT = Path(__file__).resolve().parents[1]


def fetch_release(spec: DatasetSpec, release: ReleaseSpec, *, cache_dir: Path, mirror: Path | None = None,
                  session: requests.Session | None = None, progress: bool | None = None, http: dict | None = None,
                  cms_base_url: str | None = None) -> list[SourceFile]:
    """Return the source files to parse for one release (one per file kind and variant), plus the dataset's
    curated reference files, which are recorded and fingerprinted like the CMS files. `http`: download()'s timeout,
    retries and backoff where they differ from its defaults; `cms_base_url`: see cms_url (both from the caller's
    settings)."""
    cache_dir = Path(cache_dir)
    if mirror is not None:
        candidates = _from_mirror(spec, release, Path(mirror), cache_dir)
    else:
        candidates = _from_cms(spec, release, cache_dir, session, progress, dict(http or {}), cms_base_url)
    return _choose(spec, release, candidates, from_mirror=mirror is not None) + reference_files(spec)


def local_source(kind: str, variant: str, path: Path, *, url: str = "", mirror_path: str | None = None
                 ) -> SourceFile:
    """A loose local file (in a mirror, in the project, or given on the command line) recorded as a source. What is
    published names where CMS publishes it (`url`, '' when unknown) and, for a mirror file, its name relative to the
    mirror (`mirror_path`): never a path of this machine."""
    path = Path(path).resolve()
    fetched = record_local(path, url)
    return SourceFile(kind=kind, variant=variant, path=path, url=url, archive_name=None,
                      member_name=path.name, size=fetched.size, sha256=fetched.sha256, archive_sha256=None,
                      retrieved_at=fetched.retrieved_at, mirror_path=mirror_path)


def reference_files(spec: DatasetSpec) -> list[SourceFile]:
    """The dataset's curated files of the project, named by their path in the project (transform/reference/...)."""
    return [local_source(kind, "all", PROJECT_ROOT / rel_path, url=Path(rel_path).as_posix())
            for kind, rel_path in sorted((spec.reference or {}).items())]


def mirror_name(path: Path, mirror: Path) -> str:
    """A mirror file's name relative to the mirror root, e.g. pfs_rvu/RVU25D/PPRRVU2025_Oct.csv (vendor guides, kept
    next to the mirror, are ../vendor-guides/NAME)."""
    return Path(os.path.relpath(Path(path).absolute(), Path(mirror).absolute())).as_posix()


def _refuse_links_outside(path: Path, spec: DatasetSpec, mirror: Path) -> None:
    """A file of the mirror that is (or lies under) a symbolic link resolving outside the mirror is refused: what is
    published as read from the mirror must be a file of the mirror."""
    target = Path(path).resolve()
    roots = {Path(mirror).resolve(), (Path(mirror) / spec.mirror_root).resolve()}
    if not any(target == root or target.is_relative_to(root) for root in roots):
        raise DownloadError(f"{mirror_name(path, mirror)} in the mirror is a symbolic link to a file outside the "
                            f"mirror; refused (put a copy of the file itself in the mirror)")


def _catalog_url(release: ReleaseSpec, name: str | None = None) -> str:
    """CMS's URL of a mirror file: the catalog's [[release.file]] url when the file name matches, else the release's
    landing page, else its one catalogued URL ('' when the catalog knows none, e.g. a vendor guide)."""
    named = {f.file_name: f.url for f in release.files if f.url}
    if name in named:
        return named[name]
    if release.landing_page:
        return release.landing_page
    urls = sorted(set(named.values()))
    return urls[0] if len(urls) == 1 else ""


def _from_mirror(spec, release, mirror, cache_dir):
    folder = mirror_folder(spec, release, mirror)
    if not folder.is_dir():
        raise DownloadError(f"release {release.label} is not in the mirror: no folder {folder}")
    zips = sorted(folder.glob("*.zip"))
    named = {f.file_name: f for f in release.files}
    if zips:
        # The original CMS zip is preferred over loose members: it is the artifact CMS published and the
        # catalog can pin its SHA-256.
        chosen = [z for z in zips if z.name in named] or zips
        found = []
        for z in chosen:
            _refuse_links_outside(z, spec, mirror)
            fetched = record_local(z, _catalog_url(release, z.name))
            pin = named.get(z.name).sha256 if z.name in named else None
            if pin and pin != fetched.sha256:
                raise DownloadError(
                    f"{mirror_name(z, mirror)}: SHA-256 {fetched.sha256} does not match the catalog pin {pin} for "
                    f"{release.label}"
                )
            found += [replace(m, mirror_path=mirror_name(z, mirror)) for m in
                      _members_of(spec, z, fetched.url, fetched.sha256, fetched.retrieved_at, cache_dir)]
        return found
    loose = sorted(p for p in folder.iterdir() if p.is_file() or p.is_symlink())
    if any(p.name in named for p in loose):
        # the catalog names this release's files and they are here: the folder's other files belong to other
        # releases (vendor guides share one folder)
        loose = [p for p in loose if p.name in named]
    loose = [p for p in loose if spec.kind_of(p.name)]
    for p in loose:
        _refuse_links_outside(p, spec, mirror)
    return [local_source(spec.kind_of(p.name), spec.variant_of(p.name), p, url=_catalog_url(release, p.name),
                         mirror_path=mirror_name(p, mirror)) for p in loose]


CMS_ORIGIN = "https://www.cms.gov"


def cms_url(url: str, base: str | None = None) -> str:
    """cms.gov URLs, redirected to `base` when given (CMSREF_CMS_BASE_URL: a proxy, an internal copy of cms.gov, or
    the local stand-in server of the fault tests)."""
    if base and url.startswith(CMS_ORIGIN):
        return base.rstrip("/") + url[len(CMS_ORIGIN):]
    return url


def _from_cms(spec, release, cache_dir, session, progress, http, base):
    files = list(release.files)
    if not files:
        files = _discover_zips(release, session, cache_dir, http, base)
    found = []
    for f in files:
        fetched = download(cms_url(f.url, base), cache_dir / "downloads", expected_sha256=f.sha256, expect_zip=True,
                           session=session, progress=progress, name=f.file_name, **http)
        found += _members_of(spec, fetched.path, f.url, fetched.sha256, fetched.retrieved_at, cache_dir)
    return found


def _discover_zips(release, session, cache_dir, http, base):
    """Find the release's zip links on its cms.gov landing page (file names are irregular)."""
    from extract.catalog import FileSpec

    if not release.landing_page:
        raise DownloadError(f"release {release.label}: the catalog gives neither a zip URL nor a landing page")
    # the same downloader as for files: retries on 5xx / resets / timeouts, a User-Agent, no retry on 404
    try:
        page = download(cms_url(release.landing_page, base), cache_dir / "pages", session=session, progress=False,
                        name="landing.html", **http)
    except DownloadError as exc:
        raise DownloadError(f"release {release.label}: landing page unreachable: {exc}; offline? build from a local "
                            f"mirror with --mirror DIR or CMSREF_MIRROR", transient=exc.transient) from None
    text = page.path.read_text(encoding="utf-8", errors="replace")
    pattern = release.link_pattern or re.escape(release.mirror_dir.lower())  # e.g. rvu24b
    links = sorted(set(re.findall(r'href="([^"]+\.zip)"', text, flags=re.IGNORECASE)))
    mine = [link for link in links if re.search(pattern, link, flags=re.IGNORECASE)]
    if not mine:
        raise DownloadError(
            f"release {release.label}: no zip link matching {pattern!r} on {release.landing_page}; add the URL to "
            f"the catalog (links seen: {links[:10]})"
        )
    return [FileSpec(urljoin(release.landing_page, link), Path(link).name, None) for link in mine]


def _members_of(spec, zip_path, url, zip_sha, retrieved_at, cache_dir):
    wanted = [m for m in list_members(zip_path) if spec.kind_of(m)]
    dest = cache_dir / "extracted" / zip_sha[:2] / zip_sha
    cached = {m: dest / m for m in wanted}
    if all(p.is_file() for p in cached.values()):
        # extracted before from these exact zip bytes (which passed the archive checks then): trust a cached copy
        # only if it still holds the zip member's bytes, so the SHA-256 published is always that of what CMS posted
        in_zip = _member_sha256s(zip_path, wanted)
        if any(sha256_file(p) != in_zip[m] for m, p in cached.items()):
            log.warning("%s: extracted copies in the cache differ from the zip's members; extracting again", zip_path)
            cached = safe_extract(zip_path, dest, members=wanted)
    else:
        cached = safe_extract(zip_path, dest, members=wanted)
    out = []
    for member, path in cached.items():
        sha = sha256_file(path)
        out.append(SourceFile(
            kind=spec.kind_of(member), variant=spec.variant_of(member), path=path, url=url,
            archive_name=Path(zip_path).name, member_name=member, size=path.stat().st_size,
            sha256=sha, archive_sha256=zip_sha, retrieved_at=retrieved_at,
        ))
    return out


def _member_sha256s(zip_path: Path, members: list[str]) -> dict[str, str]:
    """SHA-256 of each member's bytes as the zip holds them (streamed: no member is held in memory)."""
    import hashlib
    import zipfile

    out = {}
    with zipfile.ZipFile(zip_path) as zf:
        for m in members:
            digest = hashlib.sha256()
            with zf.open(m) as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
            out[m] = digest.hexdigest()
    return out


def posting_date(spec: DatasetSpec, name: str) -> date | None:
    """The date CMS posted a file, from its name by the dataset's `posting_date_in_name` rule (month, day, year
    groups; a 2-digit year is 20yy): `...addendum_b.12312019.xlsx` -> 2019-12-31, `...B.11142022.xlsx`,
    `...B.12.29.20.xlsx`, `...B.062222.xlsx`. None when the dataset has no rule or the name has no such date."""
    if not spec.posting_date_in_name:
        return None
    for m in reversed(list(re.finditer(spec.posting_date_in_name, Path(name).name))):
        month, day, year = (int(g) for g in m.groups())
        try:
            return date(year + 2000 if year < 100 else year, month, day)
        except ValueError:
            continue
    return None


def _choose(spec, release, candidates, from_mirror: bool = False):
    """One file per (kind, variant) to publish, plus its copies in other formats to check against it. Where CMS
    posted the same file more than once (a correction, a re-post), the newest posting wins, by the date in its name;
    among copies of one posting, the first format in the dataset's preference order is published and every other
    format is returned with role "checked" (parsed and compared cell for cell, transform/formats.py). Two candidates
    that these rules cannot tell apart are refused: the catalog must name one."""
    groups: dict[tuple[str, str], list] = {}
    for c in candidates:
        groups.setdefault((c.kind, c.variant), []).append(c)
    chosen, copies = {}, []
    for key, group in groups.items():
        def rank(c):
            posted = posting_date(spec, c.member_name)
            return (posted or date.min, -(spec.prefer.index(c.format) if c.format in spec.prefer else 99))
        group = sorted(group, key=rank, reverse=True)
        if len(group) > 1 and rank(group[0]) == rank(group[1]):
            raise DownloadError(
                f"release {release.label}: {group[0].member_name} and {group[1].member_name} are both {key[0]} files "
                f"and neither is posted later; name the one to read in the catalog (a [[release.file]] file_name in "
                f"extract/catalog/{spec.name}.toml)")
        chosen[key] = group[0]
        for other in group[1:]:
            if rank(other)[0] < rank(group[0])[0]:
                log.info("%s: %s supersedes %s (posted later)", release.label, group[0].member_name, other.member_name)
            else:  # the same posting in another format
                copies.append(replace(other, role="checked"))
    kinds = {k for k, _ in chosen}
    missing = [k for k in spec.required if not any(alt in kinds for alt in k.split("|"))  # "aa|workbook": either
               and not (from_mirror and k in release.mirror_lacks)]
    if missing:
        seen = sorted(c.member_name for c in candidates) or "nothing"
        raise DownloadError(
            f"release {release.label}: no {', '.join(m.upper().replace('|', ' or ') for m in missing)} file among its "
            f"sources ({seen}); every {spec.name} release has one (a mirror's partial copy is listed with "
            f"`mirror_lacks` in extract/catalog/{spec.name}.toml)"
        )
    log.info("%s: %s", release.label, ", ".join(sorted(c.member_name for c in chosen.values())))
    if copies:
        log.info("%s: checked against them: %s", release.label, ", ".join(sorted(c.member_name for c in copies)))
    return sorted([*chosen.values(), *copies], key=lambda c: (c.kind, c.variant, c.role != "published", c.member_name))
