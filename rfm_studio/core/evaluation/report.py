"""Writing the evaluation report: report.json (everything), report.md (tables like the
paper's Tables 1-3) and matplotlib PNG plots (headless Agg canvas, no pyplot state)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from ..atomic import atomic_write_text

QUALITY = (("clap", "CLAP ↑", 4), ("fd", "FD ↓", 2), ("fad", "FAD ↓", 2), ("kl", "KL ↓", 2), ("is", "IS ↑", 2))
MODEL_FREE = (("gain", "gain ↑", 3), ("keep_error", "keep error ↓", 3), ("success_rate", "success rate ↑", 2),
              ("lsd", "LSD ↓", 3), ("si_sdr", "SI-SDR (dB) ↑", 2))
NETWORK_OF = {"clap": "clap", "fd": "panns", "kl": "panns", "is": "panns", "fad": "vggish", "fad_pca": "vggish"}

DEFINITIONS = [
    "CLAP: mean cosine similarity between the CLAP embeddings of each edited clip and of its target caption.",
    "FD: Fréchet distance between Gaussians fitted to PANNs CNN14 (16 kHz) 2048-d embeddings of the edited "
    "clips and of the targets (audioldm_eval).",
    "FAD: the same distance on VGGish 128-d embeddings (pre-ReLU, no PCA) of every 0.96 s example "
    "(audioldm_eval's FrechetAudioDistance).",
    "KL: paired, each edited clip against its target: mean over clips of KL(softmax(target logits) || "
    "softmax(edited logits) + 1e-6) on PANNs logits (audioldm_eval's calculate_kl, softmax form; "
    "the sigmoid form is in report.json).",
    "IS: Inception Score of the edited clips from PANNs logits (softmax), shuffled with seed 2020, "
    "min(10, N) splits (audioldm_eval's calculate_isc).",
    "gain: 1 - d(out, target) / d(in, target) over the frames of the edited event, d = mean absolute "
    "difference of 64-bin log-mels; 0 = returned the input, 1 = reached the target.",
    "keep error: d(out, in) over the other frames. Success: gain >= 0.25.",
    "LSD: log-spectral distance to the target (n_fft 2048, hop 512, log10 power). SI-SDR: scale-invariant "
    "SDR to the target, dB.",
    "Edit time: wall time of one edit with the model loaded (mean and median over clips).",
]


def _fmt(entry, digits):
    if entry is None:
        return "–"
    if isinstance(entry, dict):
        if not entry.get("available", True):
            return "n/a"
        v = entry.get("value")
    else:
        v = entry
    if v is None:
        return "–"
    text = f"{v:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def _row_cells(row, cols):
    return [_fmt(row["metrics"].get(k), d) for k, _, d in cols]


def markdown(report: dict) -> str:
    rows, base = report["rows"], report.get("baseline")
    dev = report["device"]
    mdl = report["model"]
    st = report["settings"]
    name = mdl.get("info", {}).get("name") or Path(mdl.get("path") or "model").name
    lines = ["# RFM Studio evaluation", "",
             f"- Model: `{mdl.get('path')}` ({name})",
             f"- Test set: `{report['manifest']}` — {report['n_clips']} clips, "
             f"{report['clip_seconds']['mean']:.2f} s on average",
             f"- Device: {dev['device']} ({dev.get('name', '')}), torch {dev['torch']}, {dev['threads']} threads",
             f"- Guidance {st['guidance']:g}, {st.get('draws', 1)} noise draw(s) per edit, strength {st.get('strength', 1.0):g}, seed {st['seed']} ({st['seed_rule']}); {st['timing']}.",
             f"- Created {report['created']}", "",
             "## Quality, fidelity and speed (paper Tables 1–3)", ""]
    head = ["setting", "t_start", "steps"] + [h for _, h, _ in QUALITY] + ["time mean (s) ↓", "time median (s)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    if base is not None:
        lines.append("| " + " | ".join([base["label"], "–", "–"] + _row_cells(base, QUALITY) + ["–", "–"]) + " |")
    for r in rows:
        t = r["time"]
        lines.append("| " + " | ".join([r["label"], f"{r['t_start']:g}", str(r["steps"])] + _row_cells(r, QUALITY)
                                       + [_fmt(t["mean_s"], 2), _fmt(t["median_s"], 2)]) + " |")
    lines += ["", "## Model-free figures", ""]
    head = ["setting"] + [h for _, h, _ in MODEL_FREE]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ([base] if base is not None else []) + rows:
        lines.append("| " + " | ".join([r["label"]] + _row_cells(r, MODEL_FREE)) + " |")
    tasks = sorted({t for r in rows for t in r.get("by_task", {})})
    if tasks:
        lines += ["", "## Per task", "", "| setting | task | n | gain ↑ | keep error ↓ | success rate ↑ | CLAP ↑ |",
                  "|---|---|---|---|---|---|---|"]
        for r in ([base] if base is not None else []) + rows:
            for t in tasks:
                b = r.get("by_task", {}).get(t)
                if b:
                    lines.append(f"| {r['label']} | {t} | {b['n']} | {_fmt(b['gain'], 3)} | "
                                 f"{_fmt(b['keep_error'], 3)} | {_fmt(b['success_rate'], 2)} | {_fmt(b['clap'], 4)} |")
    missing = _unavailable(report)
    if missing:
        lines += ["", "## Unavailable metrics", ""]
        lines += [f"- {k}: {why}" for k, why in missing]
    plots = [(k, v) for k, v in (report.get("files") or {}).items() if k.startswith("plot_")]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{k[5:]}]({Path(v).name})" for k, v in plots]
    lines += ["", "## Definitions", ""] + [f"- {d}" for d in DEFINITIONS] + [""]
    return "\n".join(lines)


def _unavailable(report) -> list[tuple[str, str]]:
    seen, out = set(), []
    for r in ([report["baseline"]] if report.get("baseline") else []) + report["rows"]:
        for k, v in r["metrics"].items():
            if isinstance(v, dict) and not v.get("available", True):
                label = {"clap": "CLAP", "fd": "FD", "fad": "FAD", "kl": "KL", "is": "IS"}.get(k, k)
                key = (label, v["reason"])
                if key not in seen:
                    seen.add(key)
                    out.append(key)
    # merge metrics sharing one reason (FD, KL, IS from PANNs)
    merged: dict[str, list[str]] = {}
    for label, why in out:
        merged.setdefault(why, []).append(label)
    return [(", ".join(labels), why) for why, labels in merged.items()]


# ---- plots -------------------------------------------------------------------------------------
def _figure(w, h):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def plot_sweep(report: dict, path: Path) -> Path:
    """CLAP / FD / gain against t_start, one line per step count; the unedited input dashed."""
    rows, base = report["rows"], report.get("baseline")
    panels = (("clap", "CLAP ↑"), ("fd", "FD ↓"), ("gain", "log-mel gain ↑"))
    fig = _figure(4.2 * len(panels), 3.6)
    steps = sorted({r["steps"] for r in rows})
    ts = sorted({r["t_start"] for r in rows})
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.set_title(title)
        ax.set_xlabel("t_start")
        entries = [r["metrics"].get(key) for r in rows]
        if not any(isinstance(e, dict) and e.get("available") and e.get("value") is not None for e in entries):
            why = next((e.get("reason") for e in entries if isinstance(e, dict) and e.get("reason")), "no data")
            ax.text(0.5, 0.5, "unavailable:\n" + "\n".join(textwrap.wrap(why, 34)), ha="center", va="center",
                    transform=ax.transAxes, fontsize=8, color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for s in steps:
            pts = sorted((r["t_start"], r["metrics"][key].get("value")) for r in rows
                         if r["steps"] == s and r["metrics"][key].get("available")
                         and r["metrics"][key].get("value") is not None)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{s} step{'s' if s != 1 else ''}")
        b = base["metrics"].get(key) if base else None
        if isinstance(b, dict) and b.get("available") and b.get("value") is not None:
            ax.axhline(b["value"], color="0.5", linestyle="--", linewidth=1, label="input (no edit)")
        if len(ts) > 1 and min(ts) >= 0:
            positive = [t for t in ts if t > 0]
            ax.set_xscale("symlog", linthresh=min(positive) if positive else 1e-3)
        ax.set_xticks(ts)
        ax.set_xticklabels([f"{t:g}" for t in ts], fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(str(path))
    return path


def plot_times(report: dict, path: Path) -> Path:
    rows = report["rows"]
    fig = _figure(max(4.0, 1.1 * len(rows) + 2), 3.4)
    ax = fig.add_subplot(1, 1, 1)
    data = [[c["seconds"] for c in r["clips"] if c["seconds"] is not None] for r in rows]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(rows) + 1))
    ax.set_xticklabels([r["label"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("seconds per clip")
    ax.set_title(f"Editing time ({report['device']['device']})")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(str(path))
    return path


# ---- files -------------------------------------------------------------------------------------
def write_report(report: dict, out, plots: bool = True) -> dict:
    """Write report.json, report.md and the plots into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    if plots and report["rows"]:
        paths["plot_t_start_sweep"] = plot_sweep(report, out / "t_start_sweep.png")
        paths["plot_edit_time"] = plot_times(report, out / "edit_time.png")
    report["files"] = {k: str(v) for k, v in paths.items()}
    text = json.dumps(_finite(report), indent=1, allow_nan=False, default=_json_default)
    atomic_write_text(paths["json"], text + "\n")
    atomic_write_text(paths["markdown"], markdown(report))
    return paths


def _finite(o):
    """NaN / infinity -> None (JSON has no such numbers); containers copied."""
    import math

    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
