"""Sound library index: add / update / remove / search, incremental re-scans, keyword
fallback, an interrupted scan, and the starter library."""

import os
from pathlib import Path
import time

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.library import Library

SR = 16000


def write(p, seconds=0.3, title=None, seed=0):
    x = (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)
    p.parent.mkdir(parents=True, exist_ok=True)
    if title is None:
        sf.write(p, x, SR)
    else:
        with sf.SoundFile(str(p), "w", SR, 1, format="FLAC" if p.suffix == ".flac" else "WAV") as f:
            f.title = title
            f.write(x)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "Sounds ✓"
    write(d / "ANMLDog_Big Dog Barking_JD_Yard.wav")
    write(d / "weather" / "thunder-clap_02.flac", title="Thunder clap overhead")
    write(d / "weather" / "RAINMetl_Rain On Tin Roof_TN_Lib.wav")
    write(d / "city" / "carHorn honk.wav", 0.5)
    write(d / "birds chirping in the morning.wav")
    write(d / ".hidden" / "dog.wav")  # hidden folders are skipped
    (d / "notes.txt").write_text("not audio")
    (d / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    return d


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "db" / "library.sqlite", starter=False) as lib:
        yield lib


def names(hits):
    return [os.path.basename(h.path) for h in hits]


def test_add_search_update_remove(lib, folder):
    r = lib.add_folder(folder)
    assert (r.added, r.failed, r.removed) == (5, 1, 0) and lib.count() == 5
    assert names(lib.search("a dog barking", 3))[0] == "ANMLDog_Big Dog Barking_JD_Yard.wav"
    assert names(lib.search("thunder", 1)) == ["thunder-clap_02.flac"]
    assert names(lib.search("rain falling on metal", 1)) == ["RAINMetl_Rain On Tin Roof_TN_Lib.wav"]
    assert names(lib.search("a car horn", 1)) == ["carHorn honk.wav"]
    hit = lib.search("birds", 1)[0]
    assert "birds chirping" in hit.description and abs(hit.duration - 0.3) < 1e-3
    assert lib.mode == "embeddings"
    # nothing changed: nothing is read again
    r = lib.scan(str(folder.resolve()))
    assert (r.added, r.updated, r.removed, r.unchanged) == (0, 0, 0, 5)
    # one file retagged, one deleted, one added
    p = folder / "weather" / "thunder-clap_02.flac"
    write(p, 0.4, title="Distant fireworks popping", seed=1)
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    (folder / "city" / "carHorn honk.wav").unlink()
    write(folder / "Cat_Meow.wav")
    r = lib.add_folder(folder)
    assert (r.added, r.updated, r.removed, r.unchanged) == (1, 1, 1, 3)
    assert names(lib.search("fireworks", 1)) == ["thunder-clap_02.flac"]
    assert "carHorn honk.wav" not in names(lib.search("car horn", 10))
    # a sub-folder of an indexed folder is part of it; removing forgets the files only
    assert lib.add_folder(folder / "weather").folder == str(folder.resolve())
    assert lib.remove_folder(folder) == 5 and lib.count() == 0 and lib.search("dog") == []
    assert (folder / "Cat_Meow.wav").exists()
    assert lib.db.execute("SELECT count(*) FROM texts").fetchone()[0] == 0


def test_keyword_fallback_when_the_encoder_cannot_load(lib, folder, monkeypatch):
    from rfm_studio.core.library import embed

    lib.add_folder(folder)

    def broken():
        raise embed.EncoderUnavailable("no model")

    monkeypatch.setattr(embed, "_load", broken)
    hits = lib.search("dogs barking", 3)
    assert lib.mode == "keywords" and names(hits)[0] == "ANMLDog_Big Dog Barking_JD_Yard.wav"
    assert names(lib.search("Thunder", 1)) == ["thunder-clap_02.flac"]


