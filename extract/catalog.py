"""The source catalog: which releases of which dataset exist, where their files are, when they apply.

The catalog is data (extract/catalog/<dataset>.toml); a new CMS quarter is a new [[release]] block there.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache
from pathlib import Path

from core.errors import CatalogError

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

    def canonical(self) -> dict:
        """The catalog entry as data (JSON types), without the fields left at their defaults: a field added to the
        catalog later does not change the canonical form of entries that do not use it."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == () or (f.name == "files" and not value):
                continue
            if f.name == "files":
                value = [{k: v for k, v in (("url", x.url), ("file_name", x.file_name), ("sha256", x.sha256))
                          if v is not None} for x in value]
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @property
    def catalog_sha256(self) -> str:
        """SHA-256 of the canonical JSON of the entry (sorted keys): a changed window, pin, file choice, release
        date, mirror_lacks ... changes it, so the release is rebuilt as a new revision (warehouse/publish.py)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


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


# The keys each part of a catalog may have (anything else is a misspelling, never silently ignored): key -> type
DATASET_KEYS = {"name": str, "title": str, "layout": str, "period_end": str, "mirror_root": str, "prefer": list,
                "required": list, "members": dict, "variants": dict, "effective_date_in_name": str,
                "reference": dict, "in_default_build": bool, "posting_date_in_name": str}
DATASET_REQUIRED = ("name", "title", "layout", "period_end", "mirror_root", "prefer", "required", "members")
RELEASE_KEYS = {"period": str, "effective_from": date, "effective_to": date, "cms_release_date": date,
                "landing_page": str, "file": list, "mirror_dir": str, "link_pattern": str, "mirror_lacks": list,
                "locality_change": str}
RELEASE_REQUIRED = ("period", "effective_from", "mirror_dir")
FILE_KEYS = {"url": str, "file_name": str, "sha256": str}
FILE_REQUIRED = ("url", "file_name")
PERIOD_ENDS = ("year", "quarter", "none")
TYPE_NAMES = {str: "a string", date: "a TOML date (YYYY-MM-DD, unquoted)", list: "a list", dict: "a table",
              bool: "true or false"}


def release_date_problem(released: date, year: int, today: date | None = None) -> str | None:
    """Why a CMS release date cannot be right for a file of `year`, or None: it is after the build date (today), or
    before the year before the file's year (CMS posts a year's files in the autumn before it at the earliest)."""
    today = today or date.today()
    if released > today:
        return f"{released.isoformat()} is after today ({today.isoformat()})"
    if released.year < year - 1:
        return f"{released.isoformat()} is before {year - 1}, the year before the file's year {year}"
    return None


def _type_problem(value, expected) -> str | None:
    if expected is date:
        ok = isinstance(value, date) and not isinstance(value, datetime)
    elif expected is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, expected) and not isinstance(value, bool)
    if ok:
        return None
    return f"should be {TYPE_NAMES[expected]}, not {value!r}"


def _check_keys(table, known: dict, required: tuple, where: str) -> list[str]:
    """Problems of one catalog table (the [dataset] table, a [[release]] or a [[release.file]]): unknown keys,
    missing keys, values of the wrong type."""
    if not isinstance(table, dict):
        return [f"{where}: should be a table, not {table!r}"]
    problems = []
    for key, value in table.items():
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known keys: {', '.join(known)})"
            problems.append(f"{where}: unknown key {key!r}{hint}")
        elif (why := _type_problem(value, known[key])) is not None:
            problems.append(f"{where}: {key} {why}")
    problems += [f"{where}: missing {key!r}" for key in required if key not in table]
    return problems


def _regex_problem(value, where: str) -> str | None:
    try:
        re.compile(value)
    except (re.error, TypeError) as exc:
        return f"{where}: not a valid regular expression ({exc})"
    return None


def _str_list(value, what: str, where: str) -> list[str]:
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return [f"{where}: {what} should be a list of strings, not {value!r}"]
    return []


def _release_where(i: int, r) -> str:
    period = r.get("period") if isinstance(r, dict) else None
    return f"release #{i + 1}" + (f" ({period})" if isinstance(period, str) else "")


def _dataset_problems(ds) -> list[str]:
    problems = _check_keys(ds, DATASET_KEYS, DATASET_REQUIRED, "[dataset]")
    if not isinstance(ds, dict):
        return problems
    if isinstance(ds.get("period_end"), str) and ds["period_end"] not in PERIOD_ENDS:
        problems.append(f"[dataset]: period_end {ds['period_end']!r} should be one of {', '.join(PERIOD_ENDS)}")
    for key in ("prefer", "required"):
        problems += _str_list(ds.get(key), key, "[dataset]")
    for key in ("members", "variants", "reference"):
        if isinstance(ds.get(key), dict):
            for k, v in ds[key].items():
                if not isinstance(v, str):
                    problems.append(f"[dataset.{key}]: {k} should be a string, not {v!r}")
                elif key != "reference" and (p := _regex_problem(v, f"[dataset.{key}] {k}")):
                    problems.append(p)
                elif key == "reference" and (v.startswith("/") or ".." in Path(v).parts):
                    problems.append(f"[dataset.reference]: {k} should be a path inside the project, not {v!r}")
    for key in ("effective_date_in_name", "posting_date_in_name"):
        if isinstance(ds.get(key), str) and (p := _regex_problem(ds[key], f"[dataset] {key}")):
            problems.append(p)
    return problems


def _release_problems(i: int, r, ds: dict, today: date) -> list[str]:
    where = _release_where(i, r)
    problems = _check_keys(r, RELEASE_KEYS, RELEASE_REQUIRED, where)
    if not isinstance(r, dict):
        return problems
    files = r.get("file")
    if isinstance(files, list):
        for j, f in enumerate(files):
            fwhere = f"{where} file #{j + 1}"
            problems += _check_keys(f, FILE_KEYS, FILE_REQUIRED, fwhere)
            sha = f.get("sha256") if isinstance(f, dict) else None
            if isinstance(sha, str) and not re.fullmatch(r"[0-9a-f]{64}", sha):
                problems.append(f"{fwhere}: sha256 should be 64 lower-case hex digits, not {sha!r}")
    problems += _str_list(r.get("mirror_lacks"), "mirror_lacks", where)
    kinds = ds.get("members") if isinstance(ds.get("members"), dict) else {}
    if isinstance(r.get("mirror_lacks"), list) and kinds:
        unknown = [k for k in r["mirror_lacks"] if isinstance(k, str) and k not in kinds]
        if unknown:
            problems.append(f"{where}: mirror_lacks names {', '.join(map(repr, unknown))}, not a file kind of the "
                            f"dataset ({', '.join(kinds)})")
    if isinstance(r.get("link_pattern"), str) and (p := _regex_problem(r["link_pattern"], f"{where}: link_pattern")):
        problems.append(p)
    start, end = r.get("effective_from"), r.get("effective_to")
    if _type_problem(start, date) is None:
        if end is not None and _type_problem(end, date) is None:
            if end <= start:
                problems.append(f"{where}: effective_to {end} is not after effective_from {start} (effective_to is "
                                f"the first day the release no longer applies; such a window answers no date)")
            else:
                limit = _period_end_after(ds.get("period_end"), start)
                if limit is not None and end > limit:
                    problems.append(f"{where}: effective_to {end} is past the end of its {ds['period_end']} "
                                    f"({limit}, exclusive); a {ds.get('name')} release never applies past it")
        released = r.get("cms_release_date")
        if released is not None and _type_problem(released, date) is None:
            if why := release_date_problem(released, start.year, today):
                problems.append(f"{where}: cms_release_date {why}")
    return problems


def _period_end_after(period_end, d: date) -> date | None:
    if period_end == "year":
        return date(d.year + 1, 1, 1)
    if period_end == "quarter":
        q_end_month = (d.month - 1) // 3 * 3 + 4
        return date(d.year + (q_end_month > 12), (q_end_month - 1) % 12 + 1, 1)
    return None


def _order_problems(releases: list) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for i, r in enumerate(releases):
        period = r.get("period") if isinstance(r, dict) else None
        if not isinstance(period, str):
            continue
        if period.upper() in seen:
            problems.append(f"{_release_where(i, r)}: period {period} is listed twice (release "
                            f"#{seen[period.upper()] + 1} and #{i + 1})")
        else:
            seen[period.upper()] = i
    starts = [(i, r) for i, r in enumerate(releases)
              if isinstance(r, dict) and _type_problem(r.get("effective_from"), date) is None]
    for (i, a), (j, b) in zip(starts, starts[1:]):
        if b["effective_from"] < a["effective_from"]:
            problems.append(f"{_release_where(j, b)}: effective_from {b['effective_from']} is before that of "
                            f"{_release_where(i, a)} ({a['effective_from']}); releases must be listed in "
                            f"effective_from order")
    return problems


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def _decode_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> CatalogError:
    """A TOML syntax error (also an impossible date such as 2025-02-30) names the line and the release it is in."""
    msg = str(exc)
    m = re.search(r"line (\d+)", msg)
    where = ""
    if m:
        lines = text.splitlines()[: int(m.group(1))]
        n = sum(1 for line in lines if re.match(r"\s*\[\[\s*release\s*\]\]", line))
        periods = [p.group(1) for line in lines if (p := re.match(r'\s*period\s*=\s*"([^"]*)"', line))]
        if n:
            where = f" in release #{n}" + (f" ({periods[-1]})" if len(periods) == n else "")
    return CatalogError(f"catalog {_shown(path)} is not valid TOML{where}: {msg} (dates are YYYY-MM-DD and must "
                        f"exist)")


MAX_SHOWN = 8  # problems listed in one error line


@cache
def load_dataset(name: str) -> DatasetSpec:
    path = CATALOG_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CATALOG_DIR.glob("*.toml")))
        raise CatalogError(f"unknown dataset {name!r}; the catalog has: {known}")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _decode_error(path, text, exc) from None
    problems = catalog_problems(raw)
    if problems:
        more = f"; and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise CatalogError(f"catalog {_shown(path)}: {'; '.join(problems[:MAX_SHOWN])}{more}")
    ds = raw["dataset"]
    releases = tuple(ReleaseSpec(
        dataset=ds["name"], period=r["period"], effective_from=r["effective_from"],
        effective_to=r.get("effective_to"), cms_release_date=r.get("cms_release_date"),
        landing_page=r.get("landing_page"),
        files=tuple(FileSpec(f["url"], f["file_name"], f.get("sha256")) for f in r.get("file", [])),
        mirror_dir=r["mirror_dir"], link_pattern=r.get("link_pattern"),
        mirror_lacks=tuple(r.get("mirror_lacks", ())), locality_change=r.get("locality_change"),
    ) for r in raw.get("release", []))
    return DatasetSpec(
        name=ds["name"], title=ds["title"], layout=ds["layout"], period_end=ds["period_end"],
        mirror_root=ds["mirror_root"], prefer=tuple(ds["prefer"]), required=tuple(ds["required"]),
        members=dict(ds["members"]), variants=dict(ds.get("variants", {})), releases=releases,
        effective_date_in_name=ds.get("effective_date_in_name"), reference=dict(ds.get("reference", {})),
        in_default_build=ds.get("in_default_build", True), posting_date_in_name=ds.get("posting_date_in_name"),
    )


def catalog_problems(raw: dict, today: date | None = None) -> list[str]:
    """Every problem of a parsed catalog file, each naming its entry ([dataset], release #n (period), file #m)."""
    today = today or date.today()
    problems = [f"unknown top-level key {k!r} (a catalog has [dataset] and [[release]] entries)"
                for k in raw if k not in ("dataset", "release")]
    if "dataset" not in raw:
        return problems + ["no [dataset] table"]
    ds = raw["dataset"]
    problems += _dataset_problems(ds)
    releases = raw.get("release", [])
    if not isinstance(releases, list):
        return problems + [f"release should be a list of [[release]] entries, not {releases!r}"]
    ds = ds if isinstance(ds, dict) else {}
    for i, r in enumerate(releases):
        problems += _release_problems(i, r, ds, today)
    return problems + _order_problems(releases)


def datasets() -> list[str]:
    return sorted(p.stem for p in CATALOG_DIR.glob("*.toml"))
