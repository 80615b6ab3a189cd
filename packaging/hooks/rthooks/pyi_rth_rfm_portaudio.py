"""Runtime hook (Linux): make sounddevice load the PortAudio bundled in ``portaudio/``.

sounddevice asks ``ctypes.util.find_library('portaudio')`` when it is imported, which
looks only at the system (ldconfig's cache); here the answer is the bundled
libportaudio.so.2, loaded by its path. Its dependencies resolve through LD_LIBRARY_PATH,
which the bootloader points at the bundle first (libjack, libdb) and then the system
(libasound). RFM_STUDIO_PORTAUDIO=system keeps the system's PortAudio instead.
"""


def _install():
    import ctypes.util
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("RFM_STUDIO_PORTAUDIO", "").lower() == "system":
        return
    folder = os.path.join(getattr(sys, "_MEIPASS", ""), "portaudio")
    try:
        lib = next(n for n in sorted(os.listdir(folder)) if n.startswith("libportaudio.so"))
    except (OSError, StopIteration):
        return
    path = os.path.join(folder, lib)
    original = ctypes.util.find_library

    def find_library(name):
        return path if name == "portaudio" else original(name)

    ctypes.util.find_library = find_library


_install()
del _install
