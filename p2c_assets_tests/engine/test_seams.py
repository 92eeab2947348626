"""One seam per layer, as the imports show it (docs/architecture.md sections 3 and 5).

The engine reaches the services only through `connectors.protocol` and names neither of them; the
connectors know HTTP, not Dagster, the engine or the flows. A change that crosses a seam some other
way fails here with the file and the import named, before it turns into a layer nobody can replace.
"""

import ast
from pathlib import Path

import p2c_assets

PACKAGE = Path(p2c_assets.__file__).parent


def _imports(path: Path) -> set[str]:
    """The absolute module names `path` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            found.add(".".join(p for p in (base, node.module or "") if p))
    return found


def _modules(folder: str, *, skip: str | None = None) -> list[Path]:
    return [p for p in sorted((PACKAGE / folder).rglob("*.py")) if not (skip and skip in p.parts)]


def test_the_engine_reaches_the_connectors_only_through_their_protocol_and_never_dagster():
    crossing = {f"{path.relative_to(PACKAGE)}: {module}"
                for path in _modules("engine") for module in _imports(path)
                if (module.startswith("p2c_assets.connectors") and module != "p2c_assets.connectors.protocol")
                or module.split(".")[0] == "dagster" or module.startswith("p2c_assets.defs")}
    assert crossing == set()


def test_the_engine_names_neither_service():
    named = {f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}"
             for path in _modules("engine", skip="migrations")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value in ("fo", "sales", "dataAreaId")}
    assert named == set()


def test_the_connectors_know_http_not_dagster_the_engine_or_the_flows():
    crossing = {f"{path.relative_to(PACKAGE)}: {module}"
                for path in _modules("connectors") for module in _imports(path)
                if module.split(".")[0] == "dagster"
                or module.startswith(("p2c_assets.engine", "p2c_assets.defs", "p2c_assets.flows"))}
    assert crossing == set()
