"""The core never imports Qt, pyqtgraph or sounddevice (checked in a clean interpreter)."""

import subprocess
import sys
import textwrap


def test_core_imports_with_gui_modules_blocked():
    code = textwrap.dedent("""
        import sys, importlib, pkgutil
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'sounddevice', 'PyQt5', 'PyQt6'):
                    raise ImportError('blocked: ' + name)
                return None
        sys.meta_path.insert(0, Block())
        import rfm_studio.core as core
        for m in pkgutil.walk_packages(core.__path__, 'rfm_studio.core.'):
            importlib.import_module(m.name)
        import rfm_studio.cli, rfm_studio.core.paths
        for name in ('edit', 'train', 'data', 'eval', 'models', 'finetune'):
            try:
                importlib.import_module('rfm_studio.commands.' + name)
            except ModuleNotFoundError as e:
                if e.name != 'rfm_studio.commands.' + name:
                    raise
        print('ok')
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("ok")


def test_package_import_is_light():
    """Importing the package and the CLI module loads neither torch nor transformers."""
    code = "import sys, rfm_studio, rfm_studio.cli, rfm_studio.core.paths; " \
           "print(any(m in sys.modules for m in ('torch', 'transformers', 'diffusers')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
