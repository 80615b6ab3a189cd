"""Self-prompted removal (core/separation/self_prompt.py): the model's text-only removal marks
the example, the dictionary engine removes that sound everywhere; the engine policy."""

import numpy as np
import pytest

from cancel_helpers import work_done_when_cancelled
from conftest import collect
from test_dictionary_removal import A_SPANS, B_SPANS, SR, _db, _scene


def _mels(x, marked=((0.5, 1.0),), depth=1.0):
    """(mel_in, mel_out) as a model that took ``depth`` nats out of the ``marked`` spans would give."""
    from rfm_studio.core.evaluation.spectral import log_mel

    mel_in = log_mel(x)
    mel_out = mel_in.copy()
    for a, b in marked:
        mel_out[:, int(a * 100): int(b * 100)] -= depth
    return mel_in, mel_out


pytestmark = pytest.mark.usefixtures("no_sound_finder")  # the model marks the example here


@pytest.fixture
def fake_model(monkeypatch):
    """The model's own edit (editing.sample_edit, then finish_edit) answers as a model that
    removes the first beep (only) would: ``depth`` nats at its default strength 1, its change scaled
    by the strength it is finished at (the fake model's output: the clip times 1 - 0.5 * strength).
    Returns the list of requests the fake sampled."""
    from types import SimpleNamespace

    from rfm_studio.core import editing
    from rfm_studio.core.audio.io import resample
    from rfm_studio.core.events import EditResult, StepEvent

    seen = []

    def sample_edit(model, req, cancel=None, need_reference=False):
        seen.append(req)
        yield StepEvent(1, 1, 0.5)
        x = req.audio if req.audio.ndim == 1 else req.audio.mean(1)
        x16 = resample(x, req.sample_rate, SR)
        marked = getattr(model, "marked", ((0.5, 1.0),))
        depth = getattr(model, "depth", 1.0)
        s = 1.0 if req.strength is None else float(req.strength)  # the model's default: 1
        return SimpleNamespace(mel_in=_mels(x16, marked, 0.0)[0], strength=s,
                               mel_at=lambda k: _mels(x16, marked, depth * k)[1])

    def finish_edit(model, req, sampled, strength=None, render=True):
        finish_edit.renders.append(render)
        s = sampled.strength if strength is None else float(strength)
        return EditResult(audio=req.audio * ((1 - 0.5 * s) if render else 1.0), sample_rate=req.sample_rate,
                          instruction=req.instruction,
                          params={"steps": 1, "strength": s}, mel_in=sampled.mel_in, mel_out=sampled.mel_at(s))

    finish_edit.renders = []
    monkeypatch.setattr(editing, "sample_edit", sample_edit)
    monkeypatch.setattr(editing, "finish_edit", finish_edit)
    return seen


def test_flagged_spans_are_the_strongest_runs_of_the_models_removal():
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, flagged_spans

    p = np.full(500, 0.01)
    p[100:160] = 0.8  # 1.0-1.6 s
    p[300:330] = 0.5  # 3.0-3.3 s
    p[334:340] = 0.5  # a short gap: the same span
    p[450:452] = 0.9  # 2 frames: too short to be an example
    cfg = SelfPromptConfig(smooth_s=0.0)
    assert flagged_spans(p, cfg) == [(1.0, 1.6), (3.0, 3.4)]
    assert flagged_spans(p, SelfPromptConfig(smooth_s=0.0, max_examples=1)) == [(1.0, 1.6)]
    assert flagged_spans(p, SelfPromptConfig(smooth_s=0.0, rel_threshold=0.7)) == [(1.0, 1.6)]
    assert flagged_spans(np.full(500, 0.02), cfg) == []  # the model took out nothing
    q = np.zeros(500)
    q[200:203] = 1.0  # only a short run: the strongest, widened to the shortest usable span
    (a, b), = flagged_spans(q, cfg)
    assert a <= 2.0 and b >= 2.03 and b - a >= cfg.min_span_s - 1e-9


