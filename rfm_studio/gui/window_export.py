"""Exporting audio (result, difference, removed sound) and attention (PNG, .npz) (a controller
MainWindow composes; ``ExportWindow`` lists everything it uses of the window).

Audio keeps the opened file's sample format and container unless the save dialog's type says
otherwise (see core/audio/formats.py). Writes are atomic; the opened source file is only
overwritten after a confirmation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from PySide6.QtWidgets import QFileDialog

from ..core.audio.formats import CONTAINERS, OutputFormat, choose_format, source_format
from ..core.audio.io import save_audio
from ..core.errors import RFMError

if TYPE_CHECKING:
    from .attention_panel import AttentionPanel
    from .history import History
    from .session import SessionController
    from .settings import Settings
    from .window_report import RemovedSound

# the types the save dialog offers besides "the source's"
EXPORT_TYPES = (("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "FLOAT"), ("FLAC", "PCM_16"), ("FLAC", "PCM_24"),
                ("OGG", "VORBIS"), ("AIFF", "PCM_16"), ("AIFF", "PCM_24"))


def extension(of: OutputFormat) -> str:
    return next(exts[0] for f, exts, _ in CONTAINERS.values() if f == of.format)


def export_filters(source) -> list[tuple[str, OutputFormat]]:
    """(file dialog filter, format): first the source's own format, then the others."""
    kept = choose_format("x", source)
    out = [(f"Same as the source: {kept.describe()} (*{extension(kept)})", kept)]
    for f, st in EXPORT_TYPES:
        of = OutputFormat(f, st)
        out.append((f"{of.describe()} (*{extension(of)})", of))
    return out


def format_for(path, of: OutputFormat) -> tuple[Path, OutputFormat]:
    """A dialog's path and chosen type: with no extension the type's is added; an extension of
    another container wins, keeping the chosen sample format where that container holds it."""
    p = Path(path)
    if not p.suffix:
        return p.with_suffix(extension(of)), of
    return p, choose_format(p, (of.format, of.subtype))


class ExportWindow(Protocol):
    settings: Settings
    history: History
    attn: AttentionPanel
    removed: RemovedSound
    autosave: SessionController
    compare: tuple
    source_path: Optional[Path]
    exported: set
    confirm: Callable[[str, str], bool]

    def statusBar(self): ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...


