"""Reliability report: fault injection over every code path that swaps or replaces files.

    python benchmarks/reliability.py [--only NAME] [--modes fail,kill]

For each code path (tests/faultinject.py) a clean run counts its file-system calls
(os.replace/rename/unlink/remove/rmdir/mkdir, opening for writing and each write); then every
call in turn is made to fail (OSError) or to kill the process (a forked child ends at that
call; a write is torn first), and the previous good state, the rerun and the final state
(no leftovers after the start-up sweep) are checked. Prints one row per code path and the
totals; exits 1 if any state check failed. When benchmarks/bad_inputs.py exists, its table
of bad inputs per command follows.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def tiny_bundle(where: Path) -> Path:
    from rfm_studio.core.model.factory import build_tiny, minilm_encoder

    d = where / "tiny"
    build_tiny(text=minilm_encoder()).save_pretrained(d)
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None, help="run only the code paths whose name contains this")
    ap.add_argument("--modes", default="fail,kill")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import faultinject as fi

    base = Path(tempfile.mkdtemp(prefix="rfm-reliability-"))
    os.environ["RFM_STUDIO_DATA_DIR"] = str(base / "user")  # never the real user folders
    modes = tuple(m for m in args.modes.split(",") if m)
    try:
        t0 = time.time()
        bundle = tiny_bundle(base)
        scenarios = [s for s in fi.all_scenarios(bundle) if not args.only or args.only in s.name]
        rows = []
        for sc in scenarios:
            t = time.time()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                rep = fi.run_scenario(sc, base / "runs", modes=modes, keep_going=True)
            rows.append((rep, time.time() - t))
        print("Fault injection: each file-system call of a clean run made to fail (OSError) or to kill the "
              "process, in turn")
        head = f"{'code path':26s} {'calls':>5s} {'injected':>8s} {'killed':>6s} {'raised':>6s} {'states':>6s} " \
               f"{'problems':>8s} {'seconds':>7s}  calls by kind"
        print(head)
        print("-" * len(head))
        tot = [0] * 6
        for rep, secs in rows:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(rep.ops.items()))
            print(f"{rep.name:26s} {rep.calls:5d} {rep.injected:8d} {rep.killed:6d} {rep.failed:6d} {rep.states:6d} "
                  f"{len(rep.problems):8d} {secs:7.1f}  {kinds}")
            for i, v in enumerate((rep.calls, rep.injected, rep.killed, rep.failed, rep.states, len(rep.problems))):
                tot[i] += v
        print("-" * len(head))
        print(f"{'total':26s} {tot[0]:5d} {tot[1]:8d} {tot[2]:6d} {tot[3]:6d} {tot[4]:6d} {tot[5]:8d} "
              f"{time.time() - t0:7.1f}  (seconds include building the tiny bundle)")
        problems = [p for rep, _ in rows for p in rep.problems]
        for p in problems[:20]:
            print("PROBLEM", p)
        print("all clean" if not problems else f"{len(problems)} problems")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    code = 1 if problems else 0
    if (ROOT / "benchmarks" / "bad_inputs.py").exists():
        print()
        import bad_inputs

        rc = bad_inputs.main([])
        code = code or int(rc or 0)
    return code


if __name__ == "__main__":
    sys.exit(main())
