"""The Help menu: Quick Start, Keyboard Shortcuts, the documentation folder, Report a Problem
(where the logs are, the diagnostics to attach) and About."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QMessageBox, QPushButton,
                               QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout)

QUICK_START = """<h3>Quick start</h3>
<ol>
<li><b>Open a clip</b>: File ▸ Open (Ctrl+O), drag a file onto the window, or File ▸ Open Example.</li>
<li><b>Describe the edit</b> in the Edit panel, e.g. <i>Remove the dog barking</i>,
<i>Add birds chirping</i>, <i>Replace the car with rain</i> (▾ lists recent instructions and templates).</li>
<li><b>Optionally select a region</b>: drag on the waveform; only that span changes.
Select where a sound should go before an <i>Add …</i> instruction.</li>
<li><b>Press Edit</b> (Ctrl+Return). The result becomes version <b>B</b>; <b>A</b> is the version it started from.</li>
<li><b>Compare</b>: Space plays, B switches A/B at the same position, L loops the selection,
Match Loudness plays B at A's loudness. The History panel compares any two versions.</li>
<li><b>Export</b> the result (Ctrl+E) or the difference B − A (Ctrl+Shift+E). Closing asks about
versions you have not exported; after a crash the app offers your versions back.</li>
<li>Many files with one instruction: File ▸ Batch Edit….</li>
</ol>
<p>The cross-attention views show which words of the instruction the model attends to, and
when: hover for the word, time and value; the colour bar gives the scale.</p>"""


def docs_dir() -> Path | None:
    from ..core.paths import install_root

    d = install_root() / "docs"
    return d if d.is_dir() else None


def _dialog(parent, title: str, body, width: int = 560, height: int = 480) -> QDialog:
    dlg = QDialog(parent)
    dlg.setWindowTitle(title)
    lay = QVBoxLayout(dlg)
    lay.addWidget(body, 1)
    box = QDialogButtonBox(QDialogButtonBox.Close)
    box.rejected.connect(dlg.reject)
    box.accepted.connect(dlg.accept)
    lay.addWidget(box)
    dlg.buttons = box
    dlg.resize(width, height)
    return dlg


def quick_start_dialog(parent) -> QDialog:
    text = QTextBrowser()
    text.setHtml(QUICK_START)
    text.setOpenExternalLinks(True)
    return _dialog(parent, "Quick Start", text)


def shortcut_rows(window) -> list[tuple[str, str]]:
    """(action, keys) for every action of the window that has a shortcut."""
    rows, seen = [], set()
    for a in window.actions():
        keys = ", ".join(k.toString(QKeySequence.NativeText) for k in a.shortcuts() if not k.isEmpty())
        name = a.text().replace("&", "").rstrip("…").strip()
        if keys and name and name not in seen:
            seen.add(name)
            rows.append((name, keys))
    rows += [("Zoom", "Mouse wheel over a view"), ("Pan", "Right- or middle-drag"),
             ("Select a region", "Drag on a view"), ("Clear the selection", "Double-click")]
    return rows


def shortcuts_dialog(window) -> QDialog:
    rows = shortcut_rows(window)
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(["Action", "Keys"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeToContents)
    for i, (name, keys) in enumerate(rows):
        table.setItem(i, 0, QTableWidgetItem(name))
        table.setItem(i, 1, QTableWidgetItem(keys))
    return _dialog(window, "Keyboard Shortcuts", table, 480, 520)


def report_text() -> str:
    from ..core.paths import user_log_dir

    log = user_log_dir() / "rfm-studio.log"
    return (f"<p>Please describe what you did, what you expected and what happened, and attach the log "
            f"file:</p><p><code>{log}</code></p><p>and the diagnostics (<b>Copy Diagnostics</b> below, or "
            f"<code>rfm-studio --diagnose</code> in a terminal). The log holds the commands and errors of "
            f"this machine only; nothing is sent anywhere.</p>")


def report_dialog(window) -> QDialog:
    from ..core.paths import user_log_dir

    label = QLabel(report_text())
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    dlg = _dialog(window, "Report a Problem", label, 520, 260)
    copy = QPushButton("Copy Diagnostics")
    dlg.buttons.addButton(copy, QDialogButtonBox.ActionRole)

    def _copy():
        from ..diagnose import diagnose

        QGuiApplication.clipboard().setText(diagnose())
        copy.setText("Copied")

    copy.clicked.connect(_copy)
    folder = QPushButton("Open Log Folder")
    dlg.buttons.addButton(folder, QDialogButtonBox.ActionRole)
    folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(user_log_dir()))))
    return dlg


def open_docs(window) -> bool:
    d = docs_dir()
    if d is None:
        window.statusBar().showMessage("The documentation folder is not installed with this copy.", 6000)
        return False
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(d)))


def about(window) -> None:
    from .. import __version__

    QMessageBox.about(window, "About RFM Studio",
                      f"<b>RFM Studio {__version__}</b><br>Text-guided audio editing with rectified flow "
                      "matching (RFM-Editing).<br>Runs offline; models load from local folders.")


def build_help_menu(window, menu, act) -> dict:
    """Fill ``menu`` with actions made by ``act(text, slot, shortcut, tip)``; returns them by name
    (tests, shortcuts)."""
    window._help_dialogs = []

    def show(make):
        dlg = make(window)
        dlg.setAttribute(Qt.WA_DeleteOnClose)
        window._help_dialogs = [d for d in window._help_dialogs if d is not dlg] + [dlg]
        dlg.open()
        return dlg

    acts = {
        "quick_start": act("&Quick Start", lambda: show(quick_start_dialog), "F1",
                                   "The first steps in the editor"),
        "shortcuts": act("&Keyboard Shortcuts", lambda: show(shortcuts_dialog)),
        "docs": act("Open &Documentation Folder", lambda: open_docs(window)),
        "report": act("&Report a Problem…", lambda: show(report_dialog),
                               tip="Where the log file is and what to include"),
        "about": act("&About RFM Studio", lambda: about(window)),
    }
    for key in ("quick_start", "shortcuts", "docs", None, "report", None, "about"):
        menu.addSeparator() if key is None else menu.addAction(acts[key])
    acts["docs"].setEnabled(docs_dir() is not None)
    return acts