class Exporter:
    def __init__(self, win: ExportWindow):
        self.win = win

    def _save_path(self, title: str, default: str, filt: str) -> Optional[str]:
        start = str(Path(self.win.settings.last_dir) / default)
        path, _ = QFileDialog.getSaveFileName(self.win, title, start, filt)
        return path or None

    def _default_stem(self) -> str:
        return self.win.source_path.stem if self.win.source_path else "clip"

    def _source_format(self):
        """The opened file's (format, subtype); a clip not read from a file exports as float WAV."""
        if self.win.source_path is not None:
            fmt = source_format(self.win.source_path)
            if fmt is not None:
                return fmt
        return ("WAV", "FLOAT")

    def _save_audio_path(self, title: str, name: str):
        """The save dialog with the export types: (path, OutputFormat) or None."""
        filters = export_filters(self._source_format())
        kept = filters[0][1]
        start = str(Path(self.win.settings.last_dir) / f"{name}{extension(kept)}")
        path, chosen = QFileDialog.getSaveFileName(self.win, title, start, ";;".join(f for f, _ in filters),
                                                   filters[0][0])
        if not path:
            return None
        of = next((o for f, o in filters if f == chosen), kept)
        return format_for(path, of)

    def _write_audio(self, path, audio, sr, fmt: OutputFormat | None = None) -> Optional[Path]:
        w = self.win
        p = Path(path)
        try:
            if fmt is None:
                source = self._source_format()
                if not p.suffix:
                    p = p.with_suffix(extension(choose_format(p, source)))
                fmt = choose_format(p, source)
        except RFMError as exc:
            w.show_error("Export failed", str(exc))
            return None
        protect = (w.source_path,) if w.source_path else ()
        if w.source_path and p.exists() and p.resolve() == w.source_path.resolve():
            if not w.confirm("Overwrite the source?", f"{p.name} is the file you opened. Replace it with "
                                                         "the edited audio? This cannot be undone."):
                return None
            protect = ()
        try:
            out = save_audio(p, audio, sr, protect=protect, fmt=fmt)
        except RFMError as exc:
            w.show_error("Export failed", str(exc))
            return None
        except OSError as exc:
            w.show_error("Export failed", f"Cannot write {p.name} ({exc.strerror or exc}).")
            return None
        w.settings.last_dir = str(out.parent)
        w.statusBar().showMessage(f"Saved {out}", 6000)
        return out

    def _export_version(self):
        w = self.win
        a_id, b_id = w.compare
        return w.history.get(b_id if b_id is not None else w.history.current)

    def export_result(self, path: str | None = None, fmt: OutputFormat | None = None) -> Optional[Path]:
        v = self._export_version()
        if v is None:
            return None
        if path is None:
            chosen = self._save_audio_path("Export result", f"{self._default_stem()}-edit{v.id}")
            if chosen is None:
                return None
            path, fmt = chosen
        out = self._write_audio(path, v.audio, v.sample_rate, fmt)
        if out is not None:
            self.win.exported.add(v.id)
            self.win.autosave.schedule()
        return out

    def export_difference(self, path: str | None = None, fmt: OutputFormat | None = None) -> Optional[Path]:
        w = self.win
        a_id, b_id = w.compare
        a, b = w.history.get(a_id), w.history.get(b_id)
        r = w.removed.audio()  # A − B, or None when the versions differ in shape
        if a is None or b is None or r is None:
            w.show_error("Nothing to compare", "Run an edit (or choose a version B of the same length and "
                                               "channels) to export a difference.")
            return None
        if path is None:
            chosen = self._save_audio_path("Export difference (B − A)", f"{self._default_stem()}-diff{b.id}")
            if chosen is None:
                return None
            path, fmt = chosen
        return self._write_audio(path, -r, a.sample_rate, fmt)

    def export_removed(self, path: str | None = None, fmt: OutputFormat | None = None) -> Optional[Path]:
        """What B removed from A (A − B, the residual): sound designers check a removal by it."""
        w = self.win
        r = w.removed.audio()
        a_id, b_id = w.compare
        if r is None:
            w.show_error("Nothing removed yet", "Run an edit (or choose a version B) to export what it removed.")
            return None
        if path is None:
            chosen = self._save_audio_path("Export removed sound (A − B)", f"{self._default_stem()}-removed{b_id}")
            if chosen is None:
                return None
            path, fmt = chosen
        return self._write_audio(path, r, w.history.get(a_id).sample_rate, fmt)

    def export_heatmap_png(self, path: str | None = None) -> Optional[Path]:
        w = self.win
        path = path or self._save_path("Export heatmap", f"{self._default_stem()}-attention.png", "PNG (*.png)")
        if not path:
            return None
        try:
            out = w.attn.save_png(path)
        except OSError as exc:
            w.show_error("Export failed", str(exc))
            return None
        w.statusBar().showMessage(f"Saved {out}", 6000)
        return out

    def export_attention_npz(self, path: str | None = None) -> Optional[Path]:
        w = self.win
        if not w.attn.has_maps():
            w.show_error("No attention maps", "Run an edit with 'Capture cross-attention' on first.")
            return None
        path = path or self._save_path("Export attention maps", f"{self._default_stem()}-attention.npz",
                                       "NumPy archive (*.npz)")
        if not path:
            return None
        try:
            out = w.attn.save_npz(path)
        except (OSError, ValueError) as exc:
            w.show_error("Export failed", str(exc))
            return None
        w.statusBar().showMessage(f"Saved {out}", 6000)
        return out
