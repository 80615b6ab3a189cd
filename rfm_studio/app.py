"""GUI entry point: QApplication, theme, settings, main window.

The window shows first; the audio device, the first clip and the model (in the worker
thread) load right after, so the app is usable in well under two seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback


def _parse(argv):
    p = argparse.ArgumentParser(prog="rfm-studio-gui", description="RFM Studio, the text-guided audio editor.")
    p.add_argument("file", nargs="?", help="an audio file to open")
    p.add_argument("--model", help="a model folder (default: the setting, then rfm-studio-small)")
    p.add_argument("--theme", choices=("system", "dark", "light"), help="override the theme for this session")
    return p.parse_args(argv)


def create_app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "rfm-studio"])
    app.setApplicationName("RFM Studio")
    app.setOrganizationName("rfm-studio")
    app.setApplicationDisplayName("RFM Studio")
    from PySide6.QtGui import QIcon

    from .core.paths import resources_dir

    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = resources_dir() / "icons" / f"rfm-studio-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    if not icon.isNull():
        app.setWindowIcon(icon)
    return app


def process_events_until(app, cond, timeout: float = 600.0, poll: float = 0.005) -> None:
    """Run ``app``'s events until ``cond()`` is true (scripts that drive the window: screenshots,
    benchmarks); SystemExit("timed out") after ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(poll)


def install_excepthook(window) -> None:
    """Unexpected exceptions in Qt slots become an error dialog; the app keeps running."""
    previous = sys.excepthook

    def hook(etype, value, tb):
        text = "".join(traceback.format_exception(etype, value, tb))
        sys.stderr.write(text)
        try:
            window.show_error("Unexpected error", f"{etype.__name__}: {str(value)[:300]}", text)
        except Exception:  # noqa: BLE001
            previous(etype, value, tb)

    sys.excepthook = hook


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    if args.theme:
        os.environ["RFM_STUDIO_THEME"] = args.theme
    if not os.environ.get("RFM_STUDIO_SKIP_XCB_CHECK"):
        from .xcb_check import check

        problem = check()  # before Qt, which would abort without naming the missing libraries
        if problem:
            sys.stderr.write(problem + "\n")
            return 2
    from .core.cleanup import startup_sweep

    startup_sweep()  # what a killed run left in the app's folders
    app = create_app()
    from PySide6.QtCore import QTimer

    from .gui.main_window import MainWindow

    win = MainWindow()
    install_excepthook(win)
    win.show()
    QTimer.singleShot(0, lambda: win.start(args.file, args.model))
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
