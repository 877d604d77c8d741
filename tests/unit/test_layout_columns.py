"""A layout and its table in core/tables.py agree column for column when layouts load: a layout column that is not
a column of its table (and not declared `published = false`), or a table column that neither the layout nor the
transform fills (`filled_by_transform`), is refused with one line naming the layout file, the kind and the column."""

import json
import re
import tomllib

import pytest

from core.errors import CatalogError
from extract.catalog import datasets, load_dataset
from transform import layout as layout_engine

# asc_excluded has two columns: hcpcs and short_descriptor. The head of the shipped [ee] layout without its columns
# (its table, data_key and how it finds the data rows).
SHIPPED_EE = tomllib.loads((layout_engine.LAYOUT_DIR / "asc.toml").read_text(encoding="utf-8"))["ee"]
HEAD = "[ee]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in SHIPPED_EE.items() if isinstance(v, str))
HCPCS = "[[ee.columns]]\nname = \"hcpcs\"\nheader = 'HCPCS'\ntype = \"code\"\n"
DESCRIPTOR = "[[ee.columns]]\nname = \"short_descriptor\"\nheader = 'SHORT DESCRIPTOR'\ntype = \"text\"\n"
LONG = "[[ee.columns]]\nname = \"long_descriptor\"\nheader = 'LONG DESCRIPTOR'\ntype = \"text\"\n"


@pytest.fixture
def load(tmp_path, monkeypatch):
    """Load a layout file written here (family `demo`), the layout cache cleared before and after."""
    monkeypatch.setattr(layout_engine, "LAYOUT_DIR", tmp_path)

    def load_text(text: str):
        (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
        layout_engine.load_layouts.cache_clear()
        return layout_engine.load_layouts("demo")

    yield load_text
    layout_engine.load_layouts.cache_clear()


def refused(load, text: str, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        load(text)
    assert "\n" not in str(info.value)
    assert re.fullmatch(r"layout 'ee' in \S+demo\.toml: " + re.escape(message), str(info.value)), str(info.value)


def test_a_layout_column_that_is_not_a_column_of_its_table_is_refused(load):
    refused(load, HEAD + HCPCS + DESCRIPTOR + LONG,
            "column 'long_descriptor' is not a column of table 'asc_excluded' (core/tables.py); add "
            "`published = false` to its [[ee.columns]] entry if the transform only reads it, or add it to the table")


def test_a_column_declared_not_published_is_read_but_not_a_table_column(load):
    layout = load(HEAD + HCPCS + DESCRIPTOR + LONG + "published = false\n")["ee"]
    assert [(c.name, c.published) for c in layout.columns] == [
        ("hcpcs", True), ("short_descriptor", True), ("long_descriptor", False)]


def test_a_table_column_no_one_fills_is_refused(load):
    refused(load, HEAD + HCPCS,
            "column 'short_descriptor' of table 'asc_excluded' is filled by neither the layout nor the transform; "
            "add a [[ee.columns]] entry for it, or name it in `filled_by_transform` under [ee] if "
            "transform/demo.py fills it")


def test_a_table_column_the_transform_fills_is_declared(load):
    layout = load(HEAD + 'filled_by_transform = ["short_descriptor"]\n' + HCPCS)["ee"]
    assert layout.filled_by_transform == ("short_descriptor",)


def test_a_table_column_cannot_be_declared_not_published(load):
    refused(load, HEAD + HCPCS + DESCRIPTOR + "published = false\n",
            "column 'short_descriptor' is a column of table 'asc_excluded'; remove `published = false` from its "
            "[[ee.columns]] entry")


def test_filled_by_transform_names_only_table_columns_the_layout_does_not_read(load):
    refused(load, HEAD + 'filled_by_transform = ["short_descriptor", "long_descriptor"]\n' + HCPCS,
            "`filled_by_transform` names 'long_descriptor', not a column of table 'asc_excluded' (core/tables.py); "
            "remove it from `filled_by_transform`")
    refused(load, HEAD + 'filled_by_transform = ["short_descriptor"]\n' + HCPCS + DESCRIPTOR,
            "column 'short_descriptor' is both a [[ee.columns]] entry and in `filled_by_transform`; keep one")


@pytest.mark.parametrize("text, message", [
    (HEAD + HCPCS + DESCRIPTOR + LONG + 'published = "no"\n', "column 'long_descriptor': `published` is true or false"),
    (HEAD + 'filled_by_transform = "short_descriptor"\n' + HCPCS, "`filled_by_transform` is a list of column names"),
])
def test_the_declarations_have_their_types(load, text, message):
    refused(load, text, message)


def test_every_shipped_layout_loads_and_every_dataset_has_its_layout():
    layout_engine.load_layouts.cache_clear()
    families = sorted(p.stem for p in layout_engine.LAYOUT_DIR.glob("*.toml"))
    assert {"aoc", "asc", "mue", "opps", "pfs"} <= set(families)
    loaded = {family: layout_engine.load_layouts(family) for family in families}
    assert all(loaded.values())
    for name in datasets():
        family = load_dataset(name).layout
        # vendor guides are PDFs read by transform/vendor_guide.py, with no layout file
        assert family == "vendor" or family in loaded, f"dataset {name}: no transform/layouts/{family}.toml"


def test_the_columns_the_shipped_transforms_fill_are_declared():
    layouts = {(family, kind): layout for family in ("asc", "mue", "aoc", "pfs")
               for kind, layout in layout_engine.load_layouts(family).items()}
    assert layouts[("mue", "mue")].filled_by_transform == ("service_type", "mai", "mai_label")
    assert layouts[("asc", "dd1")].filled_by_transform == layouts[("asc", "dd2")].filled_by_transform == ("setting",)
    assert set(layouts[("aoc", "aoc")].filled_by_transform) == {
        "edit_effective_date", "edit_deletion_date", "addon_deletion_date", "primary_deletion_date"}
    unpublished = {(family, kind, c.name) for (family, kind), layout in layouts.items()
                   for c in layout.columns if not c.published}
    assert unpublished == {("pfs", "anes", "locality_name"), ("mue", "mue", "adjudication_indicator"),
                           ("aoc", "aoc", "edit_effective"), ("aoc", "aoc", "edit_deletion"),
                           ("aoc", "aoc", "addon_deletion"), ("aoc", "aoc", "primary_deletion")}


def test_a_column_takes_the_width_of_its_field_and_a_layout_cannot_state_its_own(load):
    refused(load, HEAD + HCPCS + DESCRIPTOR + "pad = 3\n",
            "column 'short_descriptor': the width zeros are restored to is its field's (`pad` in core/fields.py); "
            "remove its `pad`")


def test_the_shipped_layouts_restore_the_zeros_their_fields_say():
    from core.fields import FIELDS

    pfs = layout_engine.load_layouts("pfs")
    assert {(c.name, c.pad) for lay in pfs.values() for c in lay.columns if c.name in ("mac", "locality")} == {
        ("mac", FIELDS["mac"].pad), ("locality", FIELDS["locality"].pad)} == {("mac", 5), ("locality", 2)}
