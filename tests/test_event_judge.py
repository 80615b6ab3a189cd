"""benchmarks/event_judge.py imports as a module (not only as a script) and takes its input
features from judge_stats.py: the two models of the judge see the same mel power."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CODE = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("event_judge", sys.argv[1])
ej = importlib.util.module_from_spec(spec)
sys.modules["event_judge"] = ej
spec.loader.exec_module(ej)
import judge_stats as js
assert ej.mel_power is js.mel_power and ej.loudest is js.loudest and (ej.SR, ej.HOP) == (js.SR, js.HOP)
x = np.zeros(16000 * 10, np.float32)
x[16000 * 6: 16000 * 7] = 1.0
assert len(js.loudest(x, 2.0, js.SR)) == 32000 and js.loudest(x, 2.0, js.SR).max() == 1.0
p = js.mel_power(x, 10.0)  # [frames, bands]: the loudest frames by summed power
q = js.loudest(p, 1.0, js.SR / js.HOP)
assert q.shape == (50, js.NMELS) and q.sum() >= p[300:350].sum() * 0.999
print("ok")
"""


def test_event_judge_imports_outside_its_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", CODE, str(ROOT / "benchmarks" / "event_judge.py")], cwd=tmp_path,
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-1500:]
