"""The arrows run one way: the never-list, no import cycle, and lazy imports only where they pay.

Every ``import`` statement is read from the source (ast), so imports inside functions and under
``TYPE_CHECKING`` count as much as the ones at the top. import-linter (grimp) would see the same
arrows, but not the lazy-import rule below, which needs the statements themselves; one ast walk
serves both and adds no dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "screens", "tui")

CORE_MODULES = [
    "core", "core.errors", "core.events", "core.version", "core.repo", "core.tags",
    "core.platforms", "core.reference", "core.binaries", "core.config", "core.plan",
]

#: The app and CLI: they may import anything below them; nothing imports them but themselves.
APP = ("tui.app", "tui.cli", "tui.commands", "tui.standalone", "tui.headless")
#: Shared UI pieces the screens build on.
SHARED_UI = ("tui.widgets", "tui.table", "tui.messages", "tui.draft", "tui.services",
             "tui.keymap", "tui.themes")
#: What ``core.engines.base`` must not import, so that the engines can import it.
ENGINES = ("core.engines.buildx", "core.engines.podman", "core.engines.selection")

#: Packages worth keeping off the start-up path, with what importing each alone took here (median
#: of seven fresh interpreters, 2 CPUs): textual.app 226 ms, python_on_whales 242 ms, keyring
#: 84 ms, git 65 ms, httpx 60 ms (httpcore 51 ms of it), tomlkit 19 ms, semver 16 ms; all of
#: ``dockyard --help`` takes about 60 ms.
HEAVY = ("textual", "httpx", "httpcore", "keyring", "python_on_whales", "git", "tomlkit",
         "semver")
#: The start-up paths, as code that walks them (the first wizard step is imported by name); a
#: module on a path keeps what it can off it by importing inside functions.
START_UP = {
    "dockyard --help": "from tui.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass",
    "the assistant's first paint": "import tui.app, screens.version",
}

#: Modules another branch restructures at the same time (issue 13 item 1: release.py split,
#: image reading, registry naming and client factories); their lazy imports are checked once
#: that work is merged.
@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a dockyard module, or an outside package's top-level name
    line: int
    where: str  # "top", "function" or "type-checking"
    reason: bool  # a comment on the statement's lines or the line above it

    def __str__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target} ({self.where})"


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str:
    """The dockyard module a dotted name lives in (``core.events.Event`` -> ``core.events``), or
    the outside package's top-level name."""
    known = modules()
    probe = name
    while probe and probe not in known:
        probe = probe.rpartition(".")[0]
    return probe or name.split(".")[0]


def _statements(module: str, path: Path) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []

    def walk(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, where))
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for inner in child.body:
                    walk(ast.Module(body=[inner], type_ignores=[]), "type-checking")
                for inner in child.orelse:
                    walk(ast.Module(body=[inner], type_ignores=[]), where)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                walk(child, "function" if where == "top" else where)
            else:
                walk(child, where)

    walk(ast.parse(path.read_text(encoding="utf-8")), "top")
    return found


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for module, path in modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        explained: set[int] = set()  # last lines of statements that carry a reason
        for node, where in _statements(module, path):
            end = node.end_lineno or node.lineno
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            reason = (any("#" in text for text in lines[node.lineno - 1:end])
                      or above.startswith("#") or node.lineno - 1 in explained)
            if reason:
                explained.add(end)
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                names = [f"{base}.{alias.name}" for alias in node.names]
            for target in dict.fromkeys(_resolve(name) for name in names):
                if target != module:
                    found.append(Import(module, target, node.lineno, where, reason))
    return tuple(found)


def _in(module: str, group: tuple[str, ...]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in group)


def layer(module: str) -> str:
    if _in(module, APP):
        return "app"
    if _in(module, SHARED_UI):
        return "ui"
    if module.startswith("screens."):
        return "screen"
    if module.startswith("core.engines."):
        return "engine"
    if module.startswith("core.") or module in PACKAGES or module == "core.engines":
        return "core" if module.startswith("core") else "package"
    return "unplaced"


def never(imp: Import) -> str | None:
    """Why an arrow is on the never-list, or None when it may stay."""
    if imp.target not in modules():
        return None
    src, dst = layer(imp.source), layer(imp.target)
    if src in ("core", "engine") and dst in ("screen", "app", "ui"):
        return "core imports no screen, app or shared UI piece"
    if src == "screen" and dst == "app":
        return "screens do not import the app or CLI"
    if src == "screen" and dst == "screen":
        return "screens do not import each other"
    if src == "ui" and dst in ("app", "screen"):
        return "shared UI pieces import neither app nor screens"
    if imp.source == "core.engines.base" and _in(imp.target, ENGINES):
        return "the engines' base imports no engine (the engine registry picks one)"
    return None


def test_every_module_has_a_layer() -> None:
    assert [m for m in modules() if layer(m) == "unplaced"] == []


def test_the_never_list_holds_for_every_import_statement() -> None:
    broken = [f"{imp}: {why}" for imp in imports() if (why := never(imp))]
    assert broken == []


