"""Where the app's edit spends its time, beside `rfm-studio edit` on the same clip in the same run.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_edit_time.py [--clip FILE] [--repeats 2]
        [--instruction "Remove the crickets" --instruction "Make the fire louder"]

For each instruction, in turn (interleaved, so a machine whose load changes affects each alike):
``cli``: `rfm-studio edit` in a subprocess (its "Edited in" figure and its wall time, the model
load included); ``app``: the main window (offscreen) with the shipped model loaded once, its Edit
(the "Done in" figure, the wall time from Edit to the new version, the worker's own time, the
result's spectrogram and change report, the UI thread's handling of the result, and how long the
job waited for the worker); ``core``: the core's edit() in this process on a thread with the
CLI's pools (torch's and numpy's BLAS at their defaults), on a thread with the app worker's pools
(tasks.use_worker_threads), and on a thread run as the app's worker runs (those pools and nice 5).
Also: how often the model was loaded, the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(owner, name, bucket):
    """Wrap ``owner.name`` so each call's seconds go to ``bucket[name]``."""
    real = getattr(owner, name)

    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            bucket.setdefault(name, []).append(time.perf_counter() - t0)

    setattr(owner, name, wrapper)


def cli_edit(clip, text, out) -> tuple[float, float]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "rfm_studio", "edit", str(clip), text, "-o", str(out)],
                       capture_output=True, text=True, cwd=str(ROOT))
    wall = time.perf_counter() - t0
    m = re.search(r"Edited in ([0-9.]+) s", p.stdout)
    if p.returncode or not m:
        raise SystemExit(f"CLI failed: {p.stdout}{p.stderr}")
    return float(m.group(1)), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default=str(ROOT / "resources/examples/campfire_with_crickets.wav"))
    ap.add_argument("--instruction", action="append", default=None)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    texts = args.instruction or ["Remove the crickets", "Make the fire louder"]
    tmp = Path(tempfile.mkdtemp(prefix="rfm-gui-time-"))
    for var, sub in (("RFM_STUDIO_CONFIG_DIR", "cfg"), ("RFM_STUDIO_DATA_DIR", "data"), ("RFM_STUDIO_CACHE_DIR", "cache")):
        os.environ.setdefault(var, str(tmp / sub))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    import torch

    from threadpoolctl import threadpool_info, threadpool_limits

    cli_threads = torch.get_num_threads()
    cli_blas = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    from PySide6.QtCore import QCoreApplication

    from rfm_studio.app import create_app, process_events_until
    from rfm_studio.core import change_report
    from rfm_studio.core.model import loaders
    from rfm_studio.core.paths import resolve_model
    from rfm_studio.gui import tasks, window_edit
    from rfm_studio.gui.main_window import MainWindow
    from rfm_studio.gui.settings import Settings

    bucket: dict[str, list] = {}
    timed(loaders, "load_editor", bucket)
    timed(tasks, "display_mel", bucket)
    timed(change_report, "compare", bucket)
    timed(window_edit.EditController, "_done", bucket)
    app = create_app()
    w = MainWindow(settings=Settings(tmp / "settings.ini"))
    w.ask_unsaved = lambda n, name: "discard"
    w.show()
    folder = resolve_model(None)
    w.start(str(args.clip), str(folder))

    def wait(cond):
        process_events_until(app, cond)

    wait(lambda: w.model_info is not None and 0 in w.history.mels)
    print(f"app: model {w.model_info.name} loaded in {w.model_info.seconds:.2f} s on {w.model_info.device}; "
          f"worker threads {tasks.worker_threads()} (torch and BLAS); CLI threads: torch {cli_threads}, "
          f"BLAS {cli_blas}")
    started = {}
    w.runner.started.connect(lambda job: started.setdefault(job, time.perf_counter()))
    rows = {t: {k: [] for k in ("cli", "cli_wall", "app", "app_wall", "queued", "mel", "report", "ui",
                                "core", "core_1", "core_worker")} for t in texts}

    def core_edit(text, worker: bool, threads: int | None = None) -> float:
        from rfm_studio.core.editing import edit
        from rfm_studio.gui.jobs import lower_thread_priority

        src = w.history.source
        out = {}

        def run():
            if worker:
                lower_thread_priority()
            out["r"] = edit(w.host.model, src.audio, src.sample_rate, text, capture_attention=True)

        n = threads or (tasks.worker_threads() if worker else cli_threads)
        torch.set_num_threads(n)
        threadpool_limits(limits=n if (threads or worker) else cli_blas, user_api="blas")
        th = threading.Thread(target=run)
        th.start(), th.join()
        return out["r"].seconds

    for rep in range(args.repeats):
        for text in texts:
            r = rows[text]
            s, wall = cli_edit(args.clip, text, tmp / "cli.wav")
            r["cli"].append(s), r["cli_wall"].append(wall)
            w.go_to_version(0)
            w.panel.instruction.setText(text)
            for k in ("display_mel", "compare", "_done"):
                bucket[k] = []
            n = len(w.history)
            t0 = time.perf_counter()
            job = w.run_edit()
            wait(lambda: w.editing.job is None)
            wall = time.perf_counter() - t0
            assert len(w.history) == n + 1 and not w.errors, w.errors
            v = w.history.get(w.history.current)
            r["app"].append(v.seconds), r["app_wall"].append(wall)
            r["queued"].append(started.get(job, t0) - t0)
            r["mel"].append(sum(bucket["display_mel"])), r["report"].append(sum(bucket["compare"]))
            r["ui"].append(sum(bucket["_done"]))
            r["core"].append(core_edit(text, worker=False))
            r["core_1"].append(core_edit(text, worker=False, threads=tasks.worker_threads()))
            r["core_worker"].append(core_edit(text, worker=True))
            tasks.use_worker_threads()  # the app's worker pools again
    print(f"model loads (load_editor): {len(bucket.get('load_editor', []))}, "
          f"{', '.join(f'{s:.2f} s' for s in bucket.get('load_editor', []))}")
    for text, r in rows.items():
        print(f"\n'{text}' on {Path(args.clip).name} (each repeat listed; median):")
        for k, what in (("cli", "CLI 'Edited in'"), ("cli_wall", "CLI process wall (model load included)"),
                        ("app", "app 'Done in'"), ("app_wall", "app wall, Edit to new version"),
                        ("queued", "app job waiting for the worker"), ("mel", "app result spectrogram"),
                        ("report", "change report (app)"), ("ui", "app UI thread handling the result"),
                        ("core", f"core edit(), a thread, CLI's threads (torch {cli_threads}, BLAS {cli_blas})"),
                        ("core_1", f"core edit(), a thread, {tasks.worker_threads()} thread (torch, BLAS), nice 0"),
                        ("core_worker", f"core edit(), worker-like: {tasks.worker_threads()} thread, nice 5")):
            vals = r[k]
            print(f"  {what:58s} {' '.join(f'{x:6.2f}' for x in vals)}   median {statistics.median(vals):6.2f} s")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    w.close()
    QCoreApplication.processEvents()


if __name__ == "__main__":
    main()
