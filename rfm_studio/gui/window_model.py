"""Choosing and loading the model and its adapter (a controller MainWindow composes).

Loading runs in the worker; the UI only sees the frozen ModelInfo it returns. ``ModelWindow``
lists everything the controller uses of the window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

from PySide6.QtWidgets import QFileDialog, QLabel

from ..core import paths
from ..core.errors import RFMError
from .tasks import ModelInfo

if TYPE_CHECKING:
    from .edit_panel import EditPanel
    from .jobs import JobError, JobRunner
    from .session import SessionController
    from .settings import Settings
    from .tasks import ModelHost


def model_folders(search_path) -> list[Path]:
    """Model folders (holding a model_index.json) directly under each folder of ``search_path``."""
    out = []
    for base in search_path:
        try:
            for d in sorted(Path(base).iterdir()):
                if (d / "model_index.json").is_file():
                    out.append(d)
        except OSError:
            continue
    return out


def adapter_folders(base) -> list[Path]:
    """Adapter folders (holding an adapter_card.json) under ``base`` (the core's listing)."""
    from ..core.model.adapter_store import list_adapters

    return [d for _, d, _ in list_adapters(base)]


class ModelWindow(Protocol):
    settings: Settings
    runner: JobRunner
    host: ModelHost
    panel: EditPanel
    model_label: QLabel
    autosave: SessionController

    def show_error(self, title: str, message: str, detail: str = "") -> None: ...
    def update_actions(self) -> None: ...


class ModelController:
    """The loaded model: ``info`` is its ModelInfo, None while none is loaded or one is loading."""

    def __init__(self, win: ModelWindow):
        self.win = win
        self.info: Optional[ModelInfo] = None
        self._applied_defaults = None  # the sampling defaults last shown in the edit panel

    def model_folder(self) -> str:
        if self.win.settings.model_folder:
            return self.win.settings.model_folder
        try:
            return str(paths.resolve_model(None))
        except RFMError:
            return ""

    def refresh_lists(self) -> None:
        w = self.win
        current = self.info.folder if self.info else self.model_folder()
        w.panel.set_models(model_folders(paths.model_search_path()), current)
        w.panel.set_adapters(adapter_folders(paths.user_adapters_dir()), w.settings.adapter)

    def start(self, folder: str | None = None) -> None:
        folder = folder or self.model_folder()
        if not folder:
            self._no_model("No model loaded: the default model 'rfm-studio-small' is not installed. "
                           "Choose a model folder to start editing.")
            return
        self.load(folder, self.win.settings.adapter)

    def loading(self) -> bool:
        """A model or adapter is being loaded (its defaults are still to come)."""
        return self.win.runner.busy("model")

    def _no_model(self, text: str) -> None:
        self.info = None
        self.win.panel.set_model_status(text, False, missing=True)
        self.win.model_label.setText("Model: not loaded")
        self.win.update_actions()

    def load(self, folder: str, adapter: str = "") -> None:
        w = self.win
        if not folder:
            self.choose_folder()
            return
        host, dev, prec = w.host, w.settings.device, w.settings.precision
        self._submit(lambda c: host.load(folder, dev, prec, adapter), "model")
        self.info = None
        w.panel.set_model_status(f"Loading {Path(folder).name}…", False)
        w.model_label.setText(f"Model: loading {Path(folder).name}…")
        w.update_actions()

    def use(self, model, name: str = "injected") -> int:
        """Hand an in-memory model to the worker (tests and scripts)."""
        host = self.win.host
        return self._submit(lambda c: host.set_model(model, name), "model")

    def _submit(self, fn, label: str) -> int:
        """The one model job (a newer one supersedes it): load, inject or change the adapter."""
        w = self.win
        return w.runner.submit("model", fn, label=label,
                               on_started=lambda: w.panel.set_model_status("Loading the model…", False),
                               on_returned=self.loaded, on_errored=self._failed, on_aborted=w.update_actions)

    def choose_folder(self, folder: str | None = None) -> None:
        w = self.win
        if folder is None:
            folder = QFileDialog.getExistingDirectory(w, "Choose a model folder", self.model_folder()
                                                      or str(Path.home()))
        if not folder:
            return
        if not (Path(folder) / "model_index.json").is_file():
            w.show_error("Not a model folder", f"{folder} has no model_index.json; choose an RFM Studio "
                                               "model folder.")
            return
        w.settings.model_folder = folder
        self.load(folder, w.settings.adapter)

    def model_chosen(self, folder: str) -> None:
        self.win.settings.model_folder = folder  # remembered for the next start
        self.load(folder, self.win.settings.adapter)

    def adapter_chosen(self, adapter: str) -> None:
        """Attach or remove an adapter on the loaded model (in the worker, no reload)."""
        w = self.win
        w.settings.adapter = adapter
        if self.info is None:
            self.load(self.model_folder(), adapter)
            return
        host = w.host
        self._submit(lambda c: host.set_adapter(adapter), "adapter")
        self.info = None
        w.panel.set_model_status(f"Applying adapter {Path(adapter).name}…" if adapter else "Removing the adapter…",
                                 False)
        w.update_actions()

    def _failed(self, err: JobError) -> None:
        w = self.win
        w.settings.adapter = ""  # a broken adapter must not block the next start
        if w.host.info is not None:
            self.loaded(w.host.info)  # the previous model stays usable
        else:
            w.autosave.apply_panel_state(once=True, apply=False)  # no defaults came: nothing to win over
            self._no_model(f"No model loaded: {err.message}")
        w.show_error("Cannot load the model", err.message, err.detail if not err.user else "")
        w.update_actions()

    def loaded(self, info: ModelInfo) -> None:
        w = self.win
        self.info = info
        defaults = (info.steps, info.t_start, info.guidance, info.draws, info.strength, info.region_strength)
        if defaults != self._applied_defaults:
            # a model with other defaults; an adapter on the same model keeps the user's settings
            w.panel.set_defaults(*defaults)
            self._applied_defaults = defaults
        w.autosave.apply_panel_state(once=True)  # a restored session's settings win over the model's defaults
        extra = f" + {Path(info.adapter).name}" if info.adapter else ""
        status = f"{info.name}{extra} · {info.device} · {info.precision} · loaded in {info.seconds:.1f} s"
        if info.note:
            status += f"\n{info.note}"
        w.panel.set_model_status(status, True)
        w.model_label.setText(f"Model: {info.name}{extra} ({info.device})")
        self.refresh_lists()
        w.update_actions()