def test_the_models_marked_span_removes_the_sound_everywhere_and_keeps_the_other():
    from rfm_studio.core.separation.dictionary import apply_keep_mask
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, self_prompt_keep

    x, a, b = _scene()
    mel_in, mel_out = _mels(x)  # the model found the first beep only
    keep, spans = self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig())
    assert len(spans) == 1 and abs(spans[0][0] - 0.5) < 0.06 and abs(spans[0][1] - 1.0) < 0.06
    y = apply_keep_mask(x, SR, keep, _dcfg())
    for span in A_SPANS:  # every occurrence, also the one under the other sound
        assert _db(y - b, [span]) - _db(a, [span]) <= -20, span
    only_b = [(1.4, 2.2), (3.0, 3.6)]
    assert abs(_db(y, only_b) - _db(b, only_b)) <= 1.0
    # the model's own gain on top cuts the marked span deeper; only inside it: the other beeps stay
    keep2, _ = self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig(combine="product", inside_only=True))
    t = np.arange(keep.shape[1]) * _dcfg().hop / SR
    inside = (t >= 0.52) & (t <= 0.98)
    assert np.all(keep2[:, inside] <= keep[:, inside] + 1e-9)
    floor = 10 ** (_dcfg().floor_db / 20)
    k1, k2 = keep[:, inside], keep2[:, inside]  # the model's 1-nat cut on top, down to the floor
    assert np.all((k2 < 0.5 * k1) | (k2 <= floor + 1e-9)) and (k1 > 2 * floor).any()
    assert np.all(keep2[:, (t < 0.4) | (t > 1.1)] == 1.0)
    y2 = apply_keep_mask(x, SR, keep2, _dcfg())
    assert abs(_db(y2, [A_SPANS[2]]) - _db(x, [A_SPANS[2]])) < 0.5  # the other beeps stay
    assert self_prompt_keep(x, mel_in, mel_in, SelfPromptConfig()) == (None, [])  # nothing taken out
    # a model that took out more than model_above nats there removed X itself: its output stands
    assert self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig(model_above=0.9)) == (None, spans)
    assert self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig(model_above=1.5))[0] is not None


def _dcfg():
    from rfm_studio.core.separation.dictionary import DictionaryConfig

    return DictionaryConfig()


def test_text_only_remove_runs_self_prompted_by_default(fake_model):
    from rfm_studio.core.editing import EditRequest, edit, run_edit
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken, StepEvent

    x, a, b = _scene()
    res = edit(None, x, SR, "Remove the beep")  # auto, text only
    assert res.params["engine"] == "self-prompt" and len(fake_model) == 1 and fake_model[0].prompts == ()
    assert res.params["spans"] and abs(res.params["spans"][0][0] - 0.5) < 0.06
    y = res.audio
    assert y.shape == x.shape
    for span in A_SPANS:
        assert _db(y - b, [span]) - _db(a, [span]) <= -20, span
    assert abs(_db(y, B_SPANS[:1]) - _db(b, B_SPANS[:1])) <= 1.0
    events = []
    gen = run_edit(None, EditRequest(x, SR, "Remove the beep", engine="self-prompt"))
    while True:
        try:
            events.append(next(gen))
        except StopIteration:
            break
    # the model's step, then the dictionary's stages: progress only, no sampler step
    assert [type(e).__name__ for e in events] == ["StepEvent", "ProgressEvent", "ProgressEvent"]
    assert (events[0].step, events[0].total) == (1, 1)
    assert [(e.stage, e.stages) for e in events[1:]] == [(1, 2), (2, 2)]
    assert edit(None, x, SR, "Remove the beep", engine="model").params.get("engine") is None  # the model alone
    tok = CancelToken()
    gen = run_edit(None, EditRequest(x, SR, "Remove the beep", engine="self-prompt"), tok)
    next(gen)
    tok.cancel()
    with pytest.raises(Cancelled):
        collect(gen)