def test_the_never_list_catches_what_it_is_meant_to() -> None:
    """The rules are not vacuous: a screen importing a screen, the app or the CLI is refused."""
    cases = [("screens.images", "screens.build"), ("screens.summary", "tui.headless"),
             ("tui.widgets", "screens.build"), ("core.plan", "tui.draft"),
             ("core.engines.base", "core.engines.podman"), ("core.release", "tui.services")]
    for source, target in cases:
        assert never(Import(source, target, 1, "function", False)), (source, target)
    assert never(Import("tui.app", "screens.build", 1, "top", False)) is None
    assert never(Import("screens.build", "tui.widgets", 1, "top", False)) is None


#: Core modules that reach git, a registry, the keyring, an engine or the project's files.
OUTSIDE_WORLD = ("core.registry", "core.published", "core.lookups", "core.verify", "core.inspect",
                 "core.repo", "core.scaffold", "core.staging", "core.binaries", "core.publish",
                 "core.engines.buildx", "core.engines.podman", "core.engines.selection")
#: Screens that host their own injected factory instead: the registry browser (``dockyard
#: browse``: a client factory) and the credentials manager (a store and a login function).
STANDALONE_SCREENS = ("screens.browser", "screens.credentials")
#: Pure rules that live in an outside-world module: (screen, module) -> what is used.
PURE_RULES = {("screens.version", "core.repo"): "refuse_second_release (one release a commit)"}


def test_wizard_screens_reach_the_outside_world_through_services() -> None:
    """A wizard step calls ``Services`` (tui/services.py) for git, registry, keyring, engine
    and file work; it imports core for values and pure rules only (types under TYPE_CHECKING)."""
    direct = [str(imp) for imp in imports()
              if layer(imp.source) == "screen" and imp.source not in STANDALONE_SCREENS
              and imp.where != "type-checking" and _in(imp.target, OUTSIDE_WORLD)
              and (imp.source, imp.target) not in PURE_RULES]
    assert direct == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


#: Cycles closed only by an import under TYPE_CHECKING (nothing runs it): the plan builds the
#: staged layout, and staging annotates the plan it stages.
TYPE_ONLY_CYCLES = [["core.plan", "core.staging"]]


def test_no_import_cycle_anywhere() -> None:
    """Counting imports inside functions too; under TYPE_CHECKING, only the known pair."""
    edges: dict[str, set[str]] = {}
    typed: dict[str, set[str]] = {}
    for imp in imports():
        if imp.target in modules():
            typed.setdefault(imp.source, set()).add(imp.target)
            if imp.where != "type-checking":
                edges.setdefault(imp.source, set()).add(imp.target)
    assert _cycles(edges) == []
    assert _cycles(typed) == TYPE_ONLY_CYCLES
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@cache
def loads(module: str) -> frozenset[str]:
    """The outside packages a module loads when imported (its top-level imports, followed)."""
    seen: set[str] = set()
    found: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for imp in imports():
            if imp.source != current or imp.where != "top":
                continue
            if imp.target in modules():
                todo.append(imp.target)
            else:
                found.add(imp.target)
    # a package's __init__ runs before any module in it
    for parent in {m.rpartition(".")[0] for m in seen} - seen - {""}:
        found |= loads(parent)
    return frozenset(found)


@cache
def start_up(path: str) -> frozenset[str]:
    """Every module a start-up path imports, dockyard's and the standard library's alike, as a
    fresh interpreter walking it finds them."""
    code = f"import sys\n{START_UP[path]}\nprint(' '.join(sys.modules), file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return frozenset(done.stderr.split())


def lazy_without_cause(imp: Import) -> str | None:
    """Why a function-level import should move to the top, or None when it may stay: it keeps
    a heavy package out of its module, or a module off a start-up path, and says so."""
    if imp.where != "function":
        return None
    if imp.target in modules():
        added = (loads(imp.target) | {imp.target}) - loads(imp.source)
    else:
        added = {imp.target} - loads(imp.source)
    kept_off = sorted(name for name in added if name in HEAVY)
    for path in START_UP:
        on_path = start_up(path)
        if imp.source in on_path and imp.target not in on_path:
            kept_off.append(f"{imp.target} ({path})")
    if not kept_off:
        return "keeps nothing heavy off the start-up path: import it at the top"
    if not imp.reason:
        return f"keeps {', '.join(kept_off)} off the start-up path: say so in a comment"
    return None


def test_imports_inside_functions_only_keep_heavy_packages_off_the_start_up_path() -> None:
    broken = [f"{imp}: {why}" for imp in imports() if (why := lazy_without_cause(imp))]
    assert broken == []


def test_dockyard_help_loads_no_heavy_package() -> None:
    code = (
        "import sys\nfrom tui.cli import build_parser\nbuild_parser().format_help()\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("where", ["top", "function"])
def test_the_lazy_rule_tells_heavy_from_light(where: str) -> None:
    light = Import("tui.draft", "core.errors", 1, where, True)
    heavy = Import("tui.draft", "core.registry", 1, where, False)
    if where == "function":
        assert lazy_without_cause(light)
        assert "httpx" in (lazy_without_cause(heavy) or "")
    else:
        assert lazy_without_cause(light) is None and lazy_without_cause(heavy) is None


def test_importing_core_does_not_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys, core, core.engines\n"
        "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual','screens','tui'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, bad = done.stdout.splitlines()
    assert int(count) >= len(CORE_MODULES) - 1  # walk_packages does not list "core" itself
    assert bad == ""
