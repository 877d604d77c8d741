"""Lookups every face of cmsref answers the same way (the CLI's `payment`, the HTTP API, the code page): a code's PFS
payment on a date of service and why there is none, where a ZIP code of service is priced (`place_zip`), everything
the tables say about a code on a date, and the per-version cache the server keeps of them. Values reach SQL as
parameters only."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from core.effective import in_effect, latest_end_sql

# The columns of a payment answer: what is shown, then what traces it (release, RVUs, GPCIs, source rows).
SHOWN = ("period", "hcpcs", "modifier", "status_code", "locality", "locality_name", "setting", "cf_variant",
         "conversion_factor", "amount", "effective_from", "effective_to")
TRACED = ("release_id", "work_rvu", "pe_rvu", "mp_rvu", "work_gpci", "pe_gpci", "mp_gpci", "rvu_source_sha256",
          "rvu_source_row", "gpci_release_id", "gpci_source_sha256", "gpci_source_row")


COLUMNS = (*SHOWN, *TRACED)


def _window_rows(con, hcpcs: str, modifier: str, locality: tuple[str, str] | None) -> list[tuple]:
    where = ["hcpcs = ?", "modifier = ?"]
    params = [hcpcs, modifier]
    if locality:
        where += ["mac = ?", "locality = ?"]
        params += list(locality)
    else:
        where.append("is_national")
    columns = [c if c != "locality" else "coalesce(mac || ':' || locality, 'national') AS locality" for c in COLUMNS]
    rows = con.execute(f"SELECT {', '.join(columns)} FROM pfs_payment WHERE {' AND '.join(where)} "
                       f"ORDER BY effective_from, setting, cf_variant", params).fetchall()
    # the same release ids and SHA-256s recur in every row: kept once (a cache holds thousands of these rows)
    return [tuple(sys.intern(v) if isinstance(v, str) else v for v in r) for r in rows]


def payment_windows(con, hcpcs: str, modifier: str = "", locality: tuple[str, str] | None = None) -> list[dict]:
    """Every effective window's PFS payment rows of a code, national (all GPCIs 1) or in one MAC:locality, read from
    the pfs_payment view in one query (the amounts are the view's: never computed here)."""
    return [dict(zip(COLUMNS, r)) for r in _window_rows(con, hcpcs, modifier, locality)]


def on(rows: list[dict], day: date | str) -> list[dict]:
    """The rows in effect on a date of service (the one rule, core/effective.py)."""
    day = day if isinstance(day, date) else date.fromisoformat(day)
    return [r for r in rows if in_effect(day, r["effective_from"], r["effective_to"])]


def payment_rows(con, hcpcs: str, day: date | str, modifier: str = "", locality: tuple[str, str] | None = None
                 ) -> tuple[list[str], list[tuple]]:
    """(columns, rows) of the PFS payment of a code on a date: national or in one MAC:locality (the CLI's table)."""
    found = on(payment_windows(con, hcpcs, modifier, locality), day)
    return list(SHOWN), [tuple(r[c] for c in SHOWN) for r in found]


class PaymentCache:
    """payment_windows of one published data version, kept per code x modifier x locality (the least recently used
    dropped beyond `size` entries, about 10 KB each: ~100 MB when full), with the version's localities and source
    files. A published version never changes, so an entry never goes stale; a lookup that is kept is a dictionary
    read. Safe to share between threads."""

    def __init__(self, size: int = 10_000):
        self.size, self.entries, self.lock = size, OrderedDict(), threading.Lock()
        self.known: frozenset | None = None
        self.files: dict | None = None

    def source_files(self, con) -> dict[str, dict]:
        """Every source file of the warehouse by SHA-256: its file name, archive, URL and release, read once."""
        if self.files is None:
            self.files = {r.pop("sha256"): r for r in dict_rows(
                con, "SELECT sha256, member_name AS file, archive_name AS archive, url, release_id "
                     "FROM meta.source_files", [])}
        return self.files

    def localities(self, con) -> frozenset[tuple[str, str]]:
        """Every (MAC, locality) of the version's GPCI files, read once."""
        known = self.known
        if known is None:
            known = self.known = frozenset(
                tuple(r) for r in con.execute("SELECT DISTINCT mac, locality FROM pfs_gpci").fetchall())
        return known

    def windows(self, con, hcpcs: str, modifier: str = "", locality: tuple[str, str] | None = None) -> list[dict]:
        key = (hcpcs, modifier, locality)
        with self.lock:
            rows = self.entries.get(key)
            if rows is not None:
                self.entries.move_to_end(key)
        if rows is None:
            rows = _window_rows(con, hcpcs, modifier, locality)
            with self.lock:
                self.entries[key] = rows
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return [dict(zip(COLUMNS, r)) for r in rows]


@dataclass(frozen=True)
class ZipPlace:
    """Where a ZIP code of service is priced on a date: its (MAC, locality) from the ZIP code file in effect, or none
    and why. `fault` is 'zip' when the ZIP code is not in that file (bad input); None otherwise (placed, or the data
    cannot place it: no file covers the date, or the ZIP code spans localities)."""

    zip: str
    locality: tuple[str, str] | None
    fault: str | None
    message: str
    row: dict | None = None  # its zip_locality row (period, release_id, source_sha256, source_row, locality_name)


ZIP_FILE = "the ZIP code to carrier locality file"


def place_zip(con, zip_code: str, day: date | str) -> ZipPlace:
    """A ZIP code (5 digits or ZIP+4, as core/fields.py's `zip` reads it) on a date of service -> its MAC and
    locality, or none and why. The decision is pfs_check's own (claim_rules.PLACED_LINES, run on one line of this ZIP
    code and day: the ZIP code file in effect, never a guess; a ZIP code CMS flags as needing its +4 spans localities
    and is not placed, since the ZIP+4 file is not loaded); this says it with the rows it comes from."""
    from warehouse.claim_rules import PLACED_LINES

    day = str(day)
    zip5 = zip_code[:5]
    (mac, locality, problem), = con.execute(
        f"WITH priced_lines AS (SELECT CAST(? AS VARCHAR) AS zip, CAST(? AS DATE) AS date_of_service, "
        f"NULL::VARCHAR AS mac, NULL::VARCHAR AS locality), "
        f"zip_windows AS (SELECT DISTINCT effective_from, effective_to FROM zip_locality), "
        f"l AS ({PLACED_LINES}) SELECT mac, locality, zip_problem FROM l", [zip_code, day]).fetchall()
    if problem is None or problem.startswith("ZIP code spans"):  # its row in the file in effect, to cite
        row = dict_rows(con, "SELECT z.zip5, z.mac, z.locality, g.locality_name, z.needs_plus_four, z.period, "
                             "z.release_id, z.source_sha256, z.source_row "
                             "FROM zip_locality_on(CAST(? AS DATE)) z LEFT JOIN pfs_gpci_on(CAST(? AS DATE)) g "
                             "USING (mac, locality) WHERE z.zip5 = ?", [day, day, zip5])[0]
    if problem is None:
        name = f" {row['locality_name']}" if row["locality_name"] else ""
        return ZipPlace(zip_code, (mac, locality), None,
                        f"ZIP code {zip5} is in locality {mac}:{locality}{name} ({ZIP_FILE} of {row['period']}, row "
                        f"{row['source_row']})", row)
    if problem.startswith("ZIP code spans"):
        return ZipPlace(zip_code, None, None, (
            f"ZIP code {zip5} spans localities ({ZIP_FILE} of {row['period']} flags it as needing its +4): its "
            f"locality depends on the ZIP+4, and the ZIP+4 file (CMS's ZIP9) is needed to place it; it is not "
            f"loaded, so no amount is given"), row)
    if problem.startswith("ZIP code not in"):
        covering = con.execute("SELECT DISTINCT period FROM zip_locality_on(CAST(? AS DATE))", [day]).fetchall()
        return ZipPlace(zip_code, None, "zip", f"ZIP code {zip5} is not in {ZIP_FILE} of {covering[0][0]} (in "
                                               f"effect on {day})")
    if problem.startswith("no data"):
        loaded = con.execute(f"SELECT period, min(effective_from), {latest_end_sql('effective_to')} FROM zip_locality "
                             "GROUP BY period "
                             "ORDER BY 2").fetchall()
        windows = "; ".join(f"{p} {f}..{t or 'open'}" for p, f, t in loaded) or "none"
        return ZipPlace(zip_code, None, None, f"ZIP code {zip5} cannot be placed on {day}: no loaded release of "
                                              f"{ZIP_FILE} covers that date of service. Loaded windows (end "
                                              f"exclusive): {windows}")
    return ZipPlace(zip_code, None, "zip", problem)  # not a ZIP code at all (the inputs check it before)


def dict_rows(con, sql: str, params: list) -> list[dict]:
    """A query's rows as dicts of column name to value (values bound as parameters)."""
    rel = con.execute(sql, params)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r)) for r in rel.fetchall()]


