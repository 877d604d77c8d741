"""The field registry (core/fields.py) is the one source of a value's type and shape, the table registry
(core/tables.py) of a table's fields and key: the parse, the suites, the CLI and the server's checks and the docs
follow a change made there, and a layout cannot state its own decimals or key pattern."""

import dataclasses
import re
from decimal import Decimal

import pytest

from core.errors import CatalogError, ParseError
from core.fields import FIELDS
from expectations.common import field_checks, key_checks
from tests.builders import write_csv
from transform import layout as layout_engine
from transform.layout import load_layouts, parse_file
from transform.tables import conform
from core import tables as schema
from warehouse.docs import schema_markdown

HEADER = ["HCPCS Code", "Short Descriptor", "SI", "APC", "Relative Weight", "Payment Rate",
          "National Unadjusted Copayment", "Minimum Unadjusted Copayment"]
ROWS = [["90371", "Hep b ig im", "K", "1630", "", "$115.936", ".", "$23.1872"],
        ["J0179", "Inj, brolucizumab-dbll, 1 mg", "K", "9340", "", "$317.583333333", ".", "$63.516666667"]]


class Registry:
    """Changes to the field and table registries for one test (monkeypatched: undone after it)."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def field(self, name: str, **changes):
        self.monkeypatch.setitem(FIELDS, name, dataclasses.replace(FIELDS[name], **changes))
        layout_engine.load_layouts.cache_clear()

    def key(self, table: str, key: tuple[str, ...]):
        self.monkeypatch.setitem(schema.TABLES, table, dataclasses.replace(schema.TABLES[table], key=key))


@pytest.fixture
def registry(monkeypatch):
    """Change the registries for one test; the layout cache is cleared before and after."""
    layout_engine.load_layouts.cache_clear()
    yield Registry(monkeypatch)
    layout_engine.load_layouts.cache_clear()


def addendum_b(tmp_path):
    path = write_csv(tmp_path / "addendum_b.csv", [["Addendum B (test)"], HEADER, *ROWS])
    return parse_file(path, load_layouts("opps")["addendum_b"], 2025)


def test_published_decimals_come_from_the_registry(tmp_path):
    frame = addendum_b(tmp_path).frame
    assert frame["payment_rate"].to_list() == [Decimal("115.936"), Decimal("317.583333333")]
    assert load_layouts("opps")["addendum_b"].key == ("hcpcs",)


def test_a_change_in_the_registry_changes_the_parse_the_suite_and_the_docs(tmp_path, registry):
    registry.field("stated_payment_rate", type="DECIMAL(12,2)")  # the field of opps_addendum_b.payment_rate
    registry.key("opps_addendum_b", ("hcpcs", "apc"))
    # the parse: a rate with 3 decimals no longer fits and is refused with its row
    with pytest.raises(ParseError, match=r"row 3, column payment_rate: '115.936' has more than 2 decimals"):
        addendum_b(tmp_path)
    # the suite: the key checks follow the registry's key
    checks = key_checks("opps_addendum_b")
    unique = [c for c in checks if type(c).__name__ == "ExpectCompoundColumnsToBeUnique"]
    assert [c.column_list for c in unique] == [["hcpcs", "apc"]]
    # the docs
    page = schema_markdown()
    assert "| `payment_rate` | DECIMAL(12,2) |" in page and "Natural key within a release: hcpcs, apc." in page


def test_conform_casts_to_the_registry_types_and_refuses_what_does_not_fit(registry):
    import polars as pl

    frame = pl.DataFrame({"kind": ["physician"], "variant": ["all"], "conversion_factor": ["33.2875"],
                          "source_field": ["x"], "source_row": [11], "source_sha256": ["a" * 64]})
    out = conform(frame, "conversion_factor", None)
    assert out.schema["conversion_factor"] == pl.Decimal(9, 4)
    too_big = frame.with_columns(pl.lit("123456.7891").alias("conversion_factor"))
    with pytest.raises(ParseError, match=r"conversion_factor: row 11, column conversion_factor: '123456.7891' does "
                                         r"not fit DECIMAL\(9,4\)"):
        conform(too_big, "conversion_factor", None)


def test_a_layout_cannot_restate_the_decimals_of_a_published_column(tmp_path, monkeypatch):
    (tmp_path / "opps.toml").write_text(
        (layout_engine.LAYOUT_DIR / "opps.toml").read_text().replace(
            'name = "payment_rate"\nheader = \'PAYMENT RATE\'\ntype = "decimal"\n',
            'name = "payment_rate"\nheader = \'PAYMENT RATE\'\ntype = "decimal"\nscale = 2\n', 1))
    monkeypatch.setattr(layout_engine, "LAYOUT_DIR", tmp_path)
    layout_engine.load_layouts.cache_clear()
    try:
        with pytest.raises(CatalogError, match=r"column 'payment_rate' takes its decimals from core/tables.py "
                                               r"\(DECIMAL\(18,9\)\); remove its `scale`"):
            load_layouts("opps")
    finally:
        layout_engine.load_layouts.cache_clear()


def test_a_table_naming_an_unknown_field_is_refused_with_the_table_and_the_field():
    with pytest.raises(CatalogError, match=r"^table 'demo' names field 'hcpc', which core/fields.py does not define"):
        schema.Table("demo", "pfs", "code", "A demo.", ("hcpcs",), ("hcpcs", "hcpc"))
    with pytest.raises(CatalogError, match=r"names field 'cpt_code'"):
        schema.Table("demo", "pfs", "code", "A demo.", ("hcpcs",), (schema.Col("hcpcs", "cpt_code"),))


def test_a_column_is_its_field_with_the_table_s_own_words_where_it_means_something_narrower():
    opps_b, gpci, locco = (schema.TABLES[t] for t in ("opps_addendum_b", "pfs_gpci", "pfs_locality"))
    assert opps_b.column("hcpcs").doc == FIELDS["hcpcs"].doc == "HCPCS / CPT code, text (leading zeros kept)"
    assert (opps_b.column("payment_rate").type, schema.TABLES["asc_addendum_aa"].column("payment_rate").type) == (
        "DECIMAL(18,9)", "DECIMAL(12,2)")
    assert opps_b.column("apc").doc == FIELDS["apc"].doc + " (NULL when none)"
    assert (gpci.column("state").doc, locco.column("state").doc) == ("state abbreviation", "state name")
    assert schema.TABLES["pfs_opps_cap"].column("procedure_status").doc == "PFS status code of the procedure"


def test_a_layout_finds_data_rows_with_its_key_field_s_pattern(tmp_path, registry):
    pfs, asc = load_layouts("pfs"), load_layouts("asc")
    assert load_layouts("opps")["addendum_b"].key_pattern == "^(?:[0-9A-Z]{5})$"
    # MAC and APC are read with `pad`: CMS's copies without the leading zeros are data rows too
    assert [bool(re.fullmatch(pfs["gpci"].key_pattern, v)) for v in ("1182", "01182", "011823", "")] == [
        True, True, False, False]
    assert (asc["dd1"].key_pattern, asc["dd2"].key_pattern) == ("^(?:[A-Z][0-9])$", "^(?:[A-Z]{2})$")
    registry.field("hcpcs", pattern="[0-9]{5}")
    assert load_layouts("opps")["addendum_b"].key_pattern == "^(?:[0-9]{5})$"
    assert addendum_b(tmp_path).frame["hcpcs"].to_list() == ["90371"]  # J0179 is no longer a data row


@pytest.mark.parametrize("change, problem", [
    (("data_key = \"hcpcs\"\n", "data_key = \"hcpcs\"\nkey_pattern = '^[0-9A-Z]{5}$'\n"),
     "the key pattern comes from the field of `data_key` in core/fields.py; remove `key_pattern`"),
    (("data_key = \"hcpcs\"\n", "data_key = \"hcpcs\"\nkey_field = \"short_descriptor\"\n"),
     "`data_key` 'hcpcs' (field 'short_descriptor') has no pattern in core/fields.py"),
])
def test_a_layout_cannot_state_its_own_key_pattern(tmp_path, monkeypatch, change, problem):
    (tmp_path / "opps.toml").write_text((layout_engine.LAYOUT_DIR / "opps.toml").read_text().replace(*change, 1))
    monkeypatch.setattr(layout_engine, "LAYOUT_DIR", tmp_path)
    layout_engine.load_layouts.cache_clear()
    try:
        with pytest.raises(CatalogError, match=re.escape(problem)):
            load_layouts("opps")
    finally:
        layout_engine.load_layouts.cache_clear()


def gpci(n=109):
    import polars as pl

    return pl.DataFrame({
        "mac": [f"{10000 + i:05d}" for i in range(n)], "state": ["AL"] * n, "locality": ["00"] * n,
        "locality_name": ["ALABAMA"] * n, "work_gpci": [Decimal("1.000")] * n, "pe_gpci": [Decimal("0.869")] * n,
        "mp_gpci": [Decimal("0.575")] * n, "source_sha256": ["x"] * n, "source_row": list(range(4, 4 + n))})


def validate_gpci(frame):
    from datetime import date

    from expectations.suites import validate_tables

    return validate_tables({"pfs_gpci": frame}, dataset="pfs", period="2024B", effective_from=date(2024, 4, 1))[0]


def test_the_suites_check_values_with_their_fields_patterns_and_values(registry):
    assert validate_gpci(gpci()).success
    registry.field("mac", pattern="[0-9]{4}")
    registry.field("state", values=("AK",))
    failed = [(o.expectation, o.column) for o in validate_gpci(gpci()).failures()]
    assert failed == [("expect_column_values_to_match_regex", "mac"), ("expect_column_values_to_be_in_set", "state")]
    # every table holding the field follows, under its own column name
    registry.field("status_code", values=("A", "R", "T"))
    regex, in_set = field_checks("pfs_opps_cap", "mac", "procedure_status")
    assert (regex.column, regex.regex, in_set.column, in_set.value_set) == (
        "mac", "^(?:[0-9]{4})$", "procedure_status", ["A", "R", "T"])


def test_a_suite_cannot_ask_for_the_checks_of_a_field_that_has_none():
    with pytest.raises(ValueError, match=r"pfs_gpci.locality_name: its field 'locality_name' has no pattern or values"):
        field_checks("pfs_gpci", "locality_name")


def test_the_cli_s_arguments_follow_their_fields(registry):
    import argparse

    from cmsref import cli

    assert cli._hcpcs("j0179") == "J0179"
    registry.field("hcpcs", pattern="[0-9]{5}", example="5 digits, e.g. 37252")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'j0179' is not a HCPCS / CPT code \(5 digits, e.g. 37252\)$"):
        cli._hcpcs("j0179")
    registry.field("locality", pattern="[0-9]{3}", pad=3)
    assert cli._locality("1182:8") == ("01182", "008")


def test_the_docs_follow_a_field_s_type_and_description(registry):
    registry.field("work_rvu", type="DECIMAL(9,3)", doc="physician work RVU (test)")
    assert "| `work_rvu` | DECIMAL(9,3) | physician work RVU (test) |" in schema_markdown()
