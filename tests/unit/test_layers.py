"""Lower floors do not import upper ones. Floors, lowest first: the base (cmsref.errors, cmsref.config, and the
contract modules every floor reads: the table registry warehouse.schema, the in-effect rule warehouse.effective and
SQL quoting warehouse.sql), extract, transform, expectations, warehouse, then the top (cmsref.pipeline, cmsref.cli,
flows). A module may import its own floor, lower floors and the base."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = {"cmsref.errors", "cmsref.config", "cmsref", "warehouse.schema", "warehouse.effective", "warehouse.sql"}
FLOORS = ["extract", "transform", "expectations", "warehouse", "top"]


def floor(module: str) -> str | None:
    if module in BASE:
        return "base"
    top = module.split(".")[0]
    if top in ("flows",) or module in ("cmsref.pipeline", "cmsref.cli"):
        return "top"
    return top if top in FLOORS else None


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in BASE else node.module
                      for a in node.names]
    return found


def test_no_lower_floor_imports_an_upper_one():
    wrong = []
    for package in ("extract", "transform", "expectations", "warehouse", "cmsref", "flows"):
        for path in sorted((ROOT / package).glob("*.py")):
            module = f"{package}.{path.stem}" if path.stem != "__init__" else package
            own = floor(module)
            if own in (None, "base", "top"):
                continue
            for target in imports(path):
                other = floor(target)
                if other not in (None, "base") and FLOORS.index(other) > FLOORS.index(own):
                    wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_the_rule_sees_a_violation():
    assert floor("warehouse.publish") == "warehouse" and floor("transform.layout") == "transform"
    assert FLOORS.index(floor("warehouse.api")) > FLOORS.index(floor("transform.vendor"))
