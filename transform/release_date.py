"""The release date a CMS file states (the PPRRVU preamble's "RELEASED mm/dd/yyyy"), checked before it is published."""

from __future__ import annotations

from datetime import date, datetime

from core.errors import ParseError
from extract.catalog import release_date_problem


def stated_release_date(text: str, year: int, file_name: str, today: date | None = None) -> date:
    """`text` (mm/dd/yyyy, as the preamble states it) as a date: it must exist, not be after today (the build date)
    and not be before the year before the file's `year`. Anything else is a ParseError naming the file and text."""
    try:
        released = datetime.strptime(text.strip(), "%m/%d/%Y").date()
    except ValueError:
        raise ParseError(f"{file_name}: the release date 'RELEASED {text}' is not a date (mm/dd/yyyy)") from None
    if why := release_date_problem(released, year, today):
        raise ParseError(f"{file_name}: the release date 'RELEASED {text}' cannot be right: {why}")
    return released
