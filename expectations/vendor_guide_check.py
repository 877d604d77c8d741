"""Expectation suite for vendor_guide_check."""

from expectations.common import SuiteContext, field_checks, key_checks


def suite(frame, ctx: SuiteContext):
    checks = key_checks("vendor_guide_check")
    checks += field_checks("vendor_guide_check", "status")
    return checks, []
