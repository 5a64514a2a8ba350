"""The browser's actions (QAction: text, shortcut, tooltip), its toolbar and its menus.

``BrowserActions`` only defines them; the window connects each one's
``triggered`` to what it does (``connect``), so this module knows no window.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QStyle, QToolBar

from .columns import tr

__all__ = ["BrowserActions", "ICONS", "themed_icon"]

_SP = QStyle.StandardPixmap
#: action -> (freedesktop icon name, Qt's own drawing when the desktop theme has none)
ICONS: dict[str, tuple[str, QStyle.StandardPixmap]] = {
    "act_open": ("document-open", _SP.SP_DialogOpenButton),
    "act_refresh": ("view-refresh", _SP.SP_BrowserReload),
    "act_find": ("edit-find", _SP.SP_FileDialogContentsView),
    "act_verify": ("security-high", _SP.SP_DialogApplyButton),
    "act_copy": ("edit-copy", _SP.SP_FileDialogDetailedView),
    "act_reveal": ("folder-open", _SP.SP_DirOpenIcon),
    "act_new_doc": ("document-new", _SP.SP_FileIcon),
    "act_new_version": ("document-edit", _SP.SP_FileDialogNewFolder),
    "act_connect_s3": ("network-server", _SP.SP_DriveNetIcon),
    "act_open_sqlite": ("x-office-spreadsheet", _SP.SP_DriveHDIcon),
    "act_migrate": ("go-next", _SP.SP_ArrowForward),
    "act_backup": ("document-save", _SP.SP_DialogSaveButton),
    "act_restore": ("document-revert", _SP.SP_DialogResetButton),
    "act_settings": ("preferences-system", _SP.SP_FileDialogInfoView),
    "act_quit": ("application-exit", _SP.SP_DialogCloseButton),
    "act_shortcuts": ("preferences-desktop-keyboard", _SP.SP_TitleBarMenuButton),
    "act_readme": ("help-contents", _SP.SP_DialogHelpButton),
    "act_about": ("help-about", _SP.SP_MessageBoxInformation),
}


def themed_icon(name: str, fallback: QStyle.StandardPixmap) -> QIcon:
    """The desktop theme's icon *name*, or the style's own drawing of *fallback* (one consistent
    set, drawn by the same style, where the desktop has no icon theme)."""
    if QIcon.hasThemeIcon(name):
        return QIcon.fromTheme(name)
    style = QApplication.style()
    return style.standardIcon(fallback) if style is not None else QIcon()


class BrowserActions(QObject):
    """Every action of the window, as ``act_*`` attributes."""

    def __init__(self, parent: QMainWindow):
        super().__init__(parent)
        self._toolbar: list[QAction] = []

        def act(text, shortcut=None, tip="", toolbar=False):
            a = QAction(text, parent)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setToolTip(f"{tip or text} ({QKeySequence(shortcut).toString()})")
            elif tip:
                a.setToolTip(tip)
            if toolbar:
                self._toolbar.append(a)
            return a

        # the toolbar, in its order
        self.act_open = act(tr("Open…"), QKeySequence.StandardKey.Open, tr("Open a folder store"), True)
        self.act_refresh = act(tr("Refresh"), "F5", toolbar=True)
        self.act_find = act(tr("Find"), QKeySequence.StandardKey.Find, toolbar=True)
        self.act_verify = act(tr("Verify all"), "Ctrl+Shift+V",
                              tr("Verify every version of every agent and document, not only the latest"), True)
        self.act_copy = act(tr("Copy ID"), "Ctrl+Shift+C", tr("Copy the selected agent's or document's ID"), True)
        self.act_reveal = act(tr("Reveal in Folder"), "Ctrl+Shift+R", tr("Show the selected file in the file manager"),
                              True)
        self.act_new_doc = act(tr("New document…"), QKeySequence.StandardKey.New,
                               tr("Create a signed document in this store"), True)
        self.act_new_version = act(tr("New version…"), "Ctrl+Shift+N",
                                   tr("Edit the selected document and sign a new version"), True)
        #: the tooltip while New version… is possible (the refusal replaces it otherwise)
        self.new_version_tip = self.act_new_version.toolTip()
        self.act_new_version.setEnabled(False)
        self.act_new_version.setToolTip(tr("New version…: select a document first"))
        # menus only
        self.act_connect_s3 = act(tr("Connect to a Store…"), tip=tr("S3, Google Cloud Storage, Azure Blob, a JSONL "
                                                                    "or SQLite file, or a folder"))
        self.act_open_sqlite = act(tr("Open SQLite…"))
        self.act_new_store = act(tr("New empty store…"))
        self.act_new_agent_store = act(tr("New store with a new agent…"))
        self.act_demo = act(tr("Open a demo store"))
        self.act_migrate = act(tr("Migrate to another store…"))
        self.act_backup = act(tr("Back up…"))
        self.act_backup.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.act_restore = act(tr("Restore a backup…"))
        self.act_settings = act(tr("Settings…"))
        self.act_settings.setShortcut(QKeySequence.StandardKey.Preferences)
        if self.act_settings.shortcut().isEmpty():
            self.act_settings.setShortcut(QKeySequence("Ctrl+,"))
        self.act_settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.act_quit = act(tr("Quit"))
        self.act_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.act_shortcuts = act(tr("Keyboard Shortcuts…"))
        self.act_shortcuts.setShortcut(QKeySequence("Ctrl+/"))
        self.act_readme = act(tr("README…"))
        self.act_welcome = act(tr("Welcome…"))
        self.act_log_folder = act(tr("Open the Log Folder"))
        self.act_install_entry = act(tr("Add to the Applications Menu"))
        self.act_about = act(tr("About JACS Desktop…"))
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)
        for name, (theme_name, fallback) in ICONS.items():
            getattr(self, name).setIcon(themed_icon(theme_name, fallback))

    def names(self) -> list[str]:
        return [n for n in vars(self) if n.startswith("act_")]

    def connect_slots(self, slots: dict[str, object]) -> None:
        """``{"act_open": slot, …}``: each action's triggered signal to its slot."""
        for name, slot in slots.items():
            getattr(self, name).triggered.connect(slot)

    def install(self, window: QMainWindow):
        """The toolbar and the menu bar of *window*; returns the Tools menu."""
        tb = QToolBar(tr("Main"), window)
        tb.setObjectName("main_toolbar")  # saveState keys toolbars by name
        tb.setMovable(False)
        window.addToolBar(tb)
        for a in self._toolbar:
            tb.addAction(a)
        mb = window.menuBar()
        m_file = mb.addMenu(tr("&File"))
        for a in (self.act_open, self.act_connect_s3, self.act_open_sqlite, self.act_new_store,
                  self.act_new_agent_store, self.act_demo):
            m_file.addAction(a)
        m_file.addSeparator()
        m_file.addAction(self.act_settings)
        m_file.addSeparator()
        m_file.addAction(self.act_quit)
        m_edit = mb.addMenu(tr("&Edit"))
        m_edit.addAction(self.act_find)
        m_edit.addAction(self.act_copy)
        m_view = mb.addMenu(tr("&View"))
        for a in (self.act_refresh, self.act_verify, self.act_reveal):
            m_view.addAction(a)
        #: the window adds its panels' toggles here (Jobs)
        self.menu_view = m_view
        m_doc = mb.addMenu(tr("&Document"))
        m_doc.addAction(self.act_new_doc)
        m_doc.addAction(self.act_new_version)
        m_tools = mb.addMenu(tr("&Tools"))
        for a in (self.act_migrate, self.act_backup, self.act_restore):
            m_tools.addAction(a)
        m_help = mb.addMenu(tr("&Help"))
        for a in (self.act_shortcuts, self.act_readme, self.act_welcome, self.act_log_folder, self.act_install_entry,
                  self.act_about):
            m_help.addAction(a)
        return m_tools