def test_a_keyword_search_drops_the_words_that_name_no_sound(lib, tmp_path):
    """"sounds like this", "those things": words that point at a sound without naming it
    (instructions.NO_SOUND_WORDS, which find.names_sound reads too) are no keywords, nor are the
    library's own stop words, unless they are all a query has and may name a sound; those a sound
    library's names use ("8-bit", "one-shot", "drum part": index.LIBRARY_WORDS) stay keywords."""
    from rfm_studio.core import instructions
    from rfm_studio.core.detection import find
    from rfm_studio.core.library import index

    d = tmp_path / "lib"
    write(d / "one car passing.wav")
    write(d / "this old clock ticking.wav", seed=1)
    write(d / "sounds like rain.wav", seed=2)
    write(d / "background noise hum.wav", seed=3)
    write(d / "dog barking.wav", seed=4)
    write(d / "laser 8-bit zap.wav", seed=5)
    write(d / "bit crusher drone.wav", seed=6)
    lib.add_folder(d)
    for query in ("sounds like this", "those things", "Add this here", "the same thing"):
        assert lib.keyword_search(query) == [], query
    assert names(lib.keyword_search("Add sounds like this dog")) == ["dog barking.wav"]
    assert names(lib.keyword_search("background noise")) == ["background noise hum.wav"]  # all it has
    assert sorted(names(lib.keyword_search("8-bit"))) == ["bit crusher drone.wav", "laser 8-bit zap.wav"]
    # a library word alone is a keyword (as a stop word it would find nothing)
    assert sorted(names(lib.keyword_search("bit"))) == ["bit crusher drone.wav", "laser 8-bit zap.wav"]
    assert names(lib.keyword_search("one")) == ["one car passing.wav"]
    assert index._words("Add the sounds like this here, please") == []
    assert index._words("a one-shot drum part") == ["one", "shot", "drum", "part"]
    assert instructions.NO_SOUND_WORDS - index.LIBRARY_WORDS <= index.STOP and {"add", "insert", "put"} <= index.STOP
    assert find.VAGUE_WORDS is instructions.VAGUE_WORDS and find.KEY_STOP is instructions.ARTICLES


def test_a_search_that_must_not_load_the_encoder_answers_from_keywords_until_it_is_loaded(lib, folder, monkeypatch):
    from rfm_studio.core.library import embed

    lib.add_folder(folder)
    loads = []

    def load():
        loads.append(1)
        raise embed.EncoderUnavailable("no model")

    monkeypatch.setattr(embed, "_loaded", None)
    monkeypatch.setattr(embed, "_failed", False)
    monkeypatch.setattr(embed, "_load", load)
    assert embed.encoder_state() == "not loaded"
    assert names(lib.search("dogs barking", 3, load_encoder=False))[0] == "ANMLDog_Big Dog Barking_JD_Yard.wav"
    assert lib.mode == "keywords" and loads == []  # not loaded, not waited for
    assert names(lib.search("dogs barking", 3))[0] == "ANMLDog_Big Dog Barking_JD_Yard.wav" and loads == [1]
    monkeypatch.setattr(embed, "_failed", True)
    assert embed.encoder_state() == "failed"


def test_an_interrupted_scan_leaves_a_consistent_index_that_the_next_scan_completes(tmp_path):
    import rfm_studio.core.library.index as index

    d = tmp_path / "many"
    for i in range(30):
        write(d / f"door_slam_{i:02d}.wav", 0.05, seed=i)
    db = tmp_path / "lib.sqlite"
    old = index.BATCH
    index.BATCH = 10
    try:
        lib = Library(db, starter=False)

        def stop(i):
            if i >= 20:
                raise KeyboardInterrupt

        real_walk = lib._walk

        def walk(root):
            for i, p in enumerate(real_walk(root)):
                stop(i)
                yield p

        lib._walk = walk
        with pytest.raises(KeyboardInterrupt):
            lib.add_folder(d)
        lib.close()
        lib = Library(db, starter=False)
        assert lib.count() == 20  # two committed batches; the third was rolled back
        n_fts = lib.db.execute("SELECT count(*) FROM fts").fetchone()[0]
        assert n_fts == 20
        r = lib.add_folder(d)
        assert (r.added, r.unchanged) == (10, 20) and lib.count() == 30
        lib.close()
    finally:
        index.BATCH = old


