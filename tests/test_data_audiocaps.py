"""AudioCaps recipe: event counter, splits, six triplets, CLAP hook, resume, LLM client."""

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.data import audiocaps as AC
from rfm_studio.core.data.events import count_events, count_events_llm, event_phrases
from rfm_studio.core.errors import OptionError

CAPTIONS = [
    ("A dog barks repeatedly", 1),
    ("A man speaks while a dog barks in the background", 2),
    ("Wind blows and rain falls on a roof", 2),
    ("A vehicle engine revs then idles", 1),
    ("Birds chirp as water flows in a stream", 2),
    ("A woman talks followed by a baby crying", 2),
    ("A train horn blows and a bell rings as a train passes by", 3),
    ("A motorcycle engine starts, revs, and then idles", 1),
    ("Thunder rumbles in the distance", 1),
    ("Several ducks quack and geese honk while water splashes and a man speaks", 4),
    ("Typing on a computer keyboard", 1),
    ("An emergency siren wails as traffic passes by", 2),
    ("A crowd murmurs, a man speaks over a loudspeaker, and a horn honks", 3),
    ("Rustling followed by a door closing", 2),
    ("Someone snores loudly", 1),
    ("People applaud and cheer", 2),
    ("Music plays with a man singing, people cheering and clapping", 4),
]


@pytest.mark.parametrize("caption,n", CAPTIONS)
def test_event_counter(caption, n):
    assert count_events(caption) == n, event_phrases(caption)


def test_event_phrases_merge_continuations():
    assert event_phrases("A dog barks and then stops") == ["a dog barks"]
    assert event_phrases("A dog barks and then growls") == ["a dog barks growls"]
    assert event_phrases("") == []


def test_split_deterministic_and_proportional():
    ids = [f"clip{i}" for i in range(3000)]
    s = [AC.assign_split(i, 0) for i in ids]
    assert s == [AC.assign_split(i, 0) for i in ids]
    assert s != [AC.assign_split(i, 1) for i in ids]
    frac = {k: s.count(k) / len(s) for k in ("train", "val", "test")}
    assert abs(frac["train"] - 0.8) < 0.03 and abs(frac["val"] - 0.1) < 0.02


CORPUS = ["A dog barks", "Rain falls", "A cat meows", "Birds chirp", "A car horn honks", "A bell rings",
          "Water flows", "A baby cries", "People applaud", "A man speaks while a dog barks",
          "Wind blows and rain falls and thunder roars and a man speaks", "A train passes"]


