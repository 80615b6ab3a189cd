"""The evaluation job: one model load, every edit of every setting, every metric whose
weights were given, then report.json / report.md / plots.

    gen = run_eval(EvalConfig(manifest=..., out=..., t_starts=[0, 0.01], steps=[8, 25]))
    for ev in gen: ...              # EvalEvent: stage, done, total, message, row
    report = drive(gen)             # or evaluate(config): the blocking wrapper

One row per (t_start, steps) setting, as in the paper's Table 3; a baseline row "input
(no edit)" scores the unchanged inputs with the same metrics. Each clip is edited with
seed ``seed + clip index`` in every setting, so settings differ only by their parameters.
Per clip only small things are kept (embeddings, figures), never the edited audio, so the
memory use does not grow with the test set (``save_audio`` writes the edits to disk).

Networks (CLAP / PANNs / VGGish) are loaded once, before the model, from local files
only; a metric whose network is missing is reported as ``{"available": false, "reason"}``.
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionError
from ..events import check_cancel, relay
from ..seeding import nth_seed
from .checkpoints import MetricUnavailable, unavailable
from .testset import EvalItem, load_testset

REPORT_VERSION = 1


@dataclass
class EvalConfig:
    manifest: str | Path
    out: str | Path
    model: str | Path | None = None  # folder or name; None: the embedded default model
    t_starts: list | None = None  # None: the model's default
    steps: list | None = None  # None: the model's default
    guidance: float | None = None
    draws: int | None = None  # noise draws averaged per edit; None: the model's default
    strength: float | None = None  # scale of the model's change; None: the model's default
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"  # the bundle's precision (core.devices.resolve_dtype)
    clap_ckpt: str | Path | None = None
    clap_kind: str = "laion"
    panns_ckpt: str | Path | None = None
    vggish_ckpt: str | Path | None = None
    vggish_pca: str | Path | None = None
    limit: int | None = None
    baseline: bool = True
    save_audio: bool = False
    warmup: bool = True
    plots: bool = True


@dataclass(frozen=True)
class EvalEvent:
    stage: str  # "check" | "networks" | "model" | "reference" | "baseline" | "edit" | "row" | "report"
    done: int
    total: int
    message: str = ""
    setting: dict | None = None
    row: dict | None = None


# ---- settings ------------------------------------------------------------------------------
def check_settings(cfg: EvalConfig) -> None:
    for t in cfg.t_starts or []:
        if not isinstance(t, (int, float)) or not math.isfinite(t) or not 0.0 <= float(t) <= 1.0:
            raise OptionError(f"t_start values must be between 0 and 1, got {t}.")
    for s in cfg.steps or []:
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 2000:
            raise OptionError(f"Steps must be whole numbers between 1 and 2000, got {s}.")
    from ..editing import check_options

    check_options(guidance=cfg.guidance, draws=cfg.draws, strength=cfg.strength, seed=cfg.seed)  # the edit's own checks
    if cfg.clap_kind not in ("laion", "ms"):
        raise OptionError(f"Unknown CLAP kind '{cfg.clap_kind}': use laion or ms.")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"The output path {out} is a file; give a folder.")


def device_record(device: str) -> dict:
    import torch

    rec = {"device": device, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "platform": platform.platform()}
    if device.startswith("cuda"):
        rec["name"] = torch.cuda.get_device_name(torch.device(device))
    else:
        rec["name"] = _cpu_name()
        rec["cpus"] = os.cpu_count()
    return rec


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def setting_label(t_start: float, steps: int) -> str:
    return f"t{t_start:g}_s{steps}"


# ---- networks ------------------------------------------------------------------------------
def load_networks(cfg: EvalConfig, device: str) -> dict:
    """{"clap": scorer | unavailable dict, "panns": ..., "vggish": ...}."""
    from .clap import load_clap
    from .panns import PannsCnn14
    from .vggish import VGGish

    nets = {}
    specs = (("clap", cfg.clap_ckpt, "--clap-ckpt", lambda p: load_clap(p, cfg.clap_kind, device)),
             ("panns", cfg.panns_ckpt, "--panns-ckpt", lambda p: PannsCnn14.load(p, device)),
             ("vggish", cfg.vggish_ckpt, "--vggish-ckpt", lambda p: VGGish.load(p, cfg.vggish_pca, device)))
    for key, path, flag, loader in specs:
        if not path:
            nets[key] = unavailable(f"no checkpoint given ({flag}); see docs/evaluation.md")
            continue
        try:
            nets[key] = loader(path)
        except MetricUnavailable as exc:
            nets[key] = unavailable(str(exc))
    return nets


def _is_net(x) -> bool:
    return not isinstance(x, dict)


# ---- per-clip work ------------------------------------------------------------------------
class _Reference:
    """What is kept per clip across settings: masks, target features, caption embeddings."""

    def __init__(self, items: list[EvalItem], nets: dict):
        self.items = items
        self.nets = nets
        self.masks: list[np.ndarray] = []
        self.mask_source: list[str] = []
        self.panns_target = None
        self.vggish_target = None
        self.vggish_target_pca = None
        self.text_emb = None
        self.durations: list[float] = []


def _load(path, mono=False):
    from ..audio.io import load_audio

    return load_audio(path, mono=mono)


def _mono16(audio, sr):
    from ..audio.io import resample, to_mono

    return resample(to_mono(np.asarray(audio, np.float32)), int(sr), 16000)


def _build_reference(items, nets, cancel):
    from . import spectral as S

    ref = _Reference(items, nets)
    targets_panns, targets_vggish, targets_vggish_pca = [], [], []
    for i, it in enumerate(items):
        check_cancel(cancel, "evaluation")
        x, sr_x = _load(it.input)
        y, sr_y = _load(it.target)
        ref.durations.append(x.shape[0] / sr_x)
        x16, y16 = _mono16(x, sr_x), _mono16(y, sr_y)
        mel_x, mel_y = S.log_mel(x16), S.log_mel(y16)
        ref.masks.append(S.event_frames(mel_x, mel_y, it.spans))
        ref.mask_source.append("spans + mel-difference" if it.spans else "mel-difference")
        if _is_net(nets["panns"]):
            targets_panns.append(nets["panns"].embed([(y, sr_y)]))
        if _is_net(nets["vggish"]):
            targets_vggish.append(nets["vggish"].embed([(y, sr_y)]))
            if nets["vggish"].pca is not None:
                targets_vggish_pca.append(nets["vggish"].embed([(y, sr_y)], postprocess=True))
        yield i + 1
    if targets_panns:
        ref.panns_target = {k: np.concatenate([t[k] for t in targets_panns]) for k in targets_panns[0]}
    if targets_vggish:
        ref.vggish_target = np.concatenate(targets_vggish)
    if targets_vggish_pca:
        ref.vggish_target_pca = np.concatenate(targets_vggish_pca)
    if _is_net(nets["clap"]):
        caps = [it.target_caption for it in items]
        idx = [i for i, c in enumerate(caps) if c]
        if idx:
            embs = np.concatenate([nets["clap"].embed_text([caps[i] for i in idx[a: a + 64]])
                                   for a in range(0, len(idx), 64)])
            ref.text_emb = dict(zip(idx, embs))
    return ref


class _Accumulator:
    """Per-setting collection of per-clip figures and embeddings."""

    def __init__(self):
        self.clips: list[dict] = []
        self.panns = []
        self.vggish = []
        self.vggish_pca = []

    def add(self, ref: _Reference, idx: int, out_audio: np.ndarray, out_sr: int, seconds: float | None):
        from . import spectral as S

        it = ref.items[idx]
        x, sr_x = _load(it.input)
        y, sr_y = _load(it.target)
        x16, y16, o16 = _mono16(x, sr_x), _mono16(y, sr_y), _mono16(out_audio, out_sr)
        mel_x, mel_y, mel_o = S.log_mel(x16), S.log_mel(y16), S.log_mel(o16)
        fig = S.edit_figures(mel_x, mel_y, mel_o, ref.masks[idx])
        rec = {"id": it.id, "task": it.task, **fig, "edited_frames_from": ref.mask_source[idx],
               "lsd": S.lsd(o16, y16), "si_sdr": S.si_sdr(o16, y16), "seconds": seconds}
        nets = ref.nets
        if _is_net(nets["panns"]):
            self.panns.append(nets["panns"].embed([(out_audio, out_sr)]))
        if _is_net(nets["vggish"]):
            self.vggish.append(nets["vggish"].embed([(out_audio, out_sr)]))
            if nets["vggish"].pca is not None:
                self.vggish_pca.append(nets["vggish"].embed([(out_audio, out_sr)], postprocess=True))
        if ref.text_emb is not None and idx in ref.text_emb:
            from .clap import cosine_rows

            a = nets["clap"].embed_audio([(out_audio, out_sr)])[0]

            rec["clap"] = float(cosine_rows(a[None], ref.text_emb[idx][None])[0])
        self.clips.append(rec)

    # ---- aggregate ---------------------------------------------------------------------------
    def metrics(self, ref: _Reference) -> dict:
        from . import spectral as S
        from .frechet import FrechetError, frechet_distance_from_embeddings
        from .kl_is import inception_score, kl_paired

        nets = ref.nets
        m = {}
        n = len(self.clips)
        # CLAP
        if not _is_net(nets["clap"]):
            m["clap"] = nets["clap"]
        elif ref.text_emb is None:
            m["clap"] = unavailable("the manifest has no target_caption entries")
        else:
            vals = [c["clap"] for c in self.clips if c.get("clap") is not None]
            m["clap"] = {"available": True, "value": float(np.mean(vals)), "n": len(vals),
                         "network": nets["clap"].name}
        # PANNs: FD, KL, IS
        if not _is_net(nets["panns"]):
            for k in ("fd", "kl", "is"):
                m[k] = nets["panns"]
        else:
            gen = {k: np.concatenate([p[k] for p in self.panns]) for k in self.panns[0]}
            tgt = ref.panns_target
            try:
                m["fd"] = {"available": True, "value": frechet_distance_from_embeddings(gen["embedding"],
                                                                                        tgt["embedding"]),
                           "n": n, "dim": int(gen["embedding"].shape[1])}
            except FrechetError as exc:
                m["fd"] = unavailable(str(exc))
            kl = kl_paired(gen["logits"], tgt["logits"])
            for c, v in zip(self.clips, kl["per_pair_softmax"]):
                c["kl"] = float(v)
            m["kl"] = {"available": True, "value": kl["kl_softmax"], "kl_sigmoid": kl["kl_sigmoid"], "n": n}
            isc = inception_score(gen["logits"], splits=10)
            m["is"] = {"available": True, "value": isc["is_mean"], "std": isc["is_std"], "splits": isc["splits"],
                       "n": n}
        # VGGish: FAD
        if not _is_net(nets["vggish"]):
            m["fad"] = nets["vggish"]
        else:
            gen_v = np.concatenate(self.vggish)
            try:
                m["fad"] = {"available": True, "value": frechet_distance_from_embeddings(gen_v, ref.vggish_target),
                            "n_examples": int(len(gen_v)), "n_examples_target": int(len(ref.vggish_target))}
            except FrechetError as exc:
                m["fad"] = unavailable(str(exc))
            if self.vggish_pca:
                try:
                    m["fad_pca"] = {"available": True, "value": frechet_distance_from_embeddings(
                        np.concatenate(self.vggish_pca), ref.vggish_target_pca)}
                except FrechetError as exc:
                    m["fad_pca"] = unavailable(str(exc))
        # model-free
        gains = [c["gain"] for c in self.clips]
        for key, vals in (("gain", gains), ("keep_error", [c["keep_error"] for c in self.clips]),
                          ("lsd", [c["lsd"] for c in self.clips]), ("si_sdr", [c["si_sdr"] for c in self.clips])):
            s = S.summarize(vals)
            m[key] = {"available": True, "value": s["mean"], "median": s["median"], "n": s["n"]} if s["n"] \
                else unavailable("undefined for every clip (see the per-clip notes)")
        sr = S.success_rate(gains)
        m["success_rate"] = {"available": True, "value": sr, "threshold": S.SUCCESS_GAIN,
                             "n": S.summarize(gains)["n"]} if sr is not None \
            else unavailable("no clip has a defined gain")
        return m

    def by_task(self) -> dict:
        from . import spectral as S

        tasks = sorted({c["task"] for c in self.clips if c.get("task")})
        out = {}
        for t in tasks:
            cs = [c for c in self.clips if c.get("task") == t]
            g = [c["gain"] for c in cs]
            out[t] = {"n": len(cs), "gain": S.summarize(g)["mean"],
                      "keep_error": S.summarize([c["keep_error"] for c in cs])["mean"],
                      "success_rate": S.success_rate(g),
                      "clap": S.summarize([c.get("clap") for c in cs])["mean"]}
        return out

    def timing(self) -> dict:
        secs = [c["seconds"] for c in self.clips if c["seconds"] is not None]
        if not secs:
            return {"mean_s": None, "median_s": None, "n": 0}
        return {"mean_s": float(np.mean(secs)), "median_s": float(np.median(secs)), "min_s": float(np.min(secs)),
                "max_s": float(np.max(secs)), "n": len(secs)}


# ---- the job ---------------------------------------------------------------------------------
def run_eval(cfg: EvalConfig, cancel=None, model=None):
    """Generator of EvalEvent; returns the report dict (also written to cfg.out)."""
    check_settings(cfg)
    items = load_testset(cfg.manifest, cfg.limit)
    n = len(items)
    yield EvalEvent("check", n, n, f"{n} clips in {Path(cfg.manifest).name}")

    from ..audio.io import save_audio
    from ..editing import default_strength, edit

    from ..devices import resolve_device, resolve_dtype

    device = resolve_device(cfg.device) if model is None else str(model.device)
    dtype = resolve_dtype(cfg.dtype, device) if model is None else None  # before any network loads
    folder = None
    if model is None:
        from ..paths import resolve_model

        folder = resolve_model(str(cfg.model) if cfg.model else None)  # a bad path fails before any load
    nets = load_networks(cfg, device)
    yield EvalEvent("networks", 3, 3, ", ".join(f"{k}: {'ok' if _is_net(v) else 'unavailable'}"
                                                  for k, v in nets.items()))
    if model is None:
        from ..model.loaders import load_editor

        model = load_editor(folder, device=device, dtype=dtype)
        yield EvalEvent("model", 1, 1, f"model {folder}")
    sd = model.flow.sampler  # the model's sampler defaults
    model_rec = {"path": str(getattr(model, "source_folder", "")), "info": dict(model.info),
                 "defaults": {"t_start": sd.t_start, "steps": sd.steps, "guidance": sd.guidance, "draws": sd.draws,
                              "strength": default_strength(model, False),
                              "region_strength": default_strength(model, True)}}
    t_starts = [float(t) for t in (cfg.t_starts or [sd.t_start])]
    steps = [int(s) for s in (cfg.steps or [sd.steps])]
    guidance = float(cfg.guidance if cfg.guidance is not None else sd.guidance)
    draws = int(cfg.draws if cfg.draws is not None else sd.draws)
    strength = float(cfg.strength if cfg.strength is not None else default_strength(model, False))
    settings = [{"t_start": t, "steps": s} for t, s in itertools.product(t_starts, steps)]

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    ref = yield from relay(_build_reference(items, nets, cancel), lambda k: EvalEvent("reference", k, n, "targets"))

    baseline = None
    if cfg.baseline:
        acc = _Accumulator()
        for i, it in enumerate(items):
            check_cancel(cancel, "evaluation")
            x, sr = _load(it.input)
            acc.add(ref, i, x, sr, None)
            yield EvalEvent("baseline", i + 1, n, "input (no edit)")
        baseline = {"label": "input (no edit)", "metrics": acc.metrics(ref), "by_task": acc.by_task(),
                    "clips": acc.clips}

    warm = None
    if cfg.warmup:
        x, sr = _load(items[0].input)
        t0 = time.perf_counter()
        edit(model, x, sr, items[0].instruction, steps=1, t_start=settings[0]["t_start"], guidance=guidance,
             draws=draws, strength=strength, seed=cfg.seed)
        warm = time.perf_counter() - t0

    rows = []
    total = len(settings) * n
    done = 0
    for st in settings:
        acc = _Accumulator()
        label = setting_label(st["t_start"], st["steps"])
        adir = out / "audio" / label if cfg.save_audio else None
        if adir is not None:
            adir.mkdir(parents=True, exist_ok=True)
        for i, it in enumerate(items):
            check_cancel(cancel, "evaluation")
            x, sr = _load(it.input)
            res = edit(model, x, sr, it.instruction, cancel=cancel, steps=st["steps"], t_start=st["t_start"],
                       guidance=guidance, draws=draws, strength=strength, seed=nth_seed(cfg.seed, i))
            if adir is not None:
                save_audio(adir / f"{_safe(it.id)}.wav", res.audio, res.sample_rate)
            acc.add(ref, i, res.audio, res.sample_rate, res.seconds)
            done += 1
            yield EvalEvent("edit", done, total, f"{label} {it.id}", setting=st)
        row = {"label": label, "t_start": st["t_start"], "steps": st["steps"], "guidance": guidance, "draws": draws,
               "strength": strength, "metrics": acc.metrics(ref), "time": acc.timing(), "by_task": acc.by_task(),
               "clips": acc.clips}
        rows.append(row)
        yield EvalEvent("row", len(rows), len(settings), label, setting=st, row=row)

    from .report import write_report

    dev = device_record(device)
    report = {
        "format": "rfm-studio-eval", "version": REPORT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "manifest": str(Path(cfg.manifest).resolve()), "n_clips": n,
        "clip_seconds": {"mean": float(np.mean(ref.durations)), "total": float(np.sum(ref.durations))},
        "model": model_rec, "device": dev,
        "settings": {"t_start": t_starts, "steps": steps, "guidance": guidance, "draws": draws,
                     "strength": strength, "seed": cfg.seed,
                     "seed_rule": "seed + clip index", "warmup_edit_s": warm,
                     "timing": "wall time of one edit (mel, sampling, vocoder/render), model loaded, "
                               "after one untimed warm-up edit" if warm is not None else
                               "wall time of one edit, model loaded"},
        "networks": {k: (v.record | {"name": v.name}) if _is_net(v) else v for k, v in nets.items()},
        "baseline": baseline, "rows": rows,
    }
    paths = write_report(report, out, plots=cfg.plots)
    yield EvalEvent("report", 1, 1, str(paths.get("markdown", out)))
    return report


def _safe(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return keep.strip(".") or "clip"


def evaluate(cfg: EvalConfig, cancel=None, model=None) -> dict:
    """Blocking wrapper: run the whole job, return the report."""
    from ..editing import drive

    return drive(run_eval(cfg, cancel, model))
