"""How long the UI thread goes without serving its event loop while the worker edits.

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_responsiveness.py [--steps 120] [--seconds 1.5]

A 10 ms heartbeat timer runs on the UI thread during an edit by the tiny random model
(the tests' model). Printed: the longest wall-clock gap between heartbeats, and the UI
thread's own CPU time in its longest gap (a UI thread that ran part of the edit spends
that time there; one that merely waits for a busy machine's cores does not), beside the
CPU time of the whole edit. The tests check the structure (the edit runs on the worker,
the UI returns at once); these are the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--seconds", type=float, default=1.5, help="clip length")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rfm-ui-bench-"))
    for var, sub in (("RFM_STUDIO_CONFIG_DIR", "cfg"), ("RFM_STUDIO_DATA_DIR", "data"), ("RFM_STUDIO_CACHE_DIR", "cache")):
        os.environ.setdefault(var, str(tmp / sub))
    os.environ.setdefault("RFM_STUDIO_MODEL", "no-such-model")
    import soundfile as sf
    from PySide6.QtCore import QTimer

    from rfm_studio.app import create_app, process_events_until
    from rfm_studio.core.model.factory import build_tiny
    from rfm_studio.gui.main_window import MainWindow
    from rfm_studio.gui.settings import Settings

    app = create_app()
    sr = 16000
    t = np.arange(int(args.seconds * sr)) / sr
    clip = tmp / "clip.wav"
    sf.write(clip, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    model_dir = tmp / "tiny"
    build_tiny().save_pretrained(model_dir)
    w = MainWindow(settings=Settings(tmp / "settings.ini"))
    w.ask_unsaved = lambda n, name: "discard"
    w.show()
    w.start(str(clip), str(model_dir))

    def wait(cond):
        process_events_until(app, cond, timeout=120.0, poll=0.002)

    wait(lambda: w.model_info is not None)

    def edit(steps):
        w.panel.instruction.setText("Remove the dog barking")
        w.panel.steps.setValue(steps)
        w.run_edit()
        wait(lambda: w.editing.job is None)

    edit(2)  # warm-up (first-call costs in torch and Qt)
    wall_gaps, cpu_gaps, ends = [], [], []
    last = [time.perf_counter(), time.thread_time()]

    def beat():
        now, cpu = time.perf_counter(), time.thread_time()
        ends.append(now)
        wall_gaps.append(now - last[0])
        cpu_gaps.append(cpu - last[1])
        last[:] = [now, cpu]

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)
    timer.start()
    last[:] = [time.perf_counter(), time.thread_time()]
    c0, t0 = time.process_time(), time.perf_counter()
    edit(args.steps)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    timer.stop()
    print(f"edit: {args.steps} steps, {args.seconds:g} s clip, {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU")
    print(f"heartbeats: {len(wall_gaps)}; longest wall gap {max(wall_gaps) * 1000:.1f} ms, "
          f"median {np.median(wall_gaps) * 1000:.1f} ms")
    for i in sorted(range(len(wall_gaps)), key=lambda i: -wall_gaps[i])[:3]:
        print(f"  gap of {wall_gaps[i] * 1000:.1f} ms ending {(ends[i] - t0) * 1000:.0f} ms into the edit, "
              f"{cpu_gaps[i] * 1000:.1f} ms of it UI-thread CPU")
    print(f"UI-thread CPU in its longest gap: {max(cpu_gaps) * 1000:.1f} ms "
          f"({100 * max(cpu_gaps) / max(cpu, 1e-9):.1f}% of the edit's CPU)")
    w.close()


if __name__ == "__main__":
    main()
