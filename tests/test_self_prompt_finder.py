"""Self-prompted removal where the sound finder marks the example (core/separation/self_prompt.py,
step 1): the model does not run, every occurrence of the found sound is cut, the other kept; the
model marks it where the finder finds nothing."""

import dataclasses

import numpy as np
import pytest

from conftest import collect
from test_dictionary_removal import A_SPANS, B_SPANS, SR, _db, _scene
from test_find_sound import use_probs
from test_self_prompt import _quiet_model, fake_model  # noqa: F401  (a fixture: the model's edit, faked)


@pytest.fixture
def finder(monkeypatch):
    """A sound finder that hears ``probs_for(n_frames)`` (default: the first beep, 0.5-1.0 s, at
    0.9, the rest at 0.05); records the texts it was asked for."""
    from rfm_studio.core.detection import find

    asked = []

    def probs(n):
        p = np.full(n, 0.05, np.float32)
        p[50:100] = 0.9
        p[45:50] = p[100:105] = 0.3  # edges over finder_low: the span reaches out over them
        return p

    state = {"probs_for": probs}

    def sound_probs(net, x16, text, cancel=None):
        asked.append(text)
        if state.get("fail"):
            raise state["fail"]
        return state["probs_for"](len(x16) // 160 + 1)

    monkeypatch.setattr(find, "load_finder", lambda folder=None: object())
    use_probs(monkeypatch, sound_probs)
    state["asked"] = asked
    return state


@pytest.fixture
def no_model(monkeypatch):
    """The flow model must not run: its sampler counts its calls (and answers as a model that
    takes out nothing)."""
    from types import SimpleNamespace

    from rfm_studio.core import editing
    from rfm_studio.core.events import EditResult, StepEvent
    from rfm_studio.core.evaluation.spectral import log_mel

    calls = []

    def sample_edit(model, req, cancel=None, need_reference=False):
        calls.append(req)
        yield StepEvent(1, 1, 0.5)
        m = log_mel(req.audio)
        return SimpleNamespace(mel_in=m, strength=1.0, mel_at=lambda k: m)

    def finish_edit(model, req, sampled, strength=None):
        return EditResult(audio=req.audio, sample_rate=req.sample_rate, instruction=req.instruction,
                          params={"steps": 1, "strength": 1.0}, mel_in=sampled.mel_in, mel_out=sampled.mel_in)

    monkeypatch.setattr(editing, "sample_edit", sample_edit)
    monkeypatch.setattr(editing, "finish_edit", finish_edit)
    return calls


def test_the_found_span_removes_the_sound_everywhere_without_the_model(finder, no_model):
    from rfm_studio.core.editing import EditRequest, edit, run_edit

    x, a, b = _scene()
    res = edit(None, x, SR, "Remove the beep")  # auto, text only: self-prompted
    assert finder["asked"] == ["beep"] and no_model == []
    p = res.params
    assert (p["engine"], p["removal"], p["spans_from"]) == ("self-prompt", "dictionary", "finder")
    assert p["spans"] == [[0.45, 1.05]]  # the run over finder_low around the frames at 0.9
    for span in A_SPANS:  # every occurrence, also the one under the other sound
        assert _db(res.audio - b, [span]) - _db(a, [span]) <= -20, span
    assert abs(_db(res.audio, B_SPANS[:1]) - _db(b, B_SPANS[:1])) <= 1.0
    events, _ = collect(run_edit(None, EditRequest(x, SR, "Remove the beep", engine="self-prompt")))
    assert [(type(e).__name__, e.stage, e.stages) for e in events] == [
        ("ProgressEvent", 1, 3), ("ProgressEvent", 2, 3), ("ProgressEvent", 3, 3)]
    assert "Finding where 'beep' plays" in events[0].text
    # the strength scales the cut in dB: half of it at 0.5
    half = edit(None, x, SR, "Remove the beep", strength=0.5).audio
    cut1 = _db(res.audio - b, [A_SPANS[2]]) - _db(a, [A_SPANS[2]])
    cut_half = _db(half - b, [A_SPANS[2]]) - _db(a, [A_SPANS[2]])
    assert cut1 < -40 and abs(cut_half - cut1 / 2) < 3  # measured: -60 and -30 dB


def test_where_the_finder_finds_nothing_the_model_marks_the_example(finder, no_model):
    from rfm_studio.core.editing import edit

    x, _, _ = _scene()
    finder["probs_for"] = lambda n: np.full(n, 0.3, np.float32)  # nothing at 0.5
    res = edit(None, x, SR, "Remove the beep")
    assert len(no_model) == 1 and res.params["spans_from"] == "model"
    assert res.params["removal"] == "model"  # this model took out nothing: its output stands
    assert res.params["finder_missed"] is True  # the report says the finder did not hear it


def test_a_finder_whose_text_encoder_cannot_load_heard_nothing_and_is_not_said_to_have_missed(finder, no_model,
                                                                                              monkeypatch):
    from rfm_studio.core.editing import edit
    from rfm_studio.core.separation import self_prompt

    monkeypatch.setattr(self_prompt, "_found", lambda *a, **k: None)  # its text encoder did not load
    x, _, _ = _scene()
    res = edit(None, x, SR, "Remove the beep")
    assert res.params["spans_from"] == "model" and res.params["finder_missed"] is False


def test_spans_from_model_never_asks_the_finder(finder, no_model):
    from rfm_studio.core.editing import EditRequest
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    x, _, _ = _scene()
    collect(run_self_prompt_edit(None, EditRequest(x, SR, "Remove the beep"), config=SelfPromptConfig(spans_from="model")))
    assert finder["asked"] == [] and len(no_model) == 1


def test_a_region_keeps_everything_outside_it_and_its_example_is_inside_it(finder, no_model):
    from rfm_studio.core.editing import edit

    x, a, b = _scene()

    def probs(n):  # the finder is surest of the first beep (outside the region), less of the third
        p = np.full(n, 0.05, np.float32)
        p[50:100] = 0.95
        p[430:480] = 0.7
        return p

    finder["probs_for"] = probs
    res = edit(None, x, SR, "Remove the beep", region=(2.0, 5.5), engine="self-prompt")
    assert no_model == [] and res.params["spans_from"] == "finder"
    assert res.params["spans"] == [[4.3, 4.8]]  # the example lies in the region
    assert res.params["finder_peak"] == pytest.approx(0.7)  # its peak there, not the one outside the region
    assert res.params["finder_missed"] is False
    np.testing.assert_array_equal(res.audio[: int(1.9 * SR)], x[: int(1.9 * SR)])
    assert _db(res.audio - b, [A_SPANS[2]]) - _db(a, [A_SPANS[2]]) <= -20
    finder["probs_for"] = lambda n: probs(n) * (np.arange(n) < 150)  # found only outside the region
    res = edit(None, x, SR, "Remove the beep", region=(2.0, 5.5), engine="self-prompt")
    assert len(no_model) == 1 and res.params["spans_from"] == "model"


def test_without_a_text_encoder_the_model_marks_the_example(finder, no_model):
    from rfm_studio.core.editing import edit
    from rfm_studio.core.library.embed import EncoderUnavailable

    x, _, _ = _scene()
    finder["fail"] = EncoderUnavailable("no encoder")
    res = edit(None, x, SR, "Remove the beep")
    assert len(no_model) == 1 and res.params["spans_from"] == "model"


def test_an_unknown_span_source_is_refused(finder, no_model):
    from rfm_studio.core.editing import EditRequest
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    x, _, _ = _scene()
    with pytest.raises(ValueError, match="spans_from"):
        collect(run_self_prompt_edit(None, EditRequest(x, SR, "Remove the beep"),
                                     config=SelfPromptConfig(spans_from="agree")))


def test_the_report_says_the_sound_finder_found_the_example():
    from rfm_studio.core.edit_summary import how_text

    p = {"engine": "self-prompt", "removal": "dictionary", "spans_from": "finder", "spans": [[0.45, 1.05]]}
    assert how_text(p).startswith("dictionary removal, examples the sound finder found: 0.45")
    assert "the model marked" in how_text({**p, "spans_from": "model"})
    # how sure the finder was: its peak over the spans it marked (a doubtful find shows as one)
    assert how_text({**p, "finder_peak": 0.574}).startswith(
        "dictionary removal, examples the sound finder found at peak probability 0.57: 0.45")
    assert "peak" not in how_text({**p, "spans_from": "model", "finder_peak": None})


def test_the_stages_of_one_edit_are_numbered_1_to_n_of_the_same_n(finder, fake_model):
    """Every path of a self-prompted edit numbers its stages 1..N of one N: with the finder, 3
    (found: finding, learning, the mask; not found: finding, the model marking, then the
    dictionary learning its marks or the model's removal standing); without it, 2 where the
    dictionary learns and none where the model's output stands."""
    from types import SimpleNamespace

    from rfm_studio.core.editing import EditRequest
    from rfm_studio.core.events import ProgressEvent, StepEvent
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    x, _, _ = _scene()

    def run(model=None, **cfg):
        events, res = collect(run_self_prompt_edit(model, EditRequest(x, SR, "Remove the beep"),
                                                   config=SelfPromptConfig(**cfg)))
        kinds = ["step" if isinstance(e, StepEvent) else (e.stage, e.stages) for e in events]
        stages = [k for k in kinds if k != "step"]
        assert all(isinstance(e, (StepEvent, ProgressEvent)) for e in events)
        assert stages == [(i, len(stages)) for i in range(1, len(stages) + 1)], kinds
        return kinds, [e.text for e in events if isinstance(e, ProgressEvent)], res.params

    kinds, texts, p = run()  # found: the model does not run
    assert kinds == [(1, 3), (2, 3), (3, 3)] and p["spans_from"] == "finder" and fake_model == []
    assert texts == ["Finding where 'beep' plays", "Dictionary removal: learning the sound found",
                     "Dictionary removal: applying the mask"]
    finder["probs_for"] = lambda n: np.full(n, 0.3, np.float32)  # found nowhere: the model marks it
    kinds, texts, p = run()
    assert kinds == [(1, 3), (2, 3), "step", (3, 3)] and (p["spans_from"], p["removal"]) == ("model", "dictionary")
    assert texts[1:] == ["Not found: the model marks where 'beep' plays",
                         "Dictionary removal: learning the sound the model marked"]
    for model, cfg in ((SimpleNamespace(depth=0.0), {}), (SimpleNamespace(depth=6.0), {}), (None, {"min_share": 10.0})):
        kinds, texts, p = run(model, **cfg)  # no span, model_above, the dictionary's cut fell short
        assert kinds == [(1, 3), (2, 3), "step", (3, 3)] and p["removal"] == "model", (model, cfg)
    assert texts[-1] == "Dictionary removal: learning the sound the model marked"
    kinds, texts, p = run(spans_from="model")  # no finder: the dictionary's 2 stages after the model's step
    assert kinds == ["step", (1, 2), (2, 2)] and texts[-1] == "Dictionary removal: applying the mask"
    assert run(SimpleNamespace(depth=0.0), spans_from="model")[0] == ["step"]


def test_a_long_file_reports_the_finders_examples_and_the_steps_of_the_chunks_where_the_model_ran(
        capsys, tmp_path, tiny_bundle, fake_model, finder, monkeypatch):
    """Streamed in 3 chunks (0-2.5, 2-4.5, 4-5.5 s): the finder finds the beep in the first two,
    nothing in the last, where the model's own removal stands (it takes out nothing). The report
    says the sound finder found the examples (the streamed report said "the model marked") and
    gives the steps the model took in that chunk, from the chunks' own edits; where the finder
    found the sound in every chunk the model never ran, and the summary has no steps."""
    from test_dictionary_removal import cli_scene_edit, stream_in_chunks

    from rfm_studio.core.streaming import edit_file

    stream_in_chunks(monkeypatch)
    _quiet_model(monkeypatch)

    def probs(n):  # the beep at 0.5-1.0 s of each chunk, heard in the two long ones only
        p = np.full(n, 0.05, np.float32)
        p[50:100] = 0.9 if n > 200 else 0.05
        return p

    finder["probs_for"] = probs
    code, text, err, x, y, r, src = cli_scene_edit(capsys, tmp_path, "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, err
    assert len(fake_model) == 1  # the last chunk only
    # "t_start 0": the fake model's edit gives none
    assert ("(dictionary removal, examples the sound finder found at peak probability 0.90: 0.50-1.00 s, "
            "2.50-3.00 s; the model's own removal stood in 1 chunk; 1 step, t_start 0; 3 chunks from disk)") in text, text
    finder["probs_for"] = lambda n: np.where(np.arange(n) // 50 == 1, 0.9, 0.05).astype(np.float32)
    summary = collect(edit_file(None, src, tmp_path / "all.wav", "Remove the beep", chunk_seconds=2.5,
                                overlap_seconds=0.5))[1]
    assert len(fake_model) == 1 and (summary["removal"], summary["spans_from"]) == ("dictionary", "finder")
    assert "steps" not in summary and "t_start" not in summary


def test_a_long_files_steps_reach_their_total_where_later_chunks_need_no_model(finder, no_model, tmp_path):
    """Streamed in 3 chunks: the finder finds nothing in the first (the model runs, 1 step, and the
    total counts a step for each chunk to come) and finds the beep in the other two (no model):
    their steps are given as done, so the last step equals its total and steps never go back."""
    import soundfile as sf

    from rfm_studio.core.events import StepEvent
    from rfm_studio.core.streaming import edit_file

    x, _, _ = _scene()
    src = tmp_path / "in.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    calls = []

    def probs(n):  # nothing heard in the first chunk, the beep at 0.5-1.0 s in the others
        calls.append(n)
        p = np.full(n, 0.05, np.float32)
        if len(calls) > 1:
            p[50:100] = 0.9
        return p

    finder["probs_for"] = probs
    events, summary = collect(edit_file(None, src, tmp_path / "out.wav", "Remove the beep", chunk_seconds=2.5,
                                        overlap_seconds=0.5))
    assert summary["chunks"] == 3 and len(calls) == 3 and len(no_model) == 1  # the model ran in chunk 1 only
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [(e.step, e.total) for e in steps] == [(1, 3), (2, 3), (3, 3)]
    assert [e.window for e in steps] == [0, 1, 2]
    fractions = [e.step / e.total for e in steps]
    assert fractions == sorted(fractions) and steps[-1].step == steps[-1].total


def _two_recordings(sr=SR, seconds=5.5):
    """The sound played by two recordings that sound alike only in kind (a 700 Hz harmonic beep at
    0.5-1.0 s, a 1150 Hz one with other harmonics at 4.3-4.8 s) and the other sound (B_SPANS):
    (mix, first, second, other)."""
    from test_dictionary_removal import _burst

    t = np.arange(int(seconds * sr)) / sr
    x, a, b = _scene(sr, seconds)
    one = _burst(sum(0.12 / k * np.sin(2 * np.pi * 700 * k * t) for k in (1, 2, 3)).astype(np.float32), 0.5, 1.0, sr)
    two = _burst(sum(0.1 / k ** 0.5 * np.sin(2 * np.pi * 1150 * k * t) for k in (1, 2, 4)).astype(np.float32),
                 4.3, 4.8, sr)
    return (one + two + b).astype(np.float32), one, two, b


def test_other_found_spans_where_the_finder_is_sure_join_the_example(finder, no_model):
    """A second recording of the sound is cut when the finder is sure of it too (finder_also); from
    the strongest span alone it would be learned as the background and kept. A found span the
    finder is less sure of (where the other sound plays) is no example, and the other sound stays."""
    from rfm_studio.core.editing import EditRequest, edit
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, run_self_prompt_edit

    x, one, two, b = _two_recordings()

    def probs(n):
        p = np.full(n, 0.05, np.float32)
        p[50:100] = 0.9  # the first recording: the strongest span
        p[300:320] = 0.6  # a stretch of the other sound, found less surely
        p[430:480] = 0.8  # the second recording
        return p

    finder["probs_for"] = probs
    res = edit(None, x, SR, "Remove the beep")
    assert no_model == [] and res.params["spans"] == [[0.5, 1.0], [4.3, 4.8]]
    cut_one = _db(res.audio - b - two, [(0.5, 1.0)]) - _db(one, [(0.5, 1.0)])
    cut_two = _db(res.audio - b - one, [(4.3, 4.8)]) - _db(two, [(4.3, 4.8)])
    assert cut_one <= -40 and cut_two <= -40, (cut_one, cut_two)  # measured: -60 dB each
    assert abs(_db(res.audio, B_SPANS) - _db(b, B_SPANS)) <= 1.0
    _, alone = collect(run_self_prompt_edit(None, EditRequest(x, SR, "Remove the beep"),
                                            config=SelfPromptConfig(finder_also=2.0)))
    assert alone.params["spans"] == [[0.5, 1.0]]
    kept = _db(alone.audio - b - one, [(4.3, 4.8)]) - _db(two, [(4.3, 4.8)])
    assert kept >= -1, kept  # measured: 0.0 dB: the second recording stays


def _sure_of_both(n):
    """The finder's answer on ``_two_recordings``: sure of both recordings, less of a stretch of
    the other sound."""
    p = np.full(n, 0.05, np.float32)
    p[50:100] = 0.9
    p[300:320] = 0.6
    p[430:480] = 0.8
    return p


def test_more_examples_are_the_sure_spans_outside_the_marked_ones(finder):
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, more_examples

    x, _, _, _ = _two_recordings()
    finder["probs_for"] = _sure_of_both
    assert more_examples(object(), x, "Remove the beep", [(0.4, 0.8)]) == [(4.3, 4.8)]  # not the marked one
    assert more_examples(object(), x, "Remove the beep", [(4.0, 5.0)]) == [(0.5, 1.0)]
    assert more_examples(object(), x, "Remove the beep", []) == [(0.5, 1.0), (4.3, 4.8)]  # likeliest first
    assert more_examples(object(), x, "Remove the beep", [], SelfPromptConfig(finder_also=0.5)) == [
        (0.5, 1.0), (4.3, 4.8)]  # max_examples 3 in all with the marked one: 2 more
    assert more_examples(object(), x, "Remove the beep", [], SelfPromptConfig(finder_also=0.85)) == [(0.5, 1.0)]
    assert more_examples(object(), x, "Remove the beep", [(0.4, 0.8)], within=(0.0, 3.0)) == []
    # a short mark inside a found span: the rest of that sound joins too (the span is over GROWN x the mark)
    assert more_examples(object(), x, "Remove the beep", [(0.6, 0.72)]) == [(4.3, 4.8), (0.5, 1.0)]
    assert more_examples(object(), x, "Remove the beep", [(0.6, 0.72)], within=(0.0, 3.0)) == [(0.5, 1.0)]
    # ... only where the finder is as sure of it as of another recording
    assert more_examples(object(), x, "Remove the beep", [(0.6, 0.72)], SelfPromptConfig(finder_also=0.95)) == []


def test_a_short_mark_inside_a_sound_removes_all_of_it_and_the_other_recording(finder):
    """0.12 s of the first recording marked: the finder's span around the mark joins it (the rest of
    that recording), and so does its span on the second recording, which stays from the mark alone."""
    from rfm_studio.core.editing import edit
    from rfm_studio.core.library.embed import EncoderUnavailable
    from rfm_studio.core.prompts import example_from_clip

    x, one, two, b = _two_recordings()
    finder["probs_for"] = _sure_of_both
    marked = (example_from_clip(x, SR, 0.6, 0.72),)
    res = edit(None, x, SR, "Remove the beep", prompts=marked)
    assert res.params["found"] == [[0.5, 1.0], [4.3, 4.8]]
    cuts = [_db(res.audio - b - two, [(0.5, 1.0)]) - _db(one, [(0.5, 1.0)]),
            _db(res.audio - b - one, [(4.3, 4.8)]) - _db(two, [(4.3, 4.8)])]
    assert max(cuts) <= -40, cuts  # measured: -60 dB each
    assert abs(_db(res.audio, B_SPANS) - _db(b, B_SPANS)) <= 1.0
    finder["fail"] = EncoderUnavailable("no encoder")
    alone = edit(None, x, SR, "Remove the beep", prompts=marked)
    assert alone.params["found"] == []
    assert _db(alone.audio - b - one, [(4.3, 4.8)]) - _db(two, [(4.3, 4.8)]) >= -1  # measured: 0.0 dB


def test_a_marked_example_removes_another_recording_the_finder_is_sure_of(finder):
    """One recording marked: the dictionary engine also learns the spans where the finder is sure the
    sound plays, so a second recording that sounds unlike the marked one goes too; without them
    (no text encoder) it is learned as background and stays."""
    from rfm_studio.core.edit_summary import how_text
    from rfm_studio.core.editing import edit
    from rfm_studio.core.library.embed import EncoderUnavailable
    from rfm_studio.core.prompts import example_from_clip

    x, one, two, b = _two_recordings()
    finder["probs_for"] = _sure_of_both
    marked = (example_from_clip(x, SR, 0.5, 1.0),)
    res = edit(None, x, SR, "Remove the beep", prompts=marked)
    assert res.params["engine"] == "dictionary" and res.params["found"] == [[4.3, 4.8]]
    assert "where the sound finder heard it too: 4.30-4.80 s" in how_text(res.params)
    cut_two = _db(res.audio - b - one, [(4.3, 4.8)]) - _db(two, [(4.3, 4.8)])
    assert cut_two <= -40, cut_two  # measured: -60 dB
    assert _db(res.audio - b - two, [(0.5, 1.0)]) - _db(one, [(0.5, 1.0)]) <= -40
    assert abs(_db(res.audio, B_SPANS) - _db(b, B_SPANS)) <= 1.0
    for vague in ("Remove this", "Remove sounds like this", "Remove the marked sound"):  # names no sound: not asked
        assert edit(None, x, SR, vague, prompts=marked).params["found"] == [], vague
    assert finder["asked"] == ["beep"]
    finder["fail"] = EncoderUnavailable("no encoder")
    alone = edit(None, x, SR, "Remove the beep", prompts=marked)
    assert alone.params["found"] == [] and "heard it too" not in how_text(alone.params)
    assert _db(alone.audio - b - one, [(4.3, 4.8)]) - _db(two, [(4.3, 4.8)]) >= -1  # measured: 0.0 dB


def test_a_long_files_chunks_see_the_marked_spans_in_their_own_time(capsys, tmp_path, tiny_bundle, monkeypatch):
    """Streamed in 3 chunks (0-2.5, 2-4.5, 4-5.5 s) with the example 4.3-4.8 s marked: each chunk's
    edit gets the span moved into its own time, so the finder's span on it is known as marked."""
    from test_dictionary_removal import cli_scene_edit, stream_in_chunks

    from rfm_studio.core.detection import find
    from rfm_studio.core.separation import self_prompt

    stream_in_chunks(monkeypatch)
    seen = []
    monkeypatch.setattr(find, "load_finder", lambda folder=None: object())
    monkeypatch.setattr(self_prompt, "more_examples",
                        lambda finder, x16, text, marked, within=None, cancel=None: seen.append(list(marked)) or [])
    code, text, err, *_ = cli_scene_edit(capsys, tmp_path, "--example", "4.3:4.8", "--model", str(tiny_bundle))
    assert code == 0, err
    assert [[tuple(round(v, 3) for v in s) for s in spans] for spans in seen] == [
        [(4.3, 4.8)], [(2.3, 2.8)], [(0.3, 0.8)]]


def test_an_example_cut_from_the_clip_knows_its_span():
    from rfm_studio.core.prompts import example_from_clip, shift_spans

    x, _, _ = _scene()
    p = example_from_clip(x, SR, 0.5, 1.0)
    assert p.span == (0.5, 1.0)
    moved = shift_spans((p, dataclasses.replace(p, span=None)), 0.25)
    assert moved[0].span == (0.25, 0.75) and moved[1].span is None and moved[0].audio is p.audio


def test_a_long_files_report_names_where_the_finder_heard_more(capsys, tmp_path, tiny_bundle, monkeypatch):
    """Streamed in 3 chunks, each chunk's found span (0.3-0.8 s of the chunk) is reported in the
    file's time."""
    from test_dictionary_removal import cli_scene_edit, stream_in_chunks

    from rfm_studio.core.detection import find
    from rfm_studio.core.separation import self_prompt

    stream_in_chunks(monkeypatch)
    monkeypatch.setattr(find, "load_finder", lambda folder=None: object())
    monkeypatch.setattr(self_prompt, "more_examples", lambda *a, **k: [(0.3, 0.8)])
    code, text, err, *_ = cli_scene_edit(capsys, tmp_path, "--example", "0.5:1.0", "--model", str(tiny_bundle))
    assert code == 0, err
    assert ("templates from the examples and where the sound finder heard it too: 0.30-0.80 s, 2.30-2.80 s, "
            "4.30-4.80 s; 3 chunks from disk") in text, text


def test_a_finder_that_does_not_load_leaves_the_marked_examples_alone(monkeypatch):
    from rfm_studio.core.detection import find
    from rfm_studio.core.editing import edit
    from rfm_studio.core.errors import RFMError
    from rfm_studio.core.prompts import example_from_clip

    def broken(folder=None):
        raise RFMError("The sound finder weights in models/sound-finder do not fit its config.")

    monkeypatch.setattr(find, "load_finder", broken)
    x, a, b = _scene()
    res = edit(None, x, SR, "Remove the beep", prompts=(example_from_clip(x, SR, 0.5, 1.0),))
    assert res.params["engine"] == "dictionary" and res.params["found"] == []
    assert _db(res.audio - b, A_SPANS) - _db(a, A_SPANS) <= -20


def test_remove_this_does_not_ask_the_finder_the_model_marks(finder, no_model):
    """A text-only "Remove this" names no sound (find.names_sound): the finder is not asked for
    'this'; the model marks the example."""
    from rfm_studio.core.editing import edit
    from rfm_studio.core.detection.find import names_sound

    assert not names_sound("Remove this") and not names_sound("Remove all sounds like this")
    assert names_sound("Remove the dog barking") and names_sound("Remove this dog")
    x, _, _ = _scene()
    res = edit(None, x, SR, "Remove this", engine="self-prompt")
    assert finder["asked"] == [] and len(no_model) == 1 and res.params["spans_from"] == "model"


def test_a_finder_that_does_not_load_leaves_a_text_only_removal_to_the_model(monkeypatch, no_model):
    """Weights that do not load are treated as no finder (find.installed_finder), as the
    dictionary engine treats them: the model marks the example, the edit is made."""
    from rfm_studio.core.detection import find
    from rfm_studio.core.editing import edit
    from rfm_studio.core.errors import RFMError

    def broken(folder=None):
        raise RFMError("The sound finder weights in models/sound-finder do not fit its config.")

    monkeypatch.setattr(find, "load_finder", broken)
    x, _, _ = _scene()
    res = edit(None, x, SR, "Remove the beep", engine="self-prompt")
    assert len(no_model) == 1 and res.params["spans_from"] == "model"


def test_found_spans_too_short_for_the_stft_are_neither_used_nor_reported(monkeypatch):
    from rfm_studio.core.detection import find
    from rfm_studio.core.editing import edit
    from rfm_studio.core.prompts import example_from_clip
    from rfm_studio.core.separation import dictionary, self_prompt

    monkeypatch.setattr(find, "load_finder", lambda folder=None: object())
    monkeypatch.setattr(self_prompt, "more_examples", lambda *a, **k: [(2.4, 2.9), (4.3, 4.33)])  # 30 ms < 64 ms
    used = []
    real = dictionary.remove_with_dictionary
    monkeypatch.setattr(dictionary, "remove_with_dictionary",
                        lambda x16, cfg, examples=(), **k: used.append(len(examples)) or real(x16, cfg, examples=examples, **k))
    x, _, _ = _scene()
    res = edit(None, x, SR, "Remove the beep", prompts=(example_from_clip(x, SR, 0.5, 1.0),))
    assert res.params["found"] == [[2.4, 2.9]] and used == [2]  # the mark and the long found span


def test_a_long_files_report_gives_the_surest_chunks_peak():
    from rfm_studio.core.streaming import _removal_summary

    done = [{"removal": "dictionary", "spans_from": "finder", "spans": [[0.5, 1.0]], "finder_peak": 0.6},
            {"removal": "dictionary", "spans_from": "finder", "spans": [[2.5, 3.0]], "finder_peak": 0.9},
            {"removal": "model", "spans_from": "model", "spans": [], "finder_peak": None}]
    assert _removal_summary("self-prompt", done)["finder_peak"] == 0.9
    assert _removal_summary("self-prompt", done)["finder_missed"] is False
    missed = [{"removal": "model", "spans_from": "model", "spans": [], "finder_peak": None, "finder_missed": True}] * 2
    assert _removal_summary("self-prompt", missed)["finder_missed"] is True  # heard in no chunk
    assert _removal_summary("self-prompt", missed + done[2:])["finder_missed"] is False  # a chunk's finder unasked


def test_an_example_moved_before_a_chunk_is_not_found_in_it():
    """library.occurrences.example_span: an example whose span lies before the chunk (negative
    after prompts.shift_spans) is not in it, even where the chunk's end sounds the same."""
    from rfm_studio.core.library.occurrences import example_span
    from rfm_studio.core.prompts import example_from_clip, shift_spans

    x = np.zeros(2 * SR, np.float32)
    x[: SR // 2] = 0.1 * np.sin(np.arange(SR // 2) * 0.3)
    p = example_from_clip(x, SR, 1.5, 1.6)  # silence, as the clip's end is
    assert example_span(p, x, SR) == pytest.approx((1.5, 1.6))
    (moved,) = shift_spans([p], 1.8)  # a chunk from 1.8 s: the example lies before it
    assert example_span(moved, x, SR) is None


def test_a_removal_after_find_does_not_run_the_finder_again_on_the_clip(monkeypatch, no_model):
    """The app's Find hears the clip (44.1 kHz stereo); the "Remove X" with its marks as examples
    (the dictionary engine's self_prompt.more_examples) and a text-only self-prompted removal
    (self_prompt.found_examples) ask the finder about the same clip and sound: it is not run again."""
    from test_find_sound import text_vectors, tiny_finder

    from rfm_studio.core.audio.io import resample
    from rfm_studio.core.detection import find
    from rfm_studio.core.editing import edit
    from rfm_studio.core.prompts import example_from_clip

    text_vectors(monkeypatch)
    finder, calls = tiny_finder()
    monkeypatch.setattr(find, "load_finder", lambda folder=None: finder)
    x, _, _ = _scene()
    clip = resample(np.stack([x, 0.5 * x], axis=1), SR, 44100)
    found = find.find_sound(clip, 44100, "Remove the beep")
    assert len(calls) == 1  # a 5.5 s clip: one window
    res = edit(None, clip, 44100, "Remove the beep", prompts=(example_from_clip(clip, 44100, 0.5, 1.0),))
    assert res.params["engine"] == "dictionary" and len(calls) == 1
    res = edit(None, clip, 44100, "Remove the beep", engine="self-prompt")
    assert res.params["spans_from"] == "finder" and len(calls) == 1
    assert find.find_sound(clip, 44100, "Remove the beep").spans == found.spans and len(calls) == 1
    edit(None, clip, 44100, "Remove the dog barking", prompts=(example_from_clip(clip, 44100, 0.5, 1.0),))
    assert len(calls) == 2  # another sound: heard


def test_a_long_file_where_the_finder_heard_the_sound_in_no_chunk_ends_its_report_saying_so(
        capsys, tmp_path, tiny_bundle, finder, fake_model, monkeypatch):
    """Streamed from disk in 3 chunks, the finder hears nothing in any: the model marks in each, and
    the CLI's last line says the finder did not hear the sound (the chunks' finder_missed carried
    through _in_file_time, _removal_summary and finish_streamed's keys)."""
    from test_dictionary_removal import cli_scene_edit, stream_in_chunks

    stream_in_chunks(monkeypatch)
    finder["probs_for"] = lambda n: np.full(n, 0.3, np.float32)  # nothing at 0.5
    code, text, err, *_ = cli_scene_edit(capsys, tmp_path, "--model", str(tiny_bundle), "--steps", "1")
    assert code == 0, err
    assert len(fake_model) == 3 and "3 chunks from disk" in text
    assert text.strip().splitlines()[-1] == (
        "The sound finder did not hear 'beep' in the clip, so the model chose what to remove: listen to what was "
        "removed (--residual FILE), or mark where the sound plays (--example START:END)."), text
