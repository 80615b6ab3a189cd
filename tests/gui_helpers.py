"""Shared fixtures and helpers for the GUI tests (imported by tests/test_gui_*.py).

Importing this module sets QT_QPA_PLATFORM=offscreen; the autouse fixture ``gui_env``
(import it into a test module) points the app's config and data folders at a temporary
directory for that module's tests only, so they never touch the user's settings; after each
test it gives cyclic garbage collection back to Python (a JobRunner moves it to the UI thread:
see ``rfm_studio/gui/gc_guard.py``).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SR = 44100


@pytest.fixture(autouse=True)
def gui_env(monkeypatch, tmp_path_factory):
    base = tmp_path_factory.mktemp("rfm-gui-env")
    monkeypatch.setenv("RFM_STUDIO_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("RFM_STUDIO_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("RFM_STUDIO_MODEL", "no-such-model-in-tests")  # the default model must not load
    yield
    from rfm_studio.gui.gc_guard import release_main_thread_gc

    release_main_thread_gc()  # later, non-GUI tests get Python's automatic collection back

INSTRUCTION = "Remove the dog barking"


def make_clip(seconds: float = 1.5, sr: int = SR, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    x = 0.2 * np.sin(2 * np.pi * 220 * t)
    n = int(0.2 * sr)
    for s in (0.3, 0.9):
        i = int(s * sr)
        m = min(n, len(x) - i)
        x[i:i + m] += 0.3 * rng.standard_normal(m) * np.hanning(m)
    x = x.astype(np.float32)
    return np.stack([x, 0.8 * x], axis=1) if channels == 2 else x


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory):
    import soundfile as sf

    p = tmp_path_factory.mktemp("clips") / "dog.wav"
    sf.write(str(p), make_clip(), SR, subtype="FLOAT")
    return p


@pytest.fixture(scope="session")
def gui_tiny_bundle(tmp_path_factory):
    """A tiny random model saved as a bundle folder (the app loads it like a real one)."""
    from rfm_studio.core.model.factory import build_tiny

    folder = tmp_path_factory.mktemp("models") / "tiny-test"
    build_tiny().save_pretrained(folder)
    return folder


@pytest.fixture
def settings(tmp_path):
    from rfm_studio.gui.settings import Settings

    return Settings(tmp_path / "settings.ini")


@pytest.fixture
def window(qtbot, settings):
    from rfm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=settings)
    w.ask_unsaved = lambda n, name: "discard"  # closing at the end of a test must not wait on a dialog
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


@pytest.fixture
def loaded(qtbot, window, clip_path, gui_tiny_bundle):
    """The window with the test clip open, its spectrogram computed and the tiny model loaded."""
    window.start(str(clip_path), str(gui_tiny_bundle))
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=60000)
    qtbot.waitUntil(lambda: 0 in window.history.mels, timeout=30000)
    assert window.errors == []
    return window


def pace_steps(monkeypatch, seconds: float):
    """Make every sampler step take at least ``seconds`` (like a real model on a GPU/CPU)."""
    from rfm_studio.core.edit import window as edit_window  # where the edit calls the sampler

    real = edit_window.sample_window

    def slow(*args, **kw):
        it = real(*args, **kw)
        while True:
            try:
                ev = next(it)
            except StopIteration as stop:
                return stop.value
            time.sleep(seconds)  # the worker sleeps, the GIL is free
            yield ev

    monkeypatch.setattr(edit_window, "sample_window", slow)


def open_clip(qtbot, w, path, remember: bool = True, timeout: int = 30000) -> None:
    """Open ``path`` in window ``w`` (read in its I/O worker) and wait until it is shown or refused."""
    assert w.open_file(str(path), remember) is True
    qtbot.waitUntil(lambda: w.document.opening is None, timeout=timeout)


def run_edit(qtbot, w, text: str = INSTRUCTION, steps: int = 3, timeout: int = 60000):
    w.panel.instruction.setText(text)
    w.panel.steps.setValue(steps)
    n, errors = len(w.history), len(w.errors)
    job = w.run_edit()
    assert job is not None, w.errors
    qtbot.waitUntil(lambda: w.editing.job is None, timeout=timeout)
    assert w.errors[errors:] == []
    assert len(w.history) == n + 1
    return w.history.get(w.history.current)
