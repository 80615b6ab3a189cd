"""Exporting audio (result, difference) and attention (PNG, .npz) (a mixin of MainWindow).

Writes are atomic; the opened source file is only overwritten after a confirmation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QFileDialog

from ..core.audio.io import save_audio
from ..core.errors import RFMError


class ExportMixin:
    def _save_path(self, title: str, default: str, filt: str) -> Optional[str]:
        start = str(Path(self.settings.last_dir) / default)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filt)
        return path or None

    def _default_stem(self) -> str:
        return self.source_path.stem if self.source_path else "clip"

    def _write_audio(self, path, audio, sr) -> Optional[Path]:
        p = Path(path)
        if not p.suffix:
            p = p.with_suffix(".wav")
        protect = (self.source_path,) if self.source_path else ()
        if self.source_path and p.exists() and p.resolve() == self.source_path.resolve():
            if not self.confirm("Overwrite the source?", f"{p.name} is the file you opened. Replace it with "
                                                         "the edited audio? This cannot be undone."):
                return None
            protect = ()
        try:
            out = save_audio(p, audio, sr, protect=protect)
        except RFMError as exc:
            self.show_error("Export failed", str(exc))
            return None
        except OSError as exc:
            self.show_error("Export failed", f"Cannot write {p.name} ({exc.strerror or exc}).")
            return None
        self.settings.last_dir = str(out.parent)
        self.statusBar().showMessage(f"Saved {out}", 6000)
        return out

    def _export_version(self):
        a_id, b_id = self.compare
        return self.history.get(b_id if b_id is not None else self.history.current)

    def export_result(self, path: str | None = None) -> Optional[Path]:
        v = self._export_version()
        if v is None:
            return None
        path = path or self._save_path("Export result", f"{self._default_stem()}-edit{v.id}.wav",
                                       "WAV (*.wav);;FLAC (*.flac)")
        return self._write_audio(path, v.audio, v.sample_rate) if path else None

    def export_difference(self, path: str | None = None) -> Optional[Path]:
        a_id, b_id = self.compare
        a, b = self.history.get(a_id), self.history.get(b_id)
        if a is None or b is None:
            self.show_error("Nothing to compare", "Run an edit (or choose a version B) to export a difference.")
            return None
        path = path or self._save_path("Export difference (B − A)", f"{self._default_stem()}-diff{b.id}.wav",
                                       "WAV (*.wav);;FLAC (*.flac)")
        return self._write_audio(path, b.audio - a.audio, a.sample_rate) if path else None

    def export_heatmap_png(self, path: str | None = None) -> Optional[Path]:
        path = path or self._save_path("Export heatmap", f"{self._default_stem()}-attention.png", "PNG (*.png)")
        if not path:
            return None
        try:
            out = self.attn.save_png(path)
        except OSError as exc:
            self.show_error("Export failed", str(exc))
            return None
        self.statusBar().showMessage(f"Saved {out}", 6000)
        return out

    def export_attention_npz(self, path: str | None = None) -> Optional[Path]:
        if not self.attn.has_maps():
            self.show_error("No attention maps", "Run an edit with 'Capture cross-attention' on first.")
            return None
        path = path or self._save_path("Export attention maps", f"{self._default_stem()}-attention.npz",
                                       "NumPy archive (*.npz)")
        if not path:
            return None
        try:
            out = self.attn.save_npz(path)
        except (OSError, ValueError) as exc:
            self.show_error("Export failed", str(exc))
            return None
        self.statusBar().showMessage(f"Saved {out}", 6000)
        return out
