"""Persistent settings (QSettings, INI file in the user's config folder) and the settings dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QPushButton, QWidget)

DEVICES = ("auto", "cuda", "cpu", "mps")
DEVICE_LABELS = {"auto": "Automatic", "cuda": "CUDA (NVIDIA GPU)", "cpu": "CPU", "mps": "MPS (Apple GPU)"}
PRECISIONS = ("float32", "float16", "bfloat16")
THEMES = ("system", "dark", "light")
MAX_RECENT = 10
MAX_INSTRUCTIONS = 50


class Settings:
    """Typed access to the app's QSettings (a file under paths.user_config_dir())."""

    def __init__(self, path: str | Path | None = None):
        if path is None:
            from ..core.paths import user_config_dir

            path = user_config_dir() / "settings.ini"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.q = QSettings(str(path), QSettings.IniFormat)

    # -- scalars --------------------------------------------------------------------
    def _get(self, key, default, kind=str):
        v = self.q.value(key, default)
        if v is None:
            return default
        try:
            if kind is bool:
                return v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
            return kind(v)
        except (TypeError, ValueError):
            return default

    def _choice(self, key, default, choices):
        v = self._get(key, default)
        return v if v in choices else default

    @property
    def device(self) -> str:
        return self._choice("model/device", "auto", DEVICES)

    @device.setter
    def device(self, v):
        self.q.setValue("model/device", v)

    @property
    def precision(self) -> str:
        return self._choice("model/precision", "float32", PRECISIONS)

    @precision.setter
    def precision(self, v):
        self.q.setValue("model/precision", v)

    @property
    def model_folder(self) -> str:
        return self._get("model/folder", "")

    @model_folder.setter
    def model_folder(self, v):
        self.q.setValue("model/folder", str(v or ""))

    @property
    def adapter(self) -> str:
        return self._get("model/adapter", "")

    @adapter.setter
    def adapter(self, v):
        self.q.setValue("model/adapter", str(v or ""))

    @property
    def theme(self) -> str:
        return self._choice("ui/theme", "system", THEMES)

    @theme.setter
    def theme(self, v):
        self.q.setValue("ui/theme", v)

    @property
    def loudness_match(self) -> bool:
        return self._get("playback/loudness_match", False, bool)

    @loudness_match.setter
    def loudness_match(self, v):
        self.q.setValue("playback/loudness_match", bool(v))

    @property
    def attention_layers(self) -> str:
        return self._choice("attention/layers", "all", ("all", "down", "mid", "up"))

    @attention_layers.setter
    def attention_layers(self, v):
        self.q.setValue("attention/layers", v)

    @property
    def last_dir(self) -> str:
        return self._get("ui/last_dir", str(Path.home()))

    @last_dir.setter
    def last_dir(self, v):
        self.q.setValue("ui/last_dir", str(v))

    def open_dir(self) -> str:
        """Where the Open dialog starts: the last folder used, else (first run) the examples."""
        last = self._get("ui/last_dir", "") if self.q.contains("ui/last_dir") else ""
        if last and Path(last).is_dir():
            return last
        from ..core.paths import examples_dir

        ex = examples_dir()
        return str(ex) if ex.is_dir() else str(Path.home())

    # -- lists ----------------------------------------------------------------------
    def _list(self, key) -> list[str]:
        v = self.q.value(key, [])
        if isinstance(v, str):
            v = [v] if v else []
        return [str(x) for x in (v or [])]

    @property
    def recent_files(self) -> list[str]:
        return self._list("files/recent")

    def add_recent(self, path) -> None:
        p = str(Path(path).resolve())
        items = [p] + [x for x in self.recent_files if x != p]
        self.q.setValue("files/recent", items[:MAX_RECENT])

    @property
    def instructions(self) -> list[str]:
        return self._list("edit/instructions")

    def add_instruction(self, text: str) -> None:
        text = text.strip()
        if text:
            items = [text] + [x for x in self.instructions if x != text]
            self.q.setValue("edit/instructions", items[:MAX_INSTRUCTIONS])

    # -- window state ---------------------------------------------------------------
    def save_window(self, win) -> None:
        self.q.setValue("ui/geometry", win.saveGeometry())
        self.q.setValue("ui/state", win.saveState())
        if getattr(win, "splitter", None) is not None:
            self.q.setValue("ui/views", win.splitter.saveState())

    def restore_window(self, win) -> bool:
        g, s = self.q.value("ui/geometry"), self.q.value("ui/state")
        ok = False
        if isinstance(g, QByteArray) and not g.isEmpty():
            ok = win.restoreGeometry(g)
        if isinstance(s, QByteArray) and not s.isEmpty():
            win.restoreState(s)
        v = self.q.value("ui/views")
        if isinstance(v, QByteArray) and not v.isEmpty() and getattr(win, "splitter", None) is not None:
            win.splitter.restoreState(v)
        return ok

    def sync(self):
        self.q.sync()


class SettingsDialog(QDialog):
    """Device, precision, model folder and theme."""

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        form = QFormLayout(self)
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(DEVICE_LABELS[d], d)
        self.device.setCurrentIndex(DEVICES.index(settings.device))
        self.precision = QComboBox()
        self.precision.addItems(PRECISIONS)
        self.precision.setCurrentText(settings.precision)
        self.folder = QLineEdit(settings.model_folder)
        self.folder.setPlaceholderText("Default (rfm-studio-small)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.theme = QComboBox()
        for t in THEMES:
            self.theme.addItem(t.capitalize(), t)
        self.theme.setCurrentIndex(THEMES.index(settings.theme))
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Model folder", row)
        form.addRow("Theme", self.theme)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self):
        d = QFileDialog.getExistingDirectory(self, "Model folder", self.folder.text() or str(Path.home()))
        if d:
            self.folder.setText(d)

    def values(self) -> dict:
        return {"device": self.device.currentData(), "precision": self.precision.currentText(),
                "model_folder": self.folder.text().strip(), "theme": self.theme.currentData()}

    def apply(self) -> dict:
        v = self.values()
        for k, val in v.items():
            setattr(self.settings, k, val)
        return v
