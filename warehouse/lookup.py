"""Lookups both faces of cmsref answer the same way (the CLI's `payment` and the HTTP API): a code's PFS payment on
a date of service, and why there is none. Values reach SQL as parameters only."""

from __future__ import annotations


def payment_rows(con, hcpcs: str, day: str, modifier: str = "", locality: tuple[str, str] | None = None
                 ) -> tuple[list[str], list[tuple]]:
    """(columns, rows) of the PFS payment of a code on a date: national (all GPCIs 1) or in one MAC:locality."""
    where = ["hcpcs = ?", "modifier = ?"]
    params = [day, hcpcs, modifier]
    if locality:
        where += ["mac = ?", "locality = ?"]
        params += list(locality)
    else:
        where.append("is_national")
    rel = con.execute(
        f"SELECT period, hcpcs, modifier, status_code, coalesce(mac || ':' || locality, 'national') AS locality, "
        f"locality_name, setting, cf_variant, conversion_factor, amount, effective_from, effective_to "
        f"FROM pfs_payment_on(CAST(? AS DATE)) WHERE {' AND '.join(where)} ORDER BY setting, cf_variant", params)
    return [d[0] for d in rel.description], rel.fetchall()


def explain_no_payment(con, hcpcs: str, day: str, modifier: str = "", locality: tuple[str, str] | None = None
                       ) -> str:
    """Why there is no amount: which of date window, code, modifier, locality or GPCI is missing, and what exists."""
    what = f"{hcpcs}{' ' + modifier if modifier else ''} on {day}"
    release = con.execute("SELECT DISTINCT period, release_id FROM pfs_rvu_on(CAST(? AS DATE))", [day]).fetchall()
    if not release:
        year = day[:4]
        loaded = con.execute("SELECT period, min(effective_from), max(effective_to) FROM pfs_rvu GROUP BY period "
                             "ORDER BY 2").fetchall()
        same_year = [f"{p} {f}..{t}" for p, f, t in loaded if str(f).startswith(year)]
        return (f"no PFS payment for {what}: no loaded PFS release covers that date of service. Loaded windows "
                f"of {year} (end exclusive): {'; '.join(same_year) or 'none'}; all loaded: "
                f"{'; '.join(f'{p} {f}..{t}' for p, f, t in loaded) or 'none'}")
    period = release[0][0]
    mods = [m for (m,) in con.execute("SELECT DISTINCT modifier FROM pfs_rvu_on(CAST(? AS DATE)) WHERE hcpcs = ? "
                                      "ORDER BY 1", [day, hcpcs]).fetchall()]
    if not mods:
        return f"no PFS payment for {what}: {hcpcs} is not in the PFS release in effect ({period})"
    if modifier not in mods:
        shown = ", ".join(repr(m) if m else "none" for m in mods)
        return f"no PFS payment for {what}: {hcpcs} has no modifier {modifier or 'none'!r} in {period} " \
               f"(it has: {shown})"
    if locality:
        mac, loc = locality
        gpci = con.execute("SELECT DISTINCT period FROM pfs_gpci_on(CAST(? AS DATE))", [day]).fetchall()
        if not gpci:
            return (f"no PFS payment for {what} in {mac}:{loc}: no GPCI file covers that date (the {period} release "
                    f"has none loaded); national amounts exist without --locality")
        locs = [r[0] for r in con.execute("SELECT locality || ' ' || locality_name FROM pfs_gpci_on(CAST(? AS DATE)) "
                                          "WHERE mac = ? ORDER BY 1", [day, mac]).fetchall()]
        if not locs:
            macs = [m for (m,) in con.execute("SELECT DISTINCT mac FROM pfs_gpci_on(CAST(? AS DATE)) ORDER BY 1",
                                              [day]).fetchall()]
            return f"no PFS payment for {what}: no MAC {mac} in the GPCI file of {gpci[0][0]} (MACs: {', '.join(macs)})"
        return (f"no PFS payment for {what}: MAC {mac} has no locality {loc} in {gpci[0][0]} (its localities: "
                f"{'; '.join(locs)})")
    return f"no PFS payment for {what}: no national amount in {period}"