def test_self_prompt_with_a_region_other_rates_and_nothing_taken_out(fake_model):
    from rfm_studio.core.editing import edit

    sr = 44100
    x1, a1, b1 = _scene(sr)
    x = np.stack([x1, 0.8 * x1], axis=1)
    res = edit(None, x, sr, "Remove the beep", region=(0.0, 2.0), engine="self-prompt")
    y = res.audio
    assert y.shape == x.shape and res.params["engine"] == "self-prompt"
    assert fake_model[-1].audio.shape[0] == int(round(5.0 * sr))  # the region and 3 s of context
    j = int(2.0 * sr)
    assert np.array_equal(y[j:], x[j:])  # outside the region: untouched
    for c, g in ((0, 1.0), (1, 0.8)):
        assert _db(y[:, c] - g * b1, [A_SPANS[0]], sr) - _db(g * a1, [A_SPANS[0]], sr) <= -15, c
        assert abs(_db(y[:, c], [(1.4, 1.9)], sr) - _db(g * b1, [(1.4, 1.9)], sr)) <= 1.0


def test_when_the_model_takes_out_nothing_its_output_is_the_result(fake_model, monkeypatch):
    from types import SimpleNamespace

    from rfm_studio.core.editing import edit

    x, _, _ = _scene()
    res = edit(SimpleNamespace(depth=0.0), x, SR, "Remove the beep", engine="self-prompt")
    assert res.params["removal"] == "model" and res.params["spans"] == []
    assert np.allclose(res.audio, 0.5 * x)  # the fake model's own output


def test_engine_policy():
    from rfm_studio.core.prompts import example_from_clip
    from rfm_studio.core.separation.engine import removal_engine

    x, _, _ = _scene()
    ex = (example_from_clip(x, SR, 0.5, 1.0),)
    assert removal_engine("Remove the beep", None, ()) == "self-prompt"  # auto, text only
    assert removal_engine("Remove the beep", None, (), (1.0, 2.0)) == "self-prompt"  # within a region too
    assert removal_engine("Remove the beep", None, (), None, "vocoder") == "model"  # the model's vocoder render
    assert removal_engine("Remove the beep", "auto", ex) == "dictionary"  # a marked example
    assert removal_engine("Remove the beep", "model", ()) == "model"
    assert removal_engine("Remove the beep", "dictionary", ()) == "dictionary"
    assert removal_engine("Remove the beep", "self-prompt", ex) == "self-prompt"
    assert removal_engine("Add a beep", "self-prompt", ()) == "model"  # removal only


def test_cli_self_prompt_engine(capsys, tmp_path, tiny_bundle, fake_model):
    """The CLI's default for a text-only remove: the (fake) model marks the first beep, the report
    names the marked span, and every beep is gone while the other sound stays."""
    from test_dictionary_removal import cli_scene_edit

    code, text, err, x, y, r, _ = cli_scene_edit(capsys, tmp_path, "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, err
    assert len(fake_model) == 1 and "examples the model marked: 0.50-1.00 s" in text, text
    assert y.shape == x.shape and np.allclose(r, x - y, atol=1e-6)
    _, a, b = _scene()
    assert _db(y - b, A_SPANS) - _db(a, A_SPANS) <= -20
    assert abs(_db(y, B_SPANS[:1]) - _db(b, B_SPANS[:1])) <= 1.0


def test_a_sound_heard_many_times_falls_back_to_the_models_removal():
    """Eight occurrences, all flagged by the model: the dictionary, given the strongest few as
    examples, takes the rest for the scene and keeps them (0 dB). Its cut over the flagged spans is
    then far below the model's, and the model's own output is the result; with two occurrences
    the dictionary's removal stands."""
    from scipy.signal import butter, sosfilt

    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, self_prompt_keep
    from test_dictionary_removal import _burst

    t = np.arange(int(8.0 * SR)) / SR
    harm = sum(0.12 / k * np.sin(2 * np.pi * 700 * k * t) for k in (1, 2, 3)).astype(np.float32)
    rng = np.random.default_rng(0)
    bed = (sosfilt(butter(4, [200, 6000], btype="band", fs=SR, output="sos"), rng.standard_normal(len(t)))
           * 0.01).astype(np.float32)
    for n, dictionary_stands in ((8, False), (2, True)):
        spans = [(0.3 + i * 0.95, 0.9 + i * 0.95) for i in range(n)]
        x = (sum(_burst(harm, s, e, SR) for s, e in spans) + bed).astype(np.float32)
        mel_in, mel_out = _mels(x, spans, 1.0)
        keep, used = self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig())
        assert used and (keep is not None) == dictionary_stands, n
        off, _ = self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig(min_share=0.0))
        assert off is not None  # without the check the dictionary's (empty) cut would stand


