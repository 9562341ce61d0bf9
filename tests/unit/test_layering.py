"""The arrows between packages run one way: flows <- engines <- cli, tasks <- engines."""

import ast
from pathlib import Path

import pytest

import opsflow

PACKAGE = Path(opsflow.__file__).parent


def _imports(package: str) -> dict[str, set[str]]:
    """Module file -> every module it imports (absolute names), for the package's own files."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("flows", ("taskflow", "opsflow.engines", "opsflow.tasks", "opsflow.cli")),
        ("tasks", ("opsflow.engines", "opsflow.cli", "opsflow.conductor")),
        ("engines", ("opsflow.cli",)),
    ],
)
def test_package_imports_nothing_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    """No module of a lower layer imports a higher one (or TaskFlow, for the flow language)."""
    offenders = {
        module: sorted(name for name in names if name.split(".")[0] in forbidden or name.startswith(forbidden))
        for module, names in _imports(package).items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}
