"""sounddevice: collect PortAudio so the frozen app plays audio without a system PortAudio.

Replaces the contributed hook (hooks given to the spec take priority).

- Windows and macOS: sounddevice's wheel ships the library in
  ``_sounddevice_data/portaudio-binaries`` (libportaudio64bit.dll, libportaudio.dylib);
  it is collected to the same relative folder, where sounddevice looks for it when
  ``ctypes.util.find_library('portaudio')`` finds nothing.
- Linux: the wheel has no library and sounddevice only asks
  ``ctypes.util.find_library('portaudio')``, i.e. the system's. The build machine's
  libportaudio.so.2 is collected into ``portaudio/`` (binary dependency analysis adds its
  dependencies, libjack and libdb, to the top level, which the bootloader puts on
  LD_LIBRARY_PATH; the spec leaves libasound to the system, whose ALSA plugins it must
  match); the runtime hook ``pyi_rth_rfm_portaudio`` makes ``find_library('portaudio')``
  answer with the bundled copy.
"""

import ctypes.util
import os
import pathlib

from PyInstaller import compat
from PyInstaller.utils.hooks import copy_metadata, get_module_file_attribute, logger

binaries = []
datas = copy_metadata("sounddevice")
hiddenimports = ["_sounddevice", "_cffi_backend"]

module_dir = pathlib.Path(get_module_file_attribute("sounddevice")).parent
data_dir = module_dir / "_sounddevice_data" / "portaudio-binaries"


def _linux_portaudio():
    from PyInstaller.depend import bindepend

    name = ctypes.util.find_library("portaudio")  # e.g. libportaudio.so.2 (ldconfig's cache)
    if name is None:
        return []
    path = name if os.path.isabs(name) else bindepend.resolve_library_path(name)
    if not path or not os.path.isfile(path):
        return []
    return [(path, "portaudio")]


if data_dir.is_dir():
    for lib_file in data_dir.glob("libportaudio*.*"):
        binaries.append((str(lib_file), "_sounddevice_data/portaudio-binaries"))
elif compat.is_linux:
    try:
        binaries = _linux_portaudio()
    except Exception as exc:  # noqa: BLE001 - a missing library is reported below
        logger.warning("hook-sounddevice: looking for the system PortAudio failed: %s", exc)
    if binaries:
        logger.info("hook-sounddevice: bundling %s", ", ".join(os.path.basename(s) for s, _ in binaries))

if not binaries:
    logger.warning("hook-sounddevice: no PortAudio library found; the frozen app will play audio only where "
                   "the system has one (Debian/Ubuntu: apt-get install libportaudio2)")
