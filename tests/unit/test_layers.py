"""Lower floors do not import upper ones. Floors, lowest first: core (errors, settings, the field and table
registries, the in-effect rule, SQL helpers), extract, transform, expectations, warehouse, and the top (cmsref: the
command line, the pipeline, the server; flows: the Prefect flows). A module may import its own floor and lower ones.
Every module of every package is checked, with no exception."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOORS = {"core": 0, "extract": 1, "transform": 2, "expectations": 3, "warehouse": 4, "cmsref": 5, "flows": 5}


def floor(module: str) -> int | None:
    return FLOORS.get(module.split(".")[0])


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def modules():
    for package in FLOORS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def violations(found=None) -> list[str]:
    wrong = []
    for module, path in found or modules():
        own = floor(module)
        for target in imports(path):
            other = floor(target)
            if other is not None and other > own:
                wrong.append(f"{module} imports {target}")
    return wrong


def test_no_lower_floor_imports_an_upper_one():
    checked = list(modules())
    assert len(checked) > 40 and {"core.tables", "cmsref.serve", "cmsref.pages"} <= {m for m, _ in checked}
    assert violations(checked) == []


def test_the_rule_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from warehouse.api import open_version\nimport cmsref.cli\n")
    assert violations([("core.bad", bad)]) == ["core.bad imports warehouse.api", "core.bad imports cmsref.cli"]
    assert violations([("transform.bad", bad)]) == ["transform.bad imports warehouse.api",
                                                     "transform.bad imports cmsref.cli"]
    assert violations([("cmsref.bad", bad)]) == []
