"""The validation report a page links to is looked up in the reports folders only: by its relative name, by the
last two parts of an older release's absolute name, and never through a name that leads out of the folder."""

import json

from cmsref.pages import report_file


def test_a_report_is_found_in_the_reports_folder_of_the_warehouse_and_nowhere_else(tmp_path):
    root = tmp_path / "data" / "reports"
    (root / "pfs-2024B-x").mkdir(parents=True)
    (root / "pfs-2024B-x" / "report.html").write_text("<html></html>")
    (tmp_path / "secret.html").write_text("no")
    other = tmp_path / "elsewhere"
    found = report_file(json.dumps({"report_html": "pfs-2024B-x/report.html"}), [other, root])
    assert found == (root / "pfs-2024B-x" / "report.html").resolve()
    legacy = report_file(json.dumps({"report_html": "/old/home/reports/pfs-2024B-x/report.html"}), [root])
    assert legacy == found
    assert report_file(json.dumps({"report_html": "../../secret.html"}), [root]) is None
    assert report_file(json.dumps({"report_html": "pfs-2024B-x/missing.html"}), [root]) is None
    assert report_file(json.dumps({}), [root]) is None
