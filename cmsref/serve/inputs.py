"""What `cmsref serve` accepts: query parameters, path segments and the /lines body, parsed and checked. Anything
else is a BadInput, answered 400 naming the parameter (`lines[2].units`, `body`) and what is expected. The value
checks (HCPCS, modifier, MAC:locality, date, ZIP code) are those of core/fields.py, the same the CLI's arguments
use, so that both accept and refuse the same input."""

from __future__ import annotations

import json
import re

from fastapi import Request

from core.fields import FIELDS
from warehouse.claim_rules import LINE_FIELDS, MAX_UNITS, SETTINGS, one_of

SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_LINES = 20_000
LINES_BODY = "a JSON object with a non-empty list `lines` is expected"
BODY_KEYS = {"lines"}


class BadInput(Exception):
    def __init__(self, parameter: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.parameter, self.message, self.headers = parameter, message, headers


def _shown(value) -> str:
    """A value as a message quotes it: its repr, cut short (a 50 MB value is not sent back)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value, parameter: str, pattern: re.Pattern, expected: str) -> re.Match:
    """The whole value must match (a trailing newline does not); anything but a string is refused."""
    if value is None:
        raise BadInput(parameter, f"missing: {expected} is expected")
    m = pattern.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise BadInput(parameter, f"{_shown(value)} is not {expected}")
    return m


def _field(name: str, value, parameter: str) -> str:
    """`value` read as core/fields.py's field `name` reads it (the CLI reads its arguments the same way); None is a
    missing parameter."""
    from core.fields import FIELDS, FieldValueError

    if value is None:
        raise BadInput(parameter, f"missing: {FIELDS[name].describe()} is expected")
    try:
        return FIELDS[name].parse(value)
    except FieldValueError as exc:
        raise BadInput(parameter, str(exc)) from None


def _hcpcs(value, parameter: str = "hcpcs") -> str:
    return _field("hcpcs", value, parameter)


def _date(value, parameter: str = "date") -> str:
    return _field("date_of_service", value, parameter)


def _modifier(value, parameter: str = "modifier") -> str:
    """None (absent) is no modifier."""
    return "" if value is None else _field("modifier", value, parameter)


def _locality(value, parameter: str = "locality") -> tuple[str, str] | None:
    """None (absent) or an empty query parameter is national."""
    from core.fields import FieldValueError, parse_locality

    try:
        return None if value is None else parse_locality(value)
    except FieldValueError as exc:
        raise BadInput(parameter, str(exc)) from None


def _zip(value, parameter: str = "zip") -> str | None:
    """None (absent) or an empty query parameter is no ZIP code; else 5 digits or ZIP+4, as core/fields.py's `zip`
    reads it."""
    from core.fields import FIELDS, FieldValueError

    if value is None or value == "":
        return None
    try:
        return FIELDS["zip"].parse(value)
    except FieldValueError as exc:
        raise BadInput(parameter, str(exc)) from None


def placed(con, zip_code: str, day: str, parameter: str, locality, headers: dict | None = None):
    """The MAC and locality of a ZIP code of service on a date (warehouse.lookup.place_zip): a ZIP code given with a
    locality, or not in the ZIP code file in effect, is bad input (a 400 naming `parameter`). A ZIP code the file
    cannot place (it spans localities, or no file covers the date) comes back with locality None and its message."""
    from warehouse.lookup import place_zip

    if locality is not None:
        raise BadInput(parameter, "give a zip or a locality, not both", headers)
    place = place_zip(con, zip_code, day)
    if place.fault:
        raise BadInput(parameter, place.message, headers)
    return place


def zip_answer(place) -> dict:
    """What an answer says about a ZIP code: the locality it was priced in (None: none, and why), from which row."""
    row = place.row or {}
    return {"zip": place.zip, "locality": f"{place.locality[0]}:{place.locality[1]}" if place.locality else None,
            "message": place.message, "period": row.get("period"), "release_id": row.get("release_id"),
            "source_sha256": row.get("source_sha256"), "source_row": row.get("source_row")}


def _sha256(value, parameter: str = "sha256") -> str:
    return _text(value, parameter, SHA256, "a SHA-256 (64 hexadecimal digits)").group(0)


def _units(value, parameter: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_UNITS:
        raise BadInput(parameter, f"{_shown(value)} is not a whole number of units from 1 to {MAX_UNITS:,}")
    return value


def check_locality(versions, served: tuple, loc: tuple[str, str] | None, parameter: str,
                   headers: dict | None = None) -> None:
    """A MAC:locality must be in a GPCI file of the served version (`versions`: the server's Versions, whose payment
    cache knows them): anything else is bad input (a 400)."""
    con, name, sha = served
    known = versions.payments(name, sha).localities(con)
    if loc is not None and loc not in known:
        same_mac = sorted(lo for mac, lo in known if mac == loc[0])
        hint = (f"MAC {loc[0]} has localities {', '.join(same_mac)}" if same_mac else
                f"no GPCI file has MAC {loc[0]} (MACs: {', '.join(sorted({mac for mac, _ in known}))})")
        raise BadInput(parameter, f"'{loc[0]}:{loc[1]}' is not a MAC:locality of any GPCI file in data version "
                                  f"{name}: {hint}", headers)


async def lines_body(request: Request) -> dict:
    """The /lines body parsed here rather than by FastAPI, which keeps the last of two equal keys without a word
    (`{"units": 1, "units": 9}` would be priced as 9 units): a duplicate key anywhere and a top-level key other
    than `lines` are bad input."""
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise BadInput("body", LINES_BODY)
    unknown = sorted(set(body) - BODY_KEYS)
    if unknown:  # a misspelt `lines` or an option this server does not have would otherwise pass unnoticed
        named = ", ".join(_shown(k) for k in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise BadInput(unknown[0][:40], f"unknown key{'s' if len(unknown) > 1 else ''} {named}: the body has "
                                        f"only `lines`, a list of line objects")
    return body


def line_rows(items) -> list[tuple]:
    """The `lines` of a /lines body, each checked, as rows (line_no, claim, hcpcs, modifier, units,
    date_of_service, mac, locality, setting, service_type, qp, zip); the first bad line and field is the BadInput."""
    if not isinstance(items, list) or not items:
        raise BadInput("lines", LINES_BODY)
    if len(items) > MAX_LINES:
        raise BadInput("lines", f"at most {MAX_LINES} lines per request")
    rows = []
    for i, line in enumerate(items):
        where = f"lines[{i}]"
        if not isinstance(line, dict):
            raise BadInput(where, "each line is an object")
        unknown = sorted(set(line) - set(LINE_FIELDS))
        if unknown:  # a misspelt field would otherwise be a default taken silently (e.g. 1 unit)
            raise BadInput(f"{where}.{unknown[0][:40]}",
                           f"unknown field; a line has {', '.join(sorted(LINE_FIELDS))}")
        units = _units(line.get("units", 1), f"{where}.units")
        setting = line.get("setting", "non_facility")
        if setting not in SETTINGS:
            raise BadInput(f"{where}.setting", f"{_shown(setting)} is not {one_of(SETTINGS)}")
        service = line.get("service_type", "practitioner")
        if service not in FIELDS["service_type"].values:
            raise BadInput(f"{where}.service_type", f"{_shown(service)} is not {one_of(FIELDS['service_type'].values)}")
        loc = _locality(line.get("locality"), f"{where}.locality")
        zip_code = _zip(line.get("zip"), f"{where}.zip")
        if zip_code and loc:
            raise BadInput(f"{where}.zip", "give a zip or a locality, not both")
        claim, qp = line.get("claim"), line.get("qp", False)
        if claim is not None and not (isinstance(claim, str) and 0 < len(claim) <= 64):
            raise BadInput(f"{where}.claim", f"{_shown(claim)} is not a claim identifier: text of 1 to 64 "
                                             f"characters (lines with the same claim are judged together)")
        if not isinstance(qp, bool):
            raise BadInput(f"{where}.qp", f"{_shown(qp)} is not true or false (true: the qualifying APM "
                                          f"participant conversion factor where a year has two)")
        rows.append((i + 1, claim, _hcpcs(line.get("hcpcs"), f"{where}.hcpcs"),
                     _modifier(line.get("modifier"), f"{where}.modifier"), units,
                     _date(line.get("date_of_service"), f"{where}.date_of_service"),
                     loc[0] if loc else None, loc[1] if loc else None, setting, service, qp, zip_code))
    return rows


def parse_json(raw: bytes):
    """A JSON body, refusing what json.loads lets through silently: a key given twice in one object (the first is
    dropped) is a 400 naming the key and where it is (`lines[2].units`; `body` at the top)."""
    doubled: dict[int, tuple[dict, str]] = {}  # id -> (the object, kept alive so that its id is not reused; key)

    def pairs(items: list) -> dict:
        obj = dict(items)
        if len(obj) < len(items):
            seen: set = set()
            doubled[id(obj)] = (obj, next(k for k, _ in items if k in seen or seen.add(k)))
        return obj

    try:
        value = json.loads(raw, object_pairs_hook=pairs)
    except RecursionError:
        raise BadInput("body", f"the body is nested too deeply: {LINES_BODY}") from None
    except json.JSONDecodeError as exc:
        raise BadInput("body", f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                               f"{LINES_BODY}") from None
    except ValueError:  # not UTF-8 / 16 / 32 text
        raise BadInput("body", f"the body is not JSON text: {LINES_BODY}") from None
    if doubled:
        where, key = _first_doubled(value, doubled)
        raise BadInput(f"{where}.{key[:40]}" if where else "body",
                       f"key {_shown(key)} appears more than once in {where or 'the body'}: a JSON object names each "
                       f"key once (which one was meant?)")
    return value


def _first_doubled(value, doubled: dict) -> tuple[str, str]:
    """The place ('' for the top, 'lines[2]') and key of the first object, in the body's order, that names a key
    twice. An object dropped as a doubled key's earlier value is not reachable, but its parent is then doubled too."""
    stack = [("", value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            if id(node) in doubled:
                return where, doubled[id(node)][1]
            stack.extend(reversed([(f"{where}.{k[:40]}" if where else k[:40], v) for k, v in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{where or 'body'}[{i}]", v) for i, v in enumerate(node)]))
    raise AssertionError("a doubled key was recorded but not found")  # the root is always reachable