# the lists of a code record that say the code is in a table on the date (`settings` always has one row a setting)
FOUND_IN = ("pfs", "opps", "asc", "mue", "addon_primaries", "primary_of_addon_codes")


def code_record(con, hcpcs: str, day: str) -> dict[str, list]:
    """Everything the tables say about a code on a date of service, each row with its release and source (the API's
    /codes and the code page): PFS status per setting, RVUs, OPPS, ASC (AA and BB), MUEs, the add-on edits that apply
    (addon_edits_on) with the code as add-on and the add-on codes it is a primary of. `found(record)`: in any table."""
    p = [day, hcpcs]
    return {
        "settings": dict_rows(con, "SELECT * FROM code_status(?, CAST(? AS DATE))", [hcpcs, day]),
        "pfs": dict_rows(con, "SELECT * FROM pfs_rvu_on(CAST(? AS DATE)) WHERE hcpcs = ? ORDER BY modifier", p),
        "opps": dict_rows(con, "SELECT * FROM opps_addendum_b_on(CAST(? AS DATE)) WHERE hcpcs = ?", p),
        "asc": dict_rows(con, "SELECT 'AA' AS addendum, * FROM asc_addendum_aa_on(CAST(? AS DATE)) WHERE hcpcs = ? "
                              "UNION ALL BY NAME SELECT 'BB' AS addendum, * FROM asc_addendum_bb_on(CAST(? AS DATE)) "
                              "WHERE hcpcs = ?", p + p),
        "mue": dict_rows(con, "SELECT * FROM mue_on(CAST(? AS DATE)) WHERE hcpcs = ? ORDER BY service_type", p),
        "addon_primaries": dict_rows(con, "SELECT * FROM addon_edits_on(CAST(? AS DATE)) WHERE addon_code = ? "
                                          "ORDER BY primary_code", p),
        "primary_of_addon_codes": [r["addon_code"] for r in dict_rows(
            con, "SELECT DISTINCT addon_code FROM addon_edits_on(CAST(? AS DATE)) WHERE primary_code = ? ORDER BY 1",
            p)],
    }


