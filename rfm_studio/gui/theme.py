"""Dark and light themes (Fusion + a palette) that follow the system's colour scheme."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette


@dataclass(frozen=True)
class Colors:
    dark: bool
    window: str
    base: str
    plot_bg: str
    text: str
    muted: str
    grid: str
    accent: str
    wave_a: str
    wave_b: str
    playhead: str
    region: str  # selection fill colour (drawn with region_alpha)
    heat_map: str  # pyqtgraph colormap name
    region_alpha: int = 60


DARK = Colors(True, "#1f2126", "#16181c", "#111317", "#dfe3ea", "#8b93a1", "#2c313a", "#4c9eeb",
              "#5fb0f0", "#f0a04b", "#ff5c5c", "#6fb4ff", "inferno", 46)
LIGHT = Colors(False, "#eef0f3", "#ffffff", "#ffffff", "#1d2127", "#5d6673", "#d5d9df", "#1f6fd1",
               "#2a6fb8", "#d9771f", "#d62828", "#1f6fd1", "viridis", 40)


def rgba(color: str, alpha: int) -> str:
    """A style-sheet rgba() for '#rrggbb' (Qt reads 8-digit hex as #AARRGGBB, so avoid it)."""
    c = QColor(color)
    return f"rgba({c.red()}, {c.green()}, {c.blue()}, {alpha})"


def system_is_dark(app=None) -> bool:
    app = app or QGuiApplication.instance()
    if app is None:
        return False
    try:
        scheme = app.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
    except AttributeError:  # Qt < 6.5
        pass
    win = app.palette().color(QPalette.Window)
    return win.lightness() < 128


def resolve(mode: str = "system", app=None) -> Colors:
    """mode: system | dark | light (RFM_STUDIO_THEME overrides the setting)."""
    mode = os.environ.get("RFM_STUDIO_THEME", mode or "system").lower()
    if mode == "dark":
        return DARK
    if mode == "light":
        return LIGHT
    return DARK if system_is_dark(app) else LIGHT


def apply(app, colors: Colors) -> None:
    """Fusion style with a palette built from ``colors``; pyqtgraph defaults to match."""
    import pyqtgraph as pg

    app.setStyle("Fusion")
    p = QPalette()
    c = QColor
    p.setColor(QPalette.Window, c(colors.window))
    p.setColor(QPalette.WindowText, c(colors.text))
    p.setColor(QPalette.Base, c(colors.base))
    p.setColor(QPalette.AlternateBase, c(colors.window))
    p.setColor(QPalette.ToolTipBase, c(colors.base))
    p.setColor(QPalette.ToolTipText, c(colors.text))
    p.setColor(QPalette.PlaceholderText, c(colors.muted))
    p.setColor(QPalette.Text, c(colors.text))
    p.setColor(QPalette.Button, c(colors.window).lighter(112) if colors.dark else c("#f7f8fa"))
    p.setColor(QPalette.ButtonText, c(colors.text))
    p.setColor(QPalette.BrightText, c("#ffffff"))
    p.setColor(QPalette.Highlight, c(colors.accent))
    p.setColor(QPalette.HighlightedText, c("#ffffff"))
    p.setColor(QPalette.Link, c(colors.accent))
    p.setColor(QPalette.Mid, c(colors.grid))
    p.setColor(QPalette.Dark, c(colors.base).darker(130))
    p.setColor(QPalette.Light, c(colors.window).lighter(130))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, c(colors.muted))
    app.setPalette(p)
    app.setStyleSheet(_STYLE.format(accent=colors.accent, muted=colors.muted, grid=colors.grid,
                                    base=colors.base, text=colors.text))
    pg.setConfigOption("background", colors.plot_bg)
    pg.setConfigOption("foreground", colors.muted)


_STYLE = """
QToolBar {{ border: none; spacing: 4px; padding: 3px; }}
QDockWidget::title {{ padding: 5px 8px; font-weight: 600; }}
QGroupBox {{ border: 1px solid {grid}; border-radius: 4px; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: {muted}; font-weight: 600; }}
QPushButton#primary {{ background: {accent}; color: white; font-weight: 600; border-radius: 4px;
                       padding: 6px 14px; border: none; }}
QPushButton#primary:disabled {{ background: {grid}; color: {muted}; }}
QLabel#hint {{ color: {muted}; }}
QLabel#banner {{ border: 1px solid {accent}; border-radius: 4px; padding: 6px; }}
QToolButton:checked {{ background: {accent}; color: white; border-radius: 3px; }}
QProgressBar {{ border: 1px solid {grid}; border-radius: 3px; text-align: center; height: 16px; }}
QProgressBar::chunk {{ background: {accent}; border-radius: 2px; }}
QTabWidget::pane {{ border-top: 1px solid {grid}; }}
"""
