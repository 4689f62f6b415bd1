"""The layout: each app is a floor, and imports only go down (docs/architecture.md).

Read from the code itself: every import statement (at module level or inside a function),
every `import_module("…")`, every `apps.get_model("app.Model")` / `get_model("app", "Model")`
and every model reference given as a string ("app.Model") counts. Migrations are left out:
a migration that moves a model names both apps by design.
"""

import ast
import collections
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# From the bottom up: an app may use the apps before it in this list, never one after it.
FLOORS = ["core", "teams", "incidents", "imports", "improvement", "reporting", "rituals", "integrations"]
MODEL_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    found = {}
    for app in FLOORS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def references(path: Path, module: str, modules: dict) -> list[tuple[str, int]]:
    """(dotted name referenced, line) for every import-like reference in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.append((full if full in modules else target, node.lineno))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if not strings:
                continue
            if name == "import_module":
                found.append((strings[0], node.lineno))
            elif name == "get_model" or (name in MODEL_FIELDS and "." in strings[0] and strings[0][0].islower()):
                found.append((strings[0].split(".")[0], node.lineno))
    return found


def import_graph():
    modules = product_modules()
    graph = collections.defaultdict(set)
    upward = []
    for module, path in modules.items():
        floor = FLOORS.index(module.split(".")[0])
        for target, line in references(path, module, modules):
            top = target.split(".")[0]
            if top == "config" or (top in FLOORS and FLOORS.index(top) > floor):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return modules, graph, upward


def cycles(modules, graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_every_floor_is_an_installed_app():
    from django.conf import settings

    product_apps = [app for app in settings.INSTALLED_APPS if app in FLOORS]
    assert product_apps == FLOORS


def test_no_app_imports_an_app_above_it_nor_config():
    _modules, _graph, upward = import_graph()
    assert upward == []


def test_there_is_no_import_cycle():
    modules, graph, _upward = import_graph()
    assert cycles(modules, graph) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from improvement.models import Action\n", "improvement.models"),
        ("def f():\n    from rituals import tick\n", "rituals.tick"),
        ("import importlib\nimportlib.import_module('integrations.tasks')\n", "integrations.tasks"),
        ("from django.apps import apps\napps.get_model('reporting.Thing')\n", "reporting"),
        ("from django.db import models\nx = models.ForeignKey('rituals.Ritual', on_delete=None)\n", "rituals"),
    ],
)
def test_the_reader_sees_every_kind_of_reference(tmp_path, source, expected, monkeypatch):
    # The checker is itself code that could miss a kind of reference: each kind is caught.
    fake_root = tmp_path
    (fake_root / "teams").mkdir()
    path = fake_root / "teams" / "probe.py"
    path.write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    modules = {"rituals.tick": path, "improvement.models": path, "integrations.tasks": path}
    assert expected in [target for target, _line in references(path, "teams.probe", modules)]


def test_a_cycle_is_found():
    graph = collections.defaultdict(set, {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert cycles(["a", "b", "c", "d"], graph) == [["a", "b", "c"]]
