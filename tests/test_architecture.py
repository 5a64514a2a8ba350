"""The Qt-free layers stay Qt-free: import-linter contract plus a plain AST scan."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

LINT = Path(sys.executable).parent / "lint-imports"


def test_import_linter_contract_holds():
    proc = subprocess.run([str(LINT), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "core, storage and jobs are Qt-free KEPT" in proc.stdout


def test_import_linter_contract_can_fail(tmp_path):
    """The same contract shape, on a package that breaks it, must fail."""
    pkg = tmp_path / "badpkg"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "oops.py").write_text("import PySide6.QtCore\n")
    cfg = tmp_path / "contract.toml"
    cfg.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_package = "badpkg"
            include_external_packages = true

            [[tool.importlinter.contracts]]
            name = "core is Qt-free"
            type = "forbidden"
            source_modules = ["badpkg.core"]
            forbidden_modules = ["PySide6"]
            """
        )
    )
    proc = subprocess.run(
        [str(LINT), "--no-cache", "--config", str(cfg)],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": ""},
    )
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_qt_in_qt_free_layers_by_ast():
    offenders = []
    for layer in ("core", "storage", "jobs"):
        for f in (REPO / "jacs_desktop" / layer).rglob("*.py"):
            for mod in _imports(f):
                if mod.split(".")[0] in ("PySide6", "shiboken6"):
                    offenders.append(f"{f.relative_to(REPO)}: {mod}")
    assert offenders == []


def test_core_imports_without_qt_loaded():
    code = (
        "import sys, jacs_desktop.core.verify, jacs_desktop.core.sign, jacs_desktop.core.identity, "
        "jacs_desktop.storage.store, jacs_desktop.jobs.verify_all, jacs_desktop.cli; "
        "print(any(m.startswith('PySide6') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


UI = REPO / "jacs_desktop" / "ui"


def _relative_imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names]


def _absolute_imports(path: Path):
    """Every module *path* imports, relative imports resolved (function-level ones included)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            mod = ".".join([*base, node.module] if node.module else base)
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)


def test_ui_does_not_import_the_app():
    """The theme and the QSettings helper are the UI's: nothing in ui/ imports jacs_desktop.app."""
    offenders = [f"{f.relative_to(REPO)}: {m}" for f in UI.rglob("*.py") for m in _absolute_imports(f)
                 if m == "jacs_desktop.app" or m.startswith("jacs_desktop.app.")]
    assert offenders == []


def test_browser_panels_do_not_import_the_window():
    offenders = []
    for f in (UI / "browser").glob("*.py"):
        if f.name in ("window.py", "__init__.py"):
            continue
        for level, module, names in _relative_imports(f):
            if level == 1 and (module == "window" or (module == "" and "window" in names)):
                offenders.append(f.name)
    assert offenders == []


def test_modules_are_small_or_say_why():
    """Every module of the package: over ~500 lines only with a reason at its top (a 'Size:' or
    'Over 500 lines' paragraph in the module docstring)."""
    offenders = []
    files = sorted((REPO / "jacs_desktop").rglob("*.py"))
    assert len(files) > 80  # the check really reads the package
    for f in files:
        text = f.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > 520 and "Size:" not in doc and "Over 500 lines" not in doc:
            offenders.append(f"{f.relative_to(REPO)}: {text.count(chr(10))} lines")
    assert offenders == []
