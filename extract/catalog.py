"""The source catalog: which releases of which dataset exist, where their files are, when they apply.

The catalog is data (extract/catalog/<dataset>.toml); a new CMS quarter is a new [[release]] block there.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from cmsref.errors import CatalogError

CATALOG_DIR = Path(__file__).parent / "catalog"


@dataclass(frozen=True)
class FileSpec:
    url: str
    file_name: str
    sha256: str | None = None


@dataclass(frozen=True)
class ReleaseSpec:
    dataset: str
    period: str
    effective_from: date
    effective_to: date | None  # exclusive; only where CMS states an end
    cms_release_date: date | None
    landing_page: str | None
    files: tuple[FileSpec, ...]
    mirror_dir: str
    link_pattern: str | None = None  # regex for the release's zip links on its landing page
    mirror_lacks: tuple[str, ...] = ()  # file kinds the local mirror's (partial) copy of the release does not have
    locality_change: str | None = None  # why this release's Medicare localities differ from the previous release's

    @property
    def year(self) -> int:
        return self.effective_from.year

    @property
    def label(self) -> str:
        return f"{self.dataset}:{self.period}"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    layout: str
    period_end: str  # "year" | "quarter": a release never applies past the end of this period
    mirror_root: str
    prefer: tuple[str, ...]
    required: tuple[str, ...]
    members: dict[str, str]  # file kind -> regex on the member's file name
    variants: dict[str, str]  # variant -> regex on the member's file name
    releases: tuple[ReleaseSpec, ...]
    effective_date_in_name: str | None = None  # regex (month, day, year) for a date in member names
    reference: dict[str, str] | None = None  # kind -> project file (curated, cited) that is a source of every release
    in_default_build: bool = True  # built when no --dataset is given (vendor guides: no, they need the CMS data first)
    posting_date_in_name: str | None = None  # regex (month, day, year) for the date CMS posted a file, in its name

    def release(self, period: str) -> ReleaseSpec:
        for r in self.releases:
            if r.period.upper() == period.upper():
                return r
        known = ", ".join(r.period for r in self.releases)
        raise CatalogError(f"dataset {self.name!r} has no release {period!r} in the catalog; known: {known}")

    def period_end_after(self, d: date) -> date | None:
        """The first day after the period (year or quarter) that contains d; None for "none" (releases of the
        dataset do not replace one another, e.g. two vendor guides)."""
        if self.period_end == "none":
            return None
        if self.period_end == "year":
            return date(d.year + 1, 1, 1)
        if self.period_end == "quarter":
            q_end_month = (d.month - 1) // 3 * 3 + 4
            return date(d.year + (q_end_month > 12), (q_end_month - 1) % 12 + 1, 1)
        raise CatalogError(f"dataset {self.name}: unknown period_end {self.period_end!r}")

    def kind_of(self, member_name: str) -> str | None:
        base = Path(member_name).name
        hits = [k for k, rx in self.members.items() if re.search(rx, base)]
        return hits[0] if len(hits) == 1 else None

    def variant_of(self, member_name: str) -> str:
        base = Path(member_name).stem
        hits = [v for v, rx in self.variants.items() if re.search(rx, base)]
        return hits[0] if hits else "all"


def _date(value, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    raise CatalogError(f"{where}: expected a TOML date (YYYY-MM-DD), got {value!r}")


@cache
def load_dataset(name: str) -> DatasetSpec:
    path = CATALOG_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CATALOG_DIR.glob("*.toml")))
        raise CatalogError(f"unknown dataset {name!r}; the catalog has: {known}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        ds = raw["dataset"]
        releases = []
        for i, r in enumerate(raw.get("release", [])):
            where = f"{path.name} release #{i + 1} ({r.get('period')})"
            releases.append(ReleaseSpec(
                dataset=ds["name"], period=r["period"],
                effective_from=_date(r["effective_from"], where),
                effective_to=_date(r.get("effective_to"), where),
                cms_release_date=_date(r.get("cms_release_date"), where),
                landing_page=r.get("landing_page"),
                files=tuple(FileSpec(f["url"], f["file_name"], f.get("sha256")) for f in r.get("file", [])),
                mirror_dir=r["mirror_dir"], link_pattern=r.get("link_pattern"),
                mirror_lacks=tuple(r.get("mirror_lacks", ())), locality_change=r.get("locality_change"),
            ))
        spec = DatasetSpec(
            name=ds["name"], title=ds["title"], layout=ds["layout"], period_end=ds["period_end"],
            mirror_root=ds["mirror_root"], prefer=tuple(ds["prefer"]), required=tuple(ds["required"]),
            members=dict(ds["members"]), variants=dict(ds.get("variants", {})), releases=tuple(releases),
            effective_date_in_name=ds.get("effective_date_in_name"), reference=dict(ds.get("reference", {})),
            in_default_build=ds.get("in_default_build", True),
            posting_date_in_name=ds.get("posting_date_in_name"),
        )
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"catalog {path} is incomplete: missing {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog {path} is not valid TOML: {exc}") from None
    periods = [r.period for r in spec.releases]
    if len(set(periods)) != len(periods):
        raise CatalogError(f"catalog {path}: a period is listed twice")
    if [r.effective_from for r in spec.releases] != sorted(r.effective_from for r in spec.releases):
        raise CatalogError(f"catalog {path}: releases must be listed in effective_from order")
    return spec


def datasets() -> list[str]:
    return sorted(p.stem for p in CATALOG_DIR.glob("*.toml"))
