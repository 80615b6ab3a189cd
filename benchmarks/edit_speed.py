"""Edit speed on this machine: median wall time of one 10.24 s edit at the model's default
settings (model already loaded), and the ratio against the paper's settings (200 Euler
steps) measured in the same run; peak memory (max RSS) of the process.

    python benchmarks/edit_speed.py [--model DIR] [--repeats 5] [--paper-repeats 1] [--example 1:3]

``--example START:END`` also times the default edit with that span of the clip as an example
prompt (the "remove sounds like this" input; a model without a prompt input ignores it).
``--reference FILE`` also times "Add ..." and "Replace the dog barking with ..." with that sound
as the reference (a library sound placed by signal processing; Replace runs the model's removal
first), on the dog-in-rain example padded to 10.24 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


PAPER_GUIDANCE = 3.0

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--paper-repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--example", default=None, metavar="START:END", help="also time edits with this example span")
    ap.add_argument("--reference", default=None, metavar="FILE", help="also time add / replace with this reference")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from rfm_studio.core.audio.io import load_audio
    from rfm_studio.core.editing import edit
    from rfm_studio.core.model.loaders import load_editor
    from rfm_studio.core.paths import examples_dir, resolve_model

    folder = resolve_model(args.model)
    t0 = time.perf_counter()
    model = load_editor(folder, device="cpu")
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb()
    clip = sorted(examples_dir().glob("*.wav"))[0]
    x, sr = load_audio(clip, mono=True, target_sr=16000)
    n = int(10.24 * 16000)
    x = np.pad(x, (0, max(0, n - len(x))))[:n]
    instr = "Remove the dog barking"
    edit(model, x, 16000, instr)  # warm-up
    times = []
    for i in range(args.repeats):
        r = edit(model, x, 16000, instr, seed=i)
        times.append(r.seconds)
    default = statistics.median(times)
    p = r.params
    ex_times = []
    if args.example:
        from rfm_studio.core.prompts import example_from_clip, parse_span

        prompts = (example_from_clip(x, 16000, *parse_span(args.example)),)
        edit(model, x, 16000, instr, prompts=prompts)  # warm-up
        for i in range(args.repeats):
            ex_times.append(edit(model, x, 16000, instr, seed=i, prompts=prompts).seconds)
    ref_times = {}
    if args.reference:
        from rfm_studio.core.library.prompted import load_reference

        ref = load_reference(args.reference)
        dog, _ = load_audio(examples_dir() / "dog_bark_in_rain.wav", mono=True, target_sr=16000)
        dog = np.pad(dog, (0, max(0, n - len(dog))))[:n]
        for task, text in (("add", "Add a cat meowing"), ("replace", "Replace the dog barking with a cat meowing")):
            edit(model, dog, 16000, text, prompts=(ref,))  # warm-up
            ts, cs = [], []
            for i in range(args.repeats):
                c = time.process_time()
                ts.append(edit(model, dog, 16000, text, seed=i, prompts=(ref,)).seconds)
                cs.append(time.process_time() - c)
            ref_times[task] = (statistics.median(ts), statistics.median(cs), text)
    paper = []
    for i in range(args.paper_repeats):
        # the paper: one trajectory of 200 Euler steps with classifier-free guidance (two network
        # passes per step; the scale is not given, 3 as in the converted paper bundles), vocoder render
        r2 = edit(model, x, 16000, instr, seed=i, steps=200, t_start=0.01, draws=1, guidance=PAPER_GUIDANCE,
                  render="vocoder")
        paper.append(r2.seconds)
    paper_med = statistics.median(paper)
    print(f"model: {folder}")
    print(f"threads: {torch.get_num_threads()}  cpu count: {os.cpu_count()}")
    print(f"load time: {load_s:.2f} s")
    print(f"default settings: steps={p['steps']} t_start={p['t_start']} guidance={p['guidance']} draws={p['draws']} render={p['render']}")
    print(f"median edit time, 10.24 s clip, default settings: {default:.3f} s  (runs: "
          + ", ".join(f"{t:.3f}" for t in times) + ")")
    if ex_times:
        print(f"median edit time, 10.24 s clip, default settings, example {args.example} s as prompt "
              f"({'used' if model.accepts_prompts else 'ignored: no prompt input'}): {statistics.median(ex_times):.3f} s  "
              f"(runs: " + ", ".join(f"{t:.3f}" for t in ex_times) + ")")
    for task, (wall, cpu, text) in ref_times.items():
        print(f"median edit time, 10.24 s clip, {text!r} with reference {Path(args.reference).name}: "
              f"{wall:.3f} s wall, {cpu:.3f} s CPU")
    print(f"median edit time, paper settings (200 Euler steps, one draw, guidance {PAPER_GUIDANCE:g}, vocoder render): "
          f"{paper_med:.3f} s")
    print(f"ratio paper / default: {paper_med / default:.1f}x")
    print(f"real-time factor at default settings: {10.24 / default:.1f}x faster than real time")
    print(f"peak memory (max RSS): after load {rss_loaded:.0f} MB, after edits {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