def test_a_short_run_at_the_clip_edge_is_widened_inside_the_clip():
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, flagged_spans

    cfg = SelfPromptConfig(smooth_s=0.0)
    for where in (0, 497):  # the first and the last frames
        q = np.zeros(500)
        q[where:where + 3] = 1.0
        (a, b), = flagged_spans(q, cfg)
        assert 0.0 <= a and b <= 5.0 and b - a >= cfg.min_span_s - 1e-9, (where, a, b)
        assert a <= where / 100 and b >= (where + 3) / 100


def test_settings_saved_with_the_removed_source_option_still_load():
    """The examples are always the input's own spans: settings that name the former ``source``
    option (saved params of earlier edits) load, and the option is gone."""
    from dataclasses import fields

    from rfm_studio.core.separation.self_prompt import SelfPromptConfig

    cfg = SelfPromptConfig.from_dict({"source": "residual", "max_examples": 2})
    assert cfg == SelfPromptConfig(max_examples=2) and "source" not in {f.name for f in fields(cfg)}
    assert "source" not in cfg.to_dict()


def test_the_clips_stft_is_computed_once_for_the_dictionary_and_its_cut_share(monkeypatch):
    """self_prompt_keep takes the clip's STFT once and gives it to the dictionary and to the
    check of its cut against the model's (_cut_share); the mask is the dictionary's own."""
    from rfm_studio.core.separation import dictionary
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, self_prompt_keep

    x, _, _ = _scene()
    mel_in, mel_out = _mels(x)
    real, calls = dictionary.magnitude, []

    def counted(sig, cfg):
        calls.append(len(sig))
        return real(sig, cfg)

    monkeypatch.setattr(dictionary, "magnitude", counted)
    keep, spans = self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig())
    assert keep is not None and calls.count(len(x)) == 1, calls  # the clip's: once (the examples' are shorter)
    (a, b), = spans
    alone = dictionary.remove_with_dictionary(x, _dcfg(), examples=[x[int(a * SR): int(b * SR)]], seed=0)
    assert np.array_equal(keep, alone)


def test_strength_scales_the_cut_not_the_spans_the_model_flags(fake_model):
    """The model marks the spans at its default strength (a detector); --strength scales only the
    dictionary's cut. A strength that would push the model's own removal past ``model_above``
    (3.5 x 1 nat) still leaves the dictionary's removal standing on the same spans."""
    from rfm_studio.core.editing import edit
    from rfm_studio.core.errors import OptionError

    x, a, b = _scene()
    spans, cuts = [], []
    for s in (0.5, 1.0, 3.5):
        res = edit(None, x, SR, "Remove the beep", strength=s)
        assert res.params["removal"] == "dictionary" and res.params["strength"] == s, (s, res.params)
        spans.append(res.params["spans"])
        only_a = [A_SPANS[0], A_SPANS[2]]  # where the beep plays alone
        cuts.append(_db(x, only_a) - _db(res.audio, only_a))  # dB taken out there
    assert [r.strength for r in fake_model] == [None, None, None]  # the detector: the model's default
    assert spans[0] == spans[1] == spans[2] and len(spans[0]) == 1
    assert cuts[0] < cuts[1] < cuts[2] and cuts[1] >= 20, cuts
    assert 0.4 * cuts[1] < cuts[0] < 0.6 * cuts[1], cuts  # half the strength: half the cut in dB
    with pytest.raises(OptionError, match="Strength"):
        edit(None, x, SR, "Remove the beep", strength=9.0)


