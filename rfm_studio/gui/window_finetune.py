"""The Fine-tuning tab seen from the main window (a controller MainWindow composes): edits wait
while it trains, its adapters appear in the edit panel, its previews open as versions, and the
editor's clip is heard again when the user leaves the tab. ``FinetuneHost`` lists everything it
uses of the window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTabWidget

    from .edit_panel import EditPanel
    from .finetune.tab import FinetuneTab
    from .history import History
    from .playback import Player
    from .settings import Settings
    from .tasks import ModelInfo
    from .window_actions import WindowActions
    from .window_edit import EditController
    from .window_model import ModelController
    from .window_playback import PlaybackController


class FinetuneHost(Protocol):
    finetune: FinetuneTab
    tabs: QTabWidget
    panel: EditPanel
    player: Player
    history: History
    settings: Settings
    acts: WindowActions
    models: ModelController
    editing: EditController
    playback: PlaybackController
    model_info: Optional[ModelInfo]
    source_path: Optional[Path]
    compare: tuple
    ab: int

    def statusBar(self): ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...
    def set_document(self, audio, sr: int, name: str = "untitled") -> None: ...
    def request_mel(self, vid: int) -> None: ...
    def refresh_views(self) -> None: ...
    def update_actions(self) -> None: ...


class FinetuneLink:
    def __init__(self, win: FinetuneHost):
        self.win = win
        ft = win.finetune
        ft.adapters_changed.connect(win.models.refresh_lists)
        ft.adapter_moved.connect(self.adapter_moved)
        ft.busy_changed.connect(self.busy_changed)
        ft.use_adapter.connect(self.use_adapter)
        ft.open_preview.connect(self.show_preview)
        ft.error.connect(win.show_error)
        ft.status.connect(lambda text: win.statusBar().showMessage(text, 6000))
        win.tabs.currentChanged.connect(self.tab_changed)

    def busy_changed(self, busy: bool) -> None:
        w = self.win
        what = "an adapter is training" if w.finetune.training else "an adapter preview is running"
        w.panel.set_blocked(f"Edits wait: {what} (Fine-tuning tab; one job at a time)" if busy else "")
        w.update_actions()

    def tab_changed(self, index: int) -> None:
        w = self.win
        if w.tabs.widget(index) is not w.finetune:
            w.finetune.player.cancel_pending()  # a listen decoded after this must not take the editor's player
        if w.tabs.widget(index) is not w.finetune and w.finetune.owns_player:
            w.finetune.owns_player = False  # the editor's clip is heard again
            w.player.pause()
            w.playback.update_play_action()
            if w.history.source is None:
                w.player.set_sources(None, None, 44100)
            w.refresh_views()
            if w.acts.a_loop.isChecked():
                w.playback.set_loop(True)

    def use_adapter(self, folder: str) -> None:
        combo = self.win.panel.adapter_combo
        i = combo.findData(folder)
        if i >= 0:
            combo.setCurrentIndex(i)
        self.win.models.adapter_chosen(folder)

    def adapter_moved(self, old: str, new: str) -> None:
        """An adapter was renamed (new folder) or deleted (""): follow it if it is the one in use."""
        w = self.win
        if w.settings.adapter and Path(w.settings.adapter) == Path(old):
            if w.model_info is not None:
                w.models.adapter_chosen(new)
            else:
                w.settings.adapter = new
        w.models.refresh_lists()

    def show_preview(self, p) -> None:
        """A Fine-tuning preview in the editor: the input as the source, the base model's and
        the adapter's edit as versions 1 and 2, compared as A and B."""
        w = self.win
        w.editing.cancel(quiet=True)
        w.source_path = None  # a (possibly trimmed) copy: exports never replace the user's file
        w.set_document(p.original, p.sample_rate, Path(p.input).name)
        params = dict(p.params or {})
        name = Path(p.adapter).name
        model = w.model_info.name if w.model_info else ""
        a = w.history.add_edit(0, p.base, p.sample_rate, instruction=p.instruction,
                               params={**params, "model_name": model}, label=f"Base model: {p.instruction}")
        b = w.history.add_edit(0, p.adapted, p.sample_rate, instruction=p.instruction,
                               params={**params, "model_name": model, "adapter": p.adapter},
                               label=f"{name}: {p.instruction}")
        for vid in (a.id, b.id):
            w.request_mel(vid)
        w.compare = (a.id, b.id)
        w.ab = 1
        w.refresh_views()
        w.tabs.setCurrentIndex(0)
