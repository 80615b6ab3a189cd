"""The user's adapters on disk: use one in the editor, preview, rename, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout

from ...core.errors import RFMError
from .widgets import button, hint


class AdaptersPanel(QGroupBox):
    """Uses: ``model_ready()``, ``busy()`` (a job of the tab holds the model), ``has_rows()``
    (the preview edits a triplet's input), ``say(text, warn)``, ``confirm(title, text)`` and
    ``ask_text(title, label, text)``.

    Signals: ``adapters_changed`` (saved, renamed or deleted), ``adapter_moved(old, new)``
    (new "" when deleted), ``use_adapter(folder)``, ``preview_requested(folder)``, ``changed``
    (the selection)."""

    adapters_changed = Signal()
    adapter_moved = Signal(str, str)
    use_adapter = Signal(str)
    preview_requested = Signal(str)
    changed = Signal()

    def __init__(self, model_ready: Callable[[], bool], busy: Callable[[], bool], has_rows: Callable[[], bool],
                 say: Callable, confirm: Callable, ask_text: Callable, parent=None):
        super().__init__("Your adapters", parent)
        self.model_ready, self.busy, self.has_rows = model_ready, busy, has_rows
        self.say, self.confirm, self.ask_text = say, confirm, ask_text
        al = QVBoxLayout(self)
        self.adapter_tree = QTreeWidget()
        self.adapter_tree.setHeaderLabels(["Name", "Steps", "Loss", "Held-out", "Triplets", "Base model"])
        self.adapter_tree.setRootIsDecorated(False)
        self.adapter_tree.setUniformRowHeights(True)
        self.adapter_tree.itemSelectionChanged.connect(self.changed)
        self.adapter_tree.itemDoubleClicked.connect(lambda *_: self.use_selected())
        h = self.adapter_tree.header()
        h.setStretchLastSection(True)
        h.setSectionResizeMode(QHeaderView.ResizeToContents)
        al.addWidget(self.adapter_tree, 1)
        row = QHBoxLayout()
        self.b_use = button("Use in editor", self.use_selected, "Apply the adapter to the loaded model (no "
                                                                "reload); choose 'No adapter' in the edit panel "
                                                                "to remove it")
        self.b_preview = button("Preview", self.preview_selected,
                                "Edit the selected triplet's input (or the first) with and without this "
                                "adapter, same seed")
        self.b_rename = button("Rename…", lambda: self.rename_adapter(self.selected()))
        self.b_delete = button("Delete…", lambda: self.delete_adapter(self.selected()))
        for b in (self.b_use, self.b_preview, self.b_rename, self.b_delete):
            row.addWidget(b)
        row.addStretch(1)
        al.addLayout(row)
        self.adapters_hint = hint("")
        al.addWidget(self.adapters_hint)

    def refresh(self, select: Optional[str] = None) -> list[str]:
        from ...core.model.adapter_store import list_adapters
        from ...core.paths import user_adapters_dir

        keep = select or self.selected()
        self.adapter_tree.clear()
        names = []
        for name, folder, card in list_adapters():
            def f(v):
                return "–" if not isinstance(v, (int, float)) else f"{v:.4f}"
            trip = card.get("triplets")
            it = QTreeWidgetItem([name, str(card.get("steps", "")), f(card.get("final_loss")),
                                  f(card.get("final_val_loss")), str(len(trip)) if isinstance(trip, list) else "",
                                  Path(str(card.get("base_model") or "")).name])
            it.setData(0, Qt.UserRole, str(folder))
            s = card.get("settings") or {}
            it.setToolTip(0, f"{folder}\nrank {card.get('rank', '?')}, alpha {card.get('alpha', '?')}, "
                             f"parts {', '.join(card.get('parts') or [])}, lr {s.get('lr', '?')}")
            self.adapter_tree.addTopLevelItem(it)
            names.append(name)
            if name == keep:
                it.setSelected(True)
                self.adapter_tree.setCurrentItem(it)
        self.adapters_hint.setText(f"Saved in {user_adapters_dir()}" if names else
                                   f"No adapters yet; trained ones are saved in {user_adapters_dir()}.")
        self.changed.emit()
        return names

    def names(self) -> list[str]:
        return [self.adapter_tree.topLevelItem(i).text(0) for i in range(self.adapter_tree.topLevelItemCount())]

    def selected(self) -> Optional[str]:
        items = self.adapter_tree.selectedItems()
        return items[0].text(0) if items else None

    def folder(self, name: str) -> Optional[Path]:
        from ...core.model.adapter_store import list_adapters

        return next((p for n, p, _c in list_adapters() if n == name), None)

    def select(self, name: str) -> None:
        for i in range(self.adapter_tree.topLevelItemCount()):
            it = self.adapter_tree.topLevelItem(i)
            it.setSelected(it.text(0) == name)

    def use_selected(self) -> None:
        name = self.selected()
        folder = self.folder(name) if name else None
        if folder is not None and self.model_ready() and not self.busy():
            self.use_adapter.emit(str(folder))

    def preview_selected(self) -> None:
        name = self.selected()
        folder = self.folder(name) if name else None
        if folder:
            self.preview_requested.emit(str(folder))

    def rename_adapter(self, old: Optional[str], new: Optional[str] = None) -> Optional[str]:
        from ...core.model.adapter_store import rename_adapter

        if not old or self.busy():
            return None
        if new is None:
            new = self.ask_text("Rename adapter", f"New name for '{old}':", old)
            if not new or new.strip() == old:
                return None
        new = new.strip()
        src = self.folder(old)
        try:
            dst = rename_adapter(old, new)
        except (RFMError, OSError) as exc:
            msg = str(exc) if isinstance(exc, RFMError) else f"'{old}' could not be renamed ({exc.strerror})."
            self.say(msg, warn=True)
            return None
        self.refresh(select=new)
        self.say(f"Adapter '{old}' renamed to '{new}'.")
        self.adapters_changed.emit()
        self.adapter_moved.emit(str(src), str(dst))
        return new

    def delete_adapter(self, name: Optional[str]) -> bool:
        from ...core.model.adapter_store import delete_adapter

        if not name or self.busy():
            return False
        if not self.confirm("Delete the adapter?", f"Delete the adapter '{name}' and its files? This cannot be "
                                                   "undone."):
            return False
        src = self.folder(name)
        try:
            delete_adapter(name)
        except (RFMError, OSError) as exc:
            msg = str(exc) if isinstance(exc, RFMError) else f"'{name}' could not be deleted ({exc.strerror})."
            self.say(msg, warn=True)
            return False
        self.refresh()
        self.say(f"Adapter '{name}' deleted.")
        self.adapters_changed.emit()
        self.adapter_moved.emit(str(src), "")
        return True

    def update_buttons(self) -> None:
        sel, ready, busy = self.selected() is not None, self.model_ready(), self.busy()
        self.b_use.setEnabled(sel and ready and not busy)
        self.b_preview.setEnabled(sel and ready and not busy and self.has_rows())
        self.b_rename.setEnabled(sel and not busy)
        self.b_delete.setEnabled(sel and not busy)
