import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# keep the user's folders out of the tests
import tempfile as _tempfile

_USER = _tempfile.mkdtemp(prefix="rfm-test-user-")
import atexit as _atexit
import shutil as _shutil

_atexit.register(_shutil.rmtree, _USER, True)  # the suite's user folders go with it
for _k in ("RFM_STUDIO_CONFIG_DIR", "RFM_STUDIO_DATA_DIR", "RFM_STUDIO_CACHE_DIR", "RFM_STUDIO_LOG_DIR"):
    os.environ[_k] = os.path.join(_USER, _k.split("_")[-2].lower())

import numpy as np
import pytest


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if item.get_closest_marker("gpu") is not None:  # a marker, not any node named gpu
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_finder_answers():
    """Each test starts with no kept finder answers (find.sound_prob_steps keeps the last few per
    process): a test that fakes the text encoder or changes a finder's weights in place must not
    get another test's probabilities."""
    from rfm_studio.core.detection import find

    find.clear_probs_cache()
    yield


@pytest.fixture(scope="session")
def minilm():
    from rfm_studio.core.model.factory import minilm_encoder

    return minilm_encoder()


@pytest.fixture(scope="session")
def tiny_model(minilm):
    from rfm_studio.core.model.factory import build_tiny

    return build_tiny(text=minilm)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_model):
    d = tmp_path_factory.mktemp("bundle") / "tiny"
    tiny_model.save_pretrained(d)
    return d


@pytest.fixture
def no_sound_finder(monkeypatch):
    """No sound finder installed: a self-prompted "Remove X" has the model mark the example (for
    tests of the model's path; tests/test_self_prompt_finder.py covers the finder's)."""
    from rfm_studio.core.detection import find

    monkeypatch.setattr(find, "load_finder", lambda folder=None: None)


def collect(gen):
    """Run a core generator to its end: (the events it yielded, its return value)."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def tone(seconds=2.0, sr=16000, freq=440.0, channels=None, amp=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    x = x.astype(np.float32)
    if channels:
        x = np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)
    return x


def run_cli(capsys, *argv):
    """``rfm-studio ARGV`` in this process: (exit code, stdout, stderr)."""
    from rfm_studio.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> bool:
    """The CLI's user-error form: one line starting 'rfm-studio: ', no traceback."""
    return err.startswith("rfm-studio: ") and err.count("\n") == 1 and "Traceback" not in err
