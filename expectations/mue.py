"""Expectation suite for mue (run once per service type: row counts compare with the same service type)."""

from expectations.common import E, SuiteContext, key_checks, row_count

# Rationales seen in the 2026 Q2 practitioner table; a new one is reported as a warning, not a failure
KNOWN_RATIONALES = [
    "Anatomic Consideration", "Clinical: CMS Workgroup", "Clinical: Data", "Clinical: Society Comment",
    "CMS Policy", "Code Descriptor / CPT Instruction", "Compounded Drug Policy", "Drug discontinued",
    "Nature of Analyte", "Nature of Equipment", "Nature of Service/Procedure", "Oral Medication; Not Payable",
    "Prescribing Information", "Published Contractor Policy",
]
MAI_PAIRS = [(1, "Line Edit"), (2, "Date of Service Edit: Policy"), (3, "Date of Service Edit: Clinical")]


def suite(frame, ctx: SuiteContext):
    checks = key_checks("mue")
    checks += row_count(ctx, 1_000, 40_000)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="mue_value"),
        E.ExpectColumnValuesToBeBetween(column="mue_value", min_value=0, max_value=1_000_000),
        E.ExpectColumnPairValuesToBeInSet(column_A="mai", column_B="mai_label", value_pairs_set=MAI_PAIRS),
    ]
    warnings = [E.ExpectColumnValuesToBeInSet(column="rationale", value_set=KNOWN_RATIONALES)]
    return checks, warnings
