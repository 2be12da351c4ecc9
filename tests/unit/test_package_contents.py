"""The Function App package leaves out what `.funcignore` lists: the app must never need it.

`.funcignore` keeps the command-line and training code out of the deployed package: cli/,
training/, devtools/, manage.py and, inside shared/, the CSV import (shared/data_import/, run by
`manage.py import-csv`) and the admin-account command (shared/auth/admin.py, run by
`manage.py create-admin`). A module of the app that imported one of them would work locally and
fail in Azure with ModuleNotFoundError; these tests fail first. Two views, since neither sees
everything: the modules actually loaded by importing function_app and every functions/ module,
and every import statement reachable from them, those inside functions included (the lazy
imports a request or a timer runs).
"""

from __future__ import annotations

import ast
import fnmatch
import textwrap
from pathlib import Path, PurePosixPath

from tests.fresh_interpreter import run_fresh

REPO_ROOT = Path(__file__).resolve().parents[2]
#: What the package must leave out because the app never uses it (CLI or training only).
CLI_ONLY = (
    "cli/data_import.py",
    "training/pipeline.py",
    "devtools/seed_demo.py",
    "manage.py",
    "shared/data_import/service.py",
    "shared/data_import/loaders/patients.py",
    "shared/auth/admin.py",
)
#: What the package must keep: a pattern that excluded these would break the app.
SHIPPED = (
    "function_app.py",
    "host.json",
    "requirements.txt",
    "functions/admin.py",
    "shared/db.py",
    "shared/auth/accounts.py",
    "shared/reviews/repository.py",
    "shared/matching/model_registry.py",
    "shared/matching/model_store.py",
    "models/reviews.py",
    "migrations/env.py",
)


def _patterns() -> list[str]:
    patterns = []
    for raw in (REPO_ROOT / ".funcignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), f"this test does not understand negations: {line}"
        patterns.append(line)
    return patterns


def is_ignored(path: str, patterns: list[str]) -> bool:
    """gitignore semantics for the patterns .funcignore uses: `dir/` matches a directory,
    a pattern with a slash is anchored at the repository root, one without matches any name."""
    parts = PurePosixPath(path).parts
    for pattern in patterns:
        directory_only = pattern.endswith("/")
        body = pattern.strip("/")
        anchored = "/" in body or pattern.startswith("/")
        for depth in range(1, len(parts) + 1):
            if directory_only and depth == len(parts):
                continue  # the last part is the file itself
            candidate = "/".join(parts[:depth]) if anchored else parts[depth - 1]
            if fnmatch.fnmatchcase(candidate, body):
                return True
    return False


def _app_modules() -> list[str]:
    areas = sorted(path.stem for path in (REPO_ROOT / "functions").glob("*.py"))
    return ["function_app", *(f"functions.{area}" for area in areas)]


def test_the_cli_only_code_is_left_out_and_the_app_is_kept():
    patterns = _patterns()
    assert [path for path in CLI_ONLY if not is_ignored(path, patterns)] == []
    assert [path for path in SHIPPED if is_ignored(path, patterns)] == []
    for path in (*CLI_ONLY, *SHIPPED):
        assert (REPO_ROOT / path).is_file(), f"{path} moved: update this test"


def test_no_module_the_app_loads_is_left_out_of_the_package():
    """Import function_app and every functions/ module in a fresh interpreter, then look at
    where each loaded module of this repository lives."""
    script = textwrap.dedent(
        """
        import importlib, json, sys
        for name in MODULES:
            importlib.import_module(name)
        print(json.dumps(sorted(
            getattr(module, "__file__", None) or "" for module in list(sys.modules.values())
        )))
        """
    ).replace("MODULES", repr(_app_modules()))
    loaded = []
    for file in run_fresh(script, timeout=120):
        path = Path(file).resolve() if file else None
        if path is None or not path.is_relative_to(REPO_ROOT):
            continue
        relative = path.relative_to(REPO_ROOT)
        if relative.parts[0] == ".venv" or "site-packages" in relative.parts:
            continue  # the dependencies: installed by the remote build, not packaged from here
        loaded.append(relative.as_posix())
    assert "shared/db.py" in loaded  # the walk sees the app's own modules
    patterns = _patterns()
    assert [path for path in loaded if is_ignored(path, patterns)] == []


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module an import statement in the file may load (and their parent packages),
    including imports inside functions; not those under `if TYPE_CHECKING:`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            ):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            names.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parents, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    with_parents: set[str] = set()
    for name in names:
        parts = name.split(".")
        with_parents.update(".".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return with_parents


def _source_file(module: str) -> Path | None:
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_no_import_reachable_from_the_app_is_left_out_of_the_package():
    """Follow the import statements from function_app and functions/, lazy ones included."""
    reached: dict[str, Path] = {}
    pending = _app_modules()
    while pending:
        module = pending.pop()
        if module in reached or (path := _source_file(module)) is None:
            continue
        reached[module] = path
        pending.extend(_imported_names(path, module))
    files = sorted(path.relative_to(REPO_ROOT).as_posix() for path in reached.values())
    # Imported inside functions only (functions/admin.py, functions/timers.py): seen here.
    assert "shared/matching/model_registry.py" in files
    patterns = _patterns()
    assert [path for path in files if is_ignored(path, patterns)] == []