@pytest.fixture()
def corpus(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    with (tmp_path / "train.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["audiocap_id", "youtube_id", "start_time", "caption"])
        for i in range(48):
            w.writerow([100 + i, f"v{i:02d}", 30, CORPUS[i % len(CORPUS)]])
            t = np.arange(32000) / 16000
            x = 0.2 * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.02 * rng.standard_normal(len(t))
            name = f"Yv{i:02d}.wav" if i % 2 else f"v{i:02d}.flac"
            sf.write(str(audio / name), x.astype(np.float32), 22050 if i % 3 == 0 else 16000)
        w.writerow([999, "missing", 0, "A dog barks"])
    return tmp_path


def _rows(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_pipeline_six_triplets(corpus):
    out = corpus / "out"
    paths = AC.build_audiocaps(corpus / "train.csv", corpus / "audio", out, seed=0, log=lambda *a: None)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["clap_filter"] == "skipped" and meta["rows_without_audio"] == 1
    assert meta["dropped_more_than_3_events"] == 4
    for split, p in paths.items():
        rows = _rows(p)
        tasks = [r["task"] for r in rows]
        assert tasks.count("add") == tasks.count("remove") == tasks.count("replace")
        for r in rows:
            assert (out / r["input"]).exists() and (out / r["target"]).exists()
            assert r["split"] == split and r["clap_filter"] == "skipped"
            assert r["sources"]["a"] != r["sources"]["b"] != r["sources"]["x"]
        by_x = {}
        for r in rows:
            by_x.setdefault(r["sources"]["x"], []).append(r)
        for x, six in by_x.items():
            assert len(six) == 6
            kinds = {r["id"].split("_", 1)[1]: (r["input"].rsplit("/", 1)[1], r["target"].rsplit("/", 1)[1]) for r in six}
            assert kinds == {"add_A": ("x.wav", "xa.wav"), "add_B": ("x.wav", "xb.wav"),
                             "remove_A": ("xa.wav", "x.wav"), "remove_B": ("xb.wav", "x.wav"),
                             "replace_AB": ("xa.wav", "xb.wav"), "replace_BA": ("xb.wav", "xa.wav")}
            a = next(r for r in six if r["id"].endswith("add_A"))
            assert a["instruction"] == "Add " + a["captions"]["a"][0][0].lower() + a["captions"]["a"][0][1:]
    # A and B come from the same split as X
    for s, p in paths.items():
        for r in _rows(p):
            for k in ("a", "b"):
                assert AC.assign_split(r["sources"][k], 0) == s


def test_no_clipping_and_resume(corpus):
    out = corpus / "out"
    AC.build_audiocaps(corpus / "train.csv", corpus / "audio", out, seed=0, log=lambda *a: None)
    wavs = sorted((out / "audio").rglob("*.wav"))
    for w in wavs[:12]:
        x, _ = sf.read(str(w))
        assert np.abs(x).max() <= 0.95 + 1e-4
    before = {w: w.stat().st_mtime_ns for w in wavs}
    first = (out / "train.jsonl").read_text()
    AC.build_audiocaps(corpus / "train.csv", corpus / "audio", out, seed=0, log=lambda *a: None)
    assert {w: w.stat().st_mtime_ns for w in wavs} == before
    assert (out / "train.jsonl").read_text() == first


def test_a_resumed_build_with_another_limit_remixes_groups_whose_events_changed(corpus):
    """Group files are reused only when the same clip, events A and B and seed made them."""
    out = corpus / "out"
    AC.build_audiocaps(corpus / "train.csv", corpus / "audio", out, seed=0, limit=16, log=lambda *a: None)
    first = {r["id"]: r for p in ("train", "val", "test") if (out / f"{p}.jsonl").exists()
             for r in _rows(out / f"{p}.jsonl")}
    AC.build_audiocaps(corpus / "train.csv", corpus / "audio", out, seed=0, log=lambda *a: None)
    second = {r["id"]: r for p in ("train", "val", "test") if (out / f"{p}.jsonl").exists()
              for r in _rows(out / f"{p}.jsonl")}
    changed = [i for i in first if i in second and first[i]["sources"] != second[i]["sources"]]
    assert changed  # the bigger pool drew other events for some clips
    for i in second:
        r = second[i]
        info = json.loads((out / r["input"]).parent.joinpath("mix.json").read_text())
        assert info["drawn"]["a"] == r["sources"]["a"] and info["drawn"]["b"] == r["sources"]["b"]


def test_clap_hook_filters_and_rebalances(corpus):
    calls = []

    def fake_clap(audio, caption):
        calls.append(caption)
        return 0.1 if "cat" in caption else 0.9

    paths = AC.build_audiocaps(corpus / "train.csv", corpus / "audio", corpus / "clap", seed=0, clap=fake_clap,
                               log=lambda *a: None)
    assert calls
    rows = _rows(paths["train"])
    assert rows and all("cat" not in r["target_caption"] and "cat" not in r["input_caption"] for r in rows)
    tasks = [r["task"] for r in rows]
    assert tasks.count("add") == tasks.count("remove") == tasks.count("replace")
    assert json.loads((corpus / "clap" / "meta.json").read_text())["clap_filter"] == "applied"


def test_bad_inputs(tmp_path):
    with pytest.raises(OptionError):
        AC.build_audiocaps(tmp_path / "none.csv", tmp_path, tmp_path / "o")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(OptionError):
        AC.build_audiocaps(tmp_path / "bad.csv", tmp_path, tmp_path / "o")


def test_llm_client_against_local_server():
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["path"], seen["auth"] = self.path, self.headers.get("Authorization")
            seen["content"] = body["messages"][0]["content"]
            reply = json.dumps({"choices": [{"message": {"content": "2"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.handle_request, daemon=True)
    th.start()
    try:
        n = count_events_llm("A dog barks and a cat meows", f"http://127.0.0.1:{srv.server_port}/v1", api_key="k")
    finally:
        th.join(5)
        srv.server_close()
    assert n == 2 and seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer k"
    assert "A dog barks and a cat meows" in seen["content"]