def test_when_the_models_output_stands_it_is_at_the_users_strength(fake_model):
    from types import SimpleNamespace

    from rfm_studio.core.editing import EditRequest, run_edit
    from rfm_studio.core.events import StepEvent

    x, _, _ = _scene()
    events, res = collect(run_edit(SimpleNamespace(depth=0.0), EditRequest(x, SR, "Remove the beep", strength=1.5)))
    assert res.params["removal"] == "model" and res.params["strength"] == 1.5
    assert [r.strength for r in fake_model] == [None]  # sampled once, as the detector
    assert np.allclose(res.audio, 0.25 * x)  # the fake model's output finished at 1.5
    steps = [(e.step, e.total) for e in events if isinstance(e, StepEvent)]
    assert [s for s, _ in steps] == list(range(1, len(steps) + 1)) and steps[-1][0] == steps[-1][1]


def test_the_progress_stages_are_the_ones_that_run(fake_model):
    """The dictionary's stages are announced only where it is learned: learning then applying its
    mask; learning then the model's removal standing (its cut fell short, min_share); and no stage
    at all where the model's output stands without it (no span marked, or model_above reached)."""
    from types import SimpleNamespace

    from rfm_studio.core.editing import EditRequest
    from rfm_studio.core.events import ProgressEvent
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    x, _, _ = _scene()

    def run(model, cfg=None):
        events, res = collect(run_self_prompt_edit(model, EditRequest(x, SR, "Remove the beep"), config=cfg))
        return [(type(e).__name__,) + ((e.stage, e.stages, e.text) if isinstance(e, ProgressEvent) else ())
                for e in events], res.params["removal"]

    learn = ("ProgressEvent", 1, 2, "Dictionary removal: learning the sound the model marked")
    assert run(None) == ([("StepEvent",), learn, ("ProgressEvent", 2, 2, "Dictionary removal: applying the mask")],
                         "dictionary")
    assert run(None, SelfPromptConfig(min_share=10.0)) == ([("StepEvent",), learn, (
        "ProgressEvent", 2, 2, "Dictionary removal: its cut fell short, the model's removal stands")], "model")
    assert run(SimpleNamespace(depth=0.0)) == ([("StepEvent",)], "model")  # no span marked
    assert run(SimpleNamespace(depth=6.0)) == ([("StepEvent",)], "model")  # model_above: the model removed it
    assert len(fake_model) == 4