def test_starter_library_is_indexed_on_first_use_and_can_be_removed(tmp_path):
    from rfm_studio.core.library.starter import licences, starter_dir

    d = starter_dir()
    assert d is not None
    lic = licences()
    files = sorted(p.name for p in d.glob("*.ogg"))
    assert files and sorted(lic) == files  # every file has its licence and source
    assert all(r["licence"] and r["package"] and r["source"] for r in lic.values())
    assert sum(p.stat().st_size for p in d.iterdir()) <= 20 * 1024 * 1024
    with Library(tmp_path / "s.sqlite") as lib:
        assert lib.folders() == [(str(d.resolve()), len(files), True)]
        for q, cls in [("Add a dog barking", "dog_bark"), ("birds chirping", "bird_chirp"),
                       ("a car horn", "car_horn"), ("footsteps", "footsteps"), ("rain", "rain"),
                       ("thunder", "thunder"), ("a bell", "bell_gong")]:
            assert names(lib.search(q, 1))[0].startswith(cls), q
        lib.remove_folder("starter")
    with Library(tmp_path / "s.sqlite") as lib:  # stays removed
        assert lib.folders() == []


def test_a_large_unembedded_backlog_is_searched_by_keywords_until_embedded(lib, folder, monkeypatch):
    """A big folder just added must not make the next search embed thousands of descriptions
    (minutes); it answers from the keyword index until embed_pending has run."""
    import rfm_studio.core.library.index as index_mod

    lib.add_folder(folder)
    monkeypatch.setattr(index_mod, "SEARCH_EMBED_MAX", 2)  # 5 pending descriptions > 2
    calls = []
    monkeypatch.setattr(lib, "embed_pending", lambda *a, **k: calls.append(1) or 0)
    assert names(lib.search("thunder", 1)) == ["thunder-clap_02.flac"]
    assert lib.mode == "keywords" and not calls
    monkeypatch.undo()
    lib.embed_pending()
    assert names(lib.search("a dog barking", 1)) == ["ANMLDog_Big Dog Barking_JD_Yard.wav"]
    assert lib.mode == "embeddings"


def test_cli_library_add_embeds_the_new_descriptions(tmp_path, folder, capsys, monkeypatch):
    from conftest import run_cli

    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(tmp_path / "data"))
    code, out, err = run_cli(capsys, "library", "add", str(folder))
    assert code == 0, err
    assert "new descriptions embedded for search" in out
    code, out, _ = run_cli(capsys, "library", "search", "a dog barking")
    assert code == 0 and "ANMLDog_Big Dog Barking" in out.splitlines()[0]


def test_a_search_that_must_answer_at_once_never_embeds_descriptions(lib, folder, monkeypatch):
    """With the encoder loaded and a few descriptions not yet embedded (an indexing cancelled
    before its embedding step), a ``load_encoder=False`` search answers from keywords and
    leaves them to ``embed_pending``; once they are embedded it uses embeddings with the query's
    vector made elsewhere (the app's model worker), and it never embeds the query itself."""
    from rfm_studio.core.library import embed

    try:
        embed.load_encoder()
    except embed.EncoderUnavailable:
        pytest.skip("encoder package not installed")
    lib.add_folder(folder)
    assert lib.unembedded() == 5
    embedded, real = [], embed.embed
    monkeypatch.setattr(embed, "embed", lambda texts: (embedded.append(list(texts)), real(texts))[1])
    assert names(lib.search("dogs barking", 3, load_encoder=False))[0] == "ANMLDog_Big Dog Barking_JD_Yard.wav"
    assert lib.mode == "keywords" and embedded == [] and lib.unembedded() == 5
    assert lib.embed_pending() == 5 and lib.unembedded() == 0
    embedded.clear()
    assert names(lib.search("a dog barking", 1, load_encoder=False))[0] == "ANMLDog_Big Dog Barking_JD_Yard.wav"
    assert lib.mode == "keywords" and embedded == []  # no vector given: keywords, nothing embedded here
    vec = real(["a dog barking"])[0]
    assert names(lib.search("a dog barking", 1, load_encoder=False, vector=vec)) == [
        "ANMLDog_Big Dog Barking_JD_Yard.wav"]
    assert lib.mode == "embeddings" and embedded == []
    assert [h.path for h in lib.search("a dog barking", 3, load_encoder=False, vector=vec)] == [
        h.path for h in lib.search("a dog barking", 3)]  # the same results as embedding the query here


