"""The change report on synthetic edits with known answers: a tone removed in a span, noise
added in a band, nothing changed, a change too small to hear, and the advice for a no-op."""

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from rfm_studio.core.change_report import advice, compare

SR = 44100


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(0)
    n = int(8 * SR)
    t = np.arange(n) / SR
    bg = (0.05 * rng.standard_normal(n)).astype(np.float32)
    tone = (0.3 * np.sin(2 * np.pi * 1200 * t)).astype(np.float32)
    sos = butter(6, [2000, 4000], btype="band", fs=SR, output="sos")
    noise = (0.3 * sosfilt(sos, rng.standard_normal(n))).astype(np.float32)
    return bg, tone, noise


def span(a, b):
    return slice(int(a * SR), int(b * SR))


def test_a_tone_removed_in_a_span(scene):
    bg, tone, _ = scene
    x = bg + tone
    y = x.copy()
    y[span(2.1, 5.3)] -= tone[span(2.1, 5.3)]
    rep = compare(x, y, SR)
    assert len(rep.segments) == 1
    seg = rep.segments[0]
    assert seg.start == pytest.approx(2.1, abs=0.06) and seg.end == pytest.approx(5.3, abs=0.06)
    main = seg.changes[0]
    assert main.db < -10 and main.f_lo <= 1200 < main.f_hi and main.f_hi - main.f_lo <= 1000
    assert rep.text.startswith("2.1–5.3 s: −") and "(1–1.5 kHz)" in rep.text  # the neighbours did not move
    assert rep.text.endswith("; elsewhere unchanged") and not rep.unchanged


def test_noise_added_in_a_band(scene):
    bg, tone, noise = scene
    x = bg + tone
    y = x.copy()
    y[span(1.0, 3.0)] += noise[span(1.0, 3.0)]
    rep = compare(x, y, SR)
    assert len(rep.segments) == 1
    seg = rep.segments[0]
    assert seg.start == pytest.approx(1.0, abs=0.06) and seg.end == pytest.approx(3.0, abs=0.06)
    main = seg.changes[0]
    assert main.db > 6 and main.f_lo >= 1500 and main.f_hi <= 5000
    assert "+" in rep.text and "(2–4 kHz" in rep.text


def test_replace_names_both_the_cut_and_the_addition(scene):
    bg, tone, noise = scene
    x = bg + tone
    y = x.copy()
    y[span(4, 6)] += 3 * noise[span(4, 6)] - tone[span(4, 6)]  # as much energy added as removed
    seg = compare(x, y, SR).segments[0]
    signs = sorted(np.sign(c.db) for c in seg.changes)
    assert signs == [-1, 1]


def test_two_segments_and_stereo(scene):
    bg, tone, _ = scene
    x = np.stack([bg + tone, 0.5 * (bg + tone)], axis=1)
    y = x.copy()
    for a, b in ((0.5, 1.5), (6.0, 7.0)):
        y[span(a, b)] -= np.stack([tone, 0.5 * tone], axis=1)[span(a, b)]
    rep = compare(x, y, SR)
    assert [(round(s.start), round(s.end)) for s in rep.segments] in ([(0, 2), (6, 7)], [(1, 2), (6, 7)],
                                                                      [(0, 1), (6, 7)], [(1, 1), (6, 7)])
    assert rep.text.count(" s: −") == 2


def test_nothing_changed(scene):
    bg, tone, _ = scene
    x = bg + tone
    rep = compare(x, x.copy(), SR)
    assert rep.unchanged and rep.identical and "identical" in rep.text
    rep = compare(x, x * 1.05, SR)  # +0.4 dB everywhere: below the 1 dB threshold
    assert rep.unchanged and not rep.identical and rep.max_db < 1.0
    assert rep.text.startswith("no audible change")
    rep = compare(x, x * 0.5, SR)  # -6 dB everywhere: a change over the whole clip, in every band
    assert not rep.unchanged and "elsewhere" not in rep.text and "−6 dB" in rep.text
    assert rep.segments[0].changes[0].wide[1:] == (0.0, SR / 2) and "; −6 dB across 0–22.05 kHz)" in rep.text


