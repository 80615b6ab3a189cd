"""Linux start-up check: the system libraries PySide6's X11 (xcb) platform plugin needs.

Without them Qt aborts the process (exit 134) with a message about the "xcb" plugin that
names none of them. Before the app creates its QApplication, ``check()`` asks the dynamic
loader (``ldd`` on the plugin) which are missing and says, in one message, the one
``apt install`` line that fixes it. No Qt import here; it runs in a few milliseconds.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# shared library -> the Debian/Ubuntu package that ships it
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libpng16.so.16": "libpng16-16",
}
# what a minimal Debian/Ubuntu (a server image, WSL, a container) lacks most often: the README's line
README_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
                   "libxcb-xkb1", "libxkbcommon-x11-0", "libxcb-randr0", "libxcb-shape0", "libegl1",
                   "libfontconfig1", "libdbus-1-3")
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.M)


def qxcb_plugin() -> Path | None:
    """PySide6's X11 platform plugin (found without importing Qt)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.origin:
        return None
    p = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return p if p.is_file() else None


def uses_xcb(env=None) -> bool:
    """Whether Qt will pick its X11 (xcb) platform on this Linux session."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return False
    forced = env.get("QT_QPA_PLATFORM", "").strip()
    if forced:
        return forced.split(";")[0].split(":")[0] == "xcb"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return False  # Qt 6 prefers its Wayland plugin there
    return True


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """The shared libraries the xcb plugin needs that the loader cannot find ([] when unknown)."""
    plugin = plugin or qxcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    found = NOT_FOUND.findall(out.stdout + out.stderr)
    return sorted(dict.fromkeys(found))


def install_command(libs) -> str:
    pkgs = list(dict.fromkeys(PACKAGES.get(lib, lib) for lib in libs))
    return "sudo apt install " + " ".join(pkgs)


def message(libs) -> str:
    return ("RFM Studio cannot open its window: Qt's X11 platform plugin (xcb) needs "
            f"{len(libs)} system librar{'y' if len(libs) == 1 else 'ies'} that "
            f"{'is' if len(libs) == 1 else 'are'} not installed ({', '.join(libs)}).\n"
            f"On Debian or Ubuntu install {'it' if len(libs) == 1 else 'them'} with:\n\n"
            f"    {install_command(libs)}\n\n"
            "(other distributions: the packages providing these files; on a Wayland desktop "
            "QT_QPA_PLATFORM=wayland also works). The command line (rfm-studio edit ...) needs none of them.")


def check() -> str | None:
    """None when the window can start; otherwise the message to print before Qt would abort."""
    if not uses_xcb():
        return None
    libs = missing_libraries()
    return message(libs) if libs else None


def report() -> str:
    """One line for ``--diagnose``."""
    if not sys.platform.startswith("linux"):
        return "Qt xcb libraries: not needed on this system"
    plugin = qxcb_plugin()
    if plugin is None:
        return "Qt xcb libraries: PySide6's xcb plugin not found"
    if shutil.which("ldd") is None:
        return "Qt xcb libraries: cannot check (no ldd)"
    libs = missing_libraries(plugin)
    which = f"this session uses {'xcb' if uses_xcb() else os.environ.get('QT_QPA_PLATFORM') or 'wayland'}"
    if not libs:
        return f"Qt xcb libraries: all present ({which})"
    return f"Qt xcb libraries: MISSING {', '.join(libs)} ({which}); install: {install_command(libs)}"
