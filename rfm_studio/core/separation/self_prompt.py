"""Self-prompted removal: a text-only "Remove X" where the app marks the example itself.

The dictionary engine (dictionary.py) removes what sounds like an example of X wherever it
plays, with its own soft mask on the clip's STFT; here the example is found, not marked:

1. the sound finder (core/detection, ``models/sound-finder``) gives, per frame, the probability
   that X plays; its strongest span (``find_example``: a run over ``finder_low`` holding a frame
   at ``finder_threshold``) cut from the clip is the example, with up to two more found spans
   where the probability reaches ``finder_also`` (a second recording of X: learned from the
   strongest span alone, it would be taken for the background and kept), and the dictionary
   engine removes X with them (``finder_keep``). The flow model does not run.
2. Where the finder is not installed, finds nothing, or ``spans_from`` is "model", the flow
   model's text-only removal marks it instead: its change of the log-mel (input minus output,
   per frame, averaged over the bands; ``removal_profile``) is strongest on X's frames;
   ``flagged_spans`` keeps the runs at ``rel_threshold`` of its peak (and ``min_removal`` nats),
   joined across short gaps, the strongest ``max_examples``; those spans of the input are the
   dictionary's examples (optionally with the library's templates of X, and the model's own
   mel-domain gain combined with the dictionary's mask).
   When the model takes out nothing there is nothing to go on, and when it takes out a lot
   (``model_above`` nats on average over its spans) it has removed X itself, better than the
   dictionary would: either way the model's own output is the result. The model runs at its
   own default strength (within a region, its region default): it is the detector, and the
   request's strength does not move the spans.
The strength scales the cut: the dictionary's keep mask in dB, or, where the model's output
stands, the model's change of the mel (editing.finish_edit on the same sampled edit: the model
is not run again). The defaults were chosen on bank v2 validation triplets
(benchmarks/dictionary_removal.py, mode self-prompt). ``--engine auto`` runs a text-only
"Remove X" this way (engine.TEXT_ONLY).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..detection.find import APP_FIND
from ..runs import merge_runs, runs
from .dictionary import SettingsDict

FPS = 100  # mel frames per second when no model's MelConfig is given (hop 160 at 16 kHz)
COMBINE = ("none", "product", "min", "model-inside")
SPANS_FROM = ("model", "finder")


@dataclass(frozen=True)
class SelfPromptConfig(SettingsDict):
    rel_threshold: float = 0.5  # a frame is flagged at this share of the profile's peak
    min_removal: float = 0.05  # nats (mean over the mel bands): less than this is no removal
    smooth_s: float = 0.05  # moving average of the profile
    gap_s: float = 0.15  # flagged runs closer than this are one span
    min_span_s: float = 0.1  # shorter spans are dropped (the dictionary needs 6 of its frames)
    pad_s: float = 0.0  # each span widened by this on both sides
    max_examples: int = 3  # the strongest spans (by total removal) become the examples
    examples: bool = True  # the spans are the examples (False: the library's templates only)
    library: bool = False  # also the library's templates of the named sound
    combine: str = "none"  # with the model's own gain: "product", "min" (the deeper cut of the two),
    # "model-inside" (the model's gain in the flagged spans, the dictionary's keep mask elsewhere)
    inside_only: bool = False  # the removal only in the flagged spans (widened by pad_s)
    model_above: float = 3.0  # nats: a model that took out this much (mean over its spans)
    # removed X itself, and its output is the result
    min_share: float = 0.2  # the dictionary's cut over every span the model flagged, as a share of
    # the model's own (dB of power): below it the model's output is the result (a sound heard 4 or
    # more times is taken for the scene by the dictionary and kept)
    spans_from: str = "finder"  # where the example comes from: "finder" (the sound finder's
    # strongest span, core/detection; the model's removal where it finds nothing or is not
    # installed) or "model" (the model's removal only)
    finder_threshold: float = APP_FIND.threshold  # a found span holds a frame the finder gives this
    # probability ...
    finder_low: float = APP_FIND.low  # ... and reaches out over its frames at this probability or more
    finder_examples: int = 1  # the strongest found spans that become the examples ...
    finder_also: float = 0.7  # ... and the other found spans where the finder's probability reaches
    # this, the likeliest first, up to max_examples examples in all (another recording of the sound)



def dictionary_config():
    """The dictionary engine's settings for self-prompted examples: its own defaults (a sharper
    mask than the default's, power 3, measured no better on bank v2 validation triplets)."""
    from .dictionary import DictionaryConfig

    return DictionaryConfig()