def test_quiet_hiss_does_not_count(scene):
    """Changes far below the clip's level (under the 60 dB floor) are not a change."""
    bg, tone, _ = scene
    x = bg + tone
    y = x + (1e-5 * np.random.default_rng(1).standard_normal(len(x))).astype(np.float32)
    assert compare(x, y, SR).unchanged


def test_short_and_low_rate_clips():
    x = np.random.default_rng(0).standard_normal(100).astype(np.float32) * 0.1
    rep = compare(x, x * 0.1, 8000)
    assert not rep.unchanged and rep.text.startswith("0.00–0.01 s: −20 dB")  # hundredths for a short change
    rep = compare(x, x, 1000)
    assert rep.unchanged


def test_advice():
    a = advice("Add a dog barking", region=False, strength=1.0, cli=True, library=True)
    assert "--region" in a and "--strength 2" in a and "rephrasing" in a and "--library" in a
    a = advice("Remove the car", region=True, strength=2.0, cli=False)
    assert "region" not in a and "Strength (3)" in a and "library" not in a
    assert advice("Remove x", region=True, strength=4.0, cli=True).startswith("Try rephrasing")
    # a self-prompted removal that changed nothing: showing where the sound plays comes first
    assert advice("Remove x", region=False, strength=None, cli=True, engine="self-prompt").startswith(
        "Try marking where the sound plays (--example START:END), selecting where")
    assert "Shift-drag" in advice("Remove x", region=False, strength=None, cli=False, engine="self-prompt")
    assert "example" not in advice("Remove x", region=False, strength=None, cli=True, engine="dictionary")
    assert "example" not in advice("Remove x", region=False, strength=None, cli=True, engine="dictionary",
                                   templates="examples")


