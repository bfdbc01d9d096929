"""The package's shape: no import circle inside digest/, and no unit too large to find one's way
in (a module over 600 lines, a class over 250, a function over 120).

The graph is read from the source with `ast`, not by importing: every `import` and
`from … import` that names a module of digest/, at module level or inside a function (a lazy
import that closes a circle is still a circle: it only moves the failure to run time), except
under `if TYPE_CHECKING:`, which never runs. A package's `__init__` is the node `digest.x`;
`from digest.x import y` is an edge to `digest.x.y` when that is a module, else to `digest.x`.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "digest"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runs(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` that can run: all of it but the bodies of `if TYPE_CHECKING:`."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def imports_of(path: Path, modules: set[str], package: Path = PACKAGE) -> set[str]:
    """The modules (of `modules`) that the module at `path`, in `package`, imports."""
    name = module_name(path, package)
    folder = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in _runs(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, `level - 1` folders up
                base = folder[: len(folder) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif source in modules:
                    found.add(source)
    found.discard(name)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(path, package): path for path in package.rglob("*.py")}
    return {name: imports_of(path, set(paths), package) for name, path in paths.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Circles (a → … → a) found by a depth-first search: one for each edge that leads back
    onto the path being walked."""
    done: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path.append(start)
        on_path[start] = 0
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                del on_path[node]
                done.add(node)
                continue
            following = todo.pop()
            if following in on_path:
                found.append([*path[on_path[following] :], following])
            elif following not in done:
                on_path[following] = len(path)
                path.append(following)
                stack.append((following, sorted(graph[following])))
    return found


def test_no_import_circle_inside_digest() -> None:
    graph = import_graph()
    assert "digest.cli._common" in graph and graph["digest.cli"], "the graph is read"
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(" → ".join(c) for c in found)


def test_the_circle_finder_finds_lazy_relative_and_package_circles(tmp_path: Path) -> None:
    """The reader and the search on a small package built here, so the test above cannot pass
    only because they see nothing."""
    root = tmp_path / "digest"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from digest import b\n",
        "b.py": "from typing import TYPE_CHECKING\nfrom .a import f\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import digest.d\n",
        "d.py": "import digest.c\n",
        "sub/__init__.py": "from digest.sub import e\n",
        "sub/e.py": "from digest.sub import NAME\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    graph = import_graph(root)
    assert graph["digest.a"] == {"digest.b"} and graph["digest.b"] == {"digest.a"}
    assert graph["digest.c"] == set(), "an import under TYPE_CHECKING never runs"
    found = {frozenset(circle) for circle in circles(graph)}
    assert found == {frozenset({"digest.a", "digest.b"}), frozenset({"digest.sub", "digest.sub.e"})}


# -- sizes ---------------------------------------------------------------------------------------

MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 120

# Offenders let through, each by name and why (none today). Add one only with a reason; split
# instead where you can.
EXEMPT: dict[str, str] = {}


def oversized(package: Path = PACKAGE) -> list[str]:
    """Every module, class and function of `package` over its limit, as
    `path:name (N lines > limit)`; a unit's lines run from its `def` or `class` line to its
    last, nested units included (and each nested one is measured on its own too)."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{where} ({lines} lines > {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > limit:
                found.append(f"{where}:{node.name} ({size} lines > {limit})")
    return found


def _exempt(offender: str) -> bool:
    unit = offender.split(" (", 1)[0]
    return unit in EXEMPT or unit.split(":", 1)[0] in EXEMPT


def test_no_module_class_or_function_inside_digest_is_too_large() -> None:
    found = [offender for offender in oversized() if not _exempt(offender)]
    assert not found, "too large (split by concern):\n" + "\n".join(found)


def test_every_exemption_from_the_size_limits_still_names_an_offender() -> None:
    """An exemption outlives its reason once the unit is split or moved: then it goes."""
    units = {offender.split(" (", 1)[0] for offender in oversized()}
    files = {unit.split(":", 1)[0] for unit in units}
    stale = [name for name in EXEMPT if name not in units and name not in files]
    assert not stale, "exempt but no longer too large (remove from EXEMPT):\n" + "\n".join(stale)


def test_the_size_check_finds_long_modules_classes_and_nested_functions(tmp_path: Path) -> None:
    """The measure on a small package built here, so the test above cannot pass only because
    it measures nothing."""
    root = tmp_path / "digest"
    (root / "sub").mkdir(parents=True)
    body = "    x = 1\n"
    files = {
        "__init__.py": "",
        "long.py": "x = 1\n" * (MAX_MODULE_LINES + 1),
        "fits.py": "x = 1\n" * MAX_MODULE_LINES,
        "sub/classes.py": (
            "class Big:\n"
            + body * MAX_CLASS_LINES
            + "class Small:\n"
            + body * (MAX_CLASS_LINES - 1)
        ),
        "sub/functions.py": (
            "def outer():\n    async def inner():\n"
            + ("    " + body) * MAX_FUNCTION_LINES
            + "def fits():\n"
            + body * (MAX_FUNCTION_LINES - 1)
        ),
    }
    for name, text in files.items():
        (root / name).write_text(text)
    assert oversized(root) == [
        f"digest/long.py ({MAX_MODULE_LINES + 1} lines > {MAX_MODULE_LINES})",
        f"digest/sub/classes.py:Big ({MAX_CLASS_LINES + 1} lines > {MAX_CLASS_LINES})",
        f"digest/sub/functions.py:outer ({MAX_FUNCTION_LINES + 2} lines > {MAX_FUNCTION_LINES})",
        f"digest/sub/functions.py:inner ({MAX_FUNCTION_LINES + 1} lines > {MAX_FUNCTION_LINES})",
    ]