def test_a_second_connection_never_sees_the_starter_folder_without_its_files(tmp_path, monkeypatch):
    """First use in the app: the library panel's connection indexes the starter library while an
    "Add X" edit's job opens its own and searches. The second must wait for the starter's files
    (committed with its folder in one transaction), not find an empty starter folder and no sound."""
    import threading

    import rfm_studio.core.library.index as index_mod

    db = tmp_path / "first.sqlite"
    started, release = threading.Event(), threading.Event()
    real = index_mod.read_meta

    def slow_read_meta(path):  # the first indexer stops after its first file until released
        started.set()
        release.wait(20)
        return real(path)

    monkeypatch.setattr(index_mod, "read_meta", slow_read_meta)
    first = threading.Thread(target=lambda: Library(db).close())
    first.start()
    assert started.wait(20)
    monkeypatch.setattr(index_mod, "read_meta", real)
    found = []

    def second():
        with Library(db) as lib:
            found.extend(lib.search("a dog barking", 1, load_encoder=False))

    t = threading.Thread(target=second)
    t.start()
    t.join(0.5)
    assert t.is_alive()  # it waits for the first indexer instead of answering from a half-made index
    release.set()
    first.join(20)
    t.join(20)
    assert names(found) and names(found)[0].startswith("dog_bark")
    with Library(db) as lib:  # indexed once: one starter folder with every file
        gen = lib._get("generation")
        (folder, n, starter), = lib.folders()
        assert starter and n == len(list(Path(folder).glob("*.ogg")))
    with Library(db) as lib:  # opened again: nothing indexed again
        assert lib._get("generation") == gen


def test_the_starter_index_is_rebuilt_when_the_app_moved(tmp_path, monkeypatch):
    import shutil

    import rfm_studio.core.library.starter as starter_mod

    src = starter_mod.starter_dir()
    copy = tmp_path / "moved" / "library"
    shutil.copytree(src, copy)
    db = tmp_path / "m.sqlite"
    with Library(db) as lib:
        assert lib.folders()[0][0] == str(src.resolve())
    monkeypatch.setattr(starter_mod, "starter_dir", lambda: copy)
    with Library(db) as lib:
        assert lib.folders() == [(str(copy.resolve()), len(list(copy.glob("*.ogg"))), True)]
        assert names(lib.search("a dog barking", 1, load_encoder=False))[0].startswith("dog_bark")


def test_a_user_folder_holding_the_starter_library_keeps_the_library_working(tmp_path, monkeypatch):
    """Adding a folder that contains the starter library (e.g. the app's resources) indexes the
    starter's files once, under that folder; the library then opens, lists, searches and removes
    folders without error, and removing that folder brings the starter back on the next open."""
    import shutil

    import rfm_studio.core.library.starter as starter_mod

    res = tmp_path / "resources"
    shutil.copytree(starter_mod.starter_dir(), res / "library")
    monkeypatch.setattr(starter_mod, "starter_dir", lambda: res / "library")
    n = len(list((res / "library").glob("*.ogg")))
    db = tmp_path / "u.sqlite"
    with Library(db) as lib:
        lib.add_folder(res)
        assert lib.folders() == [(str(res.resolve()), n, False)]
    with Library(db) as lib:
        gen = lib._get("generation")
    with Library(db) as lib:  # reopened: no second copy, no error, no re-index (the search cache stays)
        assert lib._get("generation") == gen
        assert lib.folders() == [(str(res.resolve()), n, False)] and lib.count() == n
        assert names(lib.search("a dog barking", 1, load_encoder=False))[0].startswith("dog_bark")
        assert lib.remove_folder(str(res)) == n
    with Library(db) as lib:  # the starter is indexed again on its own
        assert lib.folders() == [(str((res / "library").resolve()), n, True)]
