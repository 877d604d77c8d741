"""Expectation suite for asc_addendum_bb (covered ancillary services): the same checks as Addendum AA."""

from expectations import asc_addendum_aa
from expectations.common import SuiteContext


def suite(frame, ctx: SuiteContext):
    return asc_addendum_aa.suite(frame, ctx, table="asc_addendum_bb")
