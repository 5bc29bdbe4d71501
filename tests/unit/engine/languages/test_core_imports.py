"""The engine core depends on the language interface, never on Mistral's parser or specs:
outside its own package, nothing in `src` imports `mistral_v2` (the registry names it by
a string) or the old `levante.engine.lang`."""

from __future__ import annotations

import ast
from pathlib import Path

import levante

SRC = Path(levante.__file__).parent
LANGUAGE_PACKAGES = SRC / "engine" / "languages"
FORBIDDEN = ("levante.engine.languages.mistral_v2", "levante.engine.lang")
# The modules that walk or store the graph, wherever they live (engine/ or engine/core/).
CORE = {"machine.py", "runtime.py", "context.py", "step_base.py", "step_launch.py",
        "step_actions.py", "step_results.py", "step_transitions.py", "definitions.py"}


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every import, `from a import b` giving both a and a.b."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _is_forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


def test_no_module_outside_the_languages_imports_mistral_v2() -> None:
    offenders: list[str] = []
    scanned: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(LANGUAGE_PACKAGES):
            continue
        scanned.add(path.name)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders.extend(
            f"{path.relative_to(SRC)}:{line} imports {name}"
            for line, name in _imported(tree) if _is_forbidden(name)
        )
    assert scanned >= CORE, f"core modules not found: {sorted(CORE - scanned)}"
    assert offenders == []


def test_the_check_sees_every_form_of_import() -> None:
    code = (
        "import levante.engine.languages.mistral_v2.spec\n"
        "from levante.engine.languages import mistral_v2\n"
        "from levante.engine.languages.mistral_v2.spec import TaskSpec\n"
        "from levante.engine.lang import parser\n"
        "from levante.engine.languages.graph import TaskNode\n"
    )
    bad = sorted({line for line, name in _imported(ast.parse(code)) if _is_forbidden(name)})
    assert bad == [1, 2, 3, 4]


def test_mistral_v2_stays_inside_its_package() -> None:
    """Only the registry (by name) knows the Mistral package exists."""
    from levante.engine.languages import registry

    assert "levante.engine.languages.mistral_v2" in registry.BUILTIN.values()
    for path in LANGUAGE_PACKAGES.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for _, n in _imported(tree) if _is_forbidden(n)], path.name
