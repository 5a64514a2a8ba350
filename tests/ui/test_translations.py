"""Every user-visible string in the UI goes through tr() / QCoreApplication.translate,
so the app can be translated. Checked on the source: a string literal (or f-string)
handed straight to a Qt text setter or widget constructor is a failure."""

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "jacs_desktop" / "ui"

TEXT_CALLS = {
    "setText", "setWindowTitle", "setToolTip", "setPlaceholderText", "setTitle", "setSubTitle", "addRow",
    "addTab", "addMenu", "setStatusTip", "setHorizontalHeaderLabels", "setButtonText", "setFormat",
    "QLabel", "QPushButton", "QCheckBox", "QRadioButton", "QAction", "QGroupBox", "QToolBar", "addItem",
    "information", "warning", "critical", "question", "getOpenFileName", "getSaveFileName",
    "getExistingDirectory", "getOpenFileNames", "setPlainText", "showMessage", "Column",
}
#: literals that are not words for people: empty, symbols, markup, example URLs
ALLOWED = {"", " ", "…", "–", "✓", "✗", "⚠", "●"}


def _words(text: str) -> bool:
    """Words for people in *text*, once markup (<b>, &nbsp;) is taken out."""
    import re

    return bool(re.search(r"[A-Za-z]{3,}", re.sub(r"<[^>]*>|&\w+;", "", text)))


def _is_visible_literal(node) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value.strip()
        return text not in ALLOWED and _words(text) and not text.startswith(("{", "bucket/"))
    if isinstance(node, ast.JoinedStr):
        return _words("".join(str(v.value) for v in node.values if isinstance(v, ast.Constant)))
    return False


def test_ui_strings_go_through_tr():
    offenders = []
    files = sorted(UI.rglob("*.py"))
    assert len(files) > 20 and UI / "browser" / "window.py" in files  # the check really reads the UI
    for path in files:
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name not in TEXT_CALLS:
                continue
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("log", "logging"):
                continue  # log messages are for developers
            args = list(node.args)
            if name == "addItem":
                args = args[:1]  # (text, data): the data is not shown
            if name.startswith("get") and len(args) > 2:
                args = args[:2] + args[3:]  # the default file name is not a sentence
            if name in ("setHorizontalHeaderLabels",) and args and isinstance(args[0], (ast.List, ast.Tuple)):
                args = list(args[0].elts)
            for a in args:
                if _is_visible_literal(a):
                    offenders.append(f"{path.relative_to(UI.parent.parent)}:{node.lineno}: {ast.unparse(a)[:60]}")
    assert not offenders, "strings not passed through tr():\n" + "\n".join(offenders)


def test_tr_helpers_use_the_translation_system():
    for path in sorted(UI.rglob("*.py")):
        text = path.read_text("utf-8")
        if "def tr(" in text:
            assert "QCoreApplication.translate(" in text, path