def found(record: dict[str, list]) -> bool:
    return any(record[k] for k in FOUND_IN)


def explain_no_payment(con, hcpcs: str, day: str, modifier: str = "", locality: tuple[str, str] | None = None
                       ) -> tuple[str | None, str]:
    """Why there is no amount: which of date window, code, modifier, locality or GPCI is missing, and what exists.
    Returns (the parameter at fault, the reason): 'locality' when the asked MAC or locality does not exist in the GPCI
    file in effect (bad input), else None (the data has no such amount)."""
    what = f"{hcpcs}{' ' + modifier if modifier else ''} on {day}"
    release = con.execute("SELECT DISTINCT period, release_id FROM pfs_rvu_on(CAST(? AS DATE))", [day]).fetchall()
    if not release:
        year = day[:4]
        loaded = con.execute(f"SELECT period, min(effective_from), {latest_end_sql('effective_to')} FROM pfs_rvu "
                             f"GROUP BY period ORDER BY 2").fetchall()
        loaded = [(p, f, t or "open") for p, f, t in loaded]
        same_year = [f"{p} {f}..{t}" for p, f, t in loaded if str(f).startswith(year)]
        return None, (f"no PFS payment for {what}: no loaded PFS release covers that date of service. Loaded "
                      f"windows of {year} (end exclusive): {'; '.join(same_year) or 'none'}; all loaded: "
                      f"{'; '.join(f'{p} {f}..{t}' for p, f, t in loaded) or 'none'}")
    period = release[0][0]
    mods = [m for (m,) in con.execute("SELECT DISTINCT modifier FROM pfs_rvu_on(CAST(? AS DATE)) WHERE hcpcs = ? "
                                      "ORDER BY 1", [day, hcpcs]).fetchall()]
    if not mods:
        return None, f"no PFS payment for {what}: {hcpcs} is not in the PFS release in effect ({period})"
    if modifier not in mods:
        shown = ", ".join(repr(m) if m else "none" for m in mods)
        return None, (f"no PFS payment for {what}: {hcpcs} has no modifier {modifier or 'none'!r} in {period} "
                      f"(it has: {shown})")
    if locality:
        mac, loc = locality
        gpci = con.execute("SELECT DISTINCT period FROM pfs_gpci_on(CAST(? AS DATE))", [day]).fetchall()
        if not gpci:
            return None, (f"no PFS payment for {what} in {mac}:{loc}: no GPCI file covers that date (the {period} "
                          f"release has none loaded); national amounts exist without a locality")
        locs = [r[0] for r in con.execute("SELECT locality || ' ' || locality_name FROM pfs_gpci_on(CAST(? AS DATE)) "
                                          "WHERE mac = ? ORDER BY 1", [day, mac]).fetchall()]
        if not locs:
            macs = [m for (m,) in con.execute("SELECT DISTINCT mac FROM pfs_gpci_on(CAST(? AS DATE)) ORDER BY 1",
                                              [day]).fetchall()]
            return "locality", (f"no PFS payment for {what}: no MAC {mac} in the GPCI file of {gpci[0][0]} "
                                f"(MACs: {', '.join(macs)})")
        return "locality", (f"no PFS payment for {what}: MAC {mac} has no locality {loc} in {gpci[0][0]} "
                            f"(its localities: {'; '.join(locs)})")
    return None, f"no PFS payment for {what}: no national amount in {period}"