def removal_profile(mel_in: np.ndarray, mel_out: np.ndarray) -> np.ndarray:
    """[frames]: what the model took out of each frame, in nats, averaged over the mel bands
    (bands it raised count as nothing taken out)."""
    n = min(mel_in.shape[-1], mel_out.shape[-1])
    return np.maximum(np.asarray(mel_in[:, :n], np.float64) - np.asarray(mel_out[:, :n], np.float64), 0.0).mean(0)


def flagged_spans(profile: np.ndarray, cfg: SelfPromptConfig, fps: float = FPS) -> list[tuple[float, float]]:
    """[(start_s, end_s)], in time order: the strongest runs of the removal profile (see the
    module's step 3); [] when nothing reaches ``min_removal``."""
    p = np.asarray(profile, np.float64)
    if not p.size:
        return []
    w = max(1, int(round(cfg.smooth_s * fps)))
    if w > 1:
        p = np.convolve(p, np.ones(w) / w, mode="same")
    peak = float(p.max())
    if peak < cfg.min_removal:
        return []
    on = p >= max(cfg.min_removal, cfg.rel_threshold * peak)
    merged = merge_runs(runs(on), int(round(cfg.gap_s * fps)))
    shortest = int(round(cfg.min_span_s * fps))
    spans = [(a, b) for a, b in merged if b - a >= shortest]
    if not spans:  # only short runs: the strongest one, widened to the shortest usable span
        a, b = max(merged, key=lambda r: p[r[0]:r[1]].sum())
        c = (a + b) // 2  # centred on the run, shifted inside the clip at its edges
        a = min(max(0, c - (shortest + 1) // 2), max(0, len(p) - shortest - 1))
        b = min(len(p), a + shortest + 1)
        spans = [(a, b)]
    spans = sorted(spans, key=lambda r: -p[r[0]:r[1]].sum())[: max(1, cfg.max_examples)]
    pad = int(round(cfg.pad_s * fps))
    return [(max(0, a - pad) / fps, min(len(p), b + pad) / fps) for a, b in sorted(spans)]


def span_removal(profile: np.ndarray, spans, fps: float = FPS) -> float:
    """The mean of the removal profile over the spans (nats)."""
    sel = np.concatenate([np.asarray(profile)[int(round(a * fps)): int(round(b * fps))] for a, b in spans])
    return float(sel.mean()) if sel.size else 0.0


def _span_mask(spans, n_frames: int, hop_s: float) -> np.ndarray:
    m = np.zeros(n_frames, dtype=bool)
    for a, b in spans:
        m[max(0, int(np.floor(a / hop_s))): min(n_frames, int(np.ceil(b / hop_s)) + 1)] = True
    return m


@dataclass(frozen=True)
class ModelMarks:
    """What the model's edit marked (``model_marks``): its removal profile, the spans it flagged,
    whether its output stands without a dictionary (it marked no span, or took out at least
    ``model_above`` there), and the dictionary's sources from the spans (examples, library
    templates; none where the model's output stands)."""

    profile: np.ndarray
    spans: list
    stands: bool
    examples: list
    library: list

    @property
    def learns(self) -> bool:
        """Whether ``self_prompt_keep`` learns a dictionary from these marks (decided before any of
        its work): False where the model's output stands without one."""
        return not self.stands and bool(self.examples or self.library)


def model_marks(x16: np.ndarray, mel_in: np.ndarray, mel_out: np.ndarray, cfg: SelfPromptConfig, dcfg=None, *,
                library=(), mel_config=None) -> ModelMarks:
    """The model's marks of its edit of ``x16`` (its ``mel_in``, ``mel_out``), worked out once per
    edit: the stages announced and the dictionary learned both follow them."""
    dcfg = dcfg or dictionary_config()
    fps = mel_config.fps if mel_config is not None else FPS  # the model's mel frames per second
    profile = removal_profile(mel_in, mel_out)
    spans = flagged_spans(profile, cfg, fps)
    stands = not spans or span_removal(profile, spans, fps) >= cfg.model_above
    examples, library = ([], []) if stands else _dictionary_sources(x16, spans, cfg, dcfg, library)
    return ModelMarks(profile, spans, stands, examples, library)


def span_cuts(x16: np.ndarray, spans, n_fft: int) -> tuple[list, list]:
    """(the spans (seconds) whose cut of the 16 kHz ``x16`` is long enough for the dictionary's
    STFT of ``n_fft``, their cuts)."""
    pairs = [((a, b), x16[int(a * 16000): int(b * 16000)].astype(np.float32)) for a, b in spans]
    pairs = [(s, c) for s, c in pairs if len(c) >= n_fft]
    return [s for s, _ in pairs], [c for _, c in pairs]


def _dictionary_sources(x16: np.ndarray, spans, cfg: SelfPromptConfig, dcfg, library) -> tuple[list, list]:
    """(examples: the spans of ``x16``, long enough for the dictionary's STFT; library templates)."""
    examples = span_cuts(x16, spans, dcfg.n_fft)[1] if cfg.examples else []
    return examples, (list(library) if cfg.library or not cfg.examples else [])


def self_prompt_keep(x16: np.ndarray, mel_in: np.ndarray, mel_out: np.ndarray, cfg: SelfPromptConfig,
                     dcfg=None, *, library=(), mel_config=None, seed: int = 0, cancel=None,
                     marks: ModelMarks | None = None):
    """(keep mask on the dictionary's 16 kHz STFT grid of ``x16``, spans) from the model's edit
    of ``x16`` (its ``mel_in``, ``mel_out``); (None, []) when the model took out nothing, and
    (None, spans) when it took out at least ``model_above`` there, or when the dictionary's cut
    falls short (``min_share``): the model's output stands. ``marks``: ``model_marks`` of the same
    edit where the caller has them (worked out here otherwise; ``library`` is then theirs)."""
    from .dictionary import magnitude, remove_with_dictionary

    dcfg = dcfg or dictionary_config()
    if marks is None:
        marks = model_marks(x16, mel_in, mel_out, cfg, dcfg, library=library, mel_config=mel_config)
    profile, spans, examples, library = marks.profile, marks.spans, marks.examples, marks.library
    if marks.stands:
        return None, spans
    if not marks.learns:
        return None, []
    V = magnitude(x16, dcfg)  # the clip's STFT, for the dictionary and its cut's share
    keep = remove_with_dictionary(x16, dcfg, examples=examples, library=library, seed=seed, cancel=cancel, V=V)
    if cfg.min_share > 0 and _cut_share(V, keep, mel_in, mel_out, profile, cfg, dcfg, mel_config) < cfg.min_share:
        return None, spans  # the dictionary took far less than the model where the model heard X

    if cfg.combine != "none":
        from ..features.mel import MelConfig
        from ..render import gains_to_stft_grid, soft_threshold

        mc = mel_config or MelConfig()
        gain = np.exp(np.minimum(soft_threshold(mel_out - mel_in, 0.1), 0.0))
        g = gains_to_stft_grid(gain, mc, 16000, dcfg.n_fft, dcfg.hop, keep.shape[1])
        if cfg.combine == "product":
            keep = keep * g
        elif cfg.combine == "min":
            keep = np.minimum(keep, g)
        elif cfg.combine == "model-inside":
            keep = np.where(_span_mask(spans, keep.shape[1], dcfg.hop / 16000)[None, :], g, keep)
        else:
            raise ValueError(f"combine must be one of {', '.join(COMBINE)}")
        keep = np.maximum(keep, 10 ** (dcfg.floor_db / 20))
    if cfg.inside_only:
        inside = _span_mask(spans, keep.shape[1], dcfg.hop / 16000)
        keep = np.where(inside[None, :], keep, 1.0)
    return keep, spans


def finder_config(cfg: SelfPromptConfig):
    """The sound finder's span settings (detection/find.py FindConfig) of ``cfg``."""
    from ..detection.find import FindConfig

    return FindConfig(threshold=cfg.finder_threshold, low=cfg.finder_low, gap_s=cfg.gap_s, min_span_s=cfg.min_span_s)


def _found(finder, x16, instruction: str, cfg: SelfPromptConfig, within, cancel):
    """(every span find_sound gives, its probability per frame) for the sound ``instruction``
    names, or None when the text encoder cannot load."""
    from ..detection.find import find_sound
    from ..errors import ModelLoadError

    try:
        found = find_sound(x16, 16000, instruction, finder=finder, within=within, cfg=finder_config(cfg),
                           cancel=cancel)
    except ModelLoadError:  # no text encoder: nothing found
        return None
    return list(found.spans), np.asarray(found.probs)


def _peak(p: np.ndarray, s) -> float:
    from ..detection.find import span_probs

    part = span_probs(p, s)
    return float(part.max()) if part.size else 0.0


def find_example(finder, x16, instruction: str, cfg: SelfPromptConfig, *, within=None, cancel=None):
    """The example's spans (seconds of ``x16``, 16 kHz mono) the sound finder ``finder`` marks for
    the sound ``instruction`` names, among find_sound's (the app's Find): its ``finder_examples``
    strongest (most probability), then the others whose probability reaches ``finder_also``, the
    likeliest first, ``max_examples`` in all; only spans inside ``within`` (start_s, end_s) when
    given; [] when it finds nothing or the text encoder cannot load."""
    return [s for s, _ in found_examples(finder, x16, instruction, cfg, within=within, cancel=cancel) or ()]


def found_examples(finder, x16, instruction: str, cfg: SelfPromptConfig, *, within=None, cancel=None):
    """``find_example``'s spans, each with the finder's peak probability over it: [(span, peak)]
    ([] where it hears the sound nowhere), or None when its text encoder cannot load (it heard
    nothing)."""
    got = _found(finder, x16, instruction, cfg, within, cancel)
    if got is None:
        return None
    from ..detection.find import span_mass

    spans, p = got
    peak = {s: _peak(p, s) for s in spans}
    ranked = sorted(spans, key=lambda s: -span_mass(p, s))  # the most probability first
    top = ranked[: max(1, cfg.finder_examples)]
    also = sorted((s for s in ranked[len(top):] if peak[s] >= cfg.finder_also), key=lambda s: -peak[s])
    return [(s, peak[s]) for s in list(top) + also[: max(0, cfg.max_examples - len(top))]]


GROWN = 2.0  # a found span at least this many times as long as the marks inside it joins them


def more_examples(finder, x16, instruction: str, marked, cfg: SelfPromptConfig | None = None, *, within=None,
                  cancel=None) -> list:
    """Where else the sound the user marked examples of plays: the sound finder's spans for the
    sound ``instruction`` names (seconds of ``x16``) whose probability reaches ``finder_also``,
    overlapping no ``marked`` span (start_s, end_s), the likeliest first, so many that the marked
    examples and these are ``max_examples`` in all (at least one more where one is marked), then
    the spans around a mark where the probability reaches ``finder_also`` too and that are at least
    GROWN times as long as the marks inside them (a short mark inside a longer sound: the rest of
    it); only inside ``within`` when given; []
    when the finder finds none or its text encoder cannot load. Another recording of the sound,
    which the dictionary would learn as background from the marked one alone, becomes an example
    too, and so does the rest of a sound marked in part."""
    cfg = cfg or SelfPromptConfig()
    got = _found(finder, x16, instruction, cfg, within, cancel)
    if got is None:
        return []
    spans, p = got

    def inside(s):  # the marked seconds inside the span s
        return sum(max(0.0, min(s[1], b) - max(s[0], a)) for a, b in marked)

    peak = {s: _peak(p, s) for s in spans}
    sure = [s for s in spans if peak[s] >= cfg.finder_also]
    free = [s for s in sure if inside(s) == 0.0]
    grown = [s for s in sure if 0.0 < inside(s) and s[1] - s[0] >= GROWN * inside(s)]
    return sorted(free, key=lambda s: -peak[s])[: max(1, cfg.max_examples - max(1, len(marked)))] + grown


def finder_keep(x16, spans, cfg: SelfPromptConfig, dcfg=None, *, library=(), seed: int = 0, cancel=None):
    """The dictionary engine's keep mask (16 kHz STFT grid of ``x16``) with the found spans of
    ``x16`` as its examples: no model, no check against one."""
    from .dictionary import remove_with_dictionary

    dcfg = dcfg or dictionary_config()
    examples, library = _dictionary_sources(x16, spans, cfg, dcfg, library)
    keep = remove_with_dictionary(x16, dcfg, examples=examples, library=library, seed=seed, cancel=cancel)
    if cfg.inside_only:
        inside = _span_mask(spans, keep.shape[1], dcfg.hop / 16000)
        keep = np.where(inside[None, :], keep, 1.0)
    return keep


def _cut_share(V, keep, mel_in, mel_out, profile, cfg, dcfg, mel_config) -> float:
    """The dictionary's cut (dB of power) over every span the model flagged, as a share of the
    model's own cut there (1.0 when the model cut nothing measurable); ``V``: the clip's STFT
    magnitude (dictionary.magnitude), the grid of the keep mask."""
    from ..features.mel import MelConfig
    from ..render import gains_to_stft_grid

    mc = mel_config or MelConfig()
    every = flagged_spans(profile, dataclasses.replace(cfg, max_examples=len(profile) + 1), mc.fps)
    P = V[:, : keep.shape[1]] ** 2
    inside = _span_mask(every, P.shape[1], dcfg.hop / 16000)
    if not inside.any():
        return 1.0
    g = gains_to_stft_grid(np.exp(np.minimum(mel_out - mel_in, 0.0)), mc, 16000, dcfg.n_fft, dcfg.hop, P.shape[1])
    total = float(P[:, inside].sum()) + EPS_POWER

    def cut(k):
        return -10 * np.log10((float((k[:, inside] ** 2 * P[:, inside]).sum()) + EPS_POWER) / total)

    model = cut(g)
    return 1.0 if model < 0.5 else cut(keep) / model


EPS_POWER = 1e-12


def run_self_prompt_edit(model, req, cancel=None, config: SelfPromptConfig | None = None, dictionary=None):
    """A text-only "Remove X" (see the module): a core generator of ProgressEvents, one per stage,
    all numbered of one total (events.Stages; the cancel token checked after each), and the
    model's StepEvents where it runs; returning an EditResult like run_edit's. With the sound
    finder, 3 stages: finding X; learning the sound found, or (nothing found) the model marking
    it, its StepEvents following; then applying the mask, or on the model's marks the dictionary
    learning them or the model's removal standing. Without it, the model's StepEvents, then 2
    stages where the dictionary is learned (learning; applying the mask, or the model's removal
    standing when the dictionary's cut fell short) and none where the model's output stands. With a region, the
    model and the dictionary hear the region and CONTEXT_S of each side; only the region changes."""
    import dataclasses
    import time

    from ..audio.io import resample, to_mono
    from ..audio.windows import check_region, context_bounds, splice_region
    from ..edit.assemble import REGION_FADE_S
    from ..edit.inputs import check_audio, check_options
    from ..edit.plan import CONTEXT_S
    from .. import editing
    from ..prompts import check_prompts
    from ..events import EditResult, Stages
    from ..instructions import removed_sound
    from .dictionary import apply_keep_mask
    from .engine import library_templates

    t0 = time.perf_counter()
    cfg = config or SelfPromptConfig()
    dcfg = dictionary or dictionary_config()
    audio = check_audio(req.audio, req.sample_rate)
    sr = int(req.sample_rate)
    region = check_region(req.region, audio.shape[0] / sr) if req.region is not None else None
    c0, c1 = context_bounds(region, audio.shape[0], sr, CONTEXT_S)  # the region and its context, edited whole
    part = audio[c0:c1]
    check_prompts(req.prompts)
    check_options(strength=req.strength, seed=req.seed)
    # the model marks the spans at its own default strength (within a region, its region default):
    # it is a detector here, and the user's strength scales only the cut
    detector = None
    user = None if req.strength is None else float(req.strength)
    finish = user  # where the model's output stands: the user's strength, or within a region with
    # Auto, the whole-clip default the app shows for this engine (edit.inputs.auto_strength)
    if region is not None and hasattr(model, "info"):
        from ..edit.inputs import default_strength

        detector = default_strength(model, True)
        finish = default_strength(model, False) if user is None else user
    inner = dataclasses.replace(req, audio=part, region=None, engine="model", strength=detector)
    x16 = resample(to_mono(part), sr, 16000)
    if cfg.spans_from not in SPANS_FROM:
        raise ValueError(f"spans_from must be one of {', '.join(SPANS_FROM)}")
    library = []
    if cfg.library or not cfg.examples:
        library, _ = library_templates(removed_sound(req.instruction), dcfg.library_clips)
    found, sure, sampled, res, missed = [], [], None, None, False
    finder = None
    if cfg.spans_from == "finder":  # the sound finder marks the example, when it is installed and finds it
        from ..detection.find import installed_finder, names_sound, query_text

        finder = installed_finder() if names_sound(req.instruction) else None  # "Remove this": the model marks
    # the stages of this edit, numbered of one total: with the finder, 3 (finding; learning the
    # found sound or the model marking it; applying the mask, or the dictionary or the model's
    # removal on the model's marks); without, 2 where the dictionary learns (learning; the mask or
    # the model's removal standing), none where the model's output stands without it
    stages = Stages(cancel, 3 if finder is not None else 2)
    if finder is not None:
        what = query_text(req.instruction)
        yield from stages.next(f"Finding where '{what}' plays")
        within = None if region is None else (region[0] - c0 / sr, region[1] - c0 / sr)
        sure = found_examples(finder, x16, req.instruction, cfg, within=within, cancel=cancel)
        missed = sure == []  # it heard the clip and found the sound nowhere (None: its encoder did not load)
        sure = sure or []
        found = [sp for sp, _ in sure]
    if found:  # the dictionary learns the found sound; the model does not run
        yield from stages.next("Dictionary removal: learning the sound found")
        keep = finder_keep(x16, found, cfg, dcfg, library=library, seed=int(req.seed or 0), cancel=cancel)
        spans, learn = found, True
    else:  # the model marks the example: sampled once; where its output stands, finished at the user's strength
        if finder is not None:
            yield from stages.next(f"Not found: the model marks where '{what}' plays")
        sampled = yield from editing.sample_edit(model, inner, cancel, need_reference=finish not in (None, 1.0))
        mel_in, mel_out = sampled.mel_in, sampled.mel_at(sampled.strength)  # the detector's edit
        mc = getattr(model, "mel_config", None)
        marks = model_marks(x16, mel_in, mel_out, cfg, dcfg, library=library, mel_config=mc)  # once per edit
        learn = marks.learns
        if learn:  # the stages announced are the ones that run
            yield from stages.next("Dictionary removal: learning the sound the model marked")
        elif stages.done:  # the finder's path: its last stage
            yield from stages.next("The model's removal stands")
        keep, spans = self_prompt_keep(x16, mel_in, mel_out, cfg, dcfg, mel_config=mc, seed=int(req.seed or 0),
                                       cancel=cancel, marks=marks)
    strength = 1.0 if user is None else user  # the dictionary's cut in dB, scaled
    if keep is None:  # the model took out nothing, or X itself: its own output, at the user's strength
        if learn and stages.left:
            yield from stages.next("Dictionary removal: its cut fell short, the model's removal stands")
        res = editing.finish_edit(model, inner, sampled, strength=finish)
        out_part = res.audio
    else:
        if strength != 1.0:  # 0: nothing removed; 2: the cut in dB doubled
            keep = keep ** strength
        if stages.left:
            yield from stages.next("Dictionary removal: applying the mask")
        if sampled is not None:
            res = editing.finish_edit(model, inner, sampled, render=False)  # the detector's params, tokens, attention
        out_part = apply_keep_mask(part, sr, keep, dcfg)
    out = audio.copy()
    out[c0:c1] = out_part
    out = splice_region(audio, out, region, sr, REGION_FADE_S)
    off = c0 / sr
    attention = res.attention if res is not None else None
    if attention is not None and (c0 > 0 or c1 < audio.shape[0]):  # the crop's maps where it lies in the clip
        mc16, fps = model.mel_config, model.mel_config.fps
        full = np.zeros(attention.shape[:2] + (mc16.frames(int(round(audio.shape[0] * mc16.sample_rate / sr))),),
                        np.float32)
        o = int(round(off * fps))
        n = min(attention.shape[-1], full.shape[-1] - o)
        full[:, :, o:o + n] = attention[:, :, :n]
        attention = full
    return EditResult(
        audio=out.astype(np.float32), sample_rate=sr, instruction=req.instruction,
        params={**(res.params if res is not None else {"seed": int(req.seed or 0)}), "engine": "self-prompt",
                "removal": "model" if keep is None else "dictionary", "spans_from": "finder" if found else "model",
                # the strength that shaped the output: the model's when its output stands
                "strength": res.params.get("strength") if keep is None else strength,
                "region": list(region) if region else None,
                "spans": [[round(a + off, 3), round(b + off, 3)] for a, b in sorted(spans)],  # in time order
                # how sure the finder was where it marked them: its highest peak over them
                "finder_peak": round(max(pk for _, pk in sure), 3) if found else None,
                "finder_missed": missed,  # it heard the clip (the region) and no frame reached its threshold
                "self_prompt": cfg.to_dict(), "dictionary": dcfg.to_dict(), "render": "mask"},
        seconds=time.perf_counter() - t0, mel_in=None, mel_out=None, tokens=res.tokens if res is not None else (),
        attention=attention,
    )
