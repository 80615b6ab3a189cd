"""Render the main window after a real edit to docs/screenshot.png.

    xvfb-run -a -s "-screen 0 1920x1200x24" python packaging/screenshot.py [--theme dark|light] [--out PATH]

Uses the default model (models/rfm-studio-small) when it is installed, otherwise a tiny
random model (the screenshot then shows the real UI and a real edit, but of an untrained
network). Without a display the script re-runs itself under xvfb-run when available and
falls back to Qt's offscreen platform otherwise. Settings go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ensure_display(argv) -> None:
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") or os.environ.get("RFM_SCREENSHOT_CHILD"):
        return
    if shutil.which("xvfb-run"):
        env = dict(os.environ, RFM_SCREENSHOT_CHILD="1")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24", sys.executable, __file__, *argv]
        raise SystemExit(subprocess.call(cmd, env=env))
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _model_folder(tmp: Path) -> tuple[str, str]:
    sys.path.insert(0, str(ROOT))
    from rfm_studio.core import paths

    default = paths.shipped_models_dir() / paths.DEFAULT_MODEL
    if (default / "model_index.json").is_file():
        return str(default), "default"
    from rfm_studio.core.flow.config import FlowConfig, PathConfig, SamplerConfig
    from rfm_studio.core.model.factory import build_tiny

    # start from the original (not pure noise) so an untrained net's output still resembles the input
    flow = FlowConfig(PathConfig(source="original", source_noise=0.5, prediction="sample"),
                      SamplerConfig(t_start=0.01, steps=8))
    folder = tmp / "tiny-random"
    build_tiny(flow=flow).save_pretrained(folder)
    return str(folder), "tiny random"


def _clip() -> str:
    from rfm_studio.core import paths

    p = paths.examples_dir() / "birds_and_car_passing.wav"
    if p.is_file():
        return str(p)
    ex = sorted(paths.examples_dir().glob("*.wav"))
    if ex:
        return str(ex[0])
    raise SystemExit("no example clip under resources/examples/")


def _attention_shot(w, app, wait, out: Path) -> None:
    from PySide6.QtCore import QPointF, QRect

    w.run_edit()  # the region edit set up for the main screenshot
    wait(lambda: w.editing.job is None)
    if w.errors:
        raise SystemExit(f"{w.errors[-1][0]}: {w.errors[-1][1]}")
    hm = w.attn.heatmap
    words = [i for i in hm.rows]
    row = next((k for k, i in enumerate(words) if hm.tokens[i].lower() == "cat"), 0)
    hm._hover(hm.vb.mapViewToScene(QPointF(2.6, row + 0.5)))  # the read-out a hover shows
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    top = hm.mapTo(w, hm.rect().topLeft())
    ctl = w.attn.controls
    bottom = ctl.mapTo(w, ctl.rect().bottomRight())
    rect = QRect(top, bottom)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not w.grab(rect).save(str(out), "PNG"):
        raise SystemExit(f"cannot write {out}")
    print(f"wrote {out} ({rect.width()}x{rect.height()})")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--theme", default="dark", choices=("dark", "light"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("--instruction", default="Remove the car passing")
    ap.add_argument("--size", default="1600x1000")
    ap.add_argument("--steps", type=int, default=0, help="sampler steps (0: the model's default)")
    ap.add_argument("--attention-out", default="",
                    help="also run a region edit and save the attention views (heatmap with its colour bar, "
                         "hover read-out, the region's context-less frames) to this PNG")
    args = ap.parse_args(argv)
    _ensure_display(argv)

    tmp = Path(tempfile.mkdtemp(prefix="rfm-screenshot-"))
    os.environ["RFM_STUDIO_CONFIG_DIR"] = str(tmp / "config")
    os.environ["RFM_STUDIO_DATA_DIR"] = str(tmp / "data")
    os.environ["RFM_STUDIO_THEME"] = args.theme
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder, kind = _model_folder(tmp)
    clip = _clip()


    from rfm_studio.app import create_app, process_events_until
    from rfm_studio.gui.main_window import MainWindow

    app = create_app()
    w = MainWindow()
    width, height = (int(v) for v in args.size.split("x"))
    w.resize(width, height)
    w.show()

    def wait(cond):
        process_events_until(app, cond, poll=0.01)

    w.start(clip, folder)
    wait(lambda: w.model_info is not None or w.errors)
    if w.errors:
        raise SystemExit(f"{w.errors[-1][0]}: {w.errors[-1][1]}")
    wait(lambda: 0 in w.history.mels)
    w.panel.instruction.setText(args.instruction)
    if args.steps:
        w.panel.steps.setValue(args.steps)
    w.run_edit()
    wait(lambda: w.editing.job is None)
    if w.errors:
        raise SystemExit(f"{w.errors[-1][0]}: {w.errors[-1][1]}")
    w.set_region((2.0, 3.2))
    w.playback.seek(2.4)
    w.panel.instruction.setText("Add a cat meowing")
    w.panel.instruction.setCursorPosition(0)
    w.panel.instruction.clearFocus()
    w.statusBar().showMessage(f"Edit finished in {w.history.get(w.history.current).seconds:.1f} s · "
                              f"{kind} model", 0)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not w.grab().save(str(out), "PNG"):
        raise SystemExit(f"cannot write {out}")
    print(f"wrote {out} ({kind} model, {w.width()}x{w.height()})")
    if args.attention_out:
        _attention_shot(w, app, wait, Path(args.attention_out))
    w.ask_unsaved = lambda n, name: "discard"  # no dialog on the way out
    w.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
