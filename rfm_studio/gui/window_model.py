"""Choosing and loading the model and its adapter (a mixin of MainWindow).

Loading runs in the worker; the UI only sees the frozen ModelInfo it returns.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..core import paths
from ..core.errors import RFMError
from .edit_panel import adapter_folders, model_folders
from .tasks import ModelInfo


class ModelMixin:
    def _model_folder(self) -> str:
        if self.settings.model_folder:
            return self.settings.model_folder
        try:
            return str(paths.resolve_model(None))
        except RFMError:
            return ""

    def _refresh_model_lists(self):
        current = self.model_info.folder if self.model_info else self._model_folder()
        self.panel.set_models(model_folders(paths.model_search_path()), current)
        self.panel.set_adapters(adapter_folders(paths.user_adapters_dir()), self.settings.adapter)

    def start_model(self, folder: str | None = None) -> None:
        folder = folder or self._model_folder()
        if not folder:
            self._no_model("No model loaded: the default model 'rfm-studio-small' is not installed. "
                           "Choose a model folder to start editing.")
            return
        self.load_model(folder, self.settings.adapter)

    def _no_model(self, text: str):
        self.model_info = None
        self.panel.set_model_status(text, False, missing=True)
        self.model_label.setText("Model: not loaded")
        self._update_actions()

    def load_model(self, folder: str, adapter: str = "") -> None:
        if not folder:
            self.choose_model_folder()
            return
        host, dev, prec = self.host, self.settings.device, self.settings.precision
        self._submit_model(lambda c: host.load(folder, dev, prec, adapter), "model")
        self.model_info = None
        self.panel.set_model_status(f"Loading {Path(folder).name}…", False)
        self.model_label.setText(f"Model: loading {Path(folder).name}…")
        self._update_actions()

    def use_model(self, model, name: str = "injected") -> int:
        """Hand an in-memory model to the worker (tests and scripts)."""
        host = self.host
        return self._submit_model(lambda c: host.set_model(model, name), "model")

    def _submit_model(self, fn, label: str) -> int:
        """The one model job (a newer one supersedes it): load, inject or change the adapter."""
        return self.runner.submit("model", fn, label=label,
                                  on_started=lambda: self.panel.set_model_status("Loading the model…", False),
                                  on_returned=self._model_loaded, on_errored=self._model_failed,
                                  on_aborted=self._update_actions)

    def choose_model_folder(self, folder: str | None = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self._model_folder()
                                                      or str(Path.home()))
        if not folder:
            return
        if not (Path(folder) / "model_index.json").is_file():
            self.show_error("Not a model folder", f"{folder} has no model_index.json; choose an RFM Studio "
                                                  "model folder.")
            return
        self.settings.model_folder = folder
        self.load_model(folder, self.settings.adapter)

    def _model_chosen(self, folder: str):
        self.settings.model_folder = folder  # remembered for the next start
        self.load_model(folder, self.settings.adapter)

    def _adapter_chosen(self, adapter: str):
        """Attach or remove an adapter on the loaded model (in the worker, no reload)."""
        self.settings.adapter = adapter
        if self.model_info is None:
            self.load_model(self._model_folder(), adapter)
            return
        host = self.host
        self._submit_model(lambda c: host.set_adapter(adapter), "adapter")
        self.model_info = None
        self.panel.set_model_status(f"Applying adapter {Path(adapter).name}…" if adapter else "Removing the adapter…",
                                    False)
        self._update_actions()

    def _model_failed(self, err) -> None:
        self.settings.adapter = ""  # a broken adapter must not block the next start
        if self.host.info is not None:
            self._model_loaded(self.host.info)  # the previous model stays usable
        else:
            self._no_model(f"No model loaded: {err.message}")
        self.show_error("Cannot load the model", err.message, err.detail if not err.user else "")
        self._update_actions()

    def _model_loaded(self, info: ModelInfo):
        self.model_info = info
        defaults = (info.steps, info.t_start, info.guidance, info.draws, info.strength, info.region_strength)
        if defaults != self._applied_defaults:
            # a model with other defaults; an adapter on the same model keeps the user's settings
            self.panel.set_defaults(*defaults)
            self._applied_defaults = defaults
        self._apply_panel_state()  # a restored session's settings win over the model's defaults, once
        self._restored_panel = None
        extra = f" + {Path(info.adapter).name}" if info.adapter else ""
        status = f"{info.name}{extra} · {info.device} · {info.precision} · loaded in {info.seconds:.1f} s"
        if info.note:
            status += f"\n{info.note}"
        self.panel.set_model_status(status, True)
        self.model_label.setText(f"Model: {info.name}{extra} ({info.device})")
        self._refresh_model_lists()
        self._update_actions()
