from pathlib import Path

from warehouse.docs import schema_markdown


def test_docs_schema_page_matches_the_database_comments():
    page = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
    assert page.read_text() == schema_markdown(), "regenerate: python -m warehouse.docs > docs/schema.md"


def test_every_view_column_is_documented():
    rows = [line for line in schema_markdown().splitlines() if line.startswith("| `")]
    assert len(rows) > 80
    assert all(not line.rstrip().endswith("|  |") for line in rows), [r for r in rows if r.rstrip().endswith("|  |")]
