"""Entry script of the frozen app (PyInstaller), shared by its two executables.

``rfm-studio`` is the command line (``rfm_studio.cli:main``; with no command the editor
opens); ``rfm-studio-gui`` (windowed on Windows, the executable of the macOS .app, a
symbolic link to rfm-studio on Linux) is ``rfm_studio.app:main``. Both come from one
Analysis, so the script picks by the name it runs as.
"""

import multiprocessing
import os
import sys


def _is_gui() -> bool:
    # argv[0] keeps the name of a symbolic link (Linux: rfm-studio-gui -> rfm-studio);
    # sys.executable is the resolved file (Windows, macOS: two executables).
    names = {os.path.basename(sys.argv[0] if sys.argv else ""), os.path.basename(sys.executable)}
    return any(os.path.splitext(n)[0].lower() in ("rfm-studio-gui", "rfm studio") for n in names)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch DataLoader workers under spawn (Windows, macOS)
    if _is_gui():
        from rfm_studio.app import main
    else:
        from rfm_studio.cli import main
    sys.exit(main())