def test_the_models_output_at_the_users_strength_samples_once_and_equals_the_model_edit(tiny_model, monkeypatch):
    """Where the model's output stands, the user's strength scales the detector's own sampled
    edit (editing.finish_edit): the sampler runs once, and the output is the plain model edit's
    at that strength with the same seed (the tiny model renders with the vocoder, default 1)."""
    from conftest import tone

    from rfm_studio.core.edit import window
    from rfm_studio.core.editing import EditRequest, edit
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    calls = []
    real = window.sample_window
    monkeypatch.setattr(window, "sample_window", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = tone(2.0, amp=0.3)
    stands = SelfPromptConfig(model_above=0.0)  # whatever the tiny model marks, its output stands
    _, res = collect(run_self_prompt_edit(tiny_model, EditRequest(x, SR, "Remove the beep", steps=2, strength=2.0,
                                                                   seed=3), config=stands))
    assert res.params["removal"] == "model" and res.params["strength"] == 2.0
    assert len(calls) == 1  # one window, sampled once
    plain = edit(tiny_model, x, SR, "Remove the beep", steps=2, strength=2.0, seed=3, engine="model")
    default = edit(tiny_model, x, SR, "Remove the beep", steps=2, seed=3, engine="model")
    assert len(calls) == 3
    assert np.allclose(res.audio, plain.audio, atol=1e-5), np.abs(res.audio - plain.audio).max()
    assert np.abs(default.audio - plain.audio).max() > 1e-3  # the strength did change the output


def test_the_self_prompted_dictionarys_stages_are_progress_events_and_cancel_stops_between_them(fake_model,
                                                                                                   monkeypatch):
    """After the model's steps: a ProgressEvent per stage (learning the marked sound, applying the
    mask); a cancel while one is shown stops the edit before that stage's work."""
    from rfm_studio.core.editing import EditRequest, run_edit
    from rfm_studio.core.events import ProgressEvent, StepEvent
    from rfm_studio.core.separation import dictionary, self_prompt

    x, _, _ = _scene()
    calls = []
    real_keep, real_apply = self_prompt.self_prompt_keep, dictionary.apply_keep_mask
    monkeypatch.setattr(self_prompt, "self_prompt_keep", lambda *a, **k: calls.append("keep") or real_keep(*a, **k))
    monkeypatch.setattr(dictionary, "apply_keep_mask", lambda *a, **k: calls.append("apply") or real_apply(*a, **k))
    events, res = collect(run_edit(None, EditRequest(x, SR, "Remove the beep")))
    assert [type(e) for e in events] == [StepEvent, ProgressEvent, ProgressEvent] and res.params["removal"] == "dictionary"
    assert events[1].text.startswith("Dictionary removal") and calls == ["keep", "apply"]
    for after, done in ((2, []), (3, ["keep"])):  # cancelled while the n-th event is shown
        assert work_done_when_cancelled(lambda tok: run_edit(None, EditRequest(x, SR, "Remove the beep"), tok),
                                        after, calls) == done, after


def test_a_long_file_is_self_prompted_chunk_by_chunk_and_the_report_says_so(capsys, tmp_path, tiny_bundle, fake_model,
                                                                            monkeypatch):
    """Streamed from disk in 3 chunks: the engine is chosen once for the file (self-prompt, every
    chunk's model edit is the detector's), and the report names the dictionary's removal with the
    spans the model marked in the file's time, like the edit of a short clip."""
    from test_dictionary_removal import cli_scene_edit, stream_in_chunks

    from rfm_studio.core.edit_summary import how_text

    stream_in_chunks(monkeypatch)
    code, text, err, x, y, r, _ = cli_scene_edit(capsys, tmp_path, "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, err
    assert len(fake_model) == 3 and all(q.engine == "model" for q in fake_model)  # one model edit per chunk
    # the fake model marks 0.5-1.0 s of each chunk; the chunks start at 0, 2 and 4 s
    assert "(dictionary removal, examples the model marked: 0.50-1.00 s, 2.50-3.00 s, 4.50-5.00 s; " \
           "3 chunks from disk)" in text, text
    assert y.shape == x.shape and np.allclose(r, x - y, atol=1e-4)
    # a chunk where the model's own removal stood is counted, with the steps it took
    assert how_text({"engine": "self-prompt", "removal": "dictionary", "spans": [[0.5, 1.0]], "model_chunks": 1,
                     "chunks": 3, "steps": 2, "t_start": 0.01}) == (
        "dictionary removal, examples the model marked: 0.50-1.00 s; "
        "the model's own removal stood in 1 chunk; 2 steps, t_start 0.01; 3 chunks from disk")


def _quiet_model(monkeypatch):
    """The CLI's model takes out nothing (the fake model's depth 0): no span to learn from."""
    from rfm_studio.commands import edit as edit_cmd

    real = edit_cmd.load_model

    def load(args):
        m = real(args)
        m.depth = 0.0
        return m

    monkeypatch.setattr(edit_cmd, "load_model", load)


def test_the_report_says_when_the_models_own_removal_stood(capsys, tmp_path, tiny_bundle, fake_model, monkeypatch):
    """The self-prompted engine ran, the model took out nothing to learn from, its output stands:
    the report names the self-prompted engine and the model's steps, not a dictionary removal."""
    from test_dictionary_removal import cli_scene_edit

    _quiet_model(monkeypatch)
    code, text, err, x, y, r, _ = cli_scene_edit(capsys, tmp_path, "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, err
    assert len(fake_model) == 1 and np.allclose(y, 0.5 * x, atol=1e-6)  # the fake model's own output
    assert "(self-prompted: the model's own removal stood, it marked no span; 1 step, t_start " in text, text
    assert "dictionary" not in text


def test_a_long_file_where_the_models_own_removal_stood_in_every_chunk_says_so(capsys, tmp_path, tiny_bundle,
                                                                                fake_model, monkeypatch):
    from test_dictionary_removal import cli_scene_edit, stream_in_chunks

    stream_in_chunks(monkeypatch)
    _quiet_model(monkeypatch)
    code, text, err, x, y, r, _ = cli_scene_edit(capsys, tmp_path, "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, err
    assert len(fake_model) == 3 and np.allclose(y, 0.5 * x, atol=1e-4)
    assert "(self-prompted: the model's own removal stood in every chunk; 1 step, t_start " in text, text
    assert "; 3 chunks from disk)" in text and "dictionary" not in text


def test_the_report_names_the_spans_the_model_marked_where_its_removal_stood(fake_model):
    """The model took out a lot by itself (model_above): its output stands, and the report says
    where it marked the sound; a long list of spans is cut short."""
    from types import SimpleNamespace

    from rfm_studio.core.edit_summary import SPANS_SHOWN, how_text
    from rfm_studio.core.editing import edit

    x, _, _ = _scene()
    res = edit(SimpleNamespace(depth=6.0), x, SR, "Remove the beep", engine="self-prompt")
    assert res.params["removal"] == "model" and res.params["spans"] == [[0.5, 1.0]]
    assert how_text(res.params) == "self-prompted: the model's own removal stood, it marked 0.50-1.00 s; 1 step, t_start 0"
    many = [[i, i + 0.5] for i in range(SPANS_SHOWN + 3)]
    text = how_text({"engine": "self-prompt", "removal": "dictionary", "spans": many})
    assert text.endswith(f"{SPANS_SHOWN - 1}.00-{SPANS_SHOWN - 1}.50 s and 3 more") and text.count(" s,") == SPANS_SHOWN - 1


def test_a_self_prompted_removal_that_changed_nothing_suggests_marking_an_example():
    from types import SimpleNamespace

    from rfm_studio.commands.edit_output import report_lines

    x, _, _ = _scene()
    res = SimpleNamespace(audio=x.copy(), sample_rate=SR, seconds=0.5, instruction="Remove the beep",
                          params={"engine": "self-prompt", "removal": "model", "spans": [], "steps": 1,
                                  "t_start": 0.01, "region": None, "strength": None})
    lines = report_lines(x, res, SimpleNamespace())
    assert lines[0] == "Edited in 0.50 s (self-prompted: the model's own removal stood, it marked no span; " \
                       "1 step, t_start 0.01)"
    assert lines[1].startswith("No audible change: ") and "Try marking where the sound plays (--example START:END)" \
        in lines[1], lines


def test_auto_within_a_region_runs_at_the_strength_the_app_shows(tiny_model, monkeypatch):
    """Within a region, Auto shows the self-prompted engine's strength (auto_strength: the
    model's whole-clip default); where the model's removal stands, the edit runs at that, not
    at the model's region default (the detector still samples at its region default)."""
    from conftest import tone

    from rfm_studio.core.edit.inputs import auto_strength
    from rfm_studio.core.editing import EditRequest
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    monkeypatch.setitem(tiny_model.info, "strength", 1.0)
    monkeypatch.setitem(tiny_model.info, "region_strength", 1.25)
    x = tone(4.0, amp=0.3)
    stands = SelfPromptConfig(model_above=0.0, spans_from="model")
    _, res = collect(run_self_prompt_edit(tiny_model, EditRequest(x, SR, "Remove the beep", steps=2, seed=3,
                                                                   region=(1.0, 2.5)), config=stands))
    assert res.params["removal"] == "model"
    assert res.params["strength"] == auto_strength("self-prompt", 1.0, 1.25, True) == 1.0
    # the other way round (whole clip 1.25, region 1.0): sampled with what finishing at 1.25 needs
    monkeypatch.setitem(tiny_model.info, "strength", 1.25)
    monkeypatch.setitem(tiny_model.info, "region_strength", 1.0)
    _, res = collect(run_self_prompt_edit(tiny_model, EditRequest(x, SR, "Remove the beep", steps=2, seed=3,
                                                                   region=(1.0, 2.5)), config=stands))
    assert res.params["removal"] == "model"
    assert res.params["strength"] == auto_strength("self-prompt", 1.25, 1.0, True) == 1.25


def test_where_the_dictionarys_cut_stands_the_models_output_is_not_rendered(fake_model):
    """The model marked the examples and the dictionary's mask is the output: the model's edit
    gives its params, tokens and attention only (finish_edit render=False), never a render
    that is thrown away; where the model's own removal stands, it is rendered."""
    from types import SimpleNamespace

    from rfm_studio.core import editing
    from rfm_studio.core.editing import EditRequest
    from rfm_studio.core.separation.self_prompt import run_self_prompt_edit

    x, _, _ = _scene()
    _, res = collect(run_self_prompt_edit(None, EditRequest(x, SR, "Remove the beep")))
    assert res.params["removal"] == "dictionary" and editing.finish_edit.renders == [False]
    _, res = collect(run_self_prompt_edit(SimpleNamespace(depth=0.0), EditRequest(x, SR, "Remove the beep")))
    assert res.params["removal"] == "model" and editing.finish_edit.renders == [False, True]


def test_finish_edit_without_render_leaves_the_audio_and_keeps_params_and_tokens(tiny_model):
    from conftest import tone

    from rfm_studio.core.editing import EditRequest, drive, finish_edit, sample_edit

    x = tone(2.0, amp=0.3)
    req = EditRequest(x, SR, "Remove the beep", steps=2, seed=3, engine="model")
    sampled = drive(sample_edit(tiny_model, req))
    full, bare = finish_edit(tiny_model, req, sampled), finish_edit(tiny_model, req, sampled, render=False)
    assert np.array_equal(bare.audio, x) and not np.array_equal(full.audio, x)
    assert bare.params == full.params and bare.tokens == full.tokens


def test_the_models_marks_are_worked_out_once_per_edit(fake_model, monkeypatch):
    """The stages announced and the dictionary learned follow one ``model_marks`` of the model's
    edit, on each path: the dictionary learning the marks, the model's output standing (it took out
    enough), and the dictionary's cut falling short; the result is self_prompt_keep's own."""
    from rfm_studio.core.editing import EditRequest, run_edit
    from rfm_studio.core.separation import self_prompt
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    x, _, _ = _scene()
    real, calls = self_prompt.model_marks, []
    monkeypatch.setattr(self_prompt, "model_marks", lambda *a, **k: calls.append(1) or real(*a, **k))
    _, res = collect(run_edit(None, EditRequest(x, SR, "Remove the beep")))
    assert res.params["removal"] == "dictionary" and len(calls) == 1
    for cfg in (SelfPromptConfig(spans_from="model", model_above=0.5), SelfPromptConfig(min_share=10.0)):
        calls.clear()
        _, res = collect(run_self_prompt_edit(None, EditRequest(x, SR, "Remove the beep"), config=cfg))
        assert res.params["removal"] == "model" and len(calls) == 1, cfg
    mel_in, mel_out = _mels(x)
    keep, spans = self_prompt.self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig())
    marks = real(x, mel_in, mel_out, SelfPromptConfig())
    assert marks.learns and marks.spans == spans
    calls.clear()
    given = self_prompt.self_prompt_keep(x, mel_in, mel_out, SelfPromptConfig(), marks=marks)
    assert calls == [] and np.array_equal(given[0], keep) and given[1] == spans