def test_a_dictionary_removal_from_library_templates_that_changed_nothing_suggests_marking_an_example():
    """The dictionary engine ran on the library's recordings of the sound (no example marked) and
    nothing audible changed: the advice, in the CLI's report, a batch row's and the app's, first
    suggests marking where the sound plays in this clip."""
    from types import SimpleNamespace

    from rfm_studio.commands.edit_output import batch_report, report_lines
    from rfm_studio.gui.window_edit import change_params

    assert advice("Remove the dog", region=False, strength=1.0, cli=True, engine="dictionary",
                  templates="library").startswith(
        "Try marking where the sound plays (--example START:END), for templates of this recording instead of "
        "the library's, selecting where")
    assert advice("Remove the dog", region=True, strength=1.0, cli=False, engine="dictionary",
                  templates="library").startswith("Try marking where the sound plays (Shift-drag over it), ")
    x = (0.1 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    res = SimpleNamespace(audio=x.copy(), sample_rate=16000, seconds=0.5, instruction="Remove the dog",
                          params={"engine": "dictionary", "templates": "library", "region": None, "strength": 1.0,
                                  "prompts": ["library: dog_bark.wav"]})
    line = report_lines(x, res, SimpleNamespace())[1]
    assert line.startswith("No audible change: ") and ". Try marking where the sound plays (--example START:END)" \
        in line, line
    assert ". Try marking where the sound plays (--example START:END)" in batch_report(x, res)
    app = change_params(compare(x, x, 16000), res)["change"]  # the app's history entry
    assert "Try marking where the sound plays (Shift-drag over it)" in app, app


def test_compare_files_reads_long_files_in_chunks(scene, tmp_path):
    """Long files are compared from disk chunk by chunk, with the same answer."""
    import soundfile as sf

    bg, tone, _ = scene
    x = bg + tone
    y = x.copy()
    y[span(1.9, 3.3)] -= tone[span(1.9, 3.3)]  # across the 2 s chunk boundary below
    sf.write(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    sf.write(tmp_path / "b.wav", y, SR, subtype="FLOAT")
    from rfm_studio.core.change_report import compare_files

    whole = compare(x, y, SR)
    chunked = compare_files(tmp_path / "a.wav", tmp_path / "b.wav", chunk_s=2.0)
    assert chunked.text == whole.text and len(chunked.segments) == 1
    assert compare_files(tmp_path / "a.wav", tmp_path / "a.wav").identical


def test_a_deeper_cut_never_reads_as_a_smaller_one():
    """A quiet sound cut at 0.5-0.8 s and 1.5-2.0 s around a loud one (0.9-1.4 s) that the edit
    touches only slightly, in two short bits: those small changes lie under 0.25 s from each other
    and from the cuts, but must not pool the cuts and the loud sound into one segment whose figure
    is the loud sound's (a deeper edit, touching it a little more, read as a smaller one). Each cut
    reads at its depth, deeper for a deeper cut."""
    rng = np.random.default_rng(1)
    n = int(3 * SR)
    t = np.arange(n) / SR
    sos = butter(4, 400, btype="low", fs=SR, output="sos")
    quiet = (0.05 * sosfilt(sos, rng.standard_normal(n))).astype(np.float32)
    loud = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    inside = np.zeros(n, bool)
    inside[span(0.5, 0.8)] = inside[span(1.5, 2.0)] = True
    quiet[~inside] = 0
    loud[: span(0.9, 1.4).start] = 0
    loud[span(1.4, 3.0)] = 0
    touched = np.zeros(n, bool)
    touched[span(1.05, 1.15)] = touched[span(1.25, 1.3)] = True
    before = quiet + loud
    figures = []
    for cut_db, touch_db in ((10, 1.5), (20, 2.0), (30, 2.5)):  # a deeper edit touches the loud sound more too
        after = quiet * 10 ** (-cut_db / 20) + np.where(touched, loud * 10 ** (-touch_db / 20), loud)
        rep = compare(before, after, SR)
        seg = [s for s in rep.segments if s.start <= 1.75 <= s.end]
        assert len(seg) == 1 and seg[0].start >= 1.35, rep.text  # not pooled with the loud sound's stretch
        figures.append(seg[0].changes[0].db)
        assert seg[0].changes[0].db <= -cut_db + 3, rep.text
        first = [s for s in rep.segments if s.start <= 0.65 <= s.end]
        assert len(first) == 1 and first[0].end <= 1.0 and first[0].changes[0].db <= -cut_db + 3, rep.text
    assert figures[0] > figures[1] > figures[2]


def test_two_cuts_joined_by_a_small_change_are_two_segments_not_one_twice():
    """Two deep cuts (20 dB) 0.7 s apart with a small cut (2 dB) over every frame between them, all
    in loud noise: the small change between the cuts stands alone, so each cut is its own segment
    (−12 dB with its edges' frames), and no stretch is reported twice (each cut grew through every
    changed frame: 0.5-1.8 s: −4 dB, named twice)."""
    rng = np.random.default_rng(2)
    n = int(3 * SR)
    x = (0.1 * rng.standard_normal(n)).astype(np.float32)
    gain = np.ones(n, np.float32)
    gain[span(0.5, 1.8)] = 10 ** (-2 / 20)
    gain[span(0.5, 0.8)] = gain[span(1.5, 1.8)] = 10 ** (-20 / 20)
    rep = compare(x, x * gain, SR)
    segs = sorted((s.start, s.end) for s in rep.segments)
    assert len(set(segs)) == len(segs) and all(b0 <= a1 for (_, b0), (a1, _) in zip(segs, segs[1:])), rep.text
    for t in (0.65, 1.65):
        seg, = [s for s in rep.segments if s.start <= t <= s.end]
        assert seg.changes[0].db <= -10 and seg.end - seg.start < 0.5, rep.text  # the cut, not the stretch
    small, = [s for s in rep.segments if s.start <= 1.15 <= s.end]
    assert -3 < small.changes[0].db < -1, rep.text


def test_no_change_says_why_without_contradiction():
    """A report with no segment says why in words that hold: no band moved by 1 dB (the largest
    under it), or, where some band moved more for a moment, that no move held over a stretch (never
    "no band moved by 1 dB" beside a larger figure); the text says "no audible change" once."""
    from rfm_studio.core.change_report import ChangeReport

    tiny = ChangeReport((), 8.0, 0.4)
    assert tiny.detail == "no band moved by 1 dB or more (largest 0.4 dB)"
    scattered = ChangeReport((), 8.0, 33.4)
    assert "no band moved" not in scattered.detail and "33.4 dB" in scattered.detail
    assert "none of 1 dB over a stretch" in scattered.detail
    for rep in (tiny, scattered):
        assert rep.text == f"no audible change: {rep.detail}" and rep.text.lower().count("no audible change") == 1
        assert "no audible change" not in rep.detail.lower()
    assert ChangeReport((), 8.0, 0.0, identical=True).detail == "the output is identical to the input"


def test_a_removal_the_finder_is_unsure_of_says_so_and_how_to_check():
    """A text-only removal whose examples the sound finder marked at a peak under DOUBT_PEAK (the
    sheep taken for "the dog barking": 0.57) gets one more sentence, in the CLI's report and the
    app's History and status bar, with how to check (the removed sound) and what to do (mark it);
    a sure find, the model's marks or marked examples get none."""
    from types import SimpleNamespace

    from rfm_studio.commands.edit_output import batch_report, report_lines
    from rfm_studio.core.edit_summary import DOUBT_PEAK, doubt_text
    from rfm_studio.gui.window_edit import change_params

    unsure = {"engine": "self-prompt", "removal": "dictionary", "spans_from": "finder", "spans": [[0.8, 2.1]],
              "finder_peak": 0.57, "region": None, "strength": 1.0}
    cli = doubt_text(unsure, "Remove the dog barking", cli=True)
    assert cli == ("The sound finder is unsure the clip holds 'dog barking' (peak probability 0.57, under 0.6): "
                   "listen to what was removed (--residual FILE), or mark where the sound plays (--example START:END).")
    app = doubt_text(unsure, "Remove the dog barking", cli=False)
    assert "(Shift-drag over it)" in app and "Export Removed Sound" in app
    for other in ({"finder_peak": DOUBT_PEAK}, {"finder_peak": 0.94}, {"spans_from": "model", "finder_peak": None},
                  {"spans_from": "model", "finder_peak": 0.3}, {"engine": "dictionary"}, {"removal": "model"}):
        assert doubt_text({**unsure, **other}, "Remove the dog barking", cli=True) == "", other
    assert doubt_text({**unsure, "spans_from": "finder and model"}, "Remove the dog barking", cli=True) == cli
    missed = {"engine": "self-prompt", "removal": "model", "spans_from": "model", "finder_peak": None,
              "finder_missed": True}
    assert doubt_text(missed, "Remove the dog barking", cli=True) == (
        "The sound finder did not hear 'dog barking' in the clip, so the model chose what to remove: listen to "
        "what was removed (--residual FILE), or mark where the sound plays (--example START:END).")
    assert doubt_text({**missed, "removal": "dictionary"}, "Remove the dog barking", cli=False).endswith(
        "(Shift-drag over it).")
    assert doubt_text({**missed, "finder_missed": False}, "Remove the dog barking", cli=True) == ""  # not asked
    # a region: the finder heard only the region
    assert doubt_text({**missed, "region": [1.0, 2.0]}, "Remove the dog barking", cli=True).startswith(
        "The sound finder did not hear 'dog barking' in the region, ")
    assert doubt_text({**unsure, "region": [1.0, 2.0]}, "Remove the dog barking", cli=False).startswith(
        "The sound finder is unsure the selection holds 'dog barking' ")
    # a Replace's removal of A: told of A, and only to mark it (what it removed holds B too)
    replace = {**unsure, "task": "replace", "removed": "Remove the dog barking"}
    assert doubt_text(replace, "Replace the dog barking with a bell", cli=True) == (
        "The sound finder is unsure the clip holds 'dog barking' (peak probability 0.57, under 0.6): "
        "mark where the sound plays (--example START:END).")

    x = (0.1 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    y = x.copy()
    y[4000:8000] *= 0.05
    res = SimpleNamespace(audio=y, sample_rate=16000, seconds=0.5, instruction="Remove the dog barking", params=unsure)
    lines = report_lines(x, res, SimpleNamespace())
    assert lines[1].startswith("Changed: ") and lines[2] == cli and len(lines) == 3
    sure = SimpleNamespace(**{**vars(res), "params": {**unsure, "finder_peak": 0.77}})
    assert len(report_lines(x, sure, SimpleNamespace())) == 2
    assert batch_report(x, res).endswith(". " + cli) and cli not in batch_report(x, sure)  # an edit-batch row
    same = SimpleNamespace(**{**vars(res), "audio": x.copy()})  # nothing audible changed: the advice alone
    assert [line for line in report_lines(x, same, SimpleNamespace()) if "unsure" in line] == []
    kept = change_params(compare(x, y, 16000), res)
    assert kept["doubt"] == app and not kept.get("no_change")
    assert "doubt" not in change_params(compare(x, y, 16000), sure)
